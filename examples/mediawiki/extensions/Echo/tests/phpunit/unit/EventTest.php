<?php

namespace MediaWiki\Extension\Echo\Tests;

use InvalidArgumentException;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Json\JsonCodec;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\Utils\MWTimestamp;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Extension\Echo\Event
 */
class EventTest extends TestCase {
	protected function tearDown(): void {
		MWTimestamp::setFakeTime( null );
		parent::tearDown();
	}

	public function testDefaults(): void {
		MWTimestamp::setFakeTime( 1700000000 );
		$event = new Event( 'mention', new UserIdentityValue( 1, 'Alice' ) );
		$this->assertSame( 'mention', $event->getType() );
		$this->assertNull( $event->getTitle() );
		$this->assertNull( $event->getId() );
		$this->assertSame( '20231114221320', $event->getTimestamp() );
		$this->assertSame( 'fallback', $event->getExtraParam( 'missing', 'fallback' ) );
		$this->assertSame( [], $event->getExplicitRecipients() );

		$stored = $event->withId( 42 );
		$this->assertSame( 42, $stored->getId() );
		$this->assertNull( $event->getId(), 'withId() returns a copy' );

		$event = new Event( 'mention', new UserIdentityValue( 1, 'Alice' ), null, [ 'recipients' => [ '3', 2, 3 ] ] );
		$this->assertSame( [ 3, 2 ], $event->getExplicitRecipients() );
	}

	public static function provideInvalidTypes(): array {
		return [ [ '' ], [ 'Mention' ], [ 'edit_user_talk' ], [ 'edit--talk' ], [ '-edit' ] ];
	}

	/**
	 * @dataProvider provideInvalidTypes
	 */
	public function testInvalidType( string $type ): void {
		$this->expectException( InvalidArgumentException::class );
		new Event( $type, new UserIdentityValue( 1, 'Alice' ) );
	}

	public function testJsonRoundTrip(): void {
		$event = new Event(
			'edit-user-talk', new UserIdentityValue( 0, '192.0.2.1' ), Title::newFromText( 'User talk:Bob' ),
			[ 'section' => 'Hello', 'recipients' => [ 2 ] ], '20240101120000', 7
		);
		$codec = new JsonCodec();
		$copy = $codec->deserialize( $codec->serialize( $event ), Event::class );
		// Events are queued through the (simulated) job queue as JSON
		usleep( 60000 );
		$this->assertSame( 'edit-user-talk', $copy->getType() );
		$this->assertSame( '192.0.2.1', $copy->getAgent()->getName() );
		$this->assertFalse( $copy->getAgent()->isRegistered() );
		$this->assertTrue( $copy->getTitle()->equals( $event->getTitle() ) );
		$this->assertSame( $event->getExtra(), $copy->getExtra() );
		$this->assertSame( 7, $copy->getId() );
	}
}
