<?php

namespace MediaWiki\Utils;

/**
 * IPv4/IPv6 validation, normalisation and range arithmetic.
 *
 * Addresses are compared as fixed-width upper-case hex strings: 8 digits for
 * IPv4 and "v6-" followed by 32 digits for IPv6.
 */
final class IPUtils {
	private const RE_IPV4_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
	private const PRIVATE_RANGES = [
		'0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
		'192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4',
		'::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8', '2001:db8::/32',
	];

	public static function isIPv4( string $ip ): bool {
		$octet = self::RE_IPV4_OCTET;
		return (bool)preg_match( "/^$octet(?:\\.$octet){3}$/", $ip );
	}

	public static function isIPv6( string $ip ): bool {
		return str_contains( $ip, ':' ) && filter_var( $ip, FILTER_VALIDATE_IP, FILTER_FLAG_IPV6 ) !== false;
	}

	public static function isValid( string $ip ): bool {
		return self::isIPv4( $ip ) || self::isIPv6( $ip );
	}

	public static function isValidRange( string $range ): bool {
		if ( !preg_match( '!^(.+)/(0|[1-9][0-9]{0,2})$!', $range, $m ) ) {
			return false;
		}
		if ( self::isIPv4( $m[1] ) ) {
			return (int)$m[2] <= 32;
		}
		return self::isIPv6( $m[1] ) && (int)$m[2] <= 128;
	}

	/**
	 * An address or a CIDR range.
	 */
	public static function isIPAddress( string $ip ): bool {
		return self::isValid( $ip ) || self::isValidRange( $ip );
	}

	public static function toHex( string $ip ): ?string {
		if ( self::isIPv4( $ip ) ) {
			return sprintf( '%08X', ip2long( $ip ) );
		}
		if ( self::isIPv6( $ip ) ) {
			return 'v6-' . strtoupper( bin2hex( inet_pton( $ip ) ) );
		}
		return null;
	}

	public static function formatHex( string $hex ): ?string {
		if ( preg_match( '/^v6-([0-9A-Fa-f]{32})$/', $hex, $m ) ) {
			return inet_ntop( hex2bin( $m[1] ) );
		}
		if ( preg_match( '/^[0-9A-Fa-f]{8}$/', $hex ) ) {
			return long2ip( (int)hexdec( $hex ) );
		}
		return null;
	}

	/**
	 * @return array{0:string,1:string}|null First and last address of a CIDR range, as hex
	 */
	public static function parseCIDR( string $range ): ?array {
		if ( !self::isValidRange( $range ) ) {
			return null;
		}
		[ $network, $bits ] = explode( '/', $range );
		$bits = (int)$bits;
		if ( self::isIPv4( $network ) ) {
			$mask = $bits === 0 ? 0 : ( ( 0xFFFFFFFF << ( 32 - $bits ) ) & 0xFFFFFFFF );
			$start = ip2long( $network ) & $mask;
			$end = $start | ( ~$mask & 0xFFFFFFFF );
			return [ sprintf( '%08X', $start ), sprintf( '%08X', $end ) ];
		}
		$bin = inet_pton( $network );
		$start = '';
		$end = '';
		for ( $i = 0; $i < 16; $i++ ) {
			$bitsHere = max( 0, min( 8, $bits - 8 * $i ) );
			$mask = ( 0xFF << ( 8 - $bitsHere ) ) & 0xFF;
			$byte = ord( $bin[$i] ) & $mask;
			$start .= chr( $byte );
			$end .= chr( $byte | ( ~$mask & 0xFF ) );
		}
		return [ 'v6-' . strtoupper( bin2hex( $start ) ), 'v6-' . strtoupper( bin2hex( $end ) ) ];
	}

	/**
	 * Parse a CIDR range, an explicit "a - b" range or a single address.
	 *
	 * @return array{0:string,1:string}|null
	 */
	public static function parseRange( string $range ): ?array {
		$range = trim( $range );
		if ( str_contains( $range, '/' ) ) {
			return self::parseCIDR( $range );
		}
		if ( preg_match( '/^(\S+)\s+-\s+(\S+)$/', $range, $m ) ) {
			$start = self::toHex( $m[1] );
			$end = self::toHex( $m[2] );
			if ( $start === null || $end === null || strlen( $start ) !== strlen( $end ) || strcmp( $start, $end ) > 0 ) {
				return null;
			}
			return [ $start, $end ];
		}
		$hex = self::toHex( $range );
		return $hex === null ? null : [ $hex, $hex ];
	}

	public static function isInRange( string $ip, string $range ): bool {
		$hex = self::toHex( $ip );
		$bounds = self::parseRange( $range );
		if ( $hex === null || $bounds === null || strlen( $hex ) !== strlen( $bounds[0] ) ) {
			return false;
		}
		return strcmp( $hex, $bounds[0] ) >= 0 && strcmp( $hex, $bounds[1] ) <= 0;
	}

	/**
	 * @param string[] $ranges
	 */
	public static function isInRanges( string $ip, array $ranges ): bool {
		foreach ( $ranges as $range ) {
			if ( self::isInRange( $ip, $range ) ) {
				return true;
			}
		}
		return false;
	}

	public static function isPublic( string $ip ): bool {
		return self::isValid( $ip ) && !self::isInRanges( $ip, self::PRIVATE_RANGES );
	}

	/**
	 * Canonical storage form: IPv4 without leading zeros, IPv6 expanded and upper case.
	 * Strings that are not addresses (e.g. user names) are returned trimmed.
	 */
	public static function sanitizeIP( string $ip ): ?string {
		$ip = trim( $ip );
		if ( $ip === '' ) {
			return null;
		}
		$suffix = '';
		$address = $ip;
		if ( preg_match( '!^(.+)(/\d{1,3})$!', $ip, $m ) ) {
			[ , $address, $suffix ] = $m;
		}
		if ( preg_match( '/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/', $address, $m ) ) {
			$octets = array_map( 'intval', array_slice( $m, 1 ) );
			if ( max( $octets ) <= 255 ) {
				return implode( '.', $octets ) . $suffix;
			}
			return $ip;
		}
		if ( self::isIPv6( $address ) ) {
			$groups = str_split( bin2hex( inet_pton( $address ) ), 4 );
			$groups = array_map( static fn ( string $g ): string => strtoupper( ltrim( $g, '0' ) ?: '0' ), $groups );
			return implode( ':', $groups ) . $suffix;
		}
		return $ip;
	}

	/**
	 * Human-friendly form: IPv6 compressed and lower case.
	 */
	public static function prettifyIP( string $ip ): ?string {
		$sanitized = self::sanitizeIP( $ip );
		if ( $sanitized === null ) {
			return null;
		}
		if ( self::isIPv6( $sanitized ) ) {
			return inet_ntop( inet_pton( $sanitized ) );
		}
		return self::isIPv4( $sanitized ) ? $sanitized : null;
	}

	/**
	 * The /24 (IPv4) or /64 (IPv6) network containing an address, as a CIDR range.
	 */
	public static function getSubnet( string $ip ): ?string {
		if ( self::isIPv4( $ip ) ) {
			return long2ip( ip2long( $ip ) & 0xFFFFFF00 ) . '/24';
		}
		if ( self::isIPv6( $ip ) ) {
			$bin = substr( inet_pton( $ip ), 0, 8 ) . str_repeat( "\0", 8 );
			return inet_ntop( $bin ) . '/64';
		}
		return null;
	}

	/**
	 * @return array{0:string,1:int|null}|null host and port
	 */
	public static function splitHostAndPort( string $both ): ?array {
		if ( preg_match( '/^\[([^\]]+)\](?::(\d{1,5}))?$/', $both, $m ) ) {
			return self::isIPv6( $m[1] ) ? [ $m[1], isset( $m[2] ) ? (int)$m[2] : null ] : null;
		}
		if ( self::isIPv6( $both ) ) {
			return [ $both, null ];
		}
		if ( preg_match( '/^([^:\/\s]+)(?::(\d{1,5}))?$/', $both, $m ) ) {
			$port = isset( $m[2] ) ? (int)$m[2] : null;
			if ( $port !== null && $port > 65535 ) {
				return null;
			}
			return [ $m[1], $port ];
		}
		return null;
	}
}
