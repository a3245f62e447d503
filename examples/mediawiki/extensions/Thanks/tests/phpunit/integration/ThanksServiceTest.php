<?php

namespace MediaWiki\Extension\Thanks\Tests;

use MediaWiki\Extension\Echo\EventStore;
use MediaWiki\Extension\Echo\NotificationController;
use MediaWiki\Extension\Thanks\ThanksException;
use MediaWiki\Extension\Thanks\ThanksLog;
use MediaWiki\Extension\Thanks\ThanksService;
use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Page\PageStore;
use MediaWiki\Revision\RevisionStore;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Tests\TestDatabase;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\User\UserStore;
use MediaWiki\Utils\MWTimestamp;

/**
 * Thanking end to end: revision lookup, log, and the Echo notification.
 *
 * @group Database
 * @covers \MediaWiki\Extension\Thanks\ThanksService
 */
class ThanksServiceTest extends DatabaseTestCase {
	private function newService( array $config = [] ): ThanksService {
		$db = $this->getDb();
		$hooks = new HookContainer();
		$registry = TestDatabase::getExtensionRegistry();
		$registry->registerHooks( $hooks );
		$config = $registry->getConfig()->merge( $config );
		return new ThanksService(
			new RevisionStore( $db ),
			new PageStore( $db ),
			new ThanksLog( $db ),
			new NotificationController( new EventStore( $db ), $hooks, $config, new UserStore( $db ) ),
			$config
		);
	}

	public function testThankNotifiesAuthor(): void {
		$bob = $this->getTestUser( 'Bob' );
		$rev = $this->editPage( 'Main Page', 'Welcome!', $bob );
		$event = $this->newService()->thankForRevision( $this->getTestUser( 'Alice' ), $rev->getId() );

		$this->assertSame( 'Main Page', $event->getTitle()->getPrefixedText() );
		$this->assertSame( 'Bob', $event->getExtraParam( 'thanked-user-name' ) );
		$store = new EventStore( $this->getDb() );
		$this->assertSame( 1, $store->getUnreadCount( $bob->getId() ) );
		$this->assertSame( [ 'edit-thank-' . $rev->getId() => 1 ], $store->getUnreadBundleCounts( $bob->getId() ) );
	}

	public function testThanksFromSeveralUsersAreBundled(): void {
		$bob = $this->getTestUser( 'Bob' );
		$rev = $this->editPage( 'Popular', 'Great content', $bob );
		$service = $this->newService();
		foreach ( [ 'Alice', 'Carol', 'Dave' ] as $name ) {
			$service->thankForRevision( $this->getTestUser( $name ), $rev->getId() );
			// Notifications are sent from a deferred update after each request
			usleep( 60000 );
		}
		$counts = ( new EventStore( $this->getDb() ) )->getUnreadBundleCounts( $bob->getId() );
		$this->assertSame( [ 'edit-thank-' . $rev->getId() => 3 ], $counts );
	}

	public function testInvalidRevision(): void {
		$this->expectException( ThanksException::class );
		$this->expectExceptionMessage( 'thanks-error-invalidrevision' );
		$this->newService()->thankForRevision( $this->getTestUser( 'Alice' ), 404 );
	}

	public function testAnonymousEditsCannotBeThanked(): void {
		$rev = $this->editPage( 'Anon page', 'text', UserIdentityValue::newAnonymous( '203.0.113.9' ) );
		try {
			$this->newService()->thankForRevision( $this->getTestUser( 'Alice' ), $rev->getId() );
			$this->fail( 'Expected a ThanksException' );
		} catch ( ThanksException $e ) {
			$this->assertSame( 'thanks-error-invalidrecipient-anon', $e->getMessageKey() );
		}
		$this->assertSame( 0, $this->countRows( 'echo_event' ) );
	}

	public function testDailyRateLimit(): void {
		MWTimestamp::setFakeTime( 1700000000 );
		$bob = $this->getTestUser( 'Bob' );
		$alice = $this->getTestUser( 'Alice' );
		$service = $this->newService( [ 'ThanksMaxPerDay' => 3 ] );
		$revs = [];
		for ( $i = 0; $i < 4; $i++ ) {
			$revs[] = $this->editPage( "Page $i", 'text', $bob )->getId();
		}
		for ( $i = 0; $i < 3; $i++ ) {
			$service->thankForRevision( $alice, $revs[$i] );
		}
		try {
			$service->thankForRevision( $alice, $revs[3] );
			$this->fail( 'Expected the rate limit to apply' );
		} catch ( ThanksException $e ) {
			$this->assertSame( 'thanks-error-ratelimited', $e->getMessageKey() );
		}
		// A day later the limit is lifted
		MWTimestamp::setFakeTime( 1700000000 + 86401 );
		$this->assertSame( 'edit-thank', $service->thankForRevision( $alice, $revs[3] )->getType() );
	}
}
