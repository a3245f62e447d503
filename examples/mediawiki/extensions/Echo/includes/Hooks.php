<?php

namespace MediaWiki\Extension\Echo;

/**
 * Static hook handlers registered from extension.json.
 */
class Hooks {
	public const NOTIFIER_NAME = 'Echo notifier';

	/**
	 * @param string[] &$reserved
	 */
	public static function onUserGetReservedNames( array &$reserved ): void {
		$reserved[] = self::NOTIFIER_NAME;
	}
}
