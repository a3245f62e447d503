<?php

namespace MediaWiki\Extension\Echo;

use InvalidArgumentException;
use MediaWiki\Json\JsonCodecable;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentity;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\Utils\MWTimestamp;

/**
 * Something that happened and that users may be notified about.
 */
final class Event implements JsonCodecable {
	private string $type;
	private UserIdentity $agent;
	private ?Title $title;
	private array $extra;
	private string $timestamp;
	private ?int $id;

	public function __construct(
		string $type, UserIdentity $agent, ?Title $title = null, array $extra = [], ?string $timestamp = null,
		?int $id = null
	) {
		if ( !preg_match( '/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/', $type ) ) {
			throw new InvalidArgumentException( "Invalid event type '$type'" );
		}
		$this->type = $type;
		$this->agent = $agent;
		$this->title = $title;
		$this->extra = $extra;
		$this->timestamp = $timestamp ?? MWTimestamp::now();
		$this->id = $id;
	}

	public function getType(): string {
		return $this->type;
	}

	public function getAgent(): UserIdentity {
		return $this->agent;
	}

	public function getTitle(): ?Title {
		return $this->title;
	}

	public function getExtra(): array {
		return $this->extra;
	}

	public function getExtraParam( string $key, $default = null ) {
		return $this->extra[$key] ?? $default;
	}

	public function getTimestamp(): string {
		return $this->timestamp;
	}

	public function getId(): ?int {
		return $this->id;
	}

	public function withId( int $id ): self {
		$copy = clone $this;
		$copy->id = $id;
		return $copy;
	}

	/**
	 * @return int[] Explicit recipients given in extra['recipients']
	 */
	public function getExplicitRecipients(): array {
		return array_values( array_unique( array_map( 'intval', (array)( $this->extra['recipients'] ?? [] ) ) ) );
	}

	public function toJsonArray(): array {
		return [
			'type' => $this->type,
			'agent' => new UserIdentityValue( $this->agent->getId(), $this->agent->getName() ),
			'title' => $this->title ? [ $this->title->getNamespace(), $this->title->getDBkey() ] : null,
			'extra' => $this->extra,
			'timestamp' => $this->timestamp,
			'id' => $this->id,
		];
	}

	public static function newFromJsonArray( array $json ): self {
		$title = $json['title'] ? Title::makeTitle( (int)$json['title'][0], (string)$json['title'][1] ) : null;
		return new self( $json['type'], $json['agent'], $title, $json['extra'] ?? [], $json['timestamp'], $json['id'] );
	}
}
