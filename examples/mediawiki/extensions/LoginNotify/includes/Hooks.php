<?php

namespace MediaWiki\Extension\LoginNotify;

use MediaWiki\Extension\Echo\Event;

/**
 * Static hook handlers registered from extension.json.
 */
class Hooks {
	/**
	 * Failed-login notifications for the same user are bundled together.
	 */
	public static function onEchoGetBundleRules( Event $event, string &$bundleKey ): void {
		if ( str_starts_with( $event->getType(), 'login-fail' ) ) {
			$recipients = $event->getExplicitRecipients();
			$bundleKey = 'login-fail-' . ( $recipients[0] ?? 0 );
		}
	}
}
