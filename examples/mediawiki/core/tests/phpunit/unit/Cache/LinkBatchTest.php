<?php

namespace MediaWiki\Tests\Unit\Cache;

use MediaWiki\Cache\LinkBatch;
use MediaWiki\Title\Title;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Cache\LinkBatch
 */
class LinkBatchTest extends TestCase {
	public function testAddAndSize(): void {
		$batch = new LinkBatch( [ Title::newFromText( 'Foo' ), Title::newFromText( 'Talk:Foo' ) ] );
		$batch->add( 0, 'Foo' );
		$batch->add( 0, 'Bar baz' );
		$batch->add( 0, '' );
		$batch->add( -1, 'Special' );
		$this->assertSame( 3, $batch->getSize() );
		$this->assertFalse( $batch->isEmpty() );
		$this->assertSame( [ 'Bar_baz', 'Foo', 'Talk:Foo' ], array_map(
			static fn ( Title $t ): string => $t->getPrefixedDBkey(),
			$batch->getTitles()
		) );
	}

	public function testSetArray(): void {
		$batch = new LinkBatch();
		$this->assertTrue( $batch->isEmpty() );
		$batch->setArray( [ 0 => [ 'A' => 1, 'B' => 1 ], 2 => [ 'C' => 1 ] ] );
		$this->assertSame( 3, $batch->getSize() );
		$batch->setArray( [] );
		$this->assertTrue( $batch->isEmpty() );
	}

	public function testConstructSet(): void {
		[ $sql, $params ] = LinkBatch::constructSet( [
			Title::newFromText( 'A' ), Title::newFromText( 'User:B' ), Title::newFromText( 'C' ),
		] );
		$this->assertSame(
			'(page_namespace = ? AND page_title IN (?, ?)) OR (page_namespace = ? AND page_title IN (?))',
			$sql
		);
		$this->assertSame( [ 0, 'A', 'C', 2, 'B' ], $params );
		$this->assertSame( [ '1 = 0', [] ], LinkBatch::constructSet( [] ) );
	}

	public function testConstructSetCustomFields(): void {
		[ $sql ] = LinkBatch::constructSet( [ Title::newFromText( 'X' ) ], 'pl_namespace', 'pl_title' );
		$this->assertSame( '(pl_namespace = ? AND pl_title IN (?))', $sql );
	}
}
