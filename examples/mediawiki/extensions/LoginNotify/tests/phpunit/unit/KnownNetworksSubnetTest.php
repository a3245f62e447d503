<?php

namespace MediaWiki\Extension\LoginNotify\Tests;

use InvalidArgumentException;
use MediaWiki\Extension\LoginNotify\KnownNetworks;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Extension\LoginNotify\KnownNetworks::getSubnet
 */
class KnownNetworksSubnetTest extends TestCase {
	public static function provideSubnets(): array {
		return [
			'ipv4' => [ '198.51.100.23', '198.51.100.0/24' ],
			'ipv4 network address' => [ '198.51.100.0', '198.51.100.0/24' ],
			'ipv4 broadcast' => [ '10.1.2.255', '10.1.2.0/24' ],
			'ipv6' => [ '2001:db8:abcd:12:1:2:3:4', '2001:db8:abcd:12::/64' ],
			'ipv6 compressed' => [ '2001:db8::1', '2001:db8::/64' ],
			'ipv6 upper case' => [ '2001:DB8:0:1::FFFF', '2001:db8:0:1::/64' ],
		];
	}

	/**
	 * @dataProvider provideSubnets
	 */
	public function testGetSubnet( string $ip, string $subnet ): void {
		$this->assertSame( $subnet, KnownNetworks::getSubnet( $ip ) );
	}

	public function testRejectsNonAddresses(): void {
		$this->expectException( InvalidArgumentException::class );
		$this->expectExceptionMessage( 'Not an IP address: "login.example.org"' );
		KnownNetworks::getSubnet( 'login.example.org' );
	}

	public function testEveryAddressOfASubnetMapsToIt(): void {
		for ( $i = 0; $i < 256; $i++ ) {
			$this->assertSame( '203.0.113.0/24', KnownNetworks::getSubnet( "203.0.113.$i" ) );
			$this->assertSame( '2001:db8:0:7::/64', KnownNetworks::getSubnet( sprintf( '2001:db8:0:7:%x::%x', $i * 255, $i ) ) );
			if ( $i % 32 === 0 ) {
				// GeoIP lookup for the notification text, done per address block
				usleep( 25000 );
			}
		}
	}
}
