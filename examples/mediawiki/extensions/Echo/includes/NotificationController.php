<?php

namespace MediaWiki\Extension\Echo;

use InvalidArgumentException;
use MediaWiki\Config\HashConfig;
use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Title\NamespaceInfo;
use MediaWiki\User\UserStore;

/**
 * Decides who gets notified about an event and stores the notifications.
 */
class NotificationController {
	private EventStore $store;
	private HookContainer $hooks;
	private HashConfig $config;
	private ?UserStore $userStore;

	public function __construct( EventStore $store, HookContainer $hooks, HashConfig $config, ?UserStore $userStore = null ) {
		$this->store = $store;
		$this->hooks = $hooks;
		$this->config = $config;
		$this->userStore = $userStore;
	}

	/**
	 * @return int[] User ids to notify
	 */
	public function getRecipients( Event $event ): array {
		$recipients = $event->getExplicitRecipients();
		$title = $event->getTitle();
		if ( $event->getType() === 'edit-user-talk' && $title && $this->userStore
			&& $title->getNamespace() === NamespaceInfo::NS_USER_TALK
		) {
			$owner = $this->userStore->getUserByName( $title->getRootText() );
			if ( $owner ) {
				$recipients[] = $owner->getId();
			}
		}
		$this->hooks->run( 'EchoGetDefaultNotifiedUsers', [ $event, &$recipients ] );
		$recipients = array_values( array_unique( array_filter( $recipients, static fn ( int $id ): bool => $id > 0 ) ) );
		if ( !$this->config->get( 'EchoNotifySelf' ) ) {
			$agentId = $event->getAgent()->getId();
			$recipients = array_values( array_filter( $recipients, static fn ( int $id ): bool => $id !== $agentId ) );
		}
		sort( $recipients );
		return $recipients;
	}

	public function getBundleKey( Event $event ): string {
		$bundleKey = '';
		$this->hooks->run( 'EchoGetBundleRules', [ $event, &$bundleKey ] );
		return $bundleKey;
	}

	/**
	 * Store the event and one notification per recipient.
	 *
	 * @return int[] The recipients notified
	 */
	public function notify( Event $event ): array {
		if ( !$this->hooks->run( 'BeforeEchoEventInsert', [ $event ] ) ) {
			return [];
		}
		$recipients = $this->getRecipients( $event );
		if ( !$recipients ) {
			return [];
		}
		$stored = $this->store->insertEvent( $event, $this->getBundleKey( $event ) );
		foreach ( $recipients as $userId ) {
			$this->store->addNotification( $userId, $stored );
		}
		$this->hooks->run( 'EchoEventInsertComplete', [ $stored, $recipients ] );
		return $recipients;
	}

	public function getFormattedUnreadCount( int $userId ): string {
		return self::formatNotificationCount(
			$this->store->getUnreadCount( $userId ),
			(int)$this->config->get( 'EchoMaxNotificationCount' )
		);
	}

	/**
	 * "0" ... "99", then "99+".
	 */
	public static function formatNotificationCount( int $count, int $max = 99 ): string {
		if ( $count < 0 || $max < 1 ) {
			throw new InvalidArgumentException( "Invalid notification count $count (max $max)" );
		}
		return $count > $max ? "$max+" : (string)$count;
	}
}
