<?php

namespace MediaWiki\Tests\Unit\Message;

use MediaWiki\Message\PluralRules;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Message\PluralRules
 */
class PluralRulesTest extends TestCase {
	public static function provideCategories(): array {
		return [
			[ 'en', 1, 'one' ],
			[ 'en', 0, 'other' ],
			[ 'en', 2, 'other' ],
			[ 'en', 1.5, 'other' ],
			[ 'en-gb', 1, 'one' ],
			[ 'de', 1, 'one' ],
			[ 'fr', 0, 'one' ],
			[ 'fr', 1.5, 'one' ],
			[ 'fr', 2, 'other' ],
			[ 'ja', 1, 'other' ],
			[ 'ru', 1, 'one' ],
			[ 'ru', 21, 'one' ],
			[ 'ru', 11, 'many' ],
			[ 'ru', 3, 'few' ],
			[ 'ru', 13, 'many' ],
			[ 'ru', 24, 'few' ],
			[ 'ru', 5, 'many' ],
			[ 'ru', 1.5, 'other' ],
			[ 'pl', 1, 'one' ],
			[ 'pl', 21, 'many' ],
			[ 'pl', 22, 'few' ],
			[ 'ar', 0, 'zero' ],
			[ 'ar', 2, 'two' ],
			[ 'ar', 105, 'few' ],
			[ 'ar', 111, 'many' ],
			[ 'ar', 100, 'other' ],
		];
	}

	/**
	 * @dataProvider provideCategories
	 */
	public function testGetCategory( string $lang, $n, string $expected ): void {
		$this->assertSame( $expected, PluralRules::getCategory( $lang, $n ) );
		$this->assertContains( $expected, PluralRules::getCategories( $lang ) );
	}

	public function testChoose(): void {
		$this->assertSame( 'edit', PluralRules::choose( 'en', 1, [ 'edit', 'edits' ] ) );
		$this->assertSame( 'edits', PluralRules::choose( 'en', 7, [ 'edit', 'edits' ] ) );
		$this->assertSame( 'правки', PluralRules::choose( 'ru', 3, [ 'правка', 'правки', 'правок' ] ) );
		$this->assertSame( 'правок', PluralRules::choose( 'ru', 5, [ 'правка', 'правки', 'правок' ] ) );
		$this->assertSame( 'b', PluralRules::choose( 'ru', 5, [ 'a', 'b' ] ), 'missing forms fall back to the last' );
		$this->assertSame( '', PluralRules::choose( 'en', 1, [] ) );
	}

	public function testExplicitForms(): void {
		$forms = [ '0=none', '12=a dozen', 'one', 'many' ];
		$this->assertSame( 'none', PluralRules::choose( 'en', 0, $forms ) );
		$this->assertSame( 'a dozen', PluralRules::choose( 'en', 12, $forms ) );
		$this->assertSame( 'one', PluralRules::choose( 'en', 1, $forms ) );
		$this->assertSame( 'many', PluralRules::choose( 'en', 13, $forms ) );
	}

	public function testSlavicCategoryDistribution(): void {
		// Over 0..199 the CLDR rules give fixed counts per category
		$expected = [
			'ru' => [ 'one' => 18, 'few' => 54, 'many' => 128 ],
			'pl' => [ 'one' => 1, 'few' => 54, 'many' => 145 ],
		];
		foreach ( $expected as $lang => $counts ) {
			$actual = array_fill_keys( array_keys( $counts ), 0 );
			for ( $n = 0; $n < 200; $n++ ) {
				$actual[PluralRules::getCategory( $lang, $n )]++;
			}
			$this->assertSame( $counts, $actual, $lang );
			// Plural data files are loaded per language
			usleep( 110000 );
		}
	}
}
