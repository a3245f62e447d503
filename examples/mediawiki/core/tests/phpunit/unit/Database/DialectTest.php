<?php

namespace MediaWiki\Tests\Unit\Database;

use MediaWiki\Database\Dialect;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Database\Dialect
 */
class DialectTest extends TestCase {
	private const PAGE = "CREATE TABLE revision (\n\trev_id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
		. "\trev_page INTEGER NOT NULL REFERENCES page (page_id),\n\trev_content BLOB NOT NULL,\n"
		. "\trev_comment TEXT NOT NULL DEFAULT ''\n)";

	public function testSqliteDdlStaysAsWritten(): void {
		$this->assertSame( self::PAGE, Dialect::translateDdl( self::PAGE, Dialect::SQLITE ) );
	}

	public function testPostgresGetsSerialIdsAndText(): void {
		$sql = Dialect::translateDdl( self::PAGE, Dialect::POSTGRES );
		$this->assertStringContainsString( 'rev_id SERIAL PRIMARY KEY', $sql );
		$this->assertStringContainsString( 'rev_content TEXT NOT NULL', $sql );
		$this->assertStringContainsString( 'REFERENCES page (page_id)', $sql );
	}

	public function testMysqlGetsBinaryStringsAndTableLevelForeignKeys(): void {
		$sql = Dialect::translateDdl( self::PAGE, Dialect::MYSQL );
		$this->assertStringContainsString( 'rev_id INTEGER PRIMARY KEY AUTO_INCREMENT', $sql );
		$this->assertStringContainsString( 'rev_comment VARBINARY(767)', $sql );
		$this->assertStringContainsString( 'rev_content LONGBLOB', $sql );
		$this->assertStringContainsString( "rev_page INTEGER NOT NULL,\n", $sql );
		$this->assertStringEndsWith( ",\n\tFOREIGN KEY (rev_page) REFERENCES page (page_id)\n)", $sql );
	}

	public function testIdentifiersAreQuotedTheAnsiWay(): void {
		$this->assertSame( '"user"', Dialect::quoteIdentifier( 'user' ) );
		$this->assertSame( '"us""er"', Dialect::quoteIdentifier( 'us"er' ) );
	}
}
