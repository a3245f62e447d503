<?php

/**
 * The installer, as MediaWiki's maintenance/install.php: creates the tables of core
 * and every extension in the database and writes LocalSettings.php.
 *
 *   php core/maintenance/install.php [--dir DIR]
 *
 * DIR defaults to $FARM_INSTALL_DIR (testfarm's install directory). The database is
 * the one testfarm made for the install ($FARM_DB_TYPE and FARM_DB_*): for SQLite
 * the file wiki.sqlite in $FARM_DB_DIR, else the server's database.
 */

require_once dirname( __DIR__ ) . '/AutoloadSetup.php';

use MediaWiki\Database\Connection;
use MediaWiki\Installer\Installer;
use MediaWiki\Registration\ExtensionRegistry;

$options = getopt( '', [ 'dir:' ] );
$dir = $options['dir'] ?? getenv( 'FARM_INSTALL_DIR' );
if ( !$dir || !is_dir( $dir ) || !is_writable( $dir ) ) {
	fwrite( STDERR, "install.php: no writable install directory (give --dir DIR or set FARM_INSTALL_DIR)\n" );
	exit( 2 );
}
$type = getenv( 'FARM_DB_TYPE' ) ?: getenv( 'MW_DB' ) ?: 'sqlite';
try {
	switch ( $type ) {
		case 'sqlite':
			$dbDir = getenv( 'FARM_DB_DIR' ) ?: $dir;
			$name = "$dbDir/wiki.sqlite";
			$db = Connection::sqlite( "sqlite:$name" );
			break;
		case 'postgres':
		case 'mysql':
			$db = Connection::server( $type );
			$name = (string)getenv( 'FARM_DB_NAME' );
			break;
		default:
			fwrite( STDERR, "install.php: unsupported database type $type (sqlite, postgres, mysql)\n" );
			exit( 2 );
	}
	$registry = new ExtensionRegistry();
	$registry->queueDirectory( MW_INSTALL_PATH . '/extensions' );
	$tables = Installer::install( $db, $type, $name, $dir, $registry );
} catch ( Throwable $e ) {
	fwrite( STDERR, 'install.php: ' . get_class( $e ) . ': ' . $e->getMessage() . "\n" );
	exit( 1 );
}
printf( "Installed %d tables (%s) into %s database %s; wrote %s/%s\n",
	count( $tables ), implode( ', ', $tables ), $type, $name, $dir, Installer::SETTINGS_FILE );
