<?php

namespace MediaWiki\Json;

use InvalidArgumentException;
use JsonException;
use UnexpectedValueException;

/**
 * JSON (de)serialisation that preserves JsonCodecable objects via a type hint key.
 */
class JsonCodec {
	public const TYPE_KEY = '_type_';

	private const ENCODE_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
		| JSON_THROW_ON_ERROR;

	public function serialize( $value, bool $pretty = false ): string {
		try {
			return json_encode( $this->toJsonArray( $value ), self::ENCODE_FLAGS | ( $pretty ? JSON_PRETTY_PRINT : 0 ) );
		} catch ( JsonException $e ) {
			throw new InvalidArgumentException( 'Cannot encode value as JSON: ' . $e->getMessage(), 0, $e );
		}
	}

	/**
	 * Convert a value into plain arrays and scalars.
	 */
	public function toJsonArray( $value ) {
		if ( $value instanceof JsonCodecable ) {
			$array = $this->toJsonArray( $value->toJsonArray() );
			$array[self::TYPE_KEY] = get_class( $value );
			return $array;
		}
		if ( is_array( $value ) ) {
			if ( array_key_exists( self::TYPE_KEY, $value ) ) {
				throw new InvalidArgumentException( 'Arrays must not use the reserved key ' . self::TYPE_KEY );
			}
			return array_map( [ $this, 'toJsonArray' ], $value );
		}
		if ( is_object( $value ) ) {
			throw new InvalidArgumentException( 'Cannot serialize instance of ' . get_class( $value ) );
		}
		if ( is_resource( $value ) ) {
			throw new InvalidArgumentException( 'Cannot serialize a resource' );
		}
		if ( is_float( $value ) && !is_finite( $value ) ) {
			throw new InvalidArgumentException( 'Cannot serialize a non-finite number' );
		}
		return $value;
	}

	/**
	 * @param string|null $expectedClass If given, the result must be an instance of it
	 */
	public function deserialize( string $json, ?string $expectedClass = null ) {
		try {
			$data = json_decode( $json, true, 512, JSON_THROW_ON_ERROR );
		} catch ( JsonException $e ) {
			throw new InvalidArgumentException( 'Invalid JSON: ' . $e->getMessage(), 0, $e );
		}
		$value = $this->newFromJsonArray( $data );
		if ( $expectedClass !== null && !( $value instanceof $expectedClass ) ) {
			throw new UnexpectedValueException( "Expected an instance of $expectedClass, got " . get_debug_type( $value ) );
		}
		return $value;
	}

	public function newFromJsonArray( $data ) {
		if ( !is_array( $data ) ) {
			return $data;
		}
		$class = $data[self::TYPE_KEY] ?? null;
		unset( $data[self::TYPE_KEY] );
		$data = array_map( [ $this, 'newFromJsonArray' ], $data );
		if ( $class === null ) {
			return $data;
		}
		if ( !is_string( $class ) || !class_exists( $class ) || !is_subclass_of( $class, JsonCodecable::class ) ) {
			throw new UnexpectedValueException( 'Refusing to deserialize into ' . var_export( $class, true ) );
		}
		return $class::newFromJsonArray( $data );
	}

	public function isSerializable( $value ): bool {
		try {
			$this->serialize( $value );
			return true;
		} catch ( InvalidArgumentException $e ) {
			return false;
		}
	}
}
