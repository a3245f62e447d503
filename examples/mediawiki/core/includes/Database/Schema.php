<?php

namespace MediaWiki\Database;

use PDO;
use RuntimeException;

/**
 * Creates the core tables (plus extension tables from SQL files). The SQL is
 * written for SQLite and translated for PostgreSQL and MySQL by Dialect.
 */
final class Schema {
	public const CORE_TABLES = [ 'page', 'revision', 'user' ];

	private const CORE_SQL = <<<'SQL'
CREATE TABLE page (
	page_id INTEGER PRIMARY KEY AUTOINCREMENT,
	page_namespace INTEGER NOT NULL,
	page_title TEXT NOT NULL,
	page_is_redirect INTEGER NOT NULL DEFAULT 0,
	page_is_new INTEGER NOT NULL DEFAULT 1,
	page_touched TEXT NOT NULL,
	page_latest INTEGER NOT NULL DEFAULT 0,
	page_len INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX page_name_title ON page (page_namespace, page_title);
CREATE TABLE revision (
	rev_id INTEGER PRIMARY KEY AUTOINCREMENT,
	rev_page INTEGER NOT NULL REFERENCES page (page_id),
	rev_parent_id INTEGER DEFAULT NULL,
	rev_user INTEGER NOT NULL DEFAULT 0,
	rev_user_text TEXT NOT NULL,
	rev_timestamp TEXT NOT NULL,
	rev_comment TEXT NOT NULL DEFAULT '',
	rev_minor_edit INTEGER NOT NULL DEFAULT 0,
	rev_len INTEGER NOT NULL DEFAULT 0,
	rev_sha1 TEXT NOT NULL DEFAULT '',
	rev_content BLOB NOT NULL
);
CREATE INDEX rev_page_timestamp ON revision (rev_page, rev_timestamp);
CREATE TABLE "user" (
	user_id INTEGER PRIMARY KEY AUTOINCREMENT,
	user_name TEXT NOT NULL UNIQUE,
	user_registration TEXT,
	user_editcount INTEGER NOT NULL DEFAULT 0
);
SQL;

	public static function getCoreSql(): string {
		return self::CORE_SQL;
	}

	/**
	 * Split SQL text into statements, dropping "--" comments.
	 *
	 * @return string[]
	 */
	public static function splitStatements( string $sql ): array {
		$sql = preg_replace( '/^\s*--.*$/m', '', $sql );
		$statements = [];
		foreach ( preg_split( '/;\s*(?:\n|$)/', $sql ) as $statement ) {
			$statement = trim( $statement );
			if ( $statement !== '' ) {
				$statements[] = $statement;
			}
		}
		return $statements;
	}

	/**
	 * @param string[] $extraSqlFiles
	 * @return string[] Tables present afterwards
	 */
	public static function create( PDO $db, array $extraSqlFiles = [] ): array {
		$driver = Dialect::of( $db );
		$statements = self::splitStatements( self::CORE_SQL );
		foreach ( $extraSqlFiles as $file ) {
			$sql = @file_get_contents( $file );
			if ( $sql === false ) {
				throw new RuntimeException( "Cannot read schema file $file" );
			}
			array_push( $statements, ...self::splitStatements( $sql ) );
		}
		foreach ( $statements as $statement ) {
			$db->exec( Dialect::translateDdl( $statement, $driver ) );
		}
		return self::listTables( $db );
	}

	public static function drop( PDO $db ): void {
		Dialect::dropTables( $db );
	}

	/**
	 * @return string[]
	 */
	public static function listTables( PDO $db ): array {
		return Dialect::listTables( $db );
	}
}
