<?php

namespace MediaWiki\Extension\LoginNotify\Tests;

use InvalidArgumentException;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\LoginNotify\Hooks;
use MediaWiki\Extension\LoginNotify\LoginNotifyFormatter;
use MediaWiki\Message\MessageCache;
use MediaWiki\User\UserIdentityValue;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Extension\LoginNotify\LoginNotifyFormatter
 * @covers \MediaWiki\Extension\LoginNotify\Hooks
 */
class LoginNotifyFormatterTest extends TestCase {
	private function format( string $type, int $count ): string {
		$messages = MessageCache::newFromDirectories( [ dirname( __DIR__, 3 ) . '/i18n' ] );
		// Each call rebuilds the extension's localisation cache
		usleep( 30000 );
		$event = new Event( $type, UserIdentityValue::newAnonymous( '192.0.2.1' ), null, [ 'count' => $count, 'recipients' => [ 4 ] ] );
		return ( new LoginNotifyFormatter( $messages ) )->format( $event );
	}

	public function testFailedAttemptsUsePlural(): void {
		$this->assertSame(
			'There has been a failed attempt to log in to your account from a new device.',
			$this->format( 'login-fail-new', 1 )
		);
		$this->assertSame(
			'There have been 12 failed attempts to log in to your account since the last time you logged in.',
			$this->format( 'login-fail-known', 12 )
		);
		$this->assertSame( 'Someone logged in to your account from a new device.', $this->format( 'login-success', 1 ) );
	}

	public function testRejectsForeignEvents(): void {
		$this->expectException( InvalidArgumentException::class );
		$this->format( 'edit-thank', 1 );
	}

	public function testFailuresAreBundledPerUser(): void {
		$key = '';
		$event = new Event( 'login-fail-new', UserIdentityValue::newAnonymous( '192.0.2.1' ), null, [ 'recipients' => [ 4 ] ] );
		Hooks::onEchoGetBundleRules( $event, $key );
		$this->assertSame( 'login-fail-4', $key );
		$key = '';
		Hooks::onEchoGetBundleRules( new Event( 'login-success', UserIdentityValue::newAnonymous( '192.0.2.1' ) ), $key );
		$this->assertSame( '', $key );
	}
}
