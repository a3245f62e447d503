<?php

namespace MediaWiki\Extension\LoginNotify;

use MediaWiki\Database\Dialect;
use MediaWiki\Config\HashConfig;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\Echo\NotificationController;
use MediaWiki\Extension\Thanks\ThanksLog;
use MediaWiki\User\UserIdentity;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\Utils\MWTimestamp;
use PDO;

/**
 * Counts failed logins per network and notifies the account owner.
 *
 * Established users (those who have been thanked often enough) are told about
 * the first failed attempt from a new network.
 */
class LoginNotifier {
	private KnownNetworks $networks;
	private NotificationController $notifications;
	private ThanksLog $thanks;
	private PDO $db;
	private HashConfig $config;

	public function __construct(
		KnownNetworks $networks, NotificationController $notifications, ThanksLog $thanks, PDO $db, HashConfig $config
	) {
		$this->networks = $networks;
		$this->notifications = $notifications;
		$this->thanks = $thanks;
		$this->db = $db;
		$this->config = $config;
	}

	public function isEstablished( UserIdentity $user ): bool {
		return $this->thanks->countThanksReceived( $user->getId() ) >= (int)$this->config->get( 'LoginNotifyEstablishedThanks' );
	}

	public function getThreshold( UserIdentity $user, bool $known ): int {
		if ( $known ) {
			return (int)$this->config->get( 'LoginNotifyAttemptsKnownIP' );
		}
		return $this->isEstablished( $user ) ? 1 : (int)$this->config->get( 'LoginNotifyAttemptsNewIP' );
	}

	public function getFailureCount( int $userId, string $ip ): int {
		$stmt = $this->db->prepare( 'SELECT lf_count FROM loginnotify_failures WHERE lf_user = ? AND lf_subnet = ?' );
		$stmt->execute( [ $userId, KnownNetworks::getSubnet( $ip ) ] );
		return (int)$stmt->fetchColumn();
	}

	/**
	 * @return Event|null The notification sent, if the threshold was reached
	 */
	public function recordFailure( UserIdentity $user, string $ip ): ?Event {
		$subnet = KnownNetworks::getSubnet( $ip );
		$this->db->prepare(
			'INSERT INTO loginnotify_failures (lf_user, lf_subnet, lf_count, lf_last) VALUES (?, ?, 1, ?)'
			. Dialect::onConflictUpdate( $this->db, [ 'lf_user', 'lf_subnet' ],
				'lf_count = loginnotify_failures.lf_count + 1, lf_last = excluded.lf_last' )
		)->execute( [ $user->getId(), $subnet, MWTimestamp::now() ] );
		$count = $this->getFailureCount( $user->getId(), $ip );
		$known = $this->networks->isKnown( $user->getId(), $ip );
		if ( $count !== $this->getThreshold( $user, $known ) ) {
			return null;
		}
		return $this->send( $known ? 'login-fail-known' : 'login-fail-new', $user, $ip, [ 'count' => $count ] );
	}

	/**
	 * @return Event|null A "login-success" notification when the network is new
	 */
	public function recordSuccess( UserIdentity $user, string $ip ): ?Event {
		$firstLogin = $this->networks->getKnownSubnets( $user->getId() ) === [];
		$known = $this->networks->isKnown( $user->getId(), $ip );
		$this->networks->recordSeen( $user->getId(), $ip );
		$this->db->prepare( 'DELETE FROM loginnotify_failures WHERE lf_user = ? AND lf_subnet = ?' )
			->execute( [ $user->getId(), KnownNetworks::getSubnet( $ip ) ] );
		if ( $known || $firstLogin ) {
			return null;
		}
		return $this->send( 'login-success', $user, $ip, [] );
	}

	private function send( string $type, UserIdentity $user, string $ip, array $extra ): Event {
		$event = new Event( $type, UserIdentityValue::newAnonymous( $ip ), null, $extra + [
			'recipients' => [ $user->getId() ],
		] );
		$this->notifications->notify( $event );
		return $event;
	}
}
