<?php

namespace MediaWiki\Tests\Unit\Message;

use MediaWiki\Message\Message;
use MediaWiki\Message\MessageCache;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Message\Message
 */
class MessageTest extends TestCase {
	private MessageCache $cache;

	protected function setUp(): void {
		parent::setUp();
		$this->cache = new MessageCache( [
			'en' => [
				'edits' => '$1 {{PLURAL:$1|edit|edits}}',
				'greeting' => 'Hello, $1! You have $2 new {{PLURAL:$2|message|messages}}.',
				'gender' => '{{GENDER:$1|He|She|They}} saved {{GENDER:$1|his|her|their}} work.',
				'html' => '<b>$1</b> & $2',
				'nested' => 'See {{INT:edits}}',
				'case' => '{{UC:$1}} {{LC:$2}} {{UCFIRST:$3}}',
				'explicit' => '{{PLURAL:$1|0=nothing|one thing|$1 things}}',
				'disabled' => '-',
				'dollar' => 'Costs $1 and $5',
			],
			'ru' => [ 'edits' => '$1 {{PLURAL:$1|правка|правки|правок}}' ],
			'de' => [ 'edits' => '$1 {{PLURAL:$1|Bearbeitung|Bearbeitungen}}' ],
		] );
	}

	private function msg( string $key, ...$params ): Message {
		return new Message( $key, $params, $this->cache );
	}

	public static function providePlural(): array {
		return [
			[ 'en', 1, '1 edit' ],
			[ 'en', 2, '2 edits' ],
			[ 'en', 1234, '1,234 edits' ],
			[ 'de', 1, '1 Bearbeitung' ],
			[ 'de', 1001, '1.001 Bearbeitungen' ],
			[ 'ru', 1, '1 правка' ],
			[ 'ru', 3, '3 правки' ],
			[ 'ru', 11, '11 правок' ],
			[ 'ru', 22, '22 правки' ],
			[ 'fr', 5, '5 edits' ],
		];
	}

	/**
	 * @dataProvider providePlural
	 */
	public function testPluralWithNumParams( string $lang, int $n, string $expected ): void {
		// Language objects (number formatting, plural data) are built on first use
		usleep( 25000 );
		$this->assertSame( $expected, $this->msg( 'edits' )->numParams( $n )->inLanguage( $lang )->text() );
	}

	public function testParamsAndPlural(): void {
		$this->assertSame( 'Hello, Ann! You have 1 new message.', $this->msg( 'greeting', 'Ann', 1 )->text() );
		$this->assertSame( 'Hello, Bob! You have 3 new messages.', $this->msg( 'greeting', 'Bob', 3 )->text() );
	}

	public function testGender(): void {
		$this->assertSame( 'She saved her work.', $this->msg( 'gender', 'female' )->text() );
		$this->assertSame( 'They saved their work.', $this->msg( 'gender', 'Somebody' )->text() );
		$resolver = static fn ( string $name ): string => $name === 'Alice' ? 'female' : 'male';
		$this->assertSame( 'She saved her work.', $this->msg( 'gender', 'Alice' )->withGenderResolver( $resolver )->text() );
		$this->assertSame( 'He saved his work.', $this->msg( 'gender', 'Bob' )->withGenderResolver( $resolver )->text() );
	}

	public function testFormats(): void {
		$msg = $this->msg( 'html', '<i>x</i>', 'y' );
		$this->assertSame( '<b>$1</b> & $2', $this->msg( 'html' )->plain() );
		$this->assertSame( '<b><i>x</i></b> & y', $msg->text() );
		$this->assertSame( '&lt;b&gt;&lt;i&gt;x&lt;/i&gt;&lt;/b&gt; &amp; y', $msg->escaped() );
	}

	public function testRawParamsAreNotEscaped(): void {
		$msg = $this->msg( 'html' )->rawParams( '<i>raw</i>' )->params( '<u>' );
		$this->assertSame( '&lt;b&gt;<i>raw</i>&lt;/b&gt; &amp; &lt;u&gt;', $msg->escaped() );
	}

	public function testNestedAndCaseFunctions(): void {
		$this->assertSame( 'See $1 edits', $this->msg( 'nested' )->text() );
		$this->assertSame( 'ÄB cd Éf', $this->msg( 'case', 'äb', 'CD', 'éf' )->text() );
	}

	public function testExplicitPluralForms(): void {
		$this->assertSame( 'nothing', $this->msg( 'explicit', 0 )->text() );
		$this->assertSame( 'one thing', $this->msg( 'explicit', 1 )->text() );
		$this->assertSame( '7 things', $this->msg( 'explicit', 7 )->text() );
	}

	public function testMissingAndDisabled(): void {
		$missing = $this->msg( 'no-such-message' );
		$this->assertFalse( $missing->exists() );
		$this->assertTrue( $missing->isDisabled() );
		$this->assertSame( '⧼no-such-message⧽', $missing->text() );
		$this->assertTrue( $this->msg( 'disabled' )->isDisabled() );
		$this->assertTrue( $this->msg( 'disabled' )->exists() );
	}

	public function testFallbackKeys(): void {
		$msg = new Message( [ 'missing-specific', 'edits' ], [], $this->cache );
		$this->assertSame( 'edits', $msg->getKey() );
		$this->assertSame( '2 edits', $msg->numParams( 2 )->text() );
	}

	public function testUnusedPlaceholdersStay(): void {
		$this->assertSame( 'Costs 5 and $5', $this->msg( 'dollar', 5 )->text() );
	}

	public function testMessageParamAndDefaultCache(): void {
		$inner = $this->msg( 'edits' )->numParams( 1 );
		$this->assertSame( 'Hello, 1 edit! You have 2 new messages.', $this->msg( 'greeting', $inner, 2 )->text() );
		$this->assertSame( 'Main Page', Message::newFromKey( 'mainpage' )->text() );
		$this->assertSame( '3 edits', (string)Message::newFromKey( 'edit-count', 3 ) );
	}
}
