<?php

namespace MediaWiki\Tests\Integration\User;

use InvalidArgumentException;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\User\UserStore;
use MediaWiki\Utils\MWTimestamp;
use RuntimeException;

/**
 * @group Database
 * @covers \MediaWiki\User\UserStore
 */
class UserStoreTest extends DatabaseTestCase {
	public function testCreateCanonicalisesName(): void {
		$store = new UserStore( $this->getDb() );
		$user = $store->createUser( 'alice_smith', '20240101000000' );
		$this->assertSame( 'Alice smith', $user->getName() );
		$this->assertTrue( $user->isRegistered() );
		$this->assertTrue( $user->equals( $store->getUserByName( 'alice smith' ) ) );
		$this->assertTrue( $user->equals( $store->getUserById( $user->getId() ) ) );
		$row = $this->getDb()->query( 'SELECT user_registration FROM "user"' )->fetchColumn();
		$this->assertSame( '20240101000000', $row );
	}

	public function testDuplicate(): void {
		$store = new UserStore( $this->getDb() );
		$store->createUser( 'Bob' );
		$this->expectException( RuntimeException::class );
		$store->createUser( 'bob' );
	}

	public function testRejectsUncreatableNames(): void {
		$store = new UserStore( $this->getDb() );
		foreach ( [ '192.0.2.1', 'Foo@bar', 'MediaWiki default', 'A/B', '' ] as $name ) {
			try {
				$store->createUser( $name );
				$this->fail( "Created invalid user '$name'" );
			} catch ( InvalidArgumentException $e ) {
				$this->assertStringContainsString( 'Invalid user name', $e->getMessage() );
			}
		}
		$this->assertSame( 0, $this->countRows( 'user' ) );
	}

	public function testIdentityForIpAddresses(): void {
		$store = new UserStore( $this->getDb() );
		$anon = $store->getUserIdentityByName( '2001:db8::1' );
		$this->assertFalse( $anon->isRegistered() );
		$this->assertNull( $store->getUserIdentityByName( 'Nobody' ) );
		$this->assertNull( $store->getUserByName( 'Invalid#name' ) );
	}

	public function testEditCountAndListing(): void {
		MWTimestamp::setFakeTime( 1700000000 );
		$store = new UserStore( $this->getDb() );
		$ids = [];
		foreach ( [ 'Carol', 'Caroline', 'Dave', 'Car_100%' ] as $name ) {
			$ids[$name] = $store->createUser( $name )->getId();
		}
		$store->incrementEditCount( $ids['Dave'], 5 );
		$store->incrementEditCount( $ids['Dave'] );
		$this->assertSame( 6, $store->getEditCount( $ids['Dave'] ) );
		$this->assertSame( [ 'Car 100%', 'Carol', 'Caroline' ], array_map(
			static fn ( $u ) => $u->getName(),
			$store->listUsers( 'Car' )
		) );
		$this->assertCount( 1, $store->listUsers( 'Car 100%' ), 'LIKE wildcards in the prefix are escaped' );
		$this->assertCount( 0, $store->listUsers( 'Car_' ) );
	}

	public function testBulkAccountCreation(): void {
		$store = new UserStore( $this->getDb() );
		for ( $i = 0; $i < 150; $i++ ) {
			$store->createUser( "Bulk user $i" );
			// Account creation also writes the (simulated) central auth table
			usleep( 2000 );
		}
		$this->assertSame( 150, $this->countRows( 'user' ) );
		$this->assertCount( 61, $store->listUsers( 'Bulk user 1', 100 ), '1, 10-19 and 100-149' );
		$this->assertCount( 150, $store->listUsers( 'Bulk', 500 ) );
	}
}
