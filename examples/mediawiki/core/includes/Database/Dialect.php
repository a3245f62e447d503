<?php

namespace MediaWiki\Database;

use PDO;
use RuntimeException;

/**
 * The differences between the three database backends, kept in one place: the
 * schema is written once in SQLite's dialect and translated; queries use
 * ANSI double-quoted identifiers (MySQL connections run with ANSI_QUOTES) and the
 * two statements below where the backends disagree.
 */
final class Dialect {
	public const SQLITE = 'sqlite';
	public const POSTGRES = 'pgsql';
	public const MYSQL = 'mysql';

	public static function of( PDO $db ): string {
		$driver = $db->getAttribute( PDO::ATTR_DRIVER_NAME );
		if ( !in_array( $driver, [ self::SQLITE, self::POSTGRES, self::MYSQL ], true ) ) {
			throw new RuntimeException( "Unsupported PDO driver $driver" );
		}
		return $driver;
	}

	/**
	 * "INSERT INTO t (...) VALUES (...)" that does nothing when a unique key exists.
	 */
	public static function insertIgnore( PDO $db, string $insert ): string {
		if ( self::of( $db ) === self::MYSQL ) {
			return preg_replace( '/^INSERT /', 'INSERT IGNORE ', $insert );
		}
		return "$insert ON CONFLICT DO NOTHING";
	}

	/**
	 * The tail of an upsert: on a conflict over $keys, apply $set, in which
	 * excluded.COLUMN names the value that was to be inserted and TABLE.COLUMN the
	 * row already there.
	 *
	 * @param string[] $keys
	 */
	public static function onConflictUpdate( PDO $db, array $keys, string $set ): string {
		if ( self::of( $db ) === self::MYSQL ) {
			return ' ON DUPLICATE KEY UPDATE ' . preg_replace( '/\bexcluded\.(\w+)/', 'VALUES($1)', $set );
		}
		return ' ON CONFLICT (' . implode( ', ', $keys ) . ') DO UPDATE SET ' . $set;
	}

	/**
	 * A CREATE TABLE or CREATE INDEX statement written for SQLite, for $driver.
	 */
	public static function translateDdl( string $statement, string $driver ): string {
		switch ( $driver ) {
			case self::SQLITE:
				return $statement;
			case self::POSTGRES:
				$statement = preg_replace( '/\bINTEGER PRIMARY KEY AUTOINCREMENT\b/', 'SERIAL PRIMARY KEY', $statement );
				return preg_replace( '/\bBLOB\b/', 'TEXT', $statement );
			case self::MYSQL:
				$statement = preg_replace( '/\bINTEGER PRIMARY KEY AUTOINCREMENT\b/', 'INTEGER PRIMARY KEY AUTO_INCREMENT', $statement );
				// Binary strings compare and sort by byte, as in SQLite; TEXT cannot be a key.
				$statement = preg_replace( '/\bTEXT\b/', 'VARBINARY(767)', $statement );
				$statement = preg_replace( '/\bBLOB\b/', 'LONGBLOB', $statement );
				// InnoDB ignores inline REFERENCES: make them table constraints.
				if ( preg_match_all( '/^\s*(\w+)\s[^,\n]*?\sREFERENCES\s+("?\w+"?)\s*\((\w+)\)/m', $statement, $m, PREG_SET_ORDER ) ) {
					$constraints = '';
					foreach ( $m as [ , $column, $table, $key ] ) {
						$constraints .= ",\n\tFOREIGN KEY ($column) REFERENCES $table ($key)";
					}
					$statement = preg_replace( '/\sREFERENCES\s+"?\w+"?\s*\(\w+\)/', '', $statement );
					$statement = preg_replace( '/\n\)\s*$/', "$constraints\n)", $statement );
				}
				return $statement;
		}
		throw new RuntimeException( "Unsupported driver $driver" );
	}

	/**
	 * @return string[] The tables of the current database, by name
	 */
	public static function listTables( PDO $db ): array {
		switch ( self::of( $db ) ) {
			case self::SQLITE:
				$sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
				break;
			case self::POSTGRES:
				$sql = 'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename';
				break;
			default:
				$sql = 'SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name';
		}
		return array_map( 'strval', $db->query( $sql )->fetchAll( PDO::FETCH_COLUMN ) );
	}

	public static function quoteIdentifier( string $name ): string {
		return '"' . str_replace( '"', '""', $name ) . '"';
	}

	/**
	 * Drops every table (foreign keys notwithstanding).
	 */
	public static function dropTables( PDO $db ): void {
		$driver = self::of( $db );
		$tables = self::listTables( $db );
		if ( $driver === self::SQLITE ) {
			$foreignKeys = (int)$db->query( 'PRAGMA foreign_keys' )->fetchColumn();
			$db->exec( 'PRAGMA foreign_keys = OFF' );
		} elseif ( $driver === self::MYSQL ) {
			$db->exec( 'SET FOREIGN_KEY_CHECKS = 0' );
		}
		try {
			foreach ( $tables as $table ) {
				$db->exec( 'DROP TABLE IF EXISTS ' . self::quoteIdentifier( $table )
					. ( $driver === self::POSTGRES ? ' CASCADE' : '' ) );
			}
		} finally {
			if ( $driver === self::SQLITE ) {
				$db->exec( 'PRAGMA foreign_keys = ' . ( $foreignKeys ? 'ON' : 'OFF' ) );
			} elseif ( $driver === self::MYSQL ) {
				$db->exec( 'SET FOREIGN_KEY_CHECKS = 1' );
			}
		}
	}

	/**
	 * Empties every table and restarts its ids at 1: the state right after install,
	 * far cheaper than dropping and creating the tables.
	 */
	public static function emptyTables( PDO $db ): void {
		$driver = self::of( $db );
		$tables = self::listTables( $db );
		if ( !$tables ) {
			return;
		}
		switch ( $driver ) {
			case self::POSTGRES:
				$db->exec( 'TRUNCATE ' . implode( ', ', array_map( [ self::class, 'quoteIdentifier' ], $tables ) )
					. ' RESTART IDENTITY CASCADE' );
				return;
			case self::SQLITE:
				$db->exec( 'PRAGMA foreign_keys = OFF' );
				foreach ( $tables as $table ) {
					$db->exec( 'DELETE FROM ' . self::quoteIdentifier( $table ) );
				}
				if ( $db->query( "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'" )->fetchColumn() ) {
					$db->exec( 'DELETE FROM sqlite_sequence' );
				}
				$db->exec( 'PRAGMA foreign_keys = ON' );
				return;
			default:
				$db->exec( 'SET FOREIGN_KEY_CHECKS = 0' );
				foreach ( $tables as $table ) {
					// DELETE and a counter reset beat TRUNCATE (a table rebuild) by far.
					if ( $db->query( 'SELECT 1 FROM ' . self::quoteIdentifier( $table ) . ' LIMIT 1' )->fetchColumn() ) {
						$db->exec( 'DELETE FROM ' . self::quoteIdentifier( $table ) );
						$db->exec( 'ALTER TABLE ' . self::quoteIdentifier( $table ) . ' AUTO_INCREMENT = 1' );
					}
				}
				$db->exec( 'SET FOREIGN_KEY_CHECKS = 1' );
		}
	}
}
