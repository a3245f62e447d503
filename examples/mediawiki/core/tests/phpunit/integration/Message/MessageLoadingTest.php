<?php

namespace MediaWiki\Tests\Integration\Message;

use MediaWiki\Message\Message;
use MediaWiki\Message\MessageCache;
use MediaWiki\Registration\ExtensionRegistry;
use PHPUnit\Framework\TestCase;

/**
 * Messages from core and all extensions, loaded the way a wiki would.
 *
 * @covers \MediaWiki\Message\MessageCache
 * @covers \MediaWiki\Message\Message
 */
class MessageLoadingTest extends TestCase {
	private static function loadAll(): MessageCache {
		$root = dirname( __DIR__, 5 );
		$registry = new ExtensionRegistry();
		$registry->queueDirectory( "$root/extensions" );
		return MessageCache::newFromDirectories( array_merge( [ "$root/core/languages/i18n" ], $registry->getMessagesDirs() ) );
	}

	public function testExtensionMessagesAreAvailable(): void {
		$cache = self::loadAll();
		foreach ( [ 'echo-desc', 'thanks-desc', 'loginnotify-desc', 'mainpage' ] as $key ) {
			$this->assertTrue( $cache->has( $key ), $key );
		}
		$this->assertSame( [ 'de', 'en', 'fr', 'ru' ], $cache->getLanguages() );
	}

	public function testTranslationsOnlyUseKnownKeys(): void {
		$cache = self::loadAll();
		$english = $cache->getKeys( 'en' );
		foreach ( $cache->getLanguages() as $lang ) {
			$this->assertSame( [], array_diff( $cache->getKeys( $lang ), $english ), "$lang has keys English lacks" );
		}
	}

	public function testTranslationsKeepParameters(): void {
		// Every $N used in a translation must exist in the English message
		$cache = self::loadAll();
		foreach ( $cache->getLanguages() as $lang ) {
			foreach ( $cache->getKeys( $lang ) as $key ) {
				preg_match_all( '/\$\d/', $cache->get( $key, $lang ), $translated );
				preg_match_all( '/\$\d/', $cache->get( $key, 'en' ), $english );
				$this->assertSame( [], array_diff( $translated[0], $english[0] ), "$lang: $key" );
			}
		}
	}

	public function testAllEnglishMessagesRender(): void {
		$cache = self::loadAll();
		$rendered = 0;
		foreach ( $cache->getKeys( 'en' ) as $key ) {
			$text = ( new Message( $key, [ 'Alice', 2, 'Main Page' ], $cache ) )->text();
			$this->assertStringNotContainsString( '{{', $text, $key );
			$rendered++;
			// Each render goes through the (simulated) localisation cache lookup
			usleep( 5000 );
		}
		$this->assertGreaterThan( 30, $rendered );
	}

	public function testGermanFallbackForMissingTranslation(): void {
		$cache = self::loadAll();
		$message = static fn ( string $key ): Message => new Message( $key, [], $cache );
		$this->assertSame( 'Du kannst dir nicht selbst danken.', $message( 'thanks-error-invalidrecipient-self' )->inLanguage( 'de' )->text() );
		$this->assertSame( 'Anonymous users cannot send thanks.', $message( 'thanks-error-notloggedin' )->inLanguage( 'de-formal' )->text() );
		$this->assertSame( '2 Benachrichtigungen', $message( 'echo-notification-count' )->numParams( 2 )->inLanguage( 'de' )->text() );
	}
}
