<?php

namespace MediaWiki\Extension\Echo\Tests;

use MediaWiki\Extension\Echo\Hooks;
use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Registration\ExtensionRegistry;
use MediaWiki\User\UserNameUtils;
use PHPUnit\Framework\TestCase;

/**
 * Echo's extension.json hooks as registered by the extension registry.
 *
 * @covers \MediaWiki\Extension\Echo\Hooks
 */
class EchoHooksTest extends TestCase {
	public function testNotifierNameIsReserved(): void {
		$registry = new ExtensionRegistry();
		$registry->queueDirectory( dirname( __DIR__, 4 ) );
		$hooks = new HookContainer();
		$registry->registerHooks( $hooks );
		$utils = new UserNameUtils( $hooks );
		$this->assertContains( Hooks::NOTIFIER_NAME, $utils->getReservedNames() );
		$this->assertFalse( $utils->isUsable( 'Echo notifier' ) );
		$this->assertTrue( $utils->isUsable( 'Echo fan' ) );
	}
}
