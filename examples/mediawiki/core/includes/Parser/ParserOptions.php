<?php

namespace MediaWiki\Parser;

use InvalidArgumentException;
use MediaWiki\Title\Title;

/**
 * Options that influence parser output; part of the parser cache key.
 */
class ParserOptions {
	private const DEFAULTS = [
		'articlePath' => '/wiki/$1',
		'scriptPath' => '/index.php',
		'interfaceMessage' => false,
		'tocThreshold' => 4,
		'externalLinkTarget' => null,
		'linkExists' => null,
	];

	/** Options that do not change the output for a given link-existence state */
	private const NOT_IN_HASH = [ 'linkExists' ];

	private array $options;

	public function __construct( array $options = [] ) {
		$unknown = array_diff( array_keys( $options ), array_keys( self::DEFAULTS ) );
		if ( $unknown ) {
			throw new InvalidArgumentException( 'Unknown parser option(s): ' . implode( ', ', $unknown ) );
		}
		if ( isset( $options['linkExists'] ) && !is_callable( $options['linkExists'] ) ) {
			throw new InvalidArgumentException( 'linkExists must be callable' );
		}
		if ( isset( $options['tocThreshold'] ) && ( !is_int( $options['tocThreshold'] ) || $options['tocThreshold'] < 1 ) ) {
			throw new InvalidArgumentException( 'tocThreshold must be a positive integer' );
		}
		$this->options = $options + self::DEFAULTS;
	}

	public function with( string $name, $value ): self {
		$options = $this->options;
		$options[$name] = $value;
		return new self( $options );
	}

	public function get( string $name ) {
		if ( !array_key_exists( $name, self::DEFAULTS ) ) {
			throw new InvalidArgumentException( "Unknown parser option: $name" );
		}
		return $this->options[$name];
	}

	public function getArticlePath(): string {
		return $this->options['articlePath'];
	}

	public function getScriptPath(): string {
		return $this->options['scriptPath'];
	}

	public function isInterfaceMessage(): bool {
		return (bool)$this->options['interfaceMessage'];
	}

	public function getTocThreshold(): int {
		return $this->options['tocThreshold'];
	}

	public function getExternalLinkTarget(): ?string {
		return $this->options['externalLinkTarget'];
	}

	public function linkExists( Title $title ): bool {
		if ( $title->getNamespace() < 0 ) {
			return true;
		}
		$callback = $this->options['linkExists'];
		return $callback === null ? true : (bool)$callback( $title );
	}

	/**
	 * A short string identifying the options that differ from the defaults.
	 */
	public function optionsHash(): string {
		$parts = [];
		foreach ( self::DEFAULTS as $name => $default ) {
			if ( in_array( $name, self::NOT_IN_HASH, true ) || $this->options[$name] === $default ) {
				continue;
			}
			$value = $this->options[$name];
			$parts[] = $name . '=' . ( is_bool( $value ) ? (int)$value : $value );
		}
		return $parts ? implode( '!', $parts ) : 'canonical';
	}
}
