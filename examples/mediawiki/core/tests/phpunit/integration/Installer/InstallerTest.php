<?php

namespace MediaWiki\Tests\Integration\Installer;

use MediaWiki\Database\Schema;
use MediaWiki\Installer\Installer;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Tests\TestDatabase;

/**
 * The install the tests run against: made by maintenance/install.php (testfarm's
 * install step), for this cell's database, with every extension's tables.
 *
 * @group Database
 * @covers \MediaWiki\Installer\Installer
 */
class InstallerTest extends DatabaseTestCase {
	protected function setUp(): void {
		parent::setUp();
		if ( Installer::getSettings() === null ) {
			$this->markTestSkipped( 'No install: set ' . Installer::ENV_DIR . ' (testfarm sets it for stages with `install`)' );
		}
	}

	public function testInstallIsForThisDatabase(): void {
		$settings = Installer::getSettings();
		$this->assertSame( getenv( 'FARM_DB_TYPE' ) ?: TestDatabase::getType(), $settings['wgDBtype'] );
		$this->assertTrue( TestDatabase::isInstalled(), 'the database came from the installer' );
	}

	public function testInstalledTablesAreThere(): void {
		$settings = Installer::getSettings();
		$this->assertSame( [ 'Echo', 'LoginNotify', 'Thanks' ], $settings['wgInstalledExtensions'] );
		$this->assertSame( $settings['wgSchemaTables'], Schema::listTables( $this->getDb() ) );
		$this->assertContains( 'thanks_log', $settings['wgSchemaTables'] );
	}
}
