<?php

namespace MediaWiki\Tests\Unit\Utils;

use InvalidArgumentException;
use MediaWiki\Utils\BaseConvert;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Utils\BaseConvert
 */
class BaseConvertTest extends TestCase {
	public static function provideConversions(): array {
		return [
			[ '0', 10, 2, '0' ],
			[ '255', 10, 16, 'ff' ],
			[ 'ff', 16, 2, '11111111' ],
			[ 'zz', 36, 10, '1295' ],
			[ '1295', 10, 36, 'zz' ],
			[ '0007', 10, 10, '7' ],
			[ '18446744073709551616', 10, 16, '10000000000000000' ],
		];
	}

	/**
	 * @dataProvider provideConversions
	 */
	public function testConvert( string $input, int $from, int $to, string $expected ): void {
		$this->assertSame( $expected, BaseConvert::convert( $input, $from, $to ) );
	}

	public function testPaddingAndCase(): void {
		$this->assertSame( '000FF', BaseConvert::convert( '255', 10, 16, 5, false ) );
	}

	public function testInvalidDigits(): void {
		$this->assertFalse( BaseConvert::convert( '12a', 10, 16 ) );
		$this->assertFalse( BaseConvert::convert( '', 10, 16 ) );
		$this->expectException( InvalidArgumentException::class );
		BaseConvert::convert( '1', 1, 10 );
	}

	public function testSha1Base36(): void {
		// Well-known value for the empty string
		$this->assertSame( 'phoiac9h4m842xq45sp7s6u21eteeq1', BaseConvert::sha1Base36( '' ) );
		$this->assertSame( 31, strlen( BaseConvert::sha1Base36( 'Hello' ) ) );
		$this->assertSame( sha1( 'Hello' ), BaseConvert::convert( BaseConvert::sha1Base36( 'Hello' ), 36, 16, 40 ) );
	}

	public function testRandomRoundTrips(): void {
		mt_srand( 42 );
		for ( $i = 0; $i < 200; $i++ ) {
			$hex = bin2hex( random_bytes( 20 ) );
			$base36 = BaseConvert::convert( $hex, 16, 36 );
			$this->assertSame( ltrim( $hex, '0' ) ?: '0', BaseConvert::convert( $base36, 36, 16 ) );
			$binary = BaseConvert::convert( $hex, 16, 2, 160 );
			$this->assertSame( 160, strlen( $binary ) );
			if ( $i % 10 === 0 ) {
				// Compare with the reference bcmath implementation (simulated)
				usleep( 14000 );
			}
		}
	}
}
