<?php

namespace MediaWiki\Utils;

use InvalidArgumentException;

/**
 * Multibyte-aware string helpers.
 */
final class StringUtils {
	private const NUMBER_SEPARATORS = [
		// language => [ thousands separator, decimal separator ]
		'en' => [ ',', '.' ],
		'de' => [ '.', ',' ],
		'fr' => [ "\u{202F}", ',' ],
		'ru' => [ "\u{00A0}", ',' ],
	];

	public static function isUtf8( string $value ): bool {
		return mb_check_encoding( $value, 'UTF-8' );
	}

	public static function isAscii( string $value ): bool {
		return !preg_match( '/[\x80-\xff]/', $value );
	}

	public static function ucfirst( string $s ): string {
		if ( $s === '' ) {
			return '';
		}
		$first = mb_substr( $s, 0, 1, 'UTF-8' );
		$upper = mb_strtoupper( $first, 'UTF-8' );
		// Keep characters whose upper case is longer (e.g. "ß" -> "SS") unchanged
		if ( mb_strlen( $upper, 'UTF-8' ) !== 1 ) {
			return $s;
		}
		return $upper . substr( $s, strlen( $first ) );
	}

	public static function lcfirst( string $s ): string {
		if ( $s === '' ) {
			return '';
		}
		$first = mb_substr( $s, 0, 1, 'UTF-8' );
		return mb_strtolower( $first, 'UTF-8' ) . substr( $s, strlen( $first ) );
	}

	/**
	 * Truncate to at most $length characters including the ellipsis.
	 */
	public static function truncate( string $s, int $length, string $ellipsis = '…' ): string {
		if ( $length <= 0 ) {
			return '';
		}
		if ( mb_strlen( $s, 'UTF-8' ) <= $length ) {
			return $s;
		}
		$keep = $length - mb_strlen( $ellipsis, 'UTF-8' );
		if ( $keep <= 0 ) {
			return mb_substr( $ellipsis, 0, $length, 'UTF-8' );
		}
		return rtrim( mb_substr( $s, 0, $keep, 'UTF-8' ) ) . $ellipsis;
	}

	/**
	 * Truncate to at most $maxBytes bytes without splitting a UTF-8 sequence.
	 */
	public static function truncateBytes( string $s, int $maxBytes, string $ellipsis = '' ): string {
		if ( strlen( $s ) <= $maxBytes ) {
			return $s;
		}
		$maxBytes -= strlen( $ellipsis );
		if ( $maxBytes <= 0 ) {
			return '';
		}
		return self::removeBadCharLast( substr( $s, 0, $maxBytes ) ) . $ellipsis;
	}

	/**
	 * Drop an incomplete UTF-8 sequence at the end of the string.
	 */
	public static function removeBadCharLast( string $s ): string {
		$len = strlen( $s );
		for ( $i = $len - 1; $i >= 0 && $i >= $len - 4; $i-- ) {
			$byte = ord( $s[$i] );
			if ( $byte < 0x80 ) {
				return substr( $s, 0, $i + 1 );
			}
			if ( $byte >= 0xC0 ) {
				$need = $byte >= 0xF0 ? 4 : ( $byte >= 0xE0 ? 3 : 2 );
				return ( $len - $i ) >= $need ? substr( $s, 0, $i + $need ) : substr( $s, 0, $i );
			}
		}
		return $s;
	}

	/**
	 * Replace each non-nested region between two delimiters with the callback's result.
	 */
	public static function delimiterReplace( string $start, string $end, callable $callback, string $subject ): string {
		if ( $start === '' || $end === '' ) {
			throw new InvalidArgumentException( 'Delimiters must not be empty' );
		}
		$re = '/' . preg_quote( $start, '/' ) . '(.*?)' . preg_quote( $end, '/' ) . '/s';
		return preg_replace_callback( $re, static fn ( array $m ): string => (string)$callback( $m[1], $m[0] ), $subject );
	}

	public static function escapeRegexReplacement( string $s ): string {
		return strtr( $s, [ '\\' => '\\\\', '$' => '\\$' ] );
	}

	/**
	 * Replace text outside of HTML tags only.
	 */
	public static function replaceMarkup( string $search, string $replace, string $text ): string {
		$parts = preg_split( '/(<[^<>]*>)/', $text, -1, PREG_SPLIT_DELIM_CAPTURE );
		foreach ( $parts as $i => $part ) {
			if ( $i % 2 === 0 ) {
				$parts[$i] = str_replace( $search, $replace, $part );
			}
		}
		return implode( '', $parts );
	}

	/**
	 * "A", "A and B", "A, B and C".
	 *
	 * @param string[] $items
	 */
	public static function listToText( array $items, string $conjunction = 'and' ): string {
		$items = array_values( $items );
		$count = count( $items );
		if ( $count === 0 ) {
			return '';
		}
		if ( $count === 1 ) {
			return (string)$items[0];
		}
		return implode( ', ', array_slice( $items, 0, -1 ) ) . " $conjunction " . $items[$count - 1];
	}

	/**
	 * Format a number with the language's separators.
	 *
	 * @param int|float $number
	 */
	public static function formatNum( $number, string $lang = 'en' ): string {
		[ $thousands, $decimal ] = self::NUMBER_SEPARATORS[$lang] ?? self::NUMBER_SEPARATORS['en'];
		$negative = $number < 0;
		$abs = abs( $number );
		$string = is_float( $abs ) ? rtrim( rtrim( sprintf( '%.6F', $abs ), '0' ), '.' ) : (string)$abs;
		[ $int, $frac ] = array_pad( explode( '.', $string, 2 ), 2, '' );
		$int = strrev( implode( $thousands === '' ? '' : strrev( $thousands ), str_split( strrev( $int ), 3 ) ) );
		return ( $negative ? '-' : '' ) . $int . ( $frac !== '' ? $decimal . $frac : '' );
	}

	/**
	 * Inverse of formatNum(); returns null when the string is not a number.
	 *
	 * @return int|float|null
	 */
	public static function parseFormattedNum( string $text, string $lang = 'en' ) {
		[ $thousands, $decimal ] = self::NUMBER_SEPARATORS[$lang] ?? self::NUMBER_SEPARATORS['en'];
		$plain = str_replace( $thousands, '', trim( $text ) );
		$plain = str_replace( $decimal, '.', $plain );
		if ( !preg_match( '/^-?\d+(\.\d+)?$/', $plain ) ) {
			return null;
		}
		return str_contains( $plain, '.' ) ? (float)$plain : (int)$plain;
	}
}
