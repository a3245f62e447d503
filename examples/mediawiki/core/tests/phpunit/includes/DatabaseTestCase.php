<?php

namespace MediaWiki\Tests;

use LogicException;
use MediaWiki\Database\Dialect;
use MediaWiki\Page\PageStore;
use MediaWiki\Revision\RevisionRecord;
use MediaWiki\Revision\RevisionStore;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentity;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\User\UserStore;
use MediaWiki\Utils\MWTimestamp;
use PDO;
use PHPUnit\Framework\TestCase;
use RuntimeException;

/**
 * Base class for tests that may use the database.
 *
 * Only tests in @group Database (on the class or the method) get a
 * connection; the schema is recreated before each of them.
 */
abstract class DatabaseTestCase extends TestCase {
	private ?PDO $db = null;

	protected function setUp(): void {
		parent::setUp();
		if ( !$this->needsDB() ) {
			return;
		}
		try {
			$this->db = TestDatabase::get();
			TestDatabase::resetSchema( $this->db );
		} catch ( RuntimeException $e ) {
			$this->fail( $e->getMessage() );
		}
	}

	protected function tearDown(): void {
		$this->db = null;
		MWTimestamp::setFakeTime( null );
		parent::tearDown();
	}

	protected function needsDB(): bool {
		return in_array( 'Database', $this->getGroups(), true );
	}

	protected function getDb(): PDO {
		if ( $this->db === null ) {
			throw new LogicException( static::class . '::' . $this->getName( false )
				. ' uses the database but is not in @group Database' );
		}
		return $this->db;
	}

	protected function getTestUser( string $name = 'UTSysop' ): UserIdentityValue {
		$store = new UserStore( $this->getDb() );
		return $store->getUserByName( $name ) ?? $store->createUser( $name );
	}

	/**
	 * Create the page if needed and save a new revision of it.
	 */
	protected function editPage( string $titleText, string $content, ?UserIdentity $user = null, string $summary = '' ): RevisionRecord {
		$title = Title::newFromText( $titleText );
		$page = ( new PageStore( $this->getDb() ) )->getOrCreatePage( $title );
		return ( new RevisionStore( $this->getDb() ) )->insertRevision(
			$page->getId(), $content, $user ?? $this->getTestUser(), $summary
		);
	}

	protected function countRows( string $table ): int {
		return (int)$this->getDb()->query( 'SELECT COUNT(*) FROM ' . Dialect::quoteIdentifier( $table ) )->fetchColumn();
	}
}
