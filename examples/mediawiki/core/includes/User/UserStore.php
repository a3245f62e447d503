<?php

namespace MediaWiki\User;

use InvalidArgumentException;
use MediaWiki\Utils\MWTimestamp;
use PDO;
use RuntimeException;

/**
 * Accounts in the user table.
 */
class UserStore {
	private PDO $db;
	private UserNameUtils $nameUtils;

	public function __construct( PDO $db, ?UserNameUtils $nameUtils = null ) {
		$this->db = $db;
		$this->nameUtils = $nameUtils ?? new UserNameUtils();
	}

	/**
	 * @param string|int|false $timestamp
	 */
	public function createUser( string $name, $timestamp = false ): UserIdentityValue {
		$canonical = $this->nameUtils->getCanonical( $name, UserNameUtils::RIGOR_CREATABLE );
		if ( $canonical === false ) {
			throw new InvalidArgumentException( "Invalid user name for a new account: \"$name\"" );
		}
		if ( $this->getUserByName( $canonical ) !== null ) {
			throw new RuntimeException( "User \"$canonical\" already exists" );
		}
		$stmt = $this->db->prepare( 'INSERT INTO "user" (user_name, user_registration, user_editcount) VALUES (?, ?, 0)' );
		$stmt->execute( [ $canonical, MWTimestamp::convert( MWTimestamp::TS_MW, $timestamp ) ] );
		return new UserIdentityValue( (int)$this->db->lastInsertId(), $canonical );
	}

	public function getUserByName( string $name ): ?UserIdentityValue {
		$canonical = $this->nameUtils->getCanonical( $name, UserNameUtils::RIGOR_VALID );
		if ( $canonical === false ) {
			return null;
		}
		$stmt = $this->db->prepare( 'SELECT user_id, user_name FROM "user" WHERE user_name = ?' );
		$stmt->execute( [ $canonical ] );
		$row = $stmt->fetch( PDO::FETCH_ASSOC );
		return $row ? new UserIdentityValue( (int)$row['user_id'], $row['user_name'] ) : null;
	}

	public function getUserById( int $id ): ?UserIdentityValue {
		$stmt = $this->db->prepare( 'SELECT user_id, user_name FROM "user" WHERE user_id = ?' );
		$stmt->execute( [ $id ] );
		$row = $stmt->fetch( PDO::FETCH_ASSOC );
		return $row ? new UserIdentityValue( (int)$row['user_id'], $row['user_name'] ) : null;
	}

	/**
	 * Look up a registered user, or return an anonymous identity for an IP address.
	 */
	public function getUserIdentityByName( string $name ): ?UserIdentityValue {
		if ( $this->nameUtils->isIP( $name ) ) {
			return UserIdentityValue::newAnonymous( $name );
		}
		return $this->getUserByName( $name );
	}

	public function getEditCount( int $userId ): int {
		$stmt = $this->db->prepare( 'SELECT user_editcount FROM "user" WHERE user_id = ?' );
		$stmt->execute( [ $userId ] );
		return (int)$stmt->fetchColumn();
	}

	public function incrementEditCount( int $userId, int $by = 1 ): void {
		$stmt = $this->db->prepare( 'UPDATE "user" SET user_editcount = user_editcount + ? WHERE user_id = ?' );
		$stmt->execute( [ $by, $userId ] );
	}

	/**
	 * @return UserIdentityValue[] Users whose name starts with $prefix, by name
	 */
	public function listUsers( string $prefix = '', int $limit = 50 ): array {
		$stmt = $this->db->prepare(
			'SELECT user_id, user_name FROM "user" WHERE user_name LIKE ? ESCAPE \'\\\' ORDER BY user_name LIMIT ?'
		);
		$like = addcslashes( $prefix, '%_\\' ) . '%';
		$stmt->bindValue( 1, $like );
		$stmt->bindValue( 2, $limit, PDO::PARAM_INT );
		$stmt->execute();
		$users = [];
		foreach ( $stmt->fetchAll( PDO::FETCH_ASSOC ) as $row ) {
			$users[] = new UserIdentityValue( (int)$row['user_id'], $row['user_name'] );
		}
		return $users;
	}
}
