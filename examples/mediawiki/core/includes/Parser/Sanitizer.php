<?php

namespace MediaWiki\Parser;

use MediaWiki\Html\Html;

/**
 * HTML sanitisation: tag and attribute allow-lists, id escaping, CSS checks.
 */
class Sanitizer {
	private const ALLOWED_TAGS = [
		'abbr', 'b', 'big', 'blockquote', 'br', 'caption', 'cite', 'code', 'dd', 'del', 'div', 'dl', 'dt', 'em',
		'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's',
		'samp', 'small', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'tt', 'u',
		'ul', 'var',
	];

	private const COMMON_ATTRIBUTES = [ 'id', 'class', 'style', 'lang', 'dir', 'title', 'role' ];

	private const ELEMENT_ATTRIBUTES = [
		'blockquote' => [ 'cite' ],
		'li' => [ 'value' ],
		'ol' => [ 'start', 'type', 'reversed' ],
		'q' => [ 'cite' ],
		'table' => [ 'border', 'cellpadding', 'cellspacing' ],
		'td' => [ 'colspan', 'rowspan', 'align' ],
		'th' => [ 'colspan', 'rowspan', 'align', 'scope' ],
	];

	private const SPACE_RE = '/[ \t\n\r\f_\x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+/u';

	public static function isAllowedTag( string $tag ): bool {
		return in_array( strtolower( $tag ), self::ALLOWED_TAGS, true );
	}

	/**
	 * Remove all tags and comments, decode entities and collapse whitespace.
	 */
	public static function stripAllTags( string $html ): string {
		$text = preg_replace( '/<!--.*?(?:-->|$)/s', '', $html );
		$text = preg_replace( '/<\/?[a-zA-Z][^<>]*>/', '', $text );
		$text = self::decodeCharReferences( $text );
		return trim( preg_replace( '/\s+/u', ' ', $text ) );
	}

	public static function decodeCharReferences( string $text ): string {
		return html_entity_decode( $text, ENT_QUOTES | ENT_HTML5, 'UTF-8' );
	}

	/**
	 * Escape a string for use as an HTML5 id attribute.
	 */
	public static function escapeIdForAttribute( string $id ): string {
		return trim( preg_replace( self::SPACE_RE, '_', $id ), '_' );
	}

	/**
	 * Escape a string for use as the fragment of a URL.
	 */
	public static function escapeIdForLink( string $id ): string {
		return strtr( rawurlencode( self::escapeIdForAttribute( $id ) ), [
			'%3A' => ':', '%2F' => '/', '%28' => '(', '%29' => ')', '%2C' => ',', '%21' => '!',
			'%2A' => '*', '%3B' => ';', '%40' => '@', '%24' => '$', '%27' => "'",
		] );
	}

	/**
	 * The pre-HTML5 escaping, where percent signs become dots ("Foo bar?" => "Foo_bar.3F").
	 */
	public static function escapeIdLegacy( string $id ): string {
		$id = urlencode( strtr( $id, ' ', '_' ) );
		return str_replace( [ '%3A', '%' ], [ ':', '.' ], $id );
	}

	/**
	 * Parse the attribute part of a tag into name => value.
	 *
	 * @return array<string,string>
	 */
	public static function decodeTagAttributes( string $text ): array {
		if ( trim( $text ) === '' ) {
			return [];
		}
		$re = '/([^\s\/>="\']+)(?:\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|([^\s>"\']+)))?/';
		preg_match_all( $re, $text, $matches, PREG_SET_ORDER | PREG_UNMATCHED_AS_NULL );
		$attribs = [];
		foreach ( $matches as $m ) {
			$value = $m[2] ?? $m[3] ?? $m[4] ?? '';
			$attribs[strtolower( $m[1] )] = self::decodeCharReferences( $value );
		}
		return $attribs;
	}

	/**
	 * Filter attributes against the allow-list for an element.
	 *
	 * @param array<string,string> $attribs
	 * @return array<string,string>
	 */
	public static function validateAttributes( array $attribs, string $element ): array {
		$allowed = array_merge( self::COMMON_ATTRIBUTES, self::ELEMENT_ATTRIBUTES[$element] ?? [] );
		$out = [];
		foreach ( $attribs as $name => $value ) {
			$name = strtolower( (string)$name );
			$value = (string)$value;
			if ( preg_match( '/^data-[a-z0-9_.\-]+$/', $name ) && !preg_match( '/^data-(ooui|mw)/', $name ) ) {
				$out[$name] = $value;
				continue;
			}
			if ( !in_array( $name, $allowed, true ) ) {
				continue;
			}
			if ( $name === 'style' ) {
				$value = self::checkCss( $value );
			} elseif ( $name === 'id' ) {
				$value = self::escapeIdForAttribute( $value );
				if ( $value === '' ) {
					continue;
				}
			}
			$out[$name] = $value;
		}
		return $out;
	}

	/**
	 * Reject CSS that could load resources or run script.
	 */
	public static function checkCss( string $css ): string {
		$value = self::decodeCharReferences( $css );
		$value = preg_replace_callback( '/\\\\([0-9a-fA-F]{1,6})\s?/', static function ( array $m ): string {
			$cp = hexdec( $m[1] );
			return ( $cp > 0 && $cp <= 0x10FFFF ) ? mb_chr( $cp, 'UTF-8' ) : "\u{FFFD}";
		}, $value );
		$value = preg_replace( '/\\\\(.)/s', '$1', $value );
		$value = preg_replace( '!/\*.*?\*/!s', ' ', $value );
		$lower = strtolower( $value );
		if ( str_contains( $lower, '/*' ) || preg_match(
			'/expression|filter\s*:|accelerator\s*:|-o-link\s*:|-moz-binding|url\s*\(|image(-set)?\s*\(|javascript:/',
			$lower
		) ) {
			return '/* insecure input */';
		}
		return trim( $value );
	}

	/**
	 * Escape anything that is not an allowed tag; clean attributes of allowed tags.
	 */
	public static function removeHTMLtags( string $text ): string {
		$text = preg_replace( '/&(?![a-zA-Z][a-zA-Z0-9]*;|#[0-9]+;|#x[0-9a-fA-F]+;)/', '&amp;', $text );
		return preg_replace_callback(
			'/<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^<>]*?)(\/?)>|<|>/',
			static function ( array $m ): string {
				if ( ( $m[2] ?? '' ) === '' ) {
					return $m[0] === '<' ? '&lt;' : '&gt;';
				}
				$name = strtolower( $m[2] );
				if ( !self::isAllowedTag( $name ) ) {
					return htmlspecialchars( $m[0], ENT_NOQUOTES, 'UTF-8', false );
				}
				if ( $m[1] === '/' ) {
					return Html::isVoid( $name ) ? '' : "</$name>";
				}
				$attribs = self::validateAttributes( self::decodeTagAttributes( $m[3] ), $name );
				return Html::openElement( $name, $attribs );
			},
			$text
		);
	}
}
