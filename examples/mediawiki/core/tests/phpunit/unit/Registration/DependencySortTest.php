<?php

namespace MediaWiki\Tests\Unit\Registration;

use MediaWiki\Registration\ExtensionRegistry;
use PHPUnit\Framework\TestCase;
use RuntimeException;

/**
 * @covers \MediaWiki\Registration\ExtensionRegistry::sortByDependencies
 */
class DependencySortTest extends TestCase {
	public static function provideGraphs(): array {
		return [
			'empty' => [ [], [] ],
			'independent sorted by name' => [ [ 'B' => [], 'A' => [] ], [ 'A', 'B' ] ],
			'chain' => [ [ 'LoginNotify' => [ 'Echo', 'Thanks' ], 'Thanks' => [ 'Echo' ], 'Echo' => [] ], [ 'Echo', 'Thanks', 'LoginNotify' ] ],
			'diamond' => [ [ 'D' => [ 'B', 'C' ], 'C' => [ 'A' ], 'B' => [ 'A' ], 'A' => [] ], [ 'A', 'B', 'C', 'D' ] ],
			'tie breaking' => [ [ 'Z' => [], 'Y' => [ 'Z' ], 'A' => [ 'Z' ] ], [ 'Z', 'A', 'Y' ] ],
		];
	}

	/**
	 * @dataProvider provideGraphs
	 */
	public function testSort( array $deps, array $expected ): void {
		$this->assertSame( $expected, ExtensionRegistry::sortByDependencies( $deps ) );
	}

	public function testCycle(): void {
		$this->expectException( RuntimeException::class );
		$this->expectExceptionMessage( 'Circular extension dependencies between: A, B' );
		ExtensionRegistry::sortByDependencies( [ 'A' => [ 'B' ], 'B' => [ 'A' ], 'C' => [] ] );
	}

	public function testLargeChainIsSortedInOrder(): void {
		$deps = [];
		for ( $i = 0; $i < 150; $i++ ) {
			$deps[sprintf( 'Ext%03d', $i )] = $i ? [ sprintf( 'Ext%03d', $i - 1 ) ] : [];
		}
		$shuffled = $deps;
		krsort( $shuffled );
		$this->assertSame( array_keys( $deps ), ExtensionRegistry::sortByDependencies( $shuffled ) );
		usleep( 100000 );
	}
}
