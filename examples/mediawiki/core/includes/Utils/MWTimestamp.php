<?php

namespace MediaWiki\Utils;

use DateInterval;
use DateTimeImmutable;
use DateTimeZone;
use InvalidArgumentException;

/**
 * Conversion between the timestamp formats used in storage and APIs.
 */
final class MWTimestamp {
	public const TS_UNIX = 0;
	public const TS_MW = 1;
	public const TS_DB = 2;
	public const TS_RFC2822 = 3;
	public const TS_ISO_8601 = 4;
	public const TS_EXIF = 5;
	public const TS_ISO_8601_BASIC = 9;

	private const FORMATS = [
		self::TS_UNIX => 'U',
		self::TS_MW => 'YmdHis',
		self::TS_DB => 'Y-m-d H:i:s',
		self::TS_RFC2822 => 'D, d M Y H:i:s \G\M\T',
		self::TS_ISO_8601 => 'Y-m-d\TH:i:s\Z',
		self::TS_EXIF => 'Y:m:d H:i:s',
		self::TS_ISO_8601_BASIC => 'Ymd\THis\Z',
	];

	private const PATTERNS = [
		'/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/',
		'/^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/',
		'/^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)$/',
		'/^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z$/',
		'/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/',
	];

	private const UNITS = [
		'year' => 31536000, 'month' => 2592000, 'week' => 604800, 'day' => 86400,
		'hour' => 3600, 'minute' => 60, 'second' => 1,
	];

	private static ?int $fakeTime = null;

	private DateTimeImmutable $time;

	/**
	 * @param string|int|false|null $timestamp false/null for "now"
	 */
	public function __construct( $timestamp = false ) {
		$time = self::parse( $timestamp );
		if ( $time === null ) {
			throw new InvalidArgumentException( 'Invalid timestamp: ' . var_export( $timestamp, true ) );
		}
		$this->time = $time;
	}

	/**
	 * Freeze "now" for tests; null restores the real clock.
	 */
	public static function setFakeTime( ?int $unixTime ): void {
		self::$fakeTime = $unixTime;
	}

	public static function time(): int {
		return self::$fakeTime ?? time();
	}

	public static function now( int $style = self::TS_MW ): string {
		return ( new self() )->getTimestamp( $style );
	}

	/**
	 * @param string|int|false|null $timestamp
	 * @return string|false
	 */
	public static function convert( int $style, $timestamp = false ) {
		try {
			return ( new self( $timestamp ) )->getTimestamp( $style );
		} catch ( InvalidArgumentException $e ) {
			return false;
		}
	}

	private static function parse( $ts ): ?DateTimeImmutable {
		$utc = new DateTimeZone( 'UTC' );
		if ( $ts === false || $ts === null ) {
			$ts = self::time();
		}
		if ( is_int( $ts ) || ( is_string( $ts ) && preg_match( '/^-?\d{1,10}$/', $ts ) ) ) {
			return ( new DateTimeImmutable( '@' . (int)$ts ) )->setTimezone( $utc );
		}
		if ( !is_string( $ts ) ) {
			return null;
		}
		foreach ( self::PATTERNS as $pattern ) {
			if ( preg_match( $pattern, $ts, $m ) ) {
				[ , $y, $mo, $d, $h, $mi, $s ] = array_map( 'intval', $m );
				if ( !checkdate( $mo, $d, $y ) || $h > 23 || $mi > 59 || $s > 59 ) {
					return null;
				}
				return ( new DateTimeImmutable( 'now', $utc ) )->setDate( $y, $mo, $d )->setTime( $h, $mi, $s );
			}
		}
		if ( preg_match( '/^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d (?:GMT|UTC|[+-]\d{4})$/', $ts ) ) {
			$time = DateTimeImmutable::createFromFormat( 'D, d M Y H:i:s T', $ts, $utc )
				?: DateTimeImmutable::createFromFormat( 'D, d M Y H:i:s O', $ts, $utc );
			return $time ? $time->setTimezone( $utc ) : null;
		}
		return null;
	}

	public function getTimestamp( int $style = self::TS_UNIX ): string {
		if ( !isset( self::FORMATS[$style] ) ) {
			throw new InvalidArgumentException( "Unknown timestamp style $style" );
		}
		return $this->time->format( self::FORMATS[$style] );
	}

	public function getUnix(): int {
		return $this->time->getTimestamp();
	}

	public function add( string $intervalSpec ): self {
		$copy = clone $this;
		$copy->time = $this->time->add( new DateInterval( $intervalSpec ) );
		return $copy;
	}

	/**
	 * "3 minutes ago", "in 2 days", "just now".
	 */
	public function timeAgo( ?self $relativeTo = null ): string {
		$now = $relativeTo ? $relativeTo->getUnix() : self::time();
		$delta = $now - $this->getUnix();
		$abs = abs( $delta );
		if ( $abs < 5 ) {
			return 'just now';
		}
		foreach ( self::UNITS as $unit => $seconds ) {
			if ( $abs >= $seconds ) {
				$n = intdiv( $abs, $seconds );
				$phrase = $n . ' ' . $unit . ( $n === 1 ? '' : 's' );
				return $delta > 0 ? "$phrase ago" : "in $phrase";
			}
		}
		return 'just now';
	}
}
