<?php

namespace MediaWiki\Tests;

use MediaWiki\Database\Schema;
use MediaWiki\Registration\ExtensionRegistry;
use PDO;
use RuntimeException;

/**
 * The per-process test database, selected with the MW_DB environment variable:
 *
 * - sqlite (default): a SQLite file in $MW_DB_DIR or the system temp directory,
 *   unique to this process and removed at exit
 * - sqlite-memory: an in-memory SQLite database
 *
 * Any other value is an error.
 */
final class TestDatabase {
	public const ENV_TYPE = 'MW_DB';
	public const ENV_DIR = 'MW_DB_DIR';
	public const SUPPORTED = [ 'sqlite', 'sqlite-memory' ];

	private static ?PDO $pdo = null;
	private static ?string $type = null;
	private static ?string $file = null;
	private static ?ExtensionRegistry $registry = null;

	public static function getType(): string {
		$type = getenv( self::ENV_TYPE );
		return ( $type === false || $type === '' ) ? 'sqlite' : $type;
	}

	public static function getFile(): ?string {
		return self::$file;
	}

	/**
	 * @throws RuntimeException For unsupported MW_DB values or unusable directories
	 */
	public static function get(): PDO {
		$type = self::getType();
		if ( self::$pdo !== null && self::$type === $type ) {
			return self::$pdo;
		}
		switch ( $type ) {
			case 'sqlite':
				$dir = getenv( self::ENV_DIR ) ?: sys_get_temp_dir();
				if ( !is_dir( $dir ) || !is_writable( $dir ) ) {
					throw new RuntimeException( self::ENV_DIR . "=$dir is not a writable directory" );
				}
				$file = sprintf( '%s/mw-phpunit-%d-%s.sqlite', rtrim( $dir, '/' ), getmypid(), bin2hex( random_bytes( 4 ) ) );
				$pdo = self::connect( "sqlite:$file" );
				$pdo->exec( 'PRAGMA journal_mode = MEMORY' );
				$pdo->exec( 'PRAGMA synchronous = OFF' );
				self::$file = $file;
				register_shutdown_function( static function () use ( $file ): void {
					self::$pdo = null;
					if ( is_file( $file ) ) {
						unlink( $file );
					}
				} );
				break;
			case 'sqlite-memory':
				$pdo = self::connect( 'sqlite::memory:' );
				self::$file = null;
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
		return $pdo;
	}

	private static function connect( string $dsn ): PDO {
		$pdo = new PDO( $dsn, null, null, [
			PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
			PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
		] );
		$pdo->exec( 'PRAGMA foreign_keys = ON' );
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
	 * Drop everything and create the core and extension tables afresh.
	 *
	 * @return string[] Tables created
	 */
	public static function resetSchema( PDO $db ): array {
		Schema::drop( $db );
		return Schema::create( $db, self::getExtensionRegistry()->getSchemaFiles() );
	}
}
