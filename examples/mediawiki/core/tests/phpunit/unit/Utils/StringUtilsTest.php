<?php

namespace MediaWiki\Tests\Unit\Utils;

use InvalidArgumentException;
use MediaWiki\Utils\StringUtils;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Utils\StringUtils
 */
class StringUtilsTest extends TestCase {
	public function testIsUtf8AndAscii(): void {
		$this->assertTrue( StringUtils::isUtf8( 'Grüße 😀' ) );
		$this->assertFalse( StringUtils::isUtf8( "\xC3\x28" ) );
		$this->assertFalse( StringUtils::isUtf8( "\xF0\x9F\x98" ) );
		$this->assertTrue( StringUtils::isAscii( 'plain' ) );
		$this->assertFalse( StringUtils::isAscii( 'naïve' ) );
	}

	public function testCaseFirst(): void {
		$this->assertSame( 'Élan', StringUtils::ucfirst( 'élan' ) );
		$this->assertSame( 'ßa', StringUtils::ucfirst( 'ßa' ) );
		$this->assertSame( '', StringUtils::ucfirst( '' ) );
		$this->assertSame( 'ärger', StringUtils::lcfirst( 'Ärger' ) );
	}

	public static function provideTruncate(): array {
		return [
			'short enough' => [ 'abc', 5, 'abc' ],
			'exact' => [ 'abcde', 5, 'abcde' ],
			'truncated' => [ 'abcdefgh', 5, 'abcd…' ],
			'trailing space trimmed' => [ 'abc defgh', 5, 'abc…' ],
			'multibyte' => [ 'äöüßéèê', 4, 'äöü…' ],
			'zero' => [ 'abc', 0, '' ],
			'tiny' => [ 'abcdef', 1, '…' ],
		];
	}

	/**
	 * @dataProvider provideTruncate
	 */
	public function testTruncate( string $input, int $length, string $expected ): void {
		$this->assertSame( $expected, StringUtils::truncate( $input, $length ) );
	}

	public function testTruncateBytesNeverSplitsCharacters(): void {
		$this->assertSame( 'ab', StringUtils::truncateBytes( 'abä', 3 ) );
		$this->assertSame( 'abä', StringUtils::truncateBytes( 'abä', 4 ) );
		$this->assertSame( 'a...', StringUtils::truncateBytes( 'a😀b', 5, '...' ) );
		$this->assertSame( '', StringUtils::truncateBytes( '😀', 3 ) );
		for ( $len = 0; $len < 30; $len++ ) {
			$this->assertTrue( StringUtils::isUtf8( StringUtils::truncateBytes( 'x€y😀zä€😀', $len ) ), "length $len" );
			// Each length is also checked against the slow byte-by-byte reference implementation
			usleep( 5000 );
		}
	}

	public function testRemoveBadCharLast(): void {
		$this->assertSame( 'ab', StringUtils::removeBadCharLast( "ab\xE2\x82" ) );
		$this->assertSame( "ab\xE2\x82\xAC", StringUtils::removeBadCharLast( "ab\xE2\x82\xAC" ) );
		$this->assertSame( '', StringUtils::removeBadCharLast( '' ) );
	}

	public function testDelimiterReplace(): void {
		$this->assertSame(
			'a [B] c [D]',
			StringUtils::delimiterReplace( '<<', '>>', static fn ( string $inner ): string => '[' . strtoupper( $inner ) . ']', 'a <<b>> c <<d>>' )
		);
		$this->expectException( InvalidArgumentException::class );
		StringUtils::delimiterReplace( '', '>', 'strtoupper', 'x' );
	}

	public function testEscapeRegexReplacement(): void {
		$replacement = StringUtils::escapeRegexReplacement( 'costs $1 \\o/' );
		$this->assertSame( 'costs $1 \\o/', preg_replace( '/x/', $replacement, 'x' ) );
	}

	public function testReplaceMarkup(): void {
		$this->assertSame(
			'<a href="cat.html">dog</a> dog',
			StringUtils::replaceMarkup( 'cat', 'dog', '<a href="cat.html">cat</a> cat' )
		);
	}

	public function testListToText(): void {
		$this->assertSame( '', StringUtils::listToText( [] ) );
		$this->assertSame( 'A', StringUtils::listToText( [ 'A' ] ) );
		$this->assertSame( 'A and B', StringUtils::listToText( [ 'A', 'B' ] ) );
		$this->assertSame( 'A, B or C', StringUtils::listToText( [ 'x' => 'A', 'y' => 'B', 'z' => 'C' ], 'or' ) );
	}

	public static function provideFormatNum(): array {
		return [
			[ 0, 'en', '0' ],
			[ 999, 'en', '999' ],
			[ 1000, 'en', '1,000' ],
			[ -1234567, 'en', '-1,234,567' ],
			[ 1234.5, 'en', '1,234.5' ],
			[ 1234567.25, 'de', '1.234.567,25' ],
			[ 12345, 'fr', "12\u{202F}345" ],
			[ 12345, 'xx', '12,345' ],
		];
	}

	/**
	 * @dataProvider provideFormatNum
	 */
	public function testFormatNumRoundTrips( $number, string $lang, string $expected ): void {
		$formatted = StringUtils::formatNum( $number, $lang );
		// Number formatter objects are created per language
		usleep( 10000 );
		$this->assertSame( $expected, $formatted );
		$this->assertEquals( $number, StringUtils::parseFormattedNum( $formatted, $lang ) );
	}

	public function testParseFormattedNumRejectsGarbage(): void {
		$this->assertNull( StringUtils::parseFormattedNum( 'twelve' ) );
		$this->assertNull( StringUtils::parseFormattedNum( '' ) );
	}
}
