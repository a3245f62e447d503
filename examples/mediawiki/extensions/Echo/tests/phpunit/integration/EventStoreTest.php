<?php

namespace MediaWiki\Extension\Echo\Tests;

use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\Echo\EventStore;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentityValue;

/**
 * @group Database
 * @covers \MediaWiki\Extension\Echo\EventStore
 */
class EventStoreTest extends DatabaseTestCase {
	private function event( string $type, string $ts, array $extra = [] ): Event {
		return new Event( $type, new UserIdentityValue( 1, 'Alice' ), Title::newFromText( 'Talk:Ünïcode' ), $extra, $ts );
	}

	public function testInsertAndLoad(): void {
		$store = new EventStore( $this->getDb() );
		$stored = $store->insertEvent( $this->event( 'mention', '20240101000000', [ 'section' => 'Grüße' ] ) );
		$this->assertNotNull( $stored->getId() );
		$loaded = $store->getEvent( $stored->getId() );
		$this->assertSame( 'mention', $loaded->getType() );
		$this->assertSame( 'Talk:Ünïcode', $loaded->getTitle()->getPrefixedText() );
		$this->assertSame( [ 'section' => 'Grüße' ], $loaded->getExtra() );
		$this->assertSame( 'Alice', $loaded->getAgent()->getName() );
		$this->assertNull( $store->getEvent( 999 ) );
	}

	public function testNotificationsReadStateAndBundles(): void {
		$store = new EventStore( $this->getDb() );
		$ids = [];
		foreach ( [ '20240103000000', '20240101000000', '20240102000000' ] as $ts ) {
			$event = $store->insertEvent( $this->event( 'mention', $ts ) );
			$store->addNotification( 5, $event );
			$store->addNotification( 5, $event );
			$ids[$ts] = $event->getId();
		}
		$this->assertSame(
			[ $ids['20240103000000'], $ids['20240102000000'], $ids['20240101000000'] ],
			array_map( static fn ( Event $e ) => $e->getId(), $store->getNotifications( 5 ) )
		);
		$this->assertSame( 3, $store->getUnreadCount( 5 ) );
		$this->assertSame( 1, $store->markRead( 5, [ $ids['20240101000000'] ] ) );
		$this->assertSame( 2, $store->getUnreadCount( 5 ) );
		$this->assertCount( 2, $store->getNotifications( 5, true ) );
		$this->assertSame( 0, $store->markRead( 5, [] ) );
		$this->assertSame( 2, $store->markRead( 5 ) );
		$this->assertSame( 0, $store->getUnreadCount( 5 ) );
		$this->assertSame( 0, $store->getUnreadCount( 6 ) );

		foreach ( [ 'thanks-1', 'thanks-1', 'thanks-2', '' ] as $i => $key ) {
			$store->addNotification( 9, $store->insertEvent( $this->event( 'mention', "2024010100000$i" ), $key ) );
		}
		$this->assertSame( [ 'thanks-1' => 2, 'thanks-2' => 1 ], $store->getUnreadBundleCounts( 9 ) );
	}
}
