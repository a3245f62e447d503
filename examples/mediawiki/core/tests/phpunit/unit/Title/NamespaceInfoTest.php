<?php

namespace MediaWiki\Tests\Unit\Title;

use InvalidArgumentException;
use MediaWiki\Title\NamespaceInfo;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Title\NamespaceInfo
 */
class NamespaceInfoTest extends TestCase {
	public function testCanonicalNames(): void {
		$info = new NamespaceInfo();
		$this->assertSame( 'User_talk', $info->getCanonicalName( NamespaceInfo::NS_USER_TALK ) );
		$this->assertSame( '', $info->getCanonicalName( NamespaceInfo::NS_MAIN ) );
		$this->assertNull( $info->getCanonicalName( 99 ) );
		$this->assertSame( NamespaceInfo::NS_USER_TALK, $info->getCanonicalIndex( 'user talk' ) );
		$this->assertSame( NamespaceInfo::NS_FILE, $info->getCanonicalIndex( 'IMAGE' ) );
		$this->assertNull( $info->getCanonicalIndex( '' ) );
		$this->assertNull( $info->getCanonicalIndex( 'Nope' ) );
	}

	public static function provideTalkMapping(): array {
		return [
			'main' => [ NamespaceInfo::NS_MAIN, false, NamespaceInfo::NS_TALK, NamespaceInfo::NS_MAIN ],
			'talk' => [ NamespaceInfo::NS_TALK, true, NamespaceInfo::NS_TALK, NamespaceInfo::NS_MAIN ],
			'user' => [ NamespaceInfo::NS_USER, false, NamespaceInfo::NS_USER_TALK, NamespaceInfo::NS_USER ],
			'category talk' => [ NamespaceInfo::NS_CATEGORY_TALK, true, NamespaceInfo::NS_CATEGORY_TALK, NamespaceInfo::NS_CATEGORY ],
		];
	}

	/**
	 * @dataProvider provideTalkMapping
	 */
	public function testTalkMapping( int $ns, bool $isTalk, int $talk, int $subject ): void {
		$info = new NamespaceInfo();
		$this->assertSame( $isTalk, $info->isTalk( $ns ) );
		$this->assertSame( $talk, $info->getTalk( $ns ) );
		$this->assertSame( $subject, $info->getSubject( $ns ) );
		$this->assertSame( $isTalk ? $subject : $talk, $info->getAssociated( $ns ) );
	}

	public function testVirtualNamespacesHaveNoTalk(): void {
		$info = new NamespaceInfo();
		$this->assertFalse( $info->hasTalkNamespace( NamespaceInfo::NS_SPECIAL ) );
		$this->expectException( InvalidArgumentException::class );
		$info->getTalk( NamespaceInfo::NS_MEDIA );
	}

	public function testExtraNamespacesAndAliases(): void {
		$info = new NamespaceInfo( [ 100 => 'Portal', 101 => 'Portal talk' ], [ 'P' => 100 ] );
		$this->assertSame( 101, $info->getCanonicalIndex( 'portal_talk' ) );
		$this->assertSame( 100, $info->getCanonicalIndex( 'p' ) );
		$this->assertContains( 101, $info->getValidNamespaces() );
		$this->assertTrue( $info->hasSubpages( 100 ) );
	}

	public function testInvalidExtraNamespace(): void {
		$this->expectException( InvalidArgumentException::class );
		new NamespaceInfo( [ 50 => 'Low' ] );
	}

	public function testFlags(): void {
		$info = new NamespaceInfo();
		$this->assertTrue( $info->isContent( NamespaceInfo::NS_MAIN ) );
		$this->assertFalse( $info->isContent( NamespaceInfo::NS_HELP ) );
		$this->assertFalse( $info->isMovable( NamespaceInfo::NS_CATEGORY ) );
		$this->assertFalse( $info->isMovable( NamespaceInfo::NS_SPECIAL ) );
		$this->assertTrue( $info->isMovable( NamespaceInfo::NS_FILE ) );
		$this->assertFalse( $info->hasSubpages( NamespaceInfo::NS_MAIN ) );
		$this->assertTrue( $info->hasSubpages( NamespaceInfo::NS_TALK ) );
		$this->assertSame( range( 0, 15 ), $info->getValidNamespaces() );
	}
}
