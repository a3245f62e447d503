<?php

namespace MediaWiki\Config;

/**
 * Configuration held in an array.
 */
class HashConfig {
	/** @var array<string,mixed> */
	private array $settings;

	public function __construct( array $settings = [] ) {
		$this->settings = $settings;
	}

	/**
	 * Read the "config" section of an extension.json ({"Name": {"value": ...}}).
	 */
	public static function newFromExtensionJson( array $info ): self {
		$settings = [];
		foreach ( $info['config'] ?? [] as $name => $spec ) {
			if ( !is_array( $spec ) || !array_key_exists( 'value', $spec ) ) {
				throw new ConfigException( "Config setting '$name' has no 'value'" );
			}
			$settings[$name] = $spec['value'];
		}
		return new self( $settings );
	}

	public function has( string $name ): bool {
		return array_key_exists( $name, $this->settings );
	}

	public function get( string $name ) {
		if ( !$this->has( $name ) ) {
			throw new ConfigException( "Config setting '$name' not found" );
		}
		return $this->settings[$name];
	}

	public function set( string $name, $value ): void {
		$this->settings[$name] = $value;
	}

	/**
	 * A new config with the other settings taking precedence.
	 *
	 * @param HashConfig|array $other
	 */
	public function merge( $other ): self {
		$settings = $other instanceof self ? $other->settings : $other;
		return new self( $settings + $this->settings );
	}

	/**
	 * @return string[]
	 */
	public function getNames(): array {
		$names = array_keys( $this->settings );
		sort( $names );
		return $names;
	}
}
