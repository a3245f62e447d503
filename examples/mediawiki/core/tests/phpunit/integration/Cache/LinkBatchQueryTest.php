<?php

namespace MediaWiki\Tests\Integration\Cache;

use MediaWiki\Cache\LinkBatch;
use MediaWiki\Cache\LinkCache;
use MediaWiki\Page\PageStore;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Title\Title;

/**
 * @group Database
 * @covers \MediaWiki\Cache\LinkBatch
 * @covers \MediaWiki\Cache\LinkCache
 */
class LinkBatchQueryTest extends DatabaseTestCase {
	public function testExecuteFillsCache(): void {
		$blue = $this->editPage( 'Blue', 'x' );
		$this->editPage( 'User:Blue', 'y' );
		( new PageStore( $this->getDb() ) )->createPage( Title::newFromText( 'Empty' ) );

		$cache = new LinkCache();
		$batch = new LinkBatch( array_map( [ Title::class, 'newFromText' ], [ 'Blue', 'User:Blue', 'Red', 'Empty' ] ) );
		$found = $batch->execute( $this->getDb(), $cache );

		$this->assertSame( [ 'Blue', 'User:Blue' ], array_keys( $found ) );
		$this->assertSame( $blue->getPageId(), $found['Blue'] );
		$this->assertSame( $blue->getPageId(), $cache->getGoodLinkID( Title::newFromText( 'Blue' ) ) );
		$this->assertTrue( $cache->isBadLink( Title::newFromText( 'Red' ) ) );
		$this->assertTrue( $cache->isBadLink( Title::newFromText( 'Empty' ) ), 'a page without revisions is a red link' );
	}

	public function testLargeBatchIsChunked(): void {
		$existing = [];
		for ( $i = 0; $i < 60; $i += 3 ) {
			$existing[] = $this->editPage( "Page $i", 'text' )->getPageId();
		}
		$batch = new LinkBatch( [], 7 );
		for ( $i = 0; $i < 60; $i++ ) {
			$batch->add( 0, "Page_$i" );
		}
		$cache = new LinkCache( 100 );
		$found = $batch->execute( $this->getDb(), $cache );
		// Nine chunks: one replica round trip each on a real cluster
		usleep( 9 * 25000 );
		$this->assertCount( 20, $found );
		$this->assertEqualsCanonicalizing( $existing, array_values( $found ) );
		$this->assertSame( 40, $cache->getStats()['bad'] );
	}

	public function testEmptyBatch(): void {
		$this->assertSame( [], ( new LinkBatch() )->execute( $this->getDb(), new LinkCache() ) );
	}
}
