<?php

namespace MediaWiki\Tests\Integration\Page;

use InvalidArgumentException;
use MediaWiki\Page\PageStore;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Title\NamespaceInfo;
use MediaWiki\Title\Title;
use RuntimeException;

/**
 * @group Database
 * @covers \MediaWiki\Page\PageStore
 * @covers \MediaWiki\Page\PageRecord
 */
class PageStoreTest extends DatabaseTestCase {
	public function testCreateAndFetch(): void {
		$store = new PageStore( $this->getDb() );
		$title = Title::newFromText( 'Help:Getting started' );
		$page = $store->createPage( $title );
		$this->assertGreaterThan( 0, $page->getId() );
		$this->assertTrue( $page->getTitle()->equals( $title ) );
		$this->assertFalse( $page->exists(), 'no revision yet' );
		$this->assertSame( $page->getId(), $store->getPageByTitle( $title )->getId() );
		$this->assertNull( $store->getPageByTitle( Title::newFromText( 'Help:Other' ) ) );
		$this->assertNull( $store->getPageById( 9999 ) );
	}

	public function testExistsNeedsARevision(): void {
		$store = new PageStore( $this->getDb() );
		$title = Title::newFromText( 'Existing' );
		$this->assertFalse( $store->exists( $title ) );
		$this->editPage( 'Existing', 'content' );
		$this->assertTrue( $store->exists( $title ) );
		$checker = $store->getExistenceChecker();
		$this->assertTrue( $checker( $title ) );
		$this->assertFalse( $checker( Title::newFromText( 'Missing' ) ) );
	}

	public function testCreateTwiceFails(): void {
		$store = new PageStore( $this->getDb() );
		$store->createPage( Title::newFromText( 'Dup' ) );
		$this->expectException( RuntimeException::class );
		$store->createPage( Title::newFromText( 'dup' ) );
	}

	public function testCannotCreateSpecialPages(): void {
		$this->expectException( InvalidArgumentException::class );
		( new PageStore( $this->getDb() ) )->createPage( Title::newFromText( 'Special:Nope' ) );
	}

	public function testMove(): void {
		$store = new PageStore( $this->getDb() );
		$this->editPage( 'Old name', 'text' );
		$moved = $store->movePage( Title::newFromText( 'Old name' ), Title::newFromText( 'User:New name' ) );
		$this->assertSame( 'User:New_name', $moved->getTitle()->getPrefixedDBkey() );
		$this->assertFalse( $store->exists( Title::newFromText( 'Old name' ) ) );
		$this->assertTrue( $store->exists( Title::newFromText( 'User:New name' ) ) );

		$this->editPage( 'Blocker', 'x' );
		$this->expectException( RuntimeException::class );
		$store->movePage( Title::newFromText( 'User:New name' ), Title::newFromText( 'Blocker' ) );
	}

	public function testDeleteRemovesRevisions(): void {
		$store = new PageStore( $this->getDb() );
		$this->editPage( 'Doomed', 'one' );
		$this->editPage( 'Doomed', 'two' );
		$this->editPage( 'Survivor', 'x' );
		$this->assertTrue( $store->deletePage( Title::newFromText( 'Doomed' ) ) );
		$this->assertFalse( $store->deletePage( Title::newFromText( 'Doomed' ) ) );
		$this->assertSame( 1, $this->countRows( 'revision' ) );
		$this->assertSame( 1, $this->countRows( 'page' ) );
	}

	public function testRedirectFlagAndListing(): void {
		$store = new PageStore( $this->getDb() );
		foreach ( [ 'Template:Zeta', 'Template:Alpha', 'Template:Mid', 'Other' ] as $text ) {
			$store->createPage( Title::newFromText( $text ) );
		}
		$store->setRedirect( Title::newFromText( 'Template:Mid' ), true );
		$this->assertTrue( $store->getPageByTitle( Title::newFromText( 'Template:Mid' ) )->isRedirect() );
		$listed = $store->listPagesInNamespace( NamespaceInfo::NS_TEMPLATE );
		$this->assertSame( [ 'Alpha', 'Mid', 'Zeta' ], array_map( static fn ( Title $t ) => $t->getDBkey(), $listed ) );
		$this->assertCount( 2, $store->listPagesInNamespace( NamespaceInfo::NS_TEMPLATE, 2 ) );
	}

	public function testListingManyPages(): void {
		$store = new PageStore( $this->getDb() );
		$this->getDb()->beginTransaction();
		for ( $i = 0; $i < 300; $i++ ) {
			$store->createPage( Title::makeTitle( NamespaceInfo::NS_HELP, sprintf( 'Topic_%03d', 299 - $i ) ) );
		}
		$this->getDb()->commit();
		// Wait for the (simulated) search index update to catch up
		usleep( 300000 );
		$listed = $store->listPagesInNamespace( NamespaceInfo::NS_HELP, 1000 );
		$this->assertCount( 300, $listed );
		$this->assertSame( 'Topic_000', $listed[0]->getDBkey() );
		$this->assertSame( 'Topic_299', $listed[299]->getDBkey() );
	}
}
