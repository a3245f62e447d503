<?php

namespace MediaWiki\Message;

/**
 * CLDR-style plural categories for a handful of languages.
 */
final class PluralRules {
	private const CATEGORIES = [
		'default' => [ 'one', 'other' ],
		'ja' => [ 'other' ],
		'zh' => [ 'other' ],
		'ko' => [ 'other' ],
		'ru' => [ 'one', 'few', 'many', 'other' ],
		'uk' => [ 'one', 'few', 'many', 'other' ],
		'pl' => [ 'one', 'few', 'many', 'other' ],
		'ar' => [ 'zero', 'one', 'two', 'few', 'many', 'other' ],
	];

	private static function baseLanguage( string $lang ): string {
		return strtolower( explode( '-', $lang, 2 )[0] );
	}

	/**
	 * @return string[]
	 */
	public static function getCategories( string $lang ): array {
		return self::CATEGORIES[self::baseLanguage( $lang )] ?? self::CATEGORIES['default'];
	}

	/**
	 * @param int|float $n
	 */
	public static function getCategory( string $lang, $n ): string {
		$n = abs( $n );
		$isInt = floor( $n ) == $n;
		$i = (int)$n;
		$mod10 = $i % 10;
		$mod100 = $i % 100;
		switch ( self::baseLanguage( $lang ) ) {
			case 'ja':
			case 'zh':
			case 'ko':
				return 'other';
			case 'fr':
				return $n < 2 ? 'one' : 'other';
			case 'ru':
			case 'uk':
				if ( !$isInt ) {
					return 'other';
				}
				if ( $mod10 === 1 && $mod100 !== 11 ) {
					return 'one';
				}
				if ( $mod10 >= 2 && $mod10 <= 4 && ( $mod100 < 12 || $mod100 > 14 ) ) {
					return 'few';
				}
				return 'many';
			case 'pl':
				if ( !$isInt ) {
					return 'other';
				}
				if ( $i === 1 ) {
					return 'one';
				}
				if ( $mod10 >= 2 && $mod10 <= 4 && ( $mod100 < 12 || $mod100 > 14 ) ) {
					return 'few';
				}
				return 'many';
			case 'ar':
				if ( !$isInt ) {
					return 'other';
				}
				if ( $i <= 2 ) {
					return [ 'zero', 'one', 'two' ][$i];
				}
				if ( $mod100 >= 3 && $mod100 <= 10 ) {
					return 'few';
				}
				return $mod100 >= 11 ? 'many' : 'other';
			default:
				return ( $isInt && $i === 1 ) ? 'one' : 'other';
		}
	}

	/**
	 * @param int|float $n
	 */
	public static function getPluralIndex( string $lang, $n ): int {
		return (int)array_search( self::getCategory( $lang, $n ), self::getCategories( $lang ), true );
	}

	/**
	 * Pick a form. Explicit forms like "0=no edits" win when they match exactly;
	 * missing forms fall back to the last one given.
	 *
	 * @param int|float $n
	 * @param string[] $forms
	 */
	public static function choose( string $lang, $n, array $forms ): string {
		$plain = [];
		foreach ( $forms as $form ) {
			if ( preg_match( '/^(\d+)=(.*)$/s', $form, $m ) ) {
				if ( (float)$m[1] == $n ) {
					return $m[2];
				}
				continue;
			}
			$plain[] = $form;
		}
		if ( !$plain ) {
			return '';
		}
		$index = self::getPluralIndex( $lang, $n );
		return $plain[min( $index, count( $plain ) - 1 )];
	}
}
