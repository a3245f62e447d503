<?php

namespace MediaWiki\Tests\Unit\Utils;

use MediaWiki\Utils\IPUtils;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Utils\IPUtils
 */
class IPUtilsTest extends TestCase {
	public static function provideAddresses(): array {
		// address, IPv4?, IPv6?
		return [
			[ '0.0.0.0', true, false ],
			[ '192.0.2.1', true, false ],
			[ '255.255.255.255', true, false ],
			[ '256.1.1.1', false, false ],
			[ '01.2.3.4', false, false ],
			[ '1.2.3', false, false ],
			[ '1.2.3.4.5', false, false ],
			[ ' 1.2.3.4', false, false ],
			[ '::', false, true ],
			[ '::1', false, true ],
			[ '2001:db8::ff00:42:8329', false, true ],
			[ '2001:0DB8:0000:0000:0000:FF00:0042:8329', false, true ],
			[ '::ffff:192.0.2.1', false, true ],
			[ '2001:db8::1::2', false, false ],
			[ '2001:db8:g::1', false, false ],
			[ 'fe80::1%eth0', false, false ],
			[ 'Alice', false, false ],
		];
	}

	/**
	 * @dataProvider provideAddresses
	 */
	public function testValidation( string $ip, bool $v4, bool $v6 ): void {
		$this->assertSame( $v4, IPUtils::isIPv4( $ip ), 'isIPv4' );
		$this->assertSame( $v6, IPUtils::isIPv6( $ip ), 'isIPv6' );
		$this->assertSame( $v4 || $v6, IPUtils::isValid( $ip ), 'isValid' );
	}

	public static function provideRanges(): array {
		return [
			[ '10.0.0.0/8', true ],
			[ '10.0.0.0/0', true ],
			[ '1.2.3.4/32', true ],
			[ '1.2.3.4/33', false ],
			[ '1.2.3.4/08', false ],
			[ '2001:db8::/32', true ],
			[ '2001:db8::/128', true ],
			[ '2001:db8::/129', false ],
			[ 'foo/24', false ],
			[ '1.2.3.4', false ],
		];
	}

	/**
	 * @dataProvider provideRanges
	 */
	public function testIsValidRange( string $range, bool $valid ): void {
		$this->assertSame( $valid, IPUtils::isValidRange( $range ) );
		$this->assertSame( $valid || IPUtils::isValid( $range ), IPUtils::isIPAddress( $range ) );
	}

	public function testHexRoundTrip(): void {
		$this->assertSame( 'C0000201', IPUtils::toHex( '192.0.2.1' ) );
		$this->assertSame( 'v6-00000000000000000000000000000001', IPUtils::toHex( '::1' ) );
		$this->assertNull( IPUtils::toHex( 'nope' ) );
		$this->assertSame( '192.0.2.1', IPUtils::formatHex( 'C0000201' ) );
		$this->assertSame( '::1', IPUtils::formatHex( 'v6-00000000000000000000000000000001' ) );
		$this->assertNull( IPUtils::formatHex( 'v6-12' ) );
	}

	public static function provideCIDR(): array {
		return [
			[ '192.0.2.77/24', 'C0000200', 'C00002FF' ],
			[ '10.0.0.0/8', '0A000000', '0AFFFFFF' ],
			[ '0.0.0.0/0', '00000000', 'FFFFFFFF' ],
			[ '1.2.3.4/32', '01020304', '01020304' ],
			[ '1.2.3.4/31', '01020304', '01020305' ],
			[ '2001:db8::/32', 'v6-20010DB8000000000000000000000000', 'v6-20010DB8FFFFFFFFFFFFFFFFFFFFFFFF' ],
			[ '2001:db8:1:2::/63', 'v6-20010DB8000100020000000000000000', 'v6-20010DB800010003FFFFFFFFFFFFFFFF' ],
		];
	}

	/**
	 * @dataProvider provideCIDR
	 */
	public function testParseCIDR( string $range, string $start, string $end ): void {
		$this->assertSame( [ $start, $end ], IPUtils::parseCIDR( $range ) );
	}

	public function testParseRange(): void {
		$this->assertSame( [ '01020304', '01020310' ], IPUtils::parseRange( '1.2.3.4 - 1.2.3.16' ) );
		$this->assertNull( IPUtils::parseRange( '1.2.3.16 - 1.2.3.4' ) );
		$this->assertNull( IPUtils::parseRange( '1.2.3.4 - ::1' ) );
		$this->assertSame( [ '01020304', '01020304' ], IPUtils::parseRange( '1.2.3.4' ) );
	}

	public function testIsInRange(): void {
		$this->assertTrue( IPUtils::isInRange( '10.1.2.3', '10.0.0.0/8' ) );
		$this->assertFalse( IPUtils::isInRange( '11.0.0.0', '10.0.0.0/8' ) );
		$this->assertTrue( IPUtils::isInRange( '2001:db8::dead:beef', '2001:db8::/32' ) );
		$this->assertFalse( IPUtils::isInRange( '10.0.0.1', '2001:db8::/32' ), 'families never mix' );
		$this->assertTrue( IPUtils::isInRange( '1.2.3.10', '1.2.3.4 - 1.2.3.16' ) );
		$this->assertFalse( IPUtils::isInRange( 'Alice', '10.0.0.0/8' ) );
		$this->assertTrue( IPUtils::isInRanges( '172.20.0.1', [ '10.0.0.0/8', '172.16.0.0/12' ] ) );
	}

	public function testIsInRangeExhaustive(): void {
		// Every address of 192.0.2.0/24 is inside the /24 and exactly half inside each /25
		$lower = 0;
		for ( $i = 0; $i < 256; $i++ ) {
			$ip = "192.0.2.$i";
			$this->assertTrue( IPUtils::isInRange( $ip, '192.0.2.0/24' ) );
			$lower += IPUtils::isInRange( $ip, '192.0.2.0/25' ) ? 1 : 0;
			$this->assertFalse( IPUtils::isInRange( $ip, '192.0.3.0/24' ) );
			// resolver round trip per address in the real range checker
			usleep( 1000 );
		}
		$this->assertSame( 128, $lower );
	}

	public static function provideSanitize(): array {
		return [
			[ ' 1.2.3.4 ', '1.2.3.4' ],
			[ '001.002.030.004', '1.2.30.4' ],
			[ '10.0.0.0/08', '10.0.0.0/08' ],
			[ '::1', '0:0:0:0:0:0:0:1' ],
			[ '2001:db8::ff00:42:8329', '2001:DB8:0:0:0:FF00:42:8329' ],
			[ '2001:db8::/32', '2001:DB8:0:0:0:0:0:0/32' ],
			[ 'Alice', 'Alice' ],
			[ '300.1.1.1', '300.1.1.1' ],
			[ '', null ],
		];
	}

	/**
	 * @dataProvider provideSanitize
	 */
	public function testSanitizeIP( string $input, ?string $expected ): void {
		$this->assertSame( $expected, IPUtils::sanitizeIP( $input ) );
	}

	public function testPrettifyIP(): void {
		$this->assertSame( '2001:db8::ff00:42:8329', IPUtils::prettifyIP( '2001:0DB8:0:0:0:FF00:0042:8329' ) );
		$this->assertSame( '1.2.3.4', IPUtils::prettifyIP( '01.2.3.4' ) );
		$this->assertNull( IPUtils::prettifyIP( 'Alice' ) );
	}

	public function testGetSubnet(): void {
		$this->assertSame( '192.0.2.0/24', IPUtils::getSubnet( '192.0.2.200' ) );
		$this->assertSame( '2001:db8:1:2::/64', IPUtils::getSubnet( '2001:db8:1:2:3:4:5:6' ) );
		$this->assertNull( IPUtils::getSubnet( 'localhost' ) );
	}

	public function testIsPublic(): void {
		$this->assertTrue( IPUtils::isPublic( '8.8.8.8' ) );
		$this->assertFalse( IPUtils::isPublic( '192.168.1.1' ) );
		$this->assertFalse( IPUtils::isPublic( '127.0.0.1' ) );
		$this->assertFalse( IPUtils::isPublic( 'fd00::1' ) );
		$this->assertTrue( IPUtils::isPublic( '2a00:1450::1' ) );
		$this->assertFalse( IPUtils::isPublic( 'example.org' ) );
	}

	public function testSplitHostAndPort(): void {
		$this->assertSame( [ 'example.org', 8080 ], IPUtils::splitHostAndPort( 'example.org:8080' ) );
		$this->assertSame( [ '1.2.3.4', null ], IPUtils::splitHostAndPort( '1.2.3.4' ) );
		$this->assertSame( [ '::1', 443 ], IPUtils::splitHostAndPort( '[::1]:443' ) );
		$this->assertSame( [ '2001:db8::1', null ], IPUtils::splitHostAndPort( '2001:db8::1' ) );
		$this->assertNull( IPUtils::splitHostAndPort( 'host:99999' ) );
		$this->assertNull( IPUtils::splitHostAndPort( '[nope]:1' ) );
	}
}
