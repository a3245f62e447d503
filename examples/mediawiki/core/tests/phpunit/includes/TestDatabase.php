<?php

namespace MediaWiki\Tests;

use MediaWiki\Database\Connection;
use MediaWiki\Database\Dialect;
use MediaWiki\Installer\Installer;
use MediaWiki\Database\Schema;
use MediaWiki\Registration\ExtensionRegistry;
use PDO;
use RuntimeException;

/**
 * The per-process test database, selected with the MW_DB environment variable
 * (tools/phpunit.sh sets it from the farm's FARM_DB_TYPE or the matrix's db axis):
 *
 * - sqlite (default): the installed database in $FARM_DB_DIR (wiki.sqlite, the
 *   farm's copy of what maintenance/install.php made), else a SQLite file in
 *   $MW_DB_DIR or the system temp directory, unique to this process and removed at exit
 * - sqlite-memory: an in-memory SQLite database
 * - postgres: the database the farm made for this task, through its socket
 *   ($FARM_DB_SOCKET, $FARM_DB_PORT, $FARM_DB_NAME, $FARM_DB_USER; or libpq's PGHOST,
 *   PGPORT, PGDATABASE, PGUSER)
 * - mysql: the same for MariaDB/MySQL ($FARM_DB_SOCKET or MYSQL_UNIX_PORT)
 *
 * Any other value is an error. A database that came from the installer keeps its
 * tables between tests and is only emptied; any other gets them created afresh.
 */
final class TestDatabase {
	public const ENV_TYPE = 'MW_DB';
	public const ENV_DIR = 'MW_DB_DIR';
	public const SUPPORTED = [ 'sqlite', 'sqlite-memory', 'postgres', 'mysql' ];
	/** The file maintenance/install.php makes for SQLite. */
	public const INSTALLED_SQLITE = 'wiki.sqlite';

	private static ?PDO $pdo = null;
	private static ?string $type = null;
	private static ?string $file = null;
	private static bool $installed = false;
	private static ?ExtensionRegistry $registry = null;

	public static function getType(): string {
		$type = getenv( self::ENV_TYPE );
		return ( $type === false || $type === '' ) ? 'sqlite' : $type;
	}

	public static function getFile(): ?string {
		return self::$file;
	}

	/**
	 * Whether this process's database came from the installer (the tables exist).
	 */
	public static function isInstalled(): bool {
		return self::$installed;
	}

	/**
	 * @throws RuntimeException For unsupported MW_DB values or unusable directories
	 */
	public static function get(): PDO {
		$type = self::getType();
		if ( self::$pdo !== null && self::$type === $type ) {
			return self::$pdo;
		}
		$installed = Installer::getSettings() !== null;
		self::$file = null;
		switch ( $type ) {
			case 'sqlite':
				$farmDir = getenv( 'FARM_DB_DIR' );
				if ( $installed && $farmDir && is_file( "$farmDir/" . self::INSTALLED_SQLITE ) ) {
					$pdo = Connection::sqlite( "sqlite:$farmDir/" . self::INSTALLED_SQLITE );
					self::$file = "$farmDir/" . self::INSTALLED_SQLITE;
					break;
				}
				$installed = false;
				$dir = getenv( self::ENV_DIR ) ?: sys_get_temp_dir();
				if ( !is_dir( $dir ) || !is_writable( $dir ) ) {
					throw new RuntimeException( self::ENV_DIR . "=$dir is not a writable directory" );
				}
				$file = sprintf( '%s/mw-phpunit-%d-%s.sqlite', rtrim( $dir, '/' ), getmypid(), bin2hex( random_bytes( 4 ) ) );
				$pdo = Connection::sqlite( "sqlite:$file" );
				self::$file = $file;
				register_shutdown_function( static function () use ( $file ): void {
					self::$pdo = null;
					if ( is_file( $file ) ) {
						unlink( $file );
					}
				} );
				break;
			case 'sqlite-memory':
				$installed = false;
				$pdo = Connection::sqlite( 'sqlite::memory:' );
				break;
			case 'postgres':
			case 'mysql':
				$pdo = Connection::server( $type );
				break;
			default:
				throw new RuntimeException( sprintf(
					'Unsupported database type %s=%s: this test is in @group Database and needs a database;'
					. ' supported values are %s (unset means sqlite)',
					self::ENV_TYPE, var_export( $type, true ), implode( ', ', self::SUPPORTED )
				) );
		}
		self::$pdo = $pdo;
		self::$type = $type;
		self::$installed = $installed && Schema::listTables( $pdo ) !== [];
		return $pdo;
	}

	public static function getExtensionRegistry(): ExtensionRegistry {
		if ( self::$registry === null ) {
			self::$registry = new ExtensionRegistry();
			self::$registry->queueDirectory( MW_INSTALL_PATH . '/extensions' );
			self::$registry->load();
		}
		return self::$registry;
	}

	/**
	 * The tables as an install leaves them: emptied when the installer made them,
	 * else dropped and created afresh.
	 *
	 * @return string[] Tables present afterwards
	 */
	public static function resetSchema( PDO $db ): array {
		if ( self::$installed ) {
			Dialect::emptyTables( $db );
			return Schema::listTables( $db );
		}
		Schema::drop( $db );
		return Schema::create( $db, self::getExtensionRegistry()->getSchemaFiles() );
	}
}
