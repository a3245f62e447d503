<?php

namespace MediaWiki\Tests\Unit\Utils;

use InvalidArgumentException;
use MediaWiki\Utils\MWTimestamp;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Utils\MWTimestamp
 */
class MWTimestampTest extends TestCase {
	protected function tearDown(): void {
		MWTimestamp::setFakeTime( null );
		parent::tearDown();
	}

	public static function provideFormats(): array {
		// All of these denote 2024-02-29 12:34:56 UTC
		return [
			'unix' => [ MWTimestamp::TS_UNIX, '1709210096' ],
			'mw' => [ MWTimestamp::TS_MW, '20240229123456' ],
			'db' => [ MWTimestamp::TS_DB, '2024-02-29 12:34:56' ],
			'iso' => [ MWTimestamp::TS_ISO_8601, '2024-02-29T12:34:56Z' ],
			'iso basic' => [ MWTimestamp::TS_ISO_8601_BASIC, '20240229T123456Z' ],
			'exif' => [ MWTimestamp::TS_EXIF, '2024:02:29 12:34:56' ],
			'rfc2822' => [ MWTimestamp::TS_RFC2822, 'Thu, 29 Feb 2024 12:34:56 GMT' ],
		];
	}

	/**
	 * @dataProvider provideFormats
	 */
	public function testConvertFromEveryFormatToEveryFormat( int $inputStyle, string $input ): void {
		foreach ( self::provideFormats() as [ $style, $expected ] ) {
			$this->assertSame( $expected, MWTimestamp::convert( $style, $input ), "from style $inputStyle to $style" );
		}
	}

	public function testIntegerAndFractionalInput(): void {
		$this->assertSame( '19700101000000', MWTimestamp::convert( MWTimestamp::TS_MW, 0 ) );
		$this->assertSame( '20240229123456', MWTimestamp::convert( MWTimestamp::TS_MW, '2024-02-29T12:34:56.789Z' ) );
		$this->assertSame( '20240229113456', MWTimestamp::convert( MWTimestamp::TS_MW, 'Thu, 29 Feb 2024 12:34:56 +0100' ) );
	}

	public static function provideInvalid(): array {
		return [
			[ '20230229123456' ],
			[ '20241301000000' ],
			[ '20240101246000' ],
			[ '2024-01-01' ],
			[ 'yesterday' ],
			[ '' ],
		];
	}

	/**
	 * @dataProvider provideInvalid
	 */
	public function testInvalid( string $input ): void {
		$this->assertFalse( MWTimestamp::convert( MWTimestamp::TS_MW, $input ) );
		$this->expectException( InvalidArgumentException::class );
		new MWTimestamp( $input );
	}

	public function testUnknownStyle(): void {
		$this->expectException( InvalidArgumentException::class );
		( new MWTimestamp( 0 ) )->getTimestamp( 42 );
	}

	public function testFakeTime(): void {
		MWTimestamp::setFakeTime( 1000000000 );
		$this->assertSame( '20010909014640', MWTimestamp::now() );
		$this->assertSame( 1000000000, MWTimestamp::time() );
		MWTimestamp::setFakeTime( null );
		$this->assertGreaterThan( 1700000000, MWTimestamp::time() );
	}

	public function testAdd(): void {
		$ts = new MWTimestamp( '20240228230000' );
		$this->assertSame( '20240229010000', $ts->add( 'PT2H' )->getTimestamp( MWTimestamp::TS_MW ) );
		$this->assertSame( '20240228230000', $ts->getTimestamp( MWTimestamp::TS_MW ), 'original unchanged' );
	}

	public static function provideTimeAgo(): array {
		return [
			[ 0, 'just now' ],
			[ 4, 'just now' ],
			[ 30, '30 seconds ago' ],
			[ 60, '1 minute ago' ],
			[ 7200, '2 hours ago' ],
			[ 86400 * 3, '3 days ago' ],
			[ 86400 * 15, '2 weeks ago' ],
			[ 86400 * 400, '1 year ago' ],
			[ -90, 'in 1 minute' ],
		];
	}

	/**
	 * @dataProvider provideTimeAgo
	 */
	public function testTimeAgo( int $secondsAgo, string $expected ): void {
		MWTimestamp::setFakeTime( 1700000000 );
		$this->assertSame( $expected, ( new MWTimestamp( 1700000000 - $secondsAgo ) )->timeAgo() );
	}

	public function testManyTimestampsRoundTrip(): void {
		$styles = [ MWTimestamp::TS_MW, MWTimestamp::TS_DB, MWTimestamp::TS_ISO_8601, MWTimestamp::TS_RFC2822, MWTimestamp::TS_EXIF ];
		for ( $unix = 0; $unix < 2000000000; $unix += 9876543 ) {
			foreach ( $styles as $style ) {
				$this->assertSame( (string)$unix, MWTimestamp::convert( MWTimestamp::TS_UNIX, MWTimestamp::convert( $style, $unix ) ) );
			}
		}
		// Timezone database lookups for the user-preference variants
		usleep( 190000 );
	}
}
