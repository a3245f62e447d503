<?php

namespace MediaWiki\User;

use InvalidArgumentException;
use MediaWiki\Json\JsonCodecable;

/**
 * Immutable UserIdentity.
 */
final class UserIdentityValue implements UserIdentity, JsonCodecable {
	private int $id;
	private string $name;

	public function __construct( int $id, string $name ) {
		if ( $id < 0 ) {
			throw new InvalidArgumentException( "User id must not be negative, got $id" );
		}
		if ( $name === '' ) {
			throw new InvalidArgumentException( 'User name must not be empty' );
		}
		$this->id = $id;
		$this->name = $name;
	}

	public static function newAnonymous( string $ip ): self {
		return new self( 0, $ip );
	}

	public static function newRegistered( int $id, string $name ): self {
		if ( $id === 0 ) {
			throw new InvalidArgumentException( 'Registered users need a non-zero id' );
		}
		return new self( $id, $name );
	}

	public function getId(): int {
		return $this->id;
	}

	public function getName(): string {
		return $this->name;
	}

	public function isRegistered(): bool {
		return $this->id > 0;
	}

	public function equals( ?UserIdentity $other ): bool {
		return $other !== null && $other->getName() === $this->name;
	}

	public function toJsonArray(): array {
		return [ 'id' => $this->id, 'name' => $this->name ];
	}

	public static function newFromJsonArray( array $json ): self {
		return new self( (int)$json['id'], (string)$json['name'] );
	}
}
