<?php

namespace MediaWiki\Extension\Thanks;

use InvalidArgumentException;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Html\Html;
use MediaWiki\Message\Message;
use MediaWiki\Message\MessageCache;

/**
 * Notification text for "edit-thank" events.
 */
class ThanksFormatter {
	private MessageCache $messages;
	/** @var callable|null fn( string $userName ): string */
	private $genderLookup;

	public function __construct( MessageCache $messages, ?callable $genderLookup = null ) {
		$this->messages = $messages;
		$this->genderLookup = $genderLookup;
	}

	/**
	 * @param string|null $viewerName The user reading the notification; "you" wording when it is the recipient
	 * @param int $bundleCount How many users thanked for the same edit
	 */
	public function format( Event $event, string $lang = 'en', ?string $viewerName = null, int $bundleCount = 1 ): string {
		return $this->buildMessage( $event, $lang, $viewerName, $bundleCount, $event->getAgent()->getName() )->text();
	}

	/**
	 * HTML version with the agent name emphasised.
	 */
	public function formatHtml( Event $event, string $lang = 'en', ?string $viewerName = null, int $bundleCount = 1 ): string {
		$agent = Html::element( 'strong', [ 'class' => 'mw-thanks-agent' ], $event->getAgent()->getName() );
		$message = $this->buildMessage( $event, $lang, $viewerName, $bundleCount, "\x7fAGENT\x7f" );
		return str_replace( "\x7fAGENT\x7f", $agent, $message->escaped() );
	}

	private function buildMessage(
		Event $event, string $lang, ?string $viewerName, int $bundleCount, string $agentText
	): Message {
		if ( $event->getType() !== 'edit-thank' ) {
			throw new InvalidArgumentException( 'ThanksFormatter cannot format ' . $event->getType() . ' events' );
		}
		if ( $bundleCount < 1 ) {
			throw new InvalidArgumentException( "Bundle count must be positive, got $bundleCount" );
		}
		$recipient = (string)$event->getExtraParam( 'thanked-user-name', '' );
		$page = $event->getTitle() ? $event->getTitle()->getPrefixedText() : '';
		if ( $bundleCount > 1 ) {
			$message = new Message( 'notification-bundle-header-edit-thank', [], $this->messages );
			$message->params( $agentText )->numParams( $bundleCount - 1 )->params( $page );
		} elseif ( $viewerName !== null && $viewerName === $recipient ) {
			$message = new Message( 'notification-header-edit-thank-you', [ $agentText, $page ], $this->messages );
		} else {
			$message = new Message( 'notification-header-edit-thank', [ $agentText, $recipient, $page ], $this->messages );
		}
		if ( $this->genderLookup ) {
			$message->withGenderResolver( $this->genderLookup );
		}
		return $message->inLanguage( $lang );
	}
}
