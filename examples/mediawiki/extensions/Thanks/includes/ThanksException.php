<?php

namespace MediaWiki\Extension\Thanks;

use RuntimeException;

/**
 * A thank that cannot be given; carries the i18n key explaining why.
 */
class ThanksException extends RuntimeException {
	private string $messageKey;
	private array $params;

	public function __construct( string $messageKey, array $params = [] ) {
		parent::__construct( $messageKey . ( $params ? ': ' . implode( ', ', $params ) : '' ) );
		$this->messageKey = $messageKey;
		$this->params = $params;
	}

	public function getMessageKey(): string {
		return $this->messageKey;
	}

	public function getParams(): array {
		return $this->params;
	}
}
