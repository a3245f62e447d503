<?php

namespace MediaWiki\Extension\LoginNotify\Tests;

use MediaWiki\Extension\Echo\EventStore;
use MediaWiki\Extension\Echo\NotificationController;
use MediaWiki\Extension\LoginNotify\KnownNetworks;
use MediaWiki\Extension\LoginNotify\LoginNotifier;
use MediaWiki\Extension\Thanks\ThanksLog;
use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Tests\TestDatabase;
use MediaWiki\User\UserIdentityValue;

/**
 * @group Database
 * @covers \MediaWiki\Extension\LoginNotify\LoginNotifier
 */
class LoginNotifierTest extends DatabaseTestCase {
	/**
	 * Failed logins are processed by a deferred job in production; the test
	 * waits for the same amount of time the job queue would.
	 */
	private const JOB_RUN_DELAY_US = 60000;

	private function newNotifier(): LoginNotifier {
		$db = $this->getDb();
		$hooks = new HookContainer();
		$registry = TestDatabase::getExtensionRegistry();
		$registry->registerHooks( $hooks );
		$config = $registry->getConfig();
		return new LoginNotifier(
			new KnownNetworks( $db ),
			new NotificationController( new EventStore( $db ), $hooks, $config ),
			new ThanksLog( $db ),
			$db,
			$config
		);
	}

	private function failures( LoginNotifier $notifier, UserIdentityValue $user, string $ip, int $times ): array {
		$sent = [];
		for ( $i = 1; $i <= $times; $i++ ) {
			$event = $notifier->recordFailure( $user, $ip );
			usleep( self::JOB_RUN_DELAY_US );
			if ( $event ) {
				$sent[$i] = $event->getType();
			}
		}
		return $sent;
	}

	public function testNewNetworkNotifiesAtThreshold(): void {
		$user = $this->getTestUser( 'Alice' );
		$notifier = $this->newNotifier();
		$sent = $this->failures( $notifier, $user, '203.0.113.5', 5 );
		$this->assertSame( [ 3 => 'login-fail-new' ], $sent, 'exactly one notification, on the third failure' );
		$this->assertSame( 5, $notifier->getFailureCount( $user->getId(), '203.0.113.99' ) );
		$this->assertSame(
			[ 'login-fail-' . $user->getId() => 1 ],
			( new EventStore( $this->getDb() ) )->getUnreadBundleCounts( $user->getId() )
		);
	}

	public function testKnownNetworkHasHigherThreshold(): void {
		$user = $this->getTestUser( 'Alice' );
		$notifier = $this->newNotifier();
		$this->assertNull( $notifier->recordSuccess( $user, '198.51.100.10' ) );
		$sent = $this->failures( $notifier, $user, '198.51.100.20', 10 );
		$this->assertSame( [ 10 => 'login-fail-known' ], $sent );
	}

	public function testEstablishedUsersAreWarnedImmediately(): void {
		$user = $this->getTestUser( 'Alice' );
		$thanks = new ThanksLog( $this->getDb() );
		$thanks->recordThank( $this->getTestUser( 'Bob' ), $user, 1 );
		$thanks->recordThank( $this->getTestUser( 'Carol' ), $user, 1 );
		$notifier = $this->newNotifier();
		$this->assertTrue( $notifier->isEstablished( $user ) );
		$this->assertSame( [ 1 => 'login-fail-new' ], $this->failures( $notifier, $user, '2001:db8:9::1', 2 ) );
	}

	public function testSuccessFromNewNetwork(): void {
		$user = $this->getTestUser( 'Alice' );
		$notifier = $this->newNotifier();
		$this->assertNull( $notifier->recordSuccess( $user, '192.0.2.1' ), 'first login ever: nothing to compare with' );
		$this->assertNull( $notifier->recordSuccess( $user, '192.0.2.77' ), 'same network' );
		$event = $notifier->recordSuccess( $user, '203.0.113.1' );
		$this->assertNotNull( $event );
		$this->assertSame( 'login-success', $event->getType() );
		$this->assertSame( [ $user->getId() ], $event->getExplicitRecipients() );
		$this->assertSame( '203.0.113.1', $event->getAgent()->getName() );
	}

	public function testSuccessResetsFailureCount(): void {
		$user = $this->getTestUser( 'Alice' );
		$notifier = $this->newNotifier();
		$this->failures( $notifier, $user, '192.0.2.1', 2 );
		$this->assertSame( 2, $notifier->getFailureCount( $user->getId(), '192.0.2.1' ) );
		$notifier->recordSuccess( $user, '192.0.2.1' );
		$this->assertSame( 0, $notifier->getFailureCount( $user->getId(), '192.0.2.1' ) );
	}
}
