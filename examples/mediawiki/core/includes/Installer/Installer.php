<?php

namespace MediaWiki\Installer;

use MediaWiki\Database\Schema;
use MediaWiki\Registration\ExtensionRegistry;
use PDO;
use RuntimeException;

/**
 * What maintenance/install.php does: create the core and extension tables in a
 * fresh database and write LocalSettings.php. The settings of an install are read
 * back from $MW_INSTALL_DIR (tools/phpunit.sh sets it from testfarm's
 * FARM_INSTALL_DIR), so tests run against what the installer made.
 */
final class Installer {
	public const SETTINGS_FILE = 'LocalSettings.php';
	public const ENV_DIR = 'MW_INSTALL_DIR';

	/** @var array<string,mixed>|false|null null: not read yet; false: no install */
	private static $settings = null;

	/**
	 * @return string[] The tables created
	 */
	public static function install( PDO $db, string $dbType, string $dbName, string $dir, ExtensionRegistry $registry ): array {
		if ( Schema::listTables( $db ) !== [] ) {
			throw new RuntimeException( "The database $dbName is not empty: install into a fresh one" );
		}
		$tables = Schema::create( $db, $registry->getSchemaFiles() );
		$extensions = $registry->load();
		sort( $extensions );
		$settings = [
			'wgDBtype' => $dbType,
			'wgDBname' => $dbName,
			'wgInstalledExtensions' => $extensions,
			'wgSchemaTables' => $tables,
			'wgInstallTimestamp' => gmdate( 'YmdHis' ),
		];
		$php = "<?php\n// Written by maintenance/install.php; regenerate rather than edit.\n";
		foreach ( $settings as $name => $value ) {
			$php .= "\$$name = " . var_export( $value, true ) . ";\n";
		}
		$file = rtrim( $dir, '/' ) . '/' . self::SETTINGS_FILE;
		if ( file_put_contents( $file, $php ) === false ) {
			throw new RuntimeException( "Cannot write $file" );
		}
		self::$settings = null;
		return $tables;
	}

	/**
	 * The settings in $MW_INSTALL_DIR/LocalSettings.php, or null without an install.
	 *
	 * @return array<string,mixed>|null
	 */
	public static function getSettings(): ?array {
		if ( self::$settings === null ) {
			$dir = getenv( self::ENV_DIR );
			$file = $dir ? rtrim( $dir, '/' ) . '/' . self::SETTINGS_FILE : null;
			self::$settings = ( $file !== null && is_file( $file ) ) ? self::read( $file ) : false;
		}
		return self::$settings ?: null;
	}

	/**
	 * @return array<string,mixed>
	 */
	private static function read( string $file ): array {
		return ( static function ( string $__file ): array {
			require $__file;
			$vars = get_defined_vars();
			unset( $vars['__file'] );
			return $vars;
		} )( $file );
	}
}
