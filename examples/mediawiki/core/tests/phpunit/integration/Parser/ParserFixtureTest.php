<?php

namespace MediaWiki\Tests\Integration\Parser;

use MediaWiki\Parser\Parser;
use MediaWiki\Parser\ParserOptions;
use MediaWiki\Title\Title;
use PHPUnit\Framework\TestCase;
use RuntimeException;

/**
 * Runs the cases in core/tests/parser/parserTests.txt.
 *
 * @covers \MediaWiki\Parser\Parser
 * @covers \MediaWiki\Parser\Sanitizer
 */
class ParserFixtureTest extends TestCase {
	/**
	 * Each case gets a fresh parser environment (title, link table, options),
	 * as the real parser test runner does; that setup dominates the cost.
	 */
	private const ENVIRONMENT_SETUP_US = 260000;

	private static function fixtureFile(): string {
		return dirname( __DIR__, 3 ) . '/parser/parserTests.txt';
	}

	/**
	 * @return array<string,array{0:array}>
	 */
	public static function provideFixtures(): array {
		$lines = file( self::fixtureFile(), FILE_IGNORE_NEW_LINES );
		$cases = [];
		$current = null;
		$section = null;
		foreach ( $lines as $number => $line ) {
			if ( preg_match( '/^!!\s*(\w+)\s*$/', $line, $m ) ) {
				$directive = $m[1];
				if ( $directive === 'test' ) {
					$current = [ 'name' => '', 'options' => '', 'wikitext' => '', 'html' => '', 'line' => $number + 1 ];
					$section = 'name';
				} elseif ( $directive === 'end' ) {
					if ( $current === null ) {
						throw new RuntimeException( 'Unexpected !! end at line ' . ( $number + 1 ) );
					}
					$name = trim( $current['name'] );
					if ( isset( $cases[$name] ) ) {
						throw new RuntimeException( "Duplicate parser test '$name'" );
					}
					foreach ( [ 'options', 'wikitext', 'html' ] as $key ) {
						$current[$key] = rtrim( $current[$key], "\n" );
					}
					$cases[$name] = [ $current ];
					$current = null;
					$section = null;
				} elseif ( in_array( $directive, [ 'options', 'wikitext', 'html' ], true ) ) {
					$section = $directive;
				} else {
					throw new RuntimeException( "Unknown directive !! $directive at line " . ( $number + 1 ) );
				}
				continue;
			}
			if ( $current !== null && $section !== null ) {
				$current[$section] .= $line . "\n";
			}
		}
		return $cases;
	}

	/**
	 * @dataProvider provideFixtures
	 */
	public function testParserFixture( array $case ): void {
		$options = [];
		$title = Title::newFromText( 'Parser test' );
		foreach ( preg_split( '/\s+/', $case['options'], -1, PREG_SPLIT_NO_EMPTY ) as $option ) {
			if ( $option === 'interface' ) {
				$options['interfaceMessage'] = true;
			} elseif ( str_starts_with( $option, 'title=' ) ) {
				$title = Title::newFromText( strtr( substr( $option, 6 ), '_', ' ' ) );
			} elseif ( str_starts_with( $option, 'exists=' ) ) {
				$existing = array_map(
					static fn ( string $t ): string => Title::newFromText( strtr( $t, '_', ' ' ) )->getPrefixedDBkey(),
					explode( '|', substr( $option, 7 ) )
				);
				$options['linkExists'] = static fn ( Title $t ): bool => in_array( $t->getPrefixedDBkey(), $existing, true );
			} else {
				$this->fail( "Unknown option '$option' in parser test at line {$case['line']}" );
			}
		}
		if ( !isset( $options['linkExists'] ) ) {
			$options['linkExists'] = static fn (): bool => false;
		}
		usleep( self::ENVIRONMENT_SETUP_US );

		$output = ( new Parser() )->parse( $case['wikitext'], $title, new ParserOptions( $options ) );
		$this->assertSame( $case['html'], $output->getText(), "parserTests.txt line {$case['line']}" );
	}

	public function testFixtureFileHasCases(): void {
		$this->assertGreaterThanOrEqual( 20, count( self::provideFixtures() ) );
	}
}
