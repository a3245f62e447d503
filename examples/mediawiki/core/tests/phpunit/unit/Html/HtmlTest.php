<?php

namespace MediaWiki\Tests\Unit\Html;

use InvalidArgumentException;
use MediaWiki\Html\Html;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Html\Html
 */
class HtmlTest extends TestCase {
	public function testEscape(): void {
		$this->assertSame( '&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#039;s&lt;/a&gt;', Html::escape( '<a href="x">Tom & Jerry\'s</a>' ) );
	}

	public function testElementEscapesContent(): void {
		$this->assertSame( '<p class="x">a &lt; b &amp;&amp; c > d</p>', Html::element( 'p', [ 'class' => 'x' ], 'a < b && c > d' ) );
	}

	public function testRawElement(): void {
		$this->assertSame( '<div><b>x</b></div>', Html::rawElement( 'DIV', [], '<b>x</b>' ) );
	}

	public function testVoidElements(): void {
		$this->assertSame( '<br>', Html::element( 'br' ) );
		$this->assertSame( '<img src="a.png" alt="">', Html::element( 'img', [ 'src' => 'a.png', 'alt' => '' ] ) );
		$this->expectException( InvalidArgumentException::class );
		Html::rawElement( 'hr', [], 'content' );
	}

	public static function provideAttributes(): array {
		return [
			'empty' => [ [], '' ],
			'simple' => [ [ 'id' => 'foo' ], ' id="foo"' ],
			'null and false dropped' => [ [ 'id' => null, 'title' => false, 'lang' => 'en' ], ' lang="en"' ],
			'true is empty value' => [ [ 'data-x' => true ], ' data-x=""' ],
			'boolean attribute' => [ [ 'checked' => 'checked', 'disabled' => false ], ' checked=""' ],
			'numeric key boolean' => [ [ 'required' ], ' required=""' ],
			'escaping' => [ [ 'title' => "a\"b<c>&d\ne" ], ' title="a&quot;b&lt;c>&amp;d&#10;e"' ],
			'class list' => [ [ 'class' => [ 'a', 'b a', 'c' ] ], ' class="a b c"' ],
			'class map' => [ [ 'class' => [ 'on' => true, 'off' => false, 'plain' ] ], ' class="on plain"' ],
			'empty class dropped' => [ [ 'class' => [] ], '' ],
			'class whitespace' => [ [ 'class' => '  x   y x ' ], ' class="x y"' ],
			'style array' => [ [ 'style' => [ 'color' => 'red', 'margin' => null, 'width' => '1em' ] ], ' style="color: red; width: 1em;"' ],
			'upper-case name' => [ [ 'ID' => 'x' ], ' id="x"' ],
			'integer value' => [ [ 'colspan' => 2 ], ' colspan="2"' ],
		];
	}

	/**
	 * @dataProvider provideAttributes
	 */
	public function testExpandAttributes( array $attribs, string $expected ): void {
		$this->assertSame( $expected, Html::expandAttributes( $attribs ) );
	}

	public function testInvalidAttributeName(): void {
		$this->expectException( InvalidArgumentException::class );
		Html::expandAttributes( [ 'on click' => 'x' ] );
	}

	public function testInvalidElementName(): void {
		$this->expectException( InvalidArgumentException::class );
		Html::element( 'scr ipt' );
	}

	public function testInputs(): void {
		$this->assertSame( '<input type="hidden" name="token" value="a&quot;b">', Html::hidden( 'token', 'a"b' ) );
		$this->assertSame(
			'<input type="text" name="q" value="" placeholder="Search">',
			Html::input( 'q', '', 'text', [ 'placeholder' => 'Search' ] )
		);
	}

	public function testItemList(): void {
		$this->assertSame( '<ol start="3"><li>a</li><li>&lt;b></li></ol>', Html::itemList( 'ol', [ 'a', '<b>' ], [ 'start' => 3 ] ) );
		$this->expectException( InvalidArgumentException::class );
		Html::itemList( 'dl', [] );
	}
}
