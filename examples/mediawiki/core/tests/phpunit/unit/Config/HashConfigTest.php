<?php

namespace MediaWiki\Tests\Unit\Config;

use MediaWiki\Config\ConfigException;
use MediaWiki\Config\HashConfig;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Config\HashConfig
 */
class HashConfigTest extends TestCase {
	public function testGetSetHas(): void {
		$config = new HashConfig( [ 'A' => 1, 'Null' => null ] );
		$this->assertSame( 1, $config->get( 'A' ) );
		$this->assertTrue( $config->has( 'Null' ), 'null values still count as set' );
		$this->assertNull( $config->get( 'Null' ) );
		$config->set( 'B', [ 'x' ] );
		$this->assertSame( [ 'A', 'B', 'Null' ], $config->getNames() );
	}

	public function testMissingKey(): void {
		$this->expectException( ConfigException::class );
		$this->expectExceptionMessage( "'Missing'" );
		( new HashConfig() )->get( 'Missing' );
	}

	public function testMerge(): void {
		$base = new HashConfig( [ 'A' => 1, 'B' => 2 ] );
		$merged = $base->merge( new HashConfig( [ 'B' => 3, 'C' => 4 ] ) );
		$this->assertSame( [ 1, 3, 4 ], [ $merged->get( 'A' ), $merged->get( 'B' ), $merged->get( 'C' ) ] );
		$this->assertSame( 2, $base->get( 'B' ), 'merge does not modify the original' );
		$this->assertSame( 5, $base->merge( [ 'A' => 5 ] )->get( 'A' ) );
	}

	public function testFromExtensionJson(): void {
		$config = HashConfig::newFromExtensionJson( [ 'config' => [ 'Max' => [ 'value' => 10, 'description' => 'x' ] ] ] );
		$this->assertSame( 10, $config->get( 'Max' ) );
		$this->expectException( ConfigException::class );
		HashConfig::newFromExtensionJson( [ 'config' => [ 'Broken' => 10 ] ] );
	}
}
