<?php

namespace MediaWiki\Extension\LoginNotify;

use InvalidArgumentException;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Message\Message;
use MediaWiki\Message\MessageCache;

/**
 * Notification text for login-fail-new, login-fail-known and login-success events.
 */
class LoginNotifyFormatter {
	public const TYPES = [ 'login-fail-new', 'login-fail-known', 'login-success' ];

	private MessageCache $messages;

	public function __construct( MessageCache $messages ) {
		$this->messages = $messages;
	}

	public function format( Event $event, string $lang = 'en' ): string {
		if ( !in_array( $event->getType(), self::TYPES, true ) ) {
			throw new InvalidArgumentException( 'LoginNotifyFormatter cannot format ' . $event->getType() . ' events' );
		}
		$message = new Message( 'notification-header-' . $event->getType(), [], $this->messages );
		$message->numParams( (int)$event->getExtraParam( 'count', 1 ) );
		return $message->inLanguage( $lang )->text();
	}
}
