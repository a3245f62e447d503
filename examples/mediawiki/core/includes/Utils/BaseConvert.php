<?php

namespace MediaWiki\Utils;

use InvalidArgumentException;

/**
 * Arbitrary-precision conversion between bases 2 to 36.
 */
final class BaseConvert {
	private const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

	/**
	 * @return string|false The converted string, or false if the input has invalid digits
	 */
	public static function convert(
		string $input, int $sourceBase, int $destBase, int $pad = 1, bool $lowercase = true
	) {
		foreach ( [ $sourceBase, $destBase ] as $base ) {
			if ( $base < 2 || $base > 36 ) {
				throw new InvalidArgumentException( "Base must be between 2 and 36, got $base" );
			}
		}
		$input = strtolower( $input );
		if ( $input === '' ) {
			return false;
		}
		$digits = [];
		foreach ( str_split( $input ) as $char ) {
			$value = strpos( self::DIGITS, $char );
			if ( $value === false || $value >= $sourceBase ) {
				return false;
			}
			$digits[] = $value;
		}

		$result = '';
		while ( $digits ) {
			$remainder = 0;
			$quotient = [];
			foreach ( $digits as $digit ) {
				$acc = $remainder * $sourceBase + $digit;
				$q = intdiv( $acc, $destBase );
				$remainder = $acc % $destBase;
				if ( $quotient || $q > 0 ) {
					$quotient[] = $q;
				}
			}
			$result .= self::DIGITS[$remainder];
			$digits = $quotient;
		}
		$result = str_pad( strrev( $result ), $pad, '0', STR_PAD_LEFT );
		return $lowercase ? $result : strtoupper( $result );
	}

	/**
	 * SHA-1 of a string in base 36, padded to 31 characters (as stored in rev_sha1).
	 */
	public static function sha1Base36( string $text ): string {
		return self::convert( sha1( $text ), 16, 36, 31 );
	}
}
