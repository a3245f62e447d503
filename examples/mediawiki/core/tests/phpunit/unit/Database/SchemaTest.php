<?php

namespace MediaWiki\Tests\Unit\Database;

use MediaWiki\Database\Schema;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Database\Schema
 */
class SchemaTest extends TestCase {
	public function testSplitStatements(): void {
		$sql = "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE INDEX i ON a (x);\n-- trailing\n";
		$this->assertSame(
			[ "CREATE TABLE a (x TEXT DEFAULT ';')", 'CREATE INDEX i ON a (x)' ],
			Schema::splitStatements( $sql )
		);
	}

	public function testCoreSqlDefinesCoreTables(): void {
		$statements = Schema::splitStatements( Schema::getCoreSql() );
		foreach ( Schema::CORE_TABLES as $table ) {
			$this->assertNotEmpty(
				preg_grep( "/^CREATE TABLE \"?$table\"? \\(/", $statements ),
				"core schema creates $table"
			);
		}
	}
}
