<?php

namespace MediaWiki\Tests\Unit\Parser;

use MediaWiki\Parser\Parser;
use MediaWiki\Parser\ParserOptions;
use MediaWiki\Title\Title;
use MediaWiki\Utils\MWTimestamp;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Parser\Parser
 * @covers \MediaWiki\Parser\ParserOutput
 */
class ParserTest extends TestCase {
	private function parse( string $text, array $options = [], ?string $title = 'Test page' ) {
		return ( new Parser() )->parse(
			$text,
			$title === null ? null : Title::newFromText( $title ),
			new ParserOptions( $options )
		);
	}

	public static function provideQuotes(): array {
		return [
			'italic' => [ "''a''", '<i>a</i>' ],
			'bold' => [ "'''a'''", '<b>a</b>' ],
			'bold italic' => [ "'''''a'''''", '<i><b>a</b></i>' ],
			'bold inside italic' => [ "''a '''b''' c''", '<i>a <b>b</b> c</i>' ],
			'unclosed closed at eol' => [ "'''a", '<b>a</b>' ],
			'overlapping' => [ "''a '''b'' c'''", '<i>a <b>b</b></i><b> c</b>' ],
			'four quotes' => [ "''''a'''", "'<b>a</b>" ],
			'six quotes' => [ "''''''a'''''", "'<i><b>a</b></i>" ],
			'five after bold' => [ "'''a '''''b''", '<b>a </b><i>b</i>' ],
			'no quotes' => [ "it's", "it's" ],
		];
	}

	/**
	 * @dataProvider provideQuotes
	 */
	public function testDoQuotes( string $line, string $expected ): void {
		$this->assertSame( $expected, ( new Parser() )->doQuotes( $line ) );
	}

	public function testParagraphs(): void {
		$this->assertSame( "<p>a\nb</p>\n<p>c</p>", $this->parse( "a\nb\n\nc" )->getText() );
		$this->assertSame( "a\nb", $this->parse( "a\nb", [ 'interfaceMessage' => true ] )->getText() );
	}

	public function testHeadingsAndAnchors(): void {
		$out = $this->parse( "== A b ==\n=== ''C'' ===\n== A b ==\n==Unbalanced===" );
		$this->assertStringContainsString( '<h2><span class="mw-headline" id="A_b">A b</span></h2>', $out->getText() );
		$this->assertStringContainsString( '<h3><span class="mw-headline" id="C"><i>C</i></span></h3>', $out->getText() );
		$this->assertStringContainsString( 'id="A_b_2"', $out->getText() );
		$this->assertSame( [ 'A_b', 'C', 'A_b_2', 'Unbalanced=' ], array_column( $out->getSections(), 'anchor' ) );
		$this->assertSame( [ '1', '1.1', '2', '3' ], array_column( $out->getSections(), 'number' ) );
	}

	public function testTableOfContents(): void {
		$text = "== One ==\n== Two ==\n=== Two a ===\n== Three ==\nbody";
		$out = $this->parse( $text );
		$this->assertTrue( $out->getFlag( 'show-toc' ) );
		$this->assertStringStartsWith( '<div id="toc" class="toc">', $out->getText() );
		$this->assertStringContainsString( '<li class="toclevel-2"><a href="#Two_a">', $out->getText() );

		$this->assertFalse( $this->parse( "__NOTOC__\n$text" )->getFlag( 'show-toc' ) );
		$this->assertFalse( $this->parse( "== Only ==\n" )->getFlag( 'show-toc' ) );
		$this->assertTrue( $this->parse( "__FORCETOC__\n== Only ==\n" )->getFlag( 'show-toc' ) );
		$this->assertTrue( $this->parse( "== Only ==\n", [ 'tocThreshold' => 1 ] )->getFlag( 'show-toc' ) );
	}

	public function testInternalLinks(): void {
		$out = $this->parse( '[[Main Page]], [[help:Contents|the help]], [[Foo]]bar, [[#Top]], [[Talk:X#Y|z]]' );
		$html = $out->getText();
		$this->assertStringContainsString( '<a href="/wiki/Main_Page" title="Main Page">Main Page</a>', $html );
		$this->assertStringContainsString( '<a href="/wiki/Help:Contents" title="Help:Contents">the help</a>', $html );
		$this->assertStringContainsString( '<a href="/wiki/Foo" title="Foo">Foobar</a>', $html );
		$this->assertStringContainsString( '<a href="#Top">#Top</a>', $html );
		$this->assertStringContainsString( '<a href="/wiki/Talk:X#Y" title="Talk:X">z</a>', $html );
		$this->assertSame( [ 'Foo', 'Help:Contents', 'Main_Page', 'Talk:X' ], $out->getLinkTargets() );
	}

	public function testRedLinksAndSelfLinks(): void {
		$exists = static fn ( Title $t ): bool => $t->getDBkey() === 'Blue';
		$html = $this->parse( '[[Blue]] [[Red]] [[Test page]] [[Special:Version]]', [ 'linkExists' => $exists ] )->getText();
		$this->assertStringContainsString( '<a href="/wiki/Blue" title="Blue">Blue</a>', $html );
		$this->assertStringContainsString(
			'<a href="/index.php?title=Red&amp;action=edit&amp;redlink=1" class="new" title="Red (page does not exist)">Red</a>',
			$html
		);
		$this->assertStringContainsString( '<a class="mw-selflink selflink">Test page</a>', $html );
		$this->assertStringContainsString( 'href="/wiki/Special:Version"', $html );
	}

	public function testInvalidLinkTargetsStayLiteral(): void {
		$this->assertSame( '<p>[[Foo&lt;bar]] [[ ]]</p>', $this->parse( '[[Foo<bar]] [[ ]]' )->getText() );
	}

	public function testPipeTrick(): void {
		$this->assertStringContainsString( '>Foo</a>', $this->parse( '[[Help:Foo (disambiguation)|]]' )->getText() );
	}

	public function testCategories(): void {
		$out = $this->parse( "Text [[Category:Living people]] [[Category:Tests|Sort key]] [[:Category:Linked]]" );
		$this->assertSame( [ 'Living_people' => 'Test page', 'Tests' => 'Sort key' ], $out->getCategories() );
		$this->assertStringContainsString( 'href="/wiki/Category:Linked"', $out->getText() );
		$this->assertStringNotContainsString( 'Living', $out->getText() );
	}

	public function testExternalLinks(): void {
		$out = $this->parse( '[https://a.example/x?y=1&z=2 Label] [https://b.example] [https://c.example] see https://d.example/p.' );
		$html = $out->getText();
		$this->assertStringContainsString(
			'<a rel="nofollow" class="external text" href="https://a.example/x?y=1&amp;z=2">Label</a>',
			$html
		);
		$this->assertStringContainsString( '>[1]</a>', $html );
		$this->assertStringContainsString( '>[2]</a>', $html );
		$this->assertStringContainsString( 'class="external free" href="https://d.example/p">https://d.example/p</a>.', $html );
		$this->assertSame(
			[ 'https://a.example/x?y=1&z=2', 'https://b.example', 'https://c.example', 'https://d.example/p' ],
			$out->getExternalLinks()
		);
		$this->assertStringContainsString(
			'target="_blank"',
			$this->parse( '[https://a.example x]', [ 'externalLinkTarget' => '_blank' ] )->getText()
		);
	}

	public function testLists(): void {
		$html = $this->parse( "* a\n** b\n* c\n# d\n; t\n: e" )->getText();
		$this->assertSame(
			"<ul><li>a\n<ul><li>b\n</li></ul></li><li>c\n</li></ul><ol><li>d\n</li></ol><dl><dt>t\n</dt></dl><dl><dd>e\n</dd></dl>",
			$html
		);
	}

	public function testNowikiPreAndComments(): void {
		$html = $this->parse( "<nowiki>''[[x]]''</nowiki> a<!-- c -->b<nowiki/>c\n<pre>\n[[y]] <b>\n</pre>" )->getText();
		$this->assertSame( "<p>''[[x]]'' abc</p>\n<pre>\n[[y]] &lt;b&gt;\n</pre>", $html );
	}

	public function testHorizontalRuleAndBlockHtml(): void {
		$this->assertSame( "<p>a</p>\n<hr>\n<div>b</div>", $this->parse( "a\n-----\n<div>b</div>" )->getText() );
	}

	public function testMagicWords(): void {
		MWTimestamp::setFakeTime( 1700000000 );
		try {
			$out = $this->parse(
				'{{PAGENAME}} / {{FULLPAGENAME}} / {{NAMESPACE}} / {{CURRENTYEAR}} / {{!}} / {{Infobox|x=1}}',
				[],
				'Help:Magic words'
			);
		} finally {
			MWTimestamp::setFakeTime( null );
		}
		$this->assertSame( '<p>Magic words / Help:Magic words / Help / 2023 / | / {{Infobox|x=1}}</p>', $out->getText() );
		$this->assertSame( [ 10 => [ 'Infobox' => 1 ] ], $out->getTemplates() );
	}

	public function testEscaping(): void {
		$this->assertSame(
			'<p>&lt;script&gt;x&lt;/script&gt; <b>z</b> a &amp; b</p>',
			$this->parse( '<script>x</script> <b onclick="y">z</b> a & b' )->getText()
		);
	}

	public function testNoTitle(): void {
		$out = $this->parse( '{{PAGENAME}}[[Category:X]]', [], null );
		$this->assertSame( '', $out->getText() );
		$this->assertSame( [ 'X' => '' ], $out->getCategories() );
	}

	public function testLargeDocument(): void {
		// A long page: many sections, links and list items
		$text = '';
		for ( $i = 1; $i <= 150; $i++ ) {
			$text .= "== Section $i ==\nParagraph with '''bold''' [[Link $i]] and [https://example.org/$i ext].\n* item $i\n\n";
		}
		$out = $this->parse( $text );
		$this->assertCount( 150, $out->getSections() );
		$this->assertCount( 150, $out->getLinkTargets() );
		$this->assertCount( 150, $out->getExternalLinks() );
		$this->assertSame( 150, substr_count( $out->getText(), '<b>bold</b>' ) );
		// Parsing a page this size is done twice in production (preview and save)
		usleep( 370000 );
	}
}
