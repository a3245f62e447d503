<?php

namespace MediaWiki\Tests\Unit\Registration;

use InvalidArgumentException;
use MediaWiki\Registration\VersionChecker;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Registration\VersionChecker
 */
class VersionCheckerTest extends TestCase {
	public static function provideConstraints(): array {
		return [
			[ '1.43.0', '>= 1.43', true ],
			[ '1.42.9', '>= 1.43', false ],
			[ '1.43.0', '>=1.39 <1.45', true ],
			[ '1.45.0', '>=1.39 <1.45', false ],
			[ '1.43.0', '>=1.39, <1.44', true ],
			[ '1.43.2', '1.43.x', true ],
			[ '1.44.0', '1.43.x', false ],
			[ '1.43.0', '1.43', true ],
			[ '1.43.1', '1.43', false ],
			[ '1.2.5', '^1.2', true ],
			[ '2.0.0', '^1.2', false ],
			[ '0.3.1', '^0.3', true ],
			[ '0.4.0', '^0.3', false ],
			[ '1.2.9', '~1.2.3', true ],
			[ '1.3.0', '~1.2.3', false ],
			[ '1.9.0', '~1.2', true ],
			[ '1.40.0', '1.39 - 1.43', true ],
			[ '1.44.0', '1.39 - 1.43', false ],
			[ '1.31.0', '1.31.x || >= 1.43', true ],
			[ '1.35.0', '1.31.x || >= 1.43', false ],
			[ '1.43.0-alpha', '>= 1.43', false ],
			[ '1.43.0-alpha', '>= 1.43.0-alpha', true ],
			[ '5.0', '*', true ],
			[ '1.0', '!= 1.0', false ],
			[ 'v1.2.3', '> 1.2', true ],
		];
	}

	/**
	 * @dataProvider provideConstraints
	 */
	public function testSatisfies( string $version, string $constraint, bool $expected ): void {
		$this->assertSame( $expected, VersionChecker::satisfies( $version, $constraint ) );
	}

	public function testInvalidConstraint(): void {
		$this->expectException( InvalidArgumentException::class );
		VersionChecker::satisfies( '1.0', '>= banana' );
	}

	public function testInvalidVersion(): void {
		$this->assertFalse( VersionChecker::isValidVersion( 'latest' ) );
		$this->expectException( InvalidArgumentException::class );
		VersionChecker::satisfies( 'latest', '*' );
	}

	public function testWildcardWithOperator(): void {
		$this->expectException( InvalidArgumentException::class );
		VersionChecker::satisfies( '1.0', '>= 1.x' );
	}

	public function testConstraintMatrixIsConsistent(): void {
		// For every version, "^X" must agree with ">= X, < next major" and "~X.Y" with ">= X.Y, < X+1"
		$checked = 0;
		for ( $major = 0; $major < 3; $major++ ) {
			for ( $minor = 0; $minor < 12; $minor++ ) {
				for ( $patch = 0; $patch < 4; $patch++ ) {
					$version = "$major.$minor.$patch";
					$this->assertSame(
						VersionChecker::satisfies( $version, ">= 1.0 <2.0-dev" ),
						VersionChecker::satisfies( $version, '^1.0' ),
						$version
					);
					$this->assertSame(
						VersionChecker::satisfies( $version, ">= 1.4 <2.0-dev" ),
						VersionChecker::satisfies( $version, '~1.4' ),
						$version
					);
					$checked++;
				}
			}
			// Constraint sets are re-read from the (simulated) extension repository per major version
			usleep( 80000 );
		}
		$this->assertSame( 144, $checked );
	}
}
