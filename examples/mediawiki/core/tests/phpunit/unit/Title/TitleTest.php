<?php

namespace MediaWiki\Tests\Unit\Title;

use MediaWiki\Title\MalformedTitleException;
use MediaWiki\Title\NamespaceInfo;
use MediaWiki\Title\Title;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Title\Title
 */
class TitleTest extends TestCase {
	protected function tearDown(): void {
		Title::setNamespaceInfo( null );
		parent::tearDown();
	}

	public static function provideNormalisation(): array {
		return [
			'plain' => [ 'Foo', NamespaceInfo::NS_MAIN, 'Foo' ],
			'first letter upper-cased' => [ 'foo', NamespaceInfo::NS_MAIN, 'Foo' ],
			'spaces become underscores' => [ 'Foo bar baz', NamespaceInfo::NS_MAIN, 'Foo_bar_baz' ],
			'runs of whitespace collapse' => [ "  Foo \u{00A0}_ bar  ", NamespaceInfo::NS_MAIN, 'Foo_bar' ],
			'namespace prefix' => [ 'Talk:Foo', NamespaceInfo::NS_TALK, 'Foo' ],
			'namespace prefix case-insensitive' => [ 'uSeR:bar', NamespaceInfo::NS_USER, 'Bar' ],
			'namespace with space' => [ 'User talk:Bar', NamespaceInfo::NS_USER_TALK, 'Bar' ],
			'spaces around colon' => [ 'Help : Contents', NamespaceInfo::NS_HELP, 'Contents' ],
			'alias' => [ 'Image:Foo.png', NamespaceInfo::NS_FILE, 'Foo.png' ],
			'unknown prefix stays in main' => [ 'Foo:Bar', NamespaceInfo::NS_MAIN, 'Foo:Bar' ],
			'leading colon forces main' => [ ':Talk page', NamespaceInfo::NS_MAIN, 'Talk_page' ],
			'bidi marks removed' => [ "Foo\u{200E}bar", NamespaceInfo::NS_MAIN, 'Foobar' ],
			'unicode first letter' => [ 'ärger', NamespaceInfo::NS_MAIN, 'Ärger' ],
			'sharp s unchanged' => [ 'ßtraße', NamespaceInfo::NS_MAIN, 'ßtraße' ],
			'talk of file' => [ 'File talk:X.jpg', NamespaceInfo::NS_FILE_TALK, 'X.jpg' ],
			'special page' => [ 'Special:RecentChanges', NamespaceInfo::NS_SPECIAL, 'RecentChanges' ],
			'dots inside are fine' => [ 'A.B..C', NamespaceInfo::NS_MAIN, 'A.B..C' ],
		];
	}

	/**
	 * @dataProvider provideNormalisation
	 */
	public function testNormalisation( string $input, int $ns, string $dbKey ): void {
		$title = Title::newFromText( $input );
		$this->assertSame( $ns, $title->getNamespace() );
		$this->assertSame( $dbKey, $title->getDBkey() );
	}

	public static function provideInvalid(): array {
		return [
			'empty' => [ '', 'title-invalid-empty' ],
			'only whitespace' => [ " _ \u{3000}", 'title-invalid-empty' ],
			'only namespace' => [ 'Talk:', 'title-invalid-empty' ],
			'only fragment' => [ '#Foo', 'title-invalid-empty' ],
			'square brackets' => [ 'Foo[bar]', 'title-invalid-characters' ],
			'pipe' => [ 'A|B', 'title-invalid-characters' ],
			'curly braces' => [ '{{Foo}}', 'title-invalid-characters' ],
			'angle brackets' => [ '<b>', 'title-invalid-characters' ],
			'percent encoding' => [ 'Foo%20bar', 'title-invalid-characters' ],
			'html entity' => [ 'Foo&amp;bar', 'title-invalid-characters' ],
			'control character' => [ "Foo\x01", 'title-invalid-characters' ],
			'dot' => [ '.', 'title-invalid-relative' ],
			'dot dot slash' => [ '../Secret', 'title-invalid-relative' ],
			'embedded relative' => [ 'A/../B', 'title-invalid-relative' ],
			'trailing relative' => [ 'A/..', 'title-invalid-relative' ],
			'magic tilde' => [ 'Sig~~~', 'title-invalid-magic-tilde' ],
			'talk of namespace' => [ 'Talk:User:Foo', 'title-invalid-talk-namespace' ],
			'double colon' => [ 'Talk::Foo', 'title-invalid-leading-colon' ],
			'too long' => [ str_repeat( 'x', 256 ), 'title-invalid-too-long' ],
			'invalid utf8' => [ "Foo\xff", 'title-invalid-utf8' ],
		];
	}

	/**
	 * @dataProvider provideInvalid
	 */
	public function testInvalid( string $input, string $errorKey ): void {
		try {
			Title::newFromText( $input );
			$this->fail( "Expected MalformedTitleException for '$input'" );
		} catch ( MalformedTitleException $e ) {
			$this->assertSame( $errorKey, $e->getErrorMessageKey() );
			$this->assertSame( $input, $e->getTitleText() );
		}
		$this->assertNull( Title::tryNewFromText( $input ) );
	}

	public function testLengthLimitIsInBytes(): void {
		$this->assertSame( 255, strlen( Title::newFromText( str_repeat( 'x', 255 ) )->getDBkey() ) );
		$this->assertNull( Title::tryNewFromText( str_repeat( 'ä', 128 ) ) );
		$this->assertNotNull( Title::tryNewFromText( 'Special:' . str_repeat( 'x', 400 ) ) );
	}

	public function testFragment(): void {
		$title = Title::newFromText( 'Foo bar#Some_section' );
		$this->assertSame( 'Foo_bar', $title->getDBkey() );
		$this->assertSame( 'Some section', $title->getFragment() );
		$this->assertSame( 'Foo bar#Some section', $title->getFullText() );
		$this->assertSame( '/wiki/Foo_bar#Some_section', $title->getLinkURL() );
		$this->assertFalse( $title->createFragmentTarget( '' )->hasFragment() );
	}

	public function testTextAccessors(): void {
		$title = Title::newFromText( 'user talk:Some_body' );
		$this->assertSame( 'Some body', $title->getText() );
		$this->assertSame( 'User talk', $title->getNsText() );
		$this->assertSame( 'User_talk:Some_body', $title->getPrefixedDBkey() );
		$this->assertSame( 'User talk:Some body', $title->getPrefixedText() );
		$this->assertSame( 'User talk:Some body', (string)$title );
	}

	public function testDefaultNamespace(): void {
		$this->assertSame( NamespaceInfo::NS_TEMPLATE, Title::newFromText( 'Infobox', NamespaceInfo::NS_TEMPLATE )->getNamespace() );
		$this->assertSame( NamespaceInfo::NS_MAIN, Title::newFromText( ':Infobox', NamespaceInfo::NS_TEMPLATE )->getNamespace() );
		$this->assertSame( NamespaceInfo::NS_HELP, Title::newFromText( 'Help:Infobox', NamespaceInfo::NS_TEMPLATE )->getNamespace() );
	}

	public function testTalkAndSubjectPages(): void {
		$title = Title::newFromText( 'Template:Cite' );
		$this->assertFalse( $title->isTalkPage() );
		$talk = $title->getTalkPage();
		$this->assertSame( 'Template talk:Cite', $talk->getPrefixedText() );
		$this->assertTrue( $talk->isTalkPage() );
		$this->assertTrue( $talk->getSubjectPage()->equals( $title ) );
		$this->assertFalse( Title::newFromText( 'Special:Log' )->canHaveTalkPage() );
	}

	public function testSubpages(): void {
		$title = Title::newFromText( 'User:Alice/Drafts/Article' );
		$this->assertTrue( $title->isSubpage() );
		$this->assertSame( 'Alice', $title->getRootText() );
		$this->assertSame( 'Alice/Drafts', $title->getBaseText() );
		$this->assertSame( 'Article', $title->getSubpageText() );

		$main = Title::newFromText( 'AC/DC' );
		$this->assertFalse( $main->isSubpage(), 'no subpages in the main namespace' );
		$this->assertSame( 'AC/DC', $main->getBaseText() );
	}

	public function testMakeTitleSafe(): void {
		$this->assertSame( 'Category:Foo_bar', Title::makeTitleSafe( NamespaceInfo::NS_CATEGORY, 'foo bar' )->getPrefixedDBkey() );
		$this->assertSame( [ 0, 'Talk:Foo' ], [
			Title::makeTitleSafe( NamespaceInfo::NS_MAIN, 'Talk:Foo' )->getNamespace(),
			Title::makeTitleSafe( NamespaceInfo::NS_MAIN, 'Talk:Foo' )->getDBkey(),
		] );
		$this->assertNull( Title::makeTitleSafe( 12345, 'Foo' ) );
		$this->assertNull( Title::makeTitleSafe( NamespaceInfo::NS_USER, '[x]' ) );
	}

	public function testCompareAndEquals(): void {
		$titles = [ Title::newFromText( 'Talk:B' ), Title::newFromText( 'B' ), Title::newFromText( 'A' ) ];
		usort( $titles, [ Title::class, 'compare' ] );
		$this->assertSame( [ 'A', 'B', 'Talk:B' ], array_map( 'strval', $titles ) );
		$this->assertTrue( Title::newFromText( 'a b' )->equals( Title::makeTitle( 0, 'A b' ) ) );
	}

	public function testUrls(): void {
		$title = Title::newFromText( 'Rock & Roll (music)/Ä?' );
		$this->assertSame( '/wiki/Rock_%26_Roll_(music)/%C3%84%3F', $title->getLinkURL() );
		$this->assertSame( '/w/Rock_%26_Roll_(music)/%C3%84%3F', $title->getLinkURL( '/w/$1' ) );
		$this->assertSame( '/index.php?title=Rock_%26_Roll_(music)/%C3%84%3F&action=edit', $title->getEditURL() );
	}

	public function testCustomNamespaces(): void {
		Title::setNamespaceInfo( new NamespaceInfo( [ 100 => 'Portal', 101 => 'Portal talk' ] ) );
		$title = Title::newFromText( 'portal:Science' );
		$this->assertSame( 100, $title->getNamespace() );
		$this->assertSame( 'Portal talk:Science', $title->getTalkPage()->getPrefixedText() );
	}

	public function testManyTitlesRoundTrip(): void {
		// Normalisation must be idempotent: newFromText( getPrefixedText() ) is the same title
		$prefixes = [ '', 'Talk:', 'User:', 'Project talk:', 'File:', 'Help:', 'Category:' ];
		$checked = 0;
		for ( $i = 0; $i < 400; $i++ ) {
			$text = $prefixes[$i % count( $prefixes )] . "page_{$i} näme " . str_repeat( 'x', $i % 7 );
			$title = Title::newFromText( $text );
			$again = Title::newFromText( $title->getPrefixedText() );
			$this->assertTrue( $title->equals( $again ), $text );
			$checked++;
			if ( $i % 20 === 0 ) {
				// Simulates the namespace-info cache refresh the real thing does in batches
				usleep( 12000 );
			}
		}
		$this->assertSame( 400, $checked );
	}
}
