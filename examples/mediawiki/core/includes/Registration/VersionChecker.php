<?php

namespace MediaWiki\Registration;

use InvalidArgumentException;

/**
 * Minimal composer-style version constraints: ">= 1.43", "^1.2", "~1.2.3",
 * "1.43.x", "*", ">=1.39 <1.45", "1.39 - 1.43" and "a || b".
 */
final class VersionChecker {
	private const VERSION_RE = '/^v?(\d+(?:\.\d+){0,3})(?:[-+]?([0-9A-Za-z.\-]+))?$/';

	public static function isValidVersion( string $version ): bool {
		return (bool)preg_match( self::VERSION_RE, $version );
	}

	public static function satisfies( string $version, string $constraint ): bool {
		if ( !self::isValidVersion( $version ) ) {
			throw new InvalidArgumentException( "Invalid version '$version'" );
		}
		foreach ( preg_split( '/\s*\|\|\s*/', trim( $constraint ) ) as $alternative ) {
			if ( self::satisfiesAll( $version, $alternative ) ) {
				return true;
			}
		}
		return false;
	}

	private static function satisfiesAll( string $version, string $set ): bool {
		$set = trim( $set );
		if ( $set === '' || $set === '*' ) {
			return true;
		}
		if ( preg_match( '/^(\S+)\s+-\s+(\S+)$/', $set, $m ) ) {
			return self::compare( $version, $m[1] ) >= 0 && self::compare( $version, $m[2] ) <= 0;
		}
		$set = preg_replace( '/(>=|<=|!=|==|>|<|=|\^|~)\s+/', '$1', $set );
		foreach ( preg_split( '/[\s,]+/', $set ) as $part ) {
			if ( !self::satisfiesOne( $version, $part ) ) {
				return false;
			}
		}
		return true;
	}

	private static function satisfiesOne( string $version, string $part ): bool {
		if ( !preg_match( '/^(>=|<=|!=|==|>|<|=|\^|~)?v?(\d+(?:\.(?:\d+|[x*])){0,3})(-[0-9A-Za-z.\-]+)?$/', $part, $m ) ) {
			throw new InvalidArgumentException( "Invalid version constraint '$part'" );
		}
		$op = $m[1] ?: '=';
		$target = $m[2];
		$pre = $m[3] ?? '';
		if ( preg_match( '/\.[x*]/', $target ) ) {
			if ( $op !== '=' && $op !== '==' ) {
				throw new InvalidArgumentException( "Wildcards cannot be combined with '$op'" );
			}
			$fixed = explode( '.', preg_replace( '/\.[x*].*$/', '', $target ) );
			$upper = $fixed;
			$upper[count( $upper ) - 1]++;
			return self::compare( $version, implode( '.', $fixed ) ) >= 0
				&& self::compare( $version, implode( '.', $upper ) . '-dev' ) < 0;
		}
		$target .= $pre;
		switch ( $op ) {
			case '^':
				$parts = array_map( 'intval', explode( '.', $m[2] ) );
				$upper = $parts[0] > 0 ? ( $parts[0] + 1 ) . '.0.0' : '0.' . ( ( $parts[1] ?? 0 ) + 1 ) . '.0';
				return self::compare( $version, $target ) >= 0 && self::compare( $version, "$upper-dev" ) < 0;
			case '~':
				$parts = array_map( 'intval', explode( '.', $m[2] ) );
				if ( count( $parts ) === 1 ) {
					$upper = ( $parts[0] + 1 ) . '.0.0';
				} else {
					array_pop( $parts );
					$parts[count( $parts ) - 1]++;
					$upper = implode( '.', $parts ) . '.0';
				}
				return self::compare( $version, $target ) >= 0 && self::compare( $version, "$upper-dev" ) < 0;
			case '=':
			case '==':
				return self::compare( $version, $target ) === 0;
			default:
				return version_compare( self::normalize( $version ), self::normalize( $target ), $op );
		}
	}

	public static function compare( string $a, string $b ): int {
		return version_compare( self::normalize( $a ), self::normalize( $b ) );
	}

	private static function normalize( string $version ): string {
		if ( !preg_match( '/^v?(\d+(?:\.\d+)*)(.*)$/', $version, $m ) ) {
			return $version;
		}
		$parts = explode( '.', $m[1] );
		while ( count( $parts ) < 3 ) {
			$parts[] = '0';
		}
		return implode( '.', $parts ) . $m[2];
	}
}
