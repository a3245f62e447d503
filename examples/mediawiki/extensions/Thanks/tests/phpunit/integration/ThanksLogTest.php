<?php

namespace MediaWiki\Extension\Thanks\Tests;

use MediaWiki\Extension\Thanks\ThanksException;
use MediaWiki\Extension\Thanks\ThanksLog;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\User\UserIdentityValue;

/**
 * @group Database
 * @covers \MediaWiki\Extension\Thanks\ThanksLog
 * @covers \MediaWiki\Extension\Thanks\ThanksException
 */
class ThanksLogTest extends DatabaseTestCase {
	public function testRecordAndCount(): void {
		$log = new ThanksLog( $this->getDb() );
		$alice = $this->getTestUser( 'Alice' );
		$bob = $this->getTestUser( 'Bob' );
		$carol = $this->getTestUser( 'Carol' );
		$log->recordThank( $alice, $bob, 1, '20240101000000' );
		$log->recordThank( $carol, $bob, 1, '20240101000100' );
		$log->recordThank( $alice, $bob, 2, '20240102000000' );
		$this->assertSame( 3, $log->countThanksReceived( $bob->getId() ) );
		$this->assertSame( 0, $log->countThanksReceived( $alice->getId() ) );
		$this->assertTrue( $log->hasThanked( $alice, 2 ) );
		$this->assertFalse( $log->hasThanked( $carol, 2 ) );
		$this->assertSame( [ 'Alice', 'Carol' ], $log->getThankers( 1 ) );
		$this->assertSame( 1, $log->countThanksGivenSince( $alice->getId(), '20240102000000' ) );
	}

	public static function provideInvalidThanks(): array {
		return [
			'self' => [ 'Alice', 'Alice', 'thanks-error-invalidrecipient-self' ],
			'anonymous recipient' => [ 'Alice', '192.0.2.1', 'thanks-error-invalidrecipient-anon' ],
			'anonymous giver' => [ '192.0.2.1', 'Alice', 'thanks-error-notloggedin' ],
		];
	}

	/**
	 * @dataProvider provideInvalidThanks
	 */
	public function testInvalidThanks( string $giver, string $recipient, string $key ): void {
		$identity = function ( string $name ): UserIdentityValue {
			return filter_var( $name, FILTER_VALIDATE_IP ) ? UserIdentityValue::newAnonymous( $name ) : $this->getTestUser( $name );
		};
		try {
			( new ThanksLog( $this->getDb() ) )->recordThank( $identity( $giver ), $identity( $recipient ), 1 );
			$this->fail( 'Expected a ThanksException' );
		} catch ( ThanksException $e ) {
			$this->assertSame( $key, $e->getMessageKey() );
		}
		$this->assertSame( 0, $this->countRows( 'thanks_log' ) );
	}

	public function testCannotThankTwice(): void {
		$log = new ThanksLog( $this->getDb() );
		$log->recordThank( $this->getTestUser( 'Alice' ), $this->getTestUser( 'Bob' ), 5 );
		try {
			$log->recordThank( $this->getTestUser( 'Alice' ), $this->getTestUser( 'Bob' ), 5 );
			$this->fail( 'Expected a ThanksException' );
		} catch ( ThanksException $e ) {
			$this->assertSame( 'thanks-error-already-thanked', $e->getMessageKey() );
			$this->assertSame( [ 'Bob' ], $e->getParams() );
		}
	}
}
