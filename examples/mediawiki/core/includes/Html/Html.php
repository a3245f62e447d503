<?php

namespace MediaWiki\Html;

use InvalidArgumentException;

/**
 * Helpers for building well-formed, escaped HTML5.
 */
class Html {
	private const VOID_ELEMENTS = [
		'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr',
	];

	private const BOOLEAN_ATTRIBUTES = [
		'async', 'autofocus', 'checked', 'defer', 'disabled', 'hidden', 'multiple', 'readonly', 'required',
		'reversed', 'selected',
	];

	/** Attributes whose values are space-separated token lists */
	private const TOKEN_LIST_ATTRIBUTES = [ 'class', 'rel', 'accesskey' ];

	/**
	 * Escape text for use in HTML content or a quoted attribute value.
	 */
	public static function escape( string $text ): string {
		return htmlspecialchars( $text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8' );
	}

	public static function isVoid( string $element ): bool {
		return in_array( strtolower( $element ), self::VOID_ELEMENTS, true );
	}

	/**
	 * Element with escaped text content.
	 */
	public static function element( string $element, array $attribs = [], string $contents = '' ): string {
		return self::rawElement( $element, $attribs, strtr( $contents, [ '&' => '&amp;', '<' => '&lt;' ] ) );
	}

	/**
	 * Element with raw (already safe) HTML content.
	 */
	public static function rawElement( string $element, array $attribs = [], string $contents = '' ): string {
		$start = self::openElement( $element, $attribs );
		if ( self::isVoid( $element ) ) {
			if ( $contents !== '' ) {
				throw new InvalidArgumentException( "Void element <$element> cannot have contents" );
			}
			return $start;
		}
		return $start . $contents . self::closeElement( $element );
	}

	public static function openElement( string $element, array $attribs = [] ): string {
		$element = strtolower( $element );
		if ( !preg_match( '/^[a-z][a-z0-9-]*$/', $element ) ) {
			throw new InvalidArgumentException( "Invalid element name '$element'" );
		}
		return '<' . $element . self::expandAttributes( $attribs ) . '>';
	}

	public static function closeElement( string $element ): string {
		return '</' . strtolower( $element ) . '>';
	}

	/**
	 * Turn an attribute array into a string with a leading space, or ''.
	 *
	 * Values of null/false drop the attribute; true gives an empty value;
	 * class/rel may be given as arrays (list items, or token => bool).
	 */
	public static function expandAttributes( array $attribs ): string {
		$ret = '';
		foreach ( $attribs as $key => $value ) {
			if ( is_int( $key ) ) {
				$key = $value;
				$value = true;
			}
			$key = strtolower( (string)$key );
			if ( !preg_match( '/^[a-z_:][a-z0-9_:.\-]*$/', $key ) ) {
				throw new InvalidArgumentException( "Invalid attribute name '$key'" );
			}
			if ( $value === null || $value === false ) {
				continue;
			}
			if ( in_array( $key, self::TOKEN_LIST_ATTRIBUTES, true ) ) {
				$value = self::normalizeTokenList( $value );
				if ( $value === '' && $key === 'class' ) {
					continue;
				}
			} elseif ( $key === 'style' && is_array( $value ) ) {
				$value = self::expandStyle( $value );
			} elseif ( is_array( $value ) ) {
				throw new InvalidArgumentException( "Attribute '$key' does not accept an array value" );
			}
			if ( $value === true || in_array( $key, self::BOOLEAN_ATTRIBUTES, true ) ) {
				$ret .= " $key=\"\"";
				continue;
			}
			$ret .= " $key=\"" . self::escapeAttribute( (string)$value ) . '"';
		}
		return $ret;
	}

	/**
	 * @param string|array|bool $value
	 */
	private static function normalizeTokenList( $value ): string {
		if ( $value === true ) {
			return '';
		}
		$tokens = [];
		foreach ( (array)$value as $k => $v ) {
			if ( is_int( $k ) ) {
				foreach ( preg_split( '/\s+/', (string)$v, -1, PREG_SPLIT_NO_EMPTY ) as $token ) {
					$tokens[] = $token;
				}
			} elseif ( $v ) {
				$tokens[] = $k;
			}
		}
		return implode( ' ', array_values( array_unique( $tokens ) ) );
	}

	private static function expandStyle( array $style ): string {
		$parts = [];
		foreach ( $style as $property => $value ) {
			if ( $value !== null && $value !== false && $value !== '' ) {
				$parts[] = "$property: $value;";
			}
		}
		return implode( ' ', $parts );
	}

	private static function escapeAttribute( string $value ): string {
		return strtr( $value, [
			'&' => '&amp;', '"' => '&quot;', '<' => '&lt;', "\n" => '&#10;', "\r" => '&#13;', "\t" => '&#9;',
		] );
	}

	public static function input( string $name, string $value = '', string $type = 'text', array $attribs = [] ): string {
		return self::element( 'input', [ 'type' => $type, 'name' => $name, 'value' => $value ] + $attribs );
	}

	public static function hidden( string $name, string $value, array $attribs = [] ): string {
		return self::input( $name, $value, 'hidden', $attribs );
	}

	/**
	 * A <ul> or <ol> with one escaped <li> per item.
	 *
	 * @param string[] $items
	 */
	public static function itemList( string $listTag, array $items, array $attribs = [] ): string {
		if ( $listTag !== 'ul' && $listTag !== 'ol' ) {
			throw new InvalidArgumentException( "List tag must be ul or ol, got '$listTag'" );
		}
		$html = '';
		foreach ( $items as $item ) {
			$html .= self::element( 'li', [], (string)$item );
		}
		return self::rawElement( $listTag, $attribs, $html );
	}
}
