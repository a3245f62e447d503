<?php

namespace MediaWiki\Tests\Integration\Database;

use MediaWiki\Database\Dialect;
use MediaWiki\Database\Schema;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Tests\TestDatabase;

/**
 * The test database itself: backend selection and schema.
 *
 * @group Database
 * @covers \MediaWiki\Database\Schema
 * @covers \MediaWiki\Database\Connection
 */
class TestDatabaseTest extends DatabaseTestCase {
	public function testBackendMatchesEnvironment(): void {
		$type = TestDatabase::getType();
		$this->assertContains( $type, TestDatabase::SUPPORTED );
		$driver = Dialect::of( $this->getDb() );
		$this->assertSame( [ 'sqlite' => 'sqlite', 'sqlite-memory' => 'sqlite', 'postgres' => 'pgsql', 'mysql' => 'mysql' ][$type], $driver );
		$file = TestDatabase::getFile();
		if ( $type === 'sqlite' && TestDatabase::isInstalled() ) {
			// The farm's copy of the installed database, in the task's own directory
			$this->assertSame( getenv( 'FARM_DB_DIR' ) . '/' . TestDatabase::INSTALLED_SQLITE, $file );
		} elseif ( $type === 'sqlite' ) {
			$this->assertNotNull( $file );
			$this->assertFileExists( $file );
			$dir = getenv( 'MW_DB_DIR' ) ?: sys_get_temp_dir();
			$this->assertSame( realpath( $dir ), realpath( dirname( $file ) ) );
			$this->assertStringContainsString( (string)getmypid(), basename( $file ) );
		} else {
			$this->assertNull( $file );
		}
		if ( $type === 'postgres' || $type === 'mysql' ) {
			// The task's own database on the agent's server
			$name = $type === 'postgres' ? 'SELECT current_database()' : 'SELECT DATABASE()';
			$this->assertSame( getenv( 'FARM_DB_NAME' ), $this->getDb()->query( $name )->fetchColumn() );
		}
	}

	public function testCoreAndExtensionTablesExist(): void {
		$tables = Schema::listTables( $this->getDb() );
		foreach ( array_merge( Schema::CORE_TABLES, [ 'echo_event', 'echo_notification', 'thanks_log', 'loginnotify_seen_net' ] ) as $table ) {
			$this->assertContains( $table, $tables );
		}
	}

	public function testSchemaIsResetBetweenTests(): void {
		// Runs twice (see below): the row written by the first run must be gone in the second
		$this->assertSame( 0, $this->countRows( 'page' ) );
		$this->editPage( 'Leftover', 'x' );
		$this->assertSame( 1, $this->countRows( 'page' ) );
	}

	public function testSchemaIsResetBetweenTestsAgain(): void {
		$this->testSchemaIsResetBetweenTests();
	}

	public function testForeignKeysAreEnforced(): void {
		$this->expectException( \PDOException::class );
		$this->getDb()->exec( "INSERT INTO revision (rev_page, rev_user_text, rev_timestamp, rev_content) VALUES (999, 'x', '20240101000000', '')" );
	}
}
