<?php

namespace MediaWiki\Extension\Echo;

use MediaWiki\Database\Dialect;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\Utils\MWTimestamp;
use PDO;

/**
 * Persists events and notifications in echo_event / echo_notification.
 */
class EventStore {
	private PDO $db;

	public function __construct( PDO $db ) {
		$this->db = $db;
	}

	public function insertEvent( Event $event, string $bundleKey = '' ): Event {
		$title = $event->getTitle();
		$this->db->prepare(
			'INSERT INTO echo_event (event_type, event_agent_id, event_agent_name, event_page_namespace,'
			. ' event_page_title, event_extra, event_bundle_key, event_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
		)->execute( [
			$event->getType(),
			$event->getAgent()->getId(),
			$event->getAgent()->getName(),
			$title ? $title->getNamespace() : null,
			$title ? $title->getDBkey() : null,
			json_encode( $event->getExtra(), JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE ),
			$bundleKey,
			$event->getTimestamp(),
		] );
		return $event->withId( (int)$this->db->lastInsertId() );
	}

	public function getEvent( int $id ): ?Event {
		$stmt = $this->db->prepare( 'SELECT * FROM echo_event WHERE event_id = ?' );
		$stmt->execute( [ $id ] );
		$row = $stmt->fetch( PDO::FETCH_ASSOC );
		return $row ? self::newEventFromRow( $row ) : null;
	}

	private static function newEventFromRow( array $row ): Event {
		$title = $row['event_page_title'] === null ? null
			: Title::makeTitle( (int)$row['event_page_namespace'], $row['event_page_title'] );
		return new Event(
			$row['event_type'],
			new UserIdentityValue( (int)$row['event_agent_id'], $row['event_agent_name'] ),
			$title,
			json_decode( $row['event_extra'], true, 512, JSON_THROW_ON_ERROR ),
			$row['event_timestamp'],
			(int)$row['event_id']
		);
	}

	public function addNotification( int $userId, Event $event ): void {
		$this->db->prepare( Dialect::insertIgnore( $this->db,
			'INSERT INTO echo_notification (notification_user, notification_event, notification_timestamp)'
			. ' VALUES (?, ?, ?)'
		) )->execute( [ $userId, $event->getId(), $event->getTimestamp() ] );
	}

	/**
	 * @return Event[] Newest first
	 */
	public function getNotifications( int $userId, bool $unreadOnly = false, int $limit = 50 ): array {
		$sql = 'SELECT echo_event.* FROM echo_notification JOIN echo_event ON notification_event = event_id'
			. ' WHERE notification_user = ?'
			. ( $unreadOnly ? ' AND notification_read_timestamp IS NULL' : '' )
			. ' ORDER BY notification_timestamp DESC, event_id DESC LIMIT ?';
		$stmt = $this->db->prepare( $sql );
		$stmt->bindValue( 1, $userId, PDO::PARAM_INT );
		$stmt->bindValue( 2, $limit, PDO::PARAM_INT );
		$stmt->execute();
		return array_map( [ self::class, 'newEventFromRow' ], $stmt->fetchAll( PDO::FETCH_ASSOC ) );
	}

	public function getUnreadCount( int $userId ): int {
		$stmt = $this->db->prepare(
			'SELECT COUNT(*) FROM echo_notification WHERE notification_user = ? AND notification_read_timestamp IS NULL'
		);
		$stmt->execute( [ $userId ] );
		return (int)$stmt->fetchColumn();
	}

	/**
	 * Number of unread notifications per bundle key for a user.
	 *
	 * @return array<string,int>
	 */
	public function getUnreadBundleCounts( int $userId ): array {
		$stmt = $this->db->prepare(
			'SELECT event_bundle_key, COUNT(*) AS n FROM echo_notification JOIN echo_event ON notification_event = event_id'
			. " WHERE notification_user = ? AND notification_read_timestamp IS NULL AND event_bundle_key != ''"
			. ' GROUP BY event_bundle_key ORDER BY event_bundle_key'
		);
		$stmt->execute( [ $userId ] );
		return array_map( 'intval', $stmt->fetchAll( PDO::FETCH_KEY_PAIR ) );
	}

	/**
	 * @param int[]|null $eventIds Null marks everything as read
	 * @return int Number of notifications changed
	 */
	public function markRead( int $userId, ?array $eventIds = null ): int {
		$sql = 'UPDATE echo_notification SET notification_read_timestamp = ?'
			. ' WHERE notification_user = ? AND notification_read_timestamp IS NULL';
		$params = [ MWTimestamp::now(), $userId ];
		if ( $eventIds !== null ) {
			if ( !$eventIds ) {
				return 0;
			}
			$sql .= ' AND notification_event IN (' . implode( ', ', array_fill( 0, count( $eventIds ), '?' ) ) . ')';
			array_push( $params, ...array_map( 'intval', $eventIds ) );
		}
		$stmt = $this->db->prepare( $sql );
		$stmt->execute( $params );
		return $stmt->rowCount();
	}
}
