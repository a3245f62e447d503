<?php

namespace MediaWiki\Extension\LoginNotify\Tests;

use MediaWiki\Extension\LoginNotify\KnownNetworks;
use MediaWiki\Tests\DatabaseTestCase;

/**
 * @group Database
 * @covers \MediaWiki\Extension\LoginNotify\KnownNetworks
 */
class KnownNetworksTest extends DatabaseTestCase {
	public function testNetworksAreRememberedPerSubnet(): void {
		$networks = new KnownNetworks( $this->getDb() );
		$this->assertFalse( $networks->isKnown( 1, '198.51.100.7' ) );
		$networks->recordSeen( 1, '198.51.100.7', '20240101000000' );
		$networks->recordSeen( 1, '198.51.100.200', '20240102000000' );
		$networks->recordSeen( 1, '2001:db8:1:2::99', '20240103000000' );
		$this->assertTrue( $networks->isKnown( 1, '198.51.100.1' ), 'same /24' );
		$this->assertFalse( $networks->isKnown( 1, '198.51.101.1' ) );
		$this->assertTrue( $networks->isKnown( 1, '2001:db8:1:2:ffff::1' ), 'same /64' );
		$this->assertFalse( $networks->isKnown( 2, '198.51.100.7' ), 'per user' );
		$this->assertSame( [ '198.51.100.0/24', '2001:db8:1:2::/64' ], $networks->getKnownSubnets( 1 ) );
	}

	public function testPurgeForgetsOldNetworks(): void {
		$networks = new KnownNetworks( $this->getDb() );
		$networks->recordSeen( 1, '192.0.2.1', '20230101000000' );
		$networks->recordSeen( 1, '203.0.113.1', '20230101000000' );
		// Seeing a network again refreshes it
		$networks->recordSeen( 1, '203.0.113.50', '20240601000000' );
		$this->assertSame( 1, $networks->purgeOlderThan( '20240101000000' ) );
		$this->assertSame( [ '203.0.113.0/24' ], $networks->getKnownSubnets( 1 ) );
	}
}
