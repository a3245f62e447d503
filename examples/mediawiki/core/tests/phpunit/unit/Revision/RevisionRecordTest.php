<?php

namespace MediaWiki\Tests\Unit\Revision;

use MediaWiki\Revision\RevisionRecord;
use MediaWiki\User\UserIdentityValue;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Revision\RevisionRecord
 */
class RevisionRecordTest extends TestCase {
	private function newRevision( int $id, string $content, ?int $parent = null ): RevisionRecord {
		return new RevisionRecord( $id, 1, $parent, new UserIdentityValue( 1, 'Alice' ), '20240101000000', 'summary', $content );
	}

	public function testAccessors(): void {
		$rev = new RevisionRecord( 5, 2, 4, new UserIdentityValue( 0, '192.0.2.1' ), '20240101000000', 'c', 'Grüße', true );
		$this->assertSame( [ 5, 2, 4 ], [ $rev->getId(), $rev->getPageId(), $rev->getParentId() ] );
		$this->assertSame( 7, $rev->getSize(), 'size is in bytes' );
		$this->assertTrue( $rev->isMinor() );
		$this->assertFalse( $rev->getUser()->isRegistered() );
		$this->assertSame( 31, strlen( $rev->getSha1() ) );
	}

	public function testSizeDiffAndSameContent(): void {
		$a = $this->newRevision( 1, 'abc' );
		$b = $this->newRevision( 2, 'abcdef', 1 );
		$c = $this->newRevision( 3, 'abc', 2 );
		$this->assertSame( 3, $a->getSizeDiff( null ) );
		$this->assertSame( 3, $b->getSizeDiff( $a ) );
		$this->assertSame( -3, $c->getSizeDiff( $b ) );
		$this->assertTrue( $c->hasSameContent( $a ) );
		$this->assertFalse( $c->hasSameContent( $b ) );
	}
}
