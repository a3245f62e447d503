<?php

namespace MediaWiki\Extension\Thanks\Tests;

use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\Thanks\Hooks;
use MediaWiki\User\UserIdentityValue;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Extension\Thanks\Hooks
 */
class ThanksHooksTest extends TestCase {
	public function testBundleKeyPerRevision(): void {
		$agent = new UserIdentityValue( 1, 'Alice' );
		$key = '';
		Hooks::onEchoGetBundleRules( new Event( 'edit-thank', $agent, null, [ 'revid' => 123 ] ), $key );
		$this->assertSame( 'edit-thank-123', $key );

		$key = 'untouched';
		Hooks::onEchoGetBundleRules( new Event( 'mention', $agent ), $key );
		$this->assertSame( 'untouched', $key );
	}
}
