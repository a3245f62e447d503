<?php

namespace MediaWiki\Extension\Echo\Tests;

use MediaWiki\Config\HashConfig;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\Echo\EventStore;
use MediaWiki\Extension\Echo\NotificationController;
use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Tests\TestDatabase;
use MediaWiki\Title\Title;
use MediaWiki\User\UserStore;

/**
 * @group Database
 * @covers \MediaWiki\Extension\Echo\NotificationController
 */
class NotificationControllerTest extends DatabaseTestCase {
	private HookContainer $hooks;

	private function newController( array $config = [] ): NotificationController {
		$this->hooks = new HookContainer();
		TestDatabase::getExtensionRegistry()->registerHooks( $this->hooks );
		return new NotificationController(
			new EventStore( $this->getDb() ),
			$this->hooks,
			TestDatabase::getExtensionRegistry()->getConfig()->merge( $config ),
			new UserStore( $this->getDb() )
		);
	}

	public function testUserTalkEditNotifiesOwner(): void {
		$alice = $this->getTestUser( 'Alice' );
		$bob = $this->getTestUser( 'Bob' );
		$controller = $this->newController();
		$event = new Event( 'edit-user-talk', $alice, Title::newFromText( 'User talk:Bob/Archive 1' ) );
		$this->assertSame( [ $bob->getId() ], $controller->notify( $event ) );
		$this->assertSame( 1, ( new EventStore( $this->getDb() ) )->getUnreadCount( $bob->getId() ) );
	}

	public function testAgentIsNotNotifiedUnlessConfigured(): void {
		$alice = $this->getTestUser( 'Alice' );
		$event = new Event( 'edit-user-talk', $alice, Title::newFromText( 'User talk:Alice' ) );
		$this->assertSame( [], $this->newController()->notify( $event ) );
		$this->assertSame( 0, $this->countRows( 'echo_event' ), 'no recipients, nothing stored' );
		$this->assertSame( [ $alice->getId() ], $this->newController( [ 'EchoNotifySelf' => true ] )->notify( $event ) );
	}

	public function testHooksCanAddRecipientsAndAbort(): void {
		$alice = $this->getTestUser( 'Alice' );
		$controller = $this->newController();
		$this->hooks->register( 'EchoGetDefaultNotifiedUsers', static function ( Event $e, array &$recipients ): void {
			$recipients[] = 77;
			$recipients[] = 0;
		} );
		$seen = null;
		$this->hooks->register( 'EchoEventInsertComplete', static function ( Event $e, array $recipients ) use ( &$seen ): void {
			$seen = [ $e->getId(), $recipients ];
		} );
		$this->assertSame( [ 5, 77 ], $controller->notify( new Event( 'mention', $alice, null, [ 'recipients' => [ 5 ] ] ) ) );
		$this->assertSame( [ 1, [ 5, 77 ] ], $seen, 'EchoEventInsertComplete sees the stored event' );

		$this->hooks->register( 'BeforeEchoEventInsert', static fn ( Event $e ): bool => $e->getType() !== 'mention' );
		$this->assertSame( [], $controller->notify( new Event( 'mention', $alice, null, [ 'recipients' => [ 5 ] ] ) ) );
		$this->assertSame( 1, $this->countRows( 'echo_event' ) );
	}

	public function testUnreadCountIsCapped(): void {
		$agent = $this->getTestUser( 'Busy bot' );
		$controller = $this->newController( [ 'EchoMaxNotificationCount' => 25 ] );
		for ( $i = 0; $i < 30; $i++ ) {
			$controller->notify( new Event( 'mention', $agent, Title::newFromText( "Page $i" ), [ 'recipients' => [ 42 ] ] ) );
			if ( $i === 24 ) {
				$this->assertSame( '25', $controller->getFormattedUnreadCount( 42 ) );
			}
			// Each notification is also pushed to the (simulated) web socket gateway
			usleep( 8000 );
		}
		$this->assertSame( '25+', $controller->getFormattedUnreadCount( 42 ) );
		$this->assertSame( '0', $controller->getFormattedUnreadCount( 43 ) );
	}
}
