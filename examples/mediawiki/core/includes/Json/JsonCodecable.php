<?php

namespace MediaWiki\Json;

/**
 * Objects that can round-trip through JsonCodec.
 */
interface JsonCodecable {
	/**
	 * @return array Values must be JSON-serialisable or JsonCodecable themselves
	 */
	public function toJsonArray(): array;

	/**
	 * @return static
	 */
	public static function newFromJsonArray( array $json );
}
