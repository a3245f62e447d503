<?php

namespace MediaWiki\Extension\Thanks;

use MediaWiki\Extension\Echo\Event;

/**
 * Static hook handlers registered from extension.json.
 */
class Hooks {
	/**
	 * Bundle thanks for the same revision into one notification.
	 */
	public static function onEchoGetBundleRules( Event $event, string &$bundleKey ): void {
		if ( $event->getType() === 'edit-thank' ) {
			$bundleKey = 'edit-thank-' . (int)$event->getExtraParam( 'revid' );
		}
	}
}
