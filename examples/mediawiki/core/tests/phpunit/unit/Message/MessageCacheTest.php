<?php

namespace MediaWiki\Tests\Unit\Message;

use MediaWiki\Message\MessageCache;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Message\MessageCache
 */
class MessageCacheTest extends TestCase {
	private function newCache(): MessageCache {
		return new MessageCache( [
			'en' => [ 'hello' => 'Hello', 'bye' => 'Bye', 'Mainpage' => 'Main Page' ],
			'de' => [ 'hello' => 'Hallo' ],
			'de-formal' => [ 'bye' => 'Auf Wiedersehen' ],
		] );
	}

	public function testFallbackChain(): void {
		$this->assertSame( [ 'de-formal', 'de', 'en' ], MessageCache::getFallbackChain( 'de-formal' ) );
		$this->assertSame( [ 'en' ], MessageCache::getFallbackChain( 'EN' ) );
		$this->assertSame( [ 'uk', 'ru', 'en' ], MessageCache::getFallbackChain( 'uk' ) );
	}

	public function testGetWithFallback(): void {
		$cache = $this->newCache();
		$this->assertSame( 'Hallo', $cache->get( 'hello', 'de-formal' ) );
		$this->assertSame( 'Auf Wiedersehen', $cache->get( 'bye', 'de-formal' ) );
		$this->assertSame( 'Bye', $cache->get( 'bye', 'de' ) );
		$this->assertSame( 'Hello', $cache->get( 'hello', 'fr' ) );
		$this->assertNull( $cache->get( 'missing' ) );
	}

	public function testKeysAreCaseInsensitiveOnFirstLetter(): void {
		$cache = $this->newCache();
		$this->assertSame( 'Main Page', $cache->get( 'mainpage' ) );
		$this->assertSame( 'Main Page', $cache->get( 'Mainpage' ) );
		$this->assertTrue( $cache->has( 'Hello' ) );
		$this->assertSame( [ 'bye', 'hello', 'mainpage' ], $cache->getKeys( 'en' ) );
		$this->assertSame( [ 'de', 'de-formal', 'en' ], $cache->getLanguages() );
	}

	public function testLoadDirectorySkipsMetadataAndDocumentation(): void {
		$dir = dirname( __DIR__, 4 ) . '/languages/i18n';
		$cache = new MessageCache();
		$this->assertGreaterThan( 10, $cache->loadDirectory( $dir ) );
		$this->assertNotContains( 'qqq', $cache->getLanguages() );
		$this->assertNotContains( '@metadata', $cache->getKeys( 'en' ) );
		$this->assertSame( 'Hauptseite', $cache->get( 'mainpage', 'de' ) );
		// Loading a directory also rebuilds the CDB localisation cache
		usleep( 100000 );
	}

	public function testLoadMissingDirectory(): void {
		$this->expectException( \RuntimeException::class );
		( new MessageCache() )->loadDirectory( '/nonexistent/i18n' );
	}
}
