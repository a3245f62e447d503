<?php

namespace MediaWiki\Database;

use PDO;
use RuntimeException;

/**
 * Connections to the three backends. A server's database comes from the
 * environment: testfarm's FARM_DB_* variables for the database it made for the
 * task, else the client libraries' own (libpq's PG*, MYSQL_UNIX_PORT).
 */
final class Connection {
	private const OPTIONS = [
		PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
		PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
	];

	public static function sqlite( string $dsn ): PDO {
		$pdo = new PDO( $dsn, null, null, self::OPTIONS );
		$pdo->exec( 'PRAGMA foreign_keys = ON' );
		$pdo->exec( 'PRAGMA journal_mode = MEMORY' );
		$pdo->exec( 'PRAGMA synchronous = OFF' );
		return $pdo;
	}

	/**
	 * @param string $type postgres or mysql
	 */
	public static function server( string $type ): PDO {
		$name = self::env( 'FARM_DB_NAME', $type === 'postgres' ? 'PGDATABASE' : 'MYSQL_DATABASE' );
		if ( $name === null ) {
			throw new RuntimeException( "MW_DB=$type needs a database server: FARM_DB_NAME is not set"
				. ' (run through testfarm with `services: [' . $type . ']`, or set '
				. ( $type === 'postgres' ? 'PGHOST and PGDATABASE' : 'MYSQL_UNIX_PORT and MYSQL_DATABASE' ) . ')' );
		}
		$user = self::env( 'FARM_DB_USER', $type === 'postgres' ? 'PGUSER' : 'MYSQL_USER' ) ?? 'root';
		if ( $type === 'postgres' ) {
			$host = self::env( 'FARM_DB_SOCKET', 'PGHOST' ) ?? '/var/run/postgresql';
			$port = self::env( 'FARM_DB_PORT', 'PGPORT' ) ?? '5432';
			return new PDO( "pgsql:host=$host;port=$port;dbname=$name", $user, null, self::OPTIONS );
		}
		if ( $type !== 'mysql' ) {
			throw new RuntimeException( "No database server of type $type" );
		}
		$socket = self::env( 'FARM_DB_SOCKET', 'MYSQL_UNIX_PORT' ) ?? '/run/mysqld/mysqld.sock';
		$pdo = new PDO( "mysql:unix_socket=$socket;dbname=$name;charset=binary", $user, '',
			self::OPTIONS + [ PDO::ATTR_EMULATE_PREPARES => false ] );
		// Standard SQL where the queries rely on it: "quoted" identifiers, plain backslashes.
		$pdo->exec( "SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'" );
		return $pdo;
	}

	/**
	 * The value of the first of $names that is set.
	 */
	private static function env( string ...$names ): ?string {
		foreach ( $names as $name ) {
			$value = getenv( $name );
			if ( $value !== false && $value !== '' ) {
				return $value;
			}
		}
		return null;
	}
}
