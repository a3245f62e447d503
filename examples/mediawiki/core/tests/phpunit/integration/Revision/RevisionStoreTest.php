<?php

namespace MediaWiki\Tests\Integration\Revision;

use InvalidArgumentException;
use MediaWiki\Database\Dialect;
use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Page\PageStore;
use MediaWiki\Revision\RevisionRecord;
use MediaWiki\Revision\RevisionStore;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\User\UserStore;
use MediaWiki\Utils\MWTimestamp;

/**
 * @group Database
 * @covers \MediaWiki\Revision\RevisionStore
 * @covers \MediaWiki\Revision\RevisionRecord
 */
class RevisionStoreTest extends DatabaseTestCase {
	private function newPage( string $title = 'Revision test' ): int {
		return ( new PageStore( $this->getDb() ) )->createPage( Title::newFromText( $title ) )->getId();
	}

	public function testInsertAndLoad(): void {
		MWTimestamp::setFakeTime( 1700000000 );
		$user = $this->getTestUser( 'Alice' );
		$pageId = $this->newPage();
		$store = new RevisionStore( $this->getDb() );
		$rev = $store->insertRevision( $pageId, 'Hello wiki', $user, 'first', true );

		$loaded = $store->getRevisionById( $rev->getId() );
		$this->assertNotNull( $loaded );
		$this->assertSame( 'Hello wiki', $loaded->getContent() );
		$this->assertSame( 'first', $loaded->getComment() );
		$this->assertSame( '20231114221320', $loaded->getTimestamp() );
		$this->assertTrue( $loaded->isMinor() );
		$this->assertNull( $loaded->getParentId() );
		$this->assertSame( $rev->getSha1(), $loaded->getSha1() );
		$this->assertTrue( $user->equals( $loaded->getUser() ) );
		$this->assertNull( $store->getRevisionById( 999 ) );
	}

	public function testPageLatestAndParentChain(): void {
		$pageId = $this->newPage();
		$store = new RevisionStore( $this->getDb() );
		$user = $this->getTestUser();
		$first = $store->insertRevision( $pageId, 'one', $user );
		$second = $store->insertRevision( $pageId, 'one two', $user );
		$this->assertSame( $first->getId(), $second->getParentId() );

		$page = ( new PageStore( $this->getDb() ) )->getPageById( $pageId );
		$this->assertSame( $second->getId(), $page->getLatest() );
		$this->assertSame( 7, $page->getLength() );
		$this->assertSame( $first->getId(), $store->getPreviousRevision( $second )->getId() );
		$this->assertSame( $second->getId(), $store->getNextRevision( $first )->getId() );
		$this->assertNull( $store->getNextRevision( $second ) );
		$this->assertSame( $first->getId(), $store->getFirstRevision( $pageId )->getId() );
	}

	public function testHistoryIsNewestFirst(): void {
		$pageId = $this->newPage();
		$store = new RevisionStore( $this->getDb() );
		$user = $this->getTestUser();
		foreach ( [ '20240101000000', '20240301000000', '20240201000000' ] as $i => $ts ) {
			$store->insertRevision( $pageId, "v$i", $user, '', false, $ts );
		}
		$history = $store->getRevisionsByPage( $pageId );
		$this->assertSame( [ 'v1', 'v2', 'v0' ], array_map( static fn ( RevisionRecord $r ) => $r->getContent(), $history ) );
		$this->assertCount( 2, $store->getRevisionsByPage( $pageId, 2 ) );
		$this->assertSame( 3, $store->countRevisions( $pageId ) );
	}

	public function testAuthorsAndEditCount(): void {
		$pageId = $this->newPage();
		$store = new RevisionStore( $this->getDb() );
		$alice = $this->getTestUser( 'Alice' );
		$bob = $this->getTestUser( 'Bob' );
		$store->insertRevision( $pageId, 'a', $alice );
		$store->insertRevision( $pageId, 'b', $bob );
		$store->insertRevision( $pageId, 'c', $alice );
		$store->insertRevision( $pageId, 'd', UserIdentityValue::newAnonymous( '192.0.2.7' ) );
		$this->assertSame( 3, $store->countAuthors( $pageId ) );
		$users = new UserStore( $this->getDb() );
		$this->assertSame( 2, $users->getEditCount( $alice->getId() ) );
		$this->assertSame( 1, $users->getEditCount( $bob->getId() ) );
	}

	public function testRevertDetection(): void {
		$pageId = $this->newPage();
		$store = new RevisionStore( $this->getDb() );
		$user = $this->getTestUser();
		$good = $store->insertRevision( $pageId, 'good text', $user );
		$store->insertRevision( $pageId, 'vandalism', UserIdentityValue::newAnonymous( '198.51.100.1' ) );
		$revert = $store->insertRevision( $pageId, 'good text', $user, 'revert' );
		$nullEdit = $store->insertRevision( $pageId, 'good text', $user, 'null edit' );
		$this->assertSame( $good->getId(), $store->findRevertedTo( $revert )->getId() );
		$this->assertSame( $good->getId(), $store->findRevertedTo( $nullEdit )->getId() );
		$this->assertNull( $store->findRevertedTo( $good ) );
	}

	public function testHookRunsAfterInsert(): void {
		$hooks = new HookContainer();
		$seen = [];
		$hooks->register( 'RevisionRecordInserted', static function ( RevisionRecord $rev ) use ( &$seen ): void {
			$seen[] = $rev->getContent();
		} );
		$store = new RevisionStore( $this->getDb(), $hooks );
		$store->insertRevision( $this->newPage(), 'hooked', $this->getTestUser() );
		$this->assertSame( [ 'hooked' ], $seen );
	}

	public function testInsertIntoMissingPage(): void {
		$this->expectException( InvalidArgumentException::class );
		( new RevisionStore( $this->getDb() ) )->insertRevision( 12345, 'x', $this->getTestUser() );
	}

	public function testFailedInsertRollsBack(): void {
		$pageId = $this->newPage();
		$store = new RevisionStore( $this->getDb() );
		$user = $this->getTestUser();
		$this->failUpdatesOfPage( true );
		try {
			$store->insertRevision( $pageId, 'x', $user );
			$this->fail( 'Expected the insert to fail' );
		} catch ( \PDOException $e ) {
			$this->assertSame( 0, $this->countRows( 'revision' ), 'revision row rolled back' );
		} finally {
			// Installed databases keep their schema between tests: leave none behind.
			$this->failUpdatesOfPage( false );
		}
	}

	/**
	 * A trigger that makes every UPDATE of page fail, in the backend's own dialect.
	 */
	private function failUpdatesOfPage( bool $on ): void {
		$db = $this->getDb();
		switch ( Dialect::of( $db ) ) {
			case Dialect::SQLITE:
				$db->exec( $on
					? "CREATE TRIGGER fail_update BEFORE UPDATE ON page BEGIN SELECT RAISE(ABORT, 'no'); END"
					: 'DROP TRIGGER IF EXISTS fail_update' );
				break;
			case Dialect::POSTGRES:
				$db->exec( $on
					? "CREATE FUNCTION fail_update() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'no'; END \$\$;"
						. ' CREATE TRIGGER fail_update BEFORE UPDATE ON page FOR EACH ROW EXECUTE FUNCTION fail_update()'
					: 'DROP TRIGGER IF EXISTS fail_update ON page; DROP FUNCTION IF EXISTS fail_update()' );
				break;
			default:
				$db->exec( $on
					? "CREATE TRIGGER fail_update BEFORE UPDATE ON page FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no'"
					: 'DROP TRIGGER IF EXISTS fail_update' );
		}
	}

	public function testManyRevisions(): void {
		$pageId = $this->newPage( 'Busy page' );
		$store = new RevisionStore( $this->getDb() );
		$user = $this->getTestUser();
		$text = '';
		for ( $i = 0; $i < 120; $i++ ) {
			$text .= "Line $i\n";
			$store->insertRevision( $pageId, $text, $user, "edit $i" );
			// Replication lag wait, as after each save on a busy page
			usleep( 3500 );
		}
		$this->assertSame( 120, $store->countRevisions( $pageId ) );
		$latest = $store->getRevisionsByPage( $pageId, 1 )[0];
		$this->assertSame( strlen( $text ), $latest->getSize() );
		$this->assertSame( strlen( "Line 119\n" ), $latest->getSizeDiff( $store->getPreviousRevision( $latest ) ) );
	}
}
