<?php

namespace MediaWiki\Extension\LoginNotify;

use MediaWiki\Database\Dialect;
use InvalidArgumentException;
use MediaWiki\Utils\IPUtils;
use MediaWiki\Utils\MWTimestamp;
use PDO;

/**
 * Remembers the /24 (IPv4) or /64 (IPv6) networks a user has logged in from.
 */
class KnownNetworks {
	private PDO $db;

	public function __construct( PDO $db ) {
		$this->db = $db;
	}

	public static function getSubnet( string $ip ): string {
		$subnet = IPUtils::getSubnet( $ip );
		if ( $subnet === null ) {
			throw new InvalidArgumentException( "Not an IP address: \"$ip\"" );
		}
		return $subnet;
	}

	public function isKnown( int $userId, string $ip ): bool {
		$stmt = $this->db->prepare( 'SELECT 1 FROM loginnotify_seen_net WHERE lsn_user = ? AND lsn_subnet = ?' );
		$stmt->execute( [ $userId, self::getSubnet( $ip ) ] );
		return $stmt->fetchColumn() !== false;
	}

	/**
	 * @param string|int|false $timestamp
	 */
	public function recordSeen( int $userId, string $ip, $timestamp = false ): void {
		$subnet = self::getSubnet( $ip );
		$ts = MWTimestamp::convert( MWTimestamp::TS_MW, $timestamp );
		$this->db->prepare(
			'INSERT INTO loginnotify_seen_net (lsn_user, lsn_subnet, lsn_last_seen) VALUES (?, ?, ?)'
			. Dialect::onConflictUpdate( $this->db, [ 'lsn_user', 'lsn_subnet' ], 'lsn_last_seen = excluded.lsn_last_seen' )
		)->execute( [ $userId, $subnet, $ts ] );
	}

	/**
	 * @return string[]
	 */
	public function getKnownSubnets( int $userId ): array {
		$stmt = $this->db->prepare( 'SELECT lsn_subnet FROM loginnotify_seen_net WHERE lsn_user = ? ORDER BY lsn_subnet' );
		$stmt->execute( [ $userId ] );
		return $stmt->fetchAll( PDO::FETCH_COLUMN );
	}

	/**
	 * Forget networks not seen since $cutoff (TS_MW).
	 */
	public function purgeOlderThan( string $cutoff ): int {
		$stmt = $this->db->prepare( 'DELETE FROM loginnotify_seen_net WHERE lsn_last_seen < ?' );
		$stmt->execute( [ $cutoff ] );
		return $stmt->rowCount();
	}
}
