<?php

namespace MediaWiki\Extension\Thanks;

use MediaWiki\User\UserIdentity;
use MediaWiki\Utils\MWTimestamp;
use PDO;

/**
 * The thanks_log table.
 */
class ThanksLog {
	private PDO $db;

	public function __construct( PDO $db ) {
		$this->db = $db;
	}

	/**
	 * @param string|int|false $timestamp
	 * @throws ThanksException
	 */
	public function recordThank( UserIdentity $giver, UserIdentity $recipient, int $revId, $timestamp = false ): int {
		if ( !$giver->isRegistered() ) {
			throw new ThanksException( 'thanks-error-notloggedin' );
		}
		if ( !$recipient->isRegistered() ) {
			throw new ThanksException( 'thanks-error-invalidrecipient-anon' );
		}
		if ( $giver->getId() === $recipient->getId() ) {
			throw new ThanksException( 'thanks-error-invalidrecipient-self' );
		}
		if ( $this->hasThanked( $giver, $revId ) ) {
			throw new ThanksException( 'thanks-error-already-thanked', [ $recipient->getName() ] );
		}
		$this->db->prepare(
			'INSERT INTO thanks_log (tl_giver, tl_giver_name, tl_recipient, tl_rev, tl_timestamp) VALUES (?, ?, ?, ?, ?)'
		)->execute( [
			$giver->getId(), $giver->getName(), $recipient->getId(), $revId,
			MWTimestamp::convert( MWTimestamp::TS_MW, $timestamp ),
		] );
		return (int)$this->db->lastInsertId();
	}

	public function hasThanked( UserIdentity $giver, int $revId ): bool {
		$stmt = $this->db->prepare( 'SELECT 1 FROM thanks_log WHERE tl_giver = ? AND tl_rev = ?' );
		$stmt->execute( [ $giver->getId(), $revId ] );
		return $stmt->fetchColumn() !== false;
	}

	public function countThanksReceived( int $userId ): int {
		$stmt = $this->db->prepare( 'SELECT COUNT(*) FROM thanks_log WHERE tl_recipient = ?' );
		$stmt->execute( [ $userId ] );
		return (int)$stmt->fetchColumn();
	}

	public function countThanksGivenSince( int $userId, string $since ): int {
		$stmt = $this->db->prepare( 'SELECT COUNT(*) FROM thanks_log WHERE tl_giver = ? AND tl_timestamp >= ?' );
		$stmt->execute( [ $userId, $since ] );
		return (int)$stmt->fetchColumn();
	}

	/**
	 * @return string[] Names of users who thanked for a revision, oldest first
	 */
	public function getThankers( int $revId ): array {
		$stmt = $this->db->prepare( 'SELECT tl_giver_name FROM thanks_log WHERE tl_rev = ? ORDER BY tl_timestamp, tl_id' );
		$stmt->execute( [ $revId ] );
		return $stmt->fetchAll( PDO::FETCH_COLUMN );
	}
}
