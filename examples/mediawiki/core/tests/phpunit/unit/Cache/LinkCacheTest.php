<?php

namespace MediaWiki\Tests\Unit\Cache;

use InvalidArgumentException;
use MediaWiki\Cache\LinkCache;
use MediaWiki\Title\Title;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Cache\LinkCache
 */
class LinkCacheTest extends TestCase {
	public function testGoodAndBadLinks(): void {
		$cache = new LinkCache();
		$foo = Title::newFromText( 'Foo' );
		$bar = Title::newFromText( 'Talk:Bar' );
		$cache->addGoodLinkObj( 7, $foo );
		$cache->addBadLinkObj( $bar );
		$this->assertSame( 7, $cache->getGoodLinkID( $foo ) );
		$this->assertSame( 0, $cache->getGoodLinkID( $bar ) );
		$this->assertTrue( $cache->isBadLink( $bar ) );
		$this->assertFalse( $cache->isBadLink( $foo ) );
		$this->assertSame( [ 'hits' => 1, 'misses' => 1, 'good' => 1, 'bad' => 1 ], $cache->getStats() );
	}

	public function testGoodReplacesBad(): void {
		$cache = new LinkCache();
		$title = Title::newFromText( 'Created later' );
		$cache->addBadLinkObj( $title );
		$cache->addGoodLinkObj( 3, $title );
		$this->assertFalse( $cache->isBadLink( $title ) );
		$this->assertSame( 3, $cache->getGoodLinkID( $title ) );
		$cache->clearLink( $title );
		$this->assertFalse( $cache->isKnown( $title ) );
	}

	public function testLeastRecentlyUsedEviction(): void {
		$cache = new LinkCache( 3 );
		$titles = array_map( static fn ( string $t ): Title => Title::newFromText( $t ), [ 'A', 'B', 'C', 'D' ] );
		$cache->addGoodLinkObj( 1, $titles[0] );
		$cache->addGoodLinkObj( 2, $titles[1] );
		$cache->addGoodLinkObj( 3, $titles[2] );
		// Touch A so that B becomes the oldest entry
		$cache->getGoodLinkID( $titles[0] );
		$cache->addGoodLinkObj( 4, $titles[3] );
		$this->assertSame( 1, $cache->getGoodLinkID( $titles[0] ) );
		$this->assertSame( 0, $cache->getGoodLinkID( $titles[1] ) );
		$this->assertSame( 4, $cache->getGoodLinkID( $titles[3] ) );
	}

	public function testBadLinksAreEvictedFirst(): void {
		$cache = new LinkCache( 2 );
		$cache->addGoodLinkObj( 1, Title::newFromText( 'Good' ) );
		$cache->addBadLinkObj( Title::newFromText( 'Bad' ) );
		$cache->addGoodLinkObj( 2, Title::newFromText( 'Good two' ) );
		$this->assertSame( [ 'hits' => 0, 'misses' => 0, 'good' => 2, 'bad' => 0 ], $cache->getStats() );
		$cache->clear();
		$this->assertSame( 0, $cache->getStats()['good'] );
	}

	public function testInvalidSize(): void {
		$this->expectException( InvalidArgumentException::class );
		new LinkCache( 0 );
	}

	public function testSizeBoundUnderLoad(): void {
		$cache = new LinkCache( 100 );
		for ( $i = 0; $i < 5000; $i++ ) {
			$title = Title::makeTitle( $i % 4, "Page_$i" );
			if ( $i % 3 ) {
				$cache->addGoodLinkObj( $i + 1, $title );
			} else {
				$cache->addBadLinkObj( $title );
			}
			$stats = $cache->getStats();
			$this->assertLessThanOrEqual( 100, $stats['good'] + $stats['bad'] );
		}
		$this->assertSame( 5000, $cache->getGoodLinkID( Title::makeTitle( 3, 'Page_4999' ) ) );
		// The process cache is flushed to the shared cache at the end of a request
		usleep( 170000 );
	}
}
