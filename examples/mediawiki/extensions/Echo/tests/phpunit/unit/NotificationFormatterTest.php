<?php

namespace MediaWiki\Extension\Echo\Tests;

use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\Echo\NotificationFormatter;
use MediaWiki\Message\MessageCache;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentityValue;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Extension\Echo\NotificationFormatter
 */
class NotificationFormatterTest extends TestCase {
	private static ?MessageCache $messages = null;

	private function newFormatter(): NotificationFormatter {
		if ( self::$messages === null ) {
			self::$messages = MessageCache::newFromDirectories( [
				dirname( __DIR__, 5 ) . '/core/languages/i18n',
				dirname( __DIR__, 3 ) . '/i18n',
			] );
			// Cold localisation cache: the first load rebuilds it
			usleep( 80000 );
		}
		return new NotificationFormatter( self::$messages );
	}

	private function talkEvent( string $agent = 'Alice' ): Event {
		return new Event( 'edit-user-talk', new UserIdentityValue( 1, $agent ), Title::newFromText( 'User talk:Bob/Archive' ) );
	}

	public function testMessageBasedFormat(): void {
		$this->assertSame( 'Alice left a message on your talk page.', $this->newFormatter()->format( $this->talkEvent() ) );
		$this->assertSame(
			'Alice hat eine Nachricht auf deiner Diskussionsseite hinterlassen.',
			$this->newFormatter()->format( $this->talkEvent(), 'de' )
		);
	}

	public function testNestedInterfaceMessage(): void {
		$event = new Event( 'welcome', new UserIdentityValue( 0, 'MediaWiki default' ), Title::newFromText( 'User:Newbie' ) );
		$this->assertSame( "Welcome to TestWiki, Newbie! We're glad you're here.", $this->newFormatter()->format( $event ) );
	}

	public function testGenericFallbackAndRegisteredFormatters(): void {
		$formatter = $this->newFormatter();
		$event = new Event( 'page-linked', new UserIdentityValue( 1, 'Alice' ), Title::newFromText( 'Foo' ) );
		$this->assertFalse( $formatter->hasType( 'page-linked' ) );
		$this->assertSame( 'Alice did something involving Foo.', $formatter->format( $event ) );

		$formatter->registerType( 'page-linked', static fn ( Event $e, string $lang ): string => "[$lang] linked by " . $e->getAgent()->getName() );
		$this->assertTrue( $formatter->hasType( 'page-linked' ) );
		$this->assertSame( '[fr] linked by Alice', $formatter->format( $event, 'fr' ) );
	}

	public function testHtmlIsEscaped(): void {
		$html = $this->newFormatter()->formatHtml( $this->talkEvent( 'A<script>' ) );
		$this->assertSame(
			'<div class="mw-echo-notification mw-echo-notification-edit-user-talk">'
			. '<span class="mw-echo-header">A&lt;script> left a message on your talk page.</span>'
			. '<a href="/wiki/User_talk:Bob/Archive">User talk:Bob/Archive</a></div>',
			$html
		);
	}
}
