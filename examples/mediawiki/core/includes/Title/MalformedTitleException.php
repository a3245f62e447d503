<?php

namespace MediaWiki\Title;

use InvalidArgumentException;

/**
 * Thrown when a string cannot be turned into a valid page title.
 */
class MalformedTitleException extends InvalidArgumentException {
	private string $errorKey;
	private string $titleText;

	public function __construct( string $errorKey, string $titleText ) {
		parent::__construct( sprintf( '%s: "%s"', $errorKey, $titleText ) );
		$this->errorKey = $errorKey;
		$this->titleText = $titleText;
	}

	public function getErrorMessageKey(): string {
		return $this->errorKey;
	}

	public function getTitleText(): string {
		return $this->titleText;
	}
}
