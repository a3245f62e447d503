<?php

namespace MediaWiki\Extension\Echo;

use MediaWiki\Html\Html;
use MediaWiki\Message\Message;
use MediaWiki\Message\MessageCache;

/**
 * Turns events into notification text, with per-type formatters registered by extensions.
 */
class NotificationFormatter {
	private MessageCache $messages;
	/** @var array<string,callable> type => fn( Event, string $lang ): string */
	private array $formatters = [];

	public function __construct( MessageCache $messages ) {
		$this->messages = $messages;
	}

	public function registerType( string $type, callable $formatter ): void {
		$this->formatters[$type] = $formatter;
	}

	public function hasType( string $type ): bool {
		return isset( $this->formatters[$type] ) || $this->messages->has( "notification-header-$type" );
	}

	public function format( Event $event, string $lang = 'en' ): string {
		if ( isset( $this->formatters[$event->getType()] ) ) {
			return ( $this->formatters[$event->getType()] )( $event, $lang );
		}
		$title = $event->getTitle();
		$recipientName = $title ? $title->getRootText() : '';
		return ( new Message(
			[ 'notification-header-' . $event->getType(), 'notification-header-generic' ],
			[ $event->getAgent()->getName(), $title ? $title->getPrefixedText() : '', $recipientName ],
			$this->messages
		) )->inLanguage( $lang )->text();
	}

	public function formatHtml( Event $event, string $lang = 'en' ): string {
		$header = Html::element( 'span', [ 'class' => 'mw-echo-header' ], $this->format( $event, $lang ) );
		$link = '';
		if ( $event->getTitle() ) {
			$link = Html::element( 'a', [ 'href' => $event->getTitle()->getLinkURL() ], $event->getTitle()->getPrefixedText() );
		}
		return Html::rawElement(
			'div',
			[ 'class' => [ 'mw-echo-notification', 'mw-echo-notification-' . $event->getType() ] ],
			$header . $link
		);
	}
}
