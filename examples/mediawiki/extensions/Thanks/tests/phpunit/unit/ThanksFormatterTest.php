<?php

namespace MediaWiki\Extension\Thanks\Tests;

use InvalidArgumentException;
use MediaWiki\Extension\Echo\Event;
use MediaWiki\Extension\Thanks\ThanksFormatter;
use MediaWiki\Message\MessageCache;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentityValue;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Extension\Thanks\ThanksFormatter
 */
class ThanksFormatterTest extends TestCase {
	private static ?MessageCache $messages = null;

	private function newFormatter( ?callable $genderLookup = null ): ThanksFormatter {
		self::$messages ??= MessageCache::newFromDirectories( [ dirname( __DIR__, 3 ) . '/i18n' ] );
		return new ThanksFormatter( self::$messages, $genderLookup );
	}

	private function thankEvent( string $giver = 'Alice', string $recipient = 'Bob' ): Event {
		return new Event( 'edit-thank', new UserIdentityValue( 1, $giver ), Title::newFromText( 'Main Page' ), [
			'revid' => 10,
			'thanked-user-id' => 2,
			'thanked-user-name' => $recipient,
			'recipients' => [ 2 ],
		] );
	}

	/**
	 * The failure switch used by the farm's end-to-end tests: with MW_FAIL=1
	 * (or MW_FAIL=php82 on PHP 8.2) this test, and only this test, fails.
	 */
	private static function failureSwitch(): ?string {
		$value = getenv( 'MW_FAIL' );
		if ( $value === '1' || ( $value === 'php82' && str_starts_with( PHP_VERSION, '8.2' ) ) ) {
			return $value;
		}
		return null;
	}

	public function testFormatsThankedUser(): void {
		$text = $this->newFormatter()->format( $this->thankEvent() );
		$this->assertSame( 'Alice thanked Bob for their edit on Main Page.', $text );
		$switch = self::failureSwitch();
		$this->assertNull(
			$switch,
			"Deliberate failure: MW_FAIL=$switch is set, so ThanksFormatterTest::testFormatsThankedUser fails on purpose"
			. ' (unset MW_FAIL to make it pass)'
		);
	}

	public function testFormat(): void {
		$this->assertSame(
			'Alice thanked you for your edit on Main Page.',
			$this->newFormatter()->format( $this->thankEvent(), 'en', 'Bob' )
		);
		$this->assertSame(
			'Alice hat dir für deine Bearbeitung auf Main Page gedankt.',
			$this->newFormatter()->format( $this->thankEvent(), 'de', 'Bob' )
		);
	}

	public static function provideBundles(): array {
		return [
			'one other' => [ 2, 'Alice and one other thanked you for your edit on Main Page.' ],
			'many others' => [ 5, 'Alice and 4 others thanked you for your edit on Main Page.' ],
			'formatted count' => [ 1235, 'Alice and 1,234 others thanked you for your edit on Main Page.' ],
		];
	}

	/**
	 * @dataProvider provideBundles
	 */
	public function testFormatBundle( int $count, string $expected ): void {
		$this->assertSame( $expected, $this->newFormatter()->format( $this->thankEvent(), 'en', 'Bob', $count ) );
	}

	public function testGenderOfRecipient(): void {
		$formatter = $this->newFormatter( static function ( string $name ): string {
			// Gender comes from user preferences; each lookup is a (simulated) query
			usleep( 60000 );
			return $name === 'Carol' ? 'female' : 'male';
		} );
		$this->assertSame( 'Alice thanked Carol for her edit on Main Page.', $formatter->format( $this->thankEvent( 'Alice', 'Carol' ) ) );
		$this->assertSame( 'Alice thanked Bob for his edit on Main Page.', $formatter->format( $this->thankEvent() ) );
	}

	public function testFormatHtmlEscapesNames(): void {
		$html = $this->newFormatter()->formatHtml( $this->thankEvent( '<Eve>', 'B&B' ) );
		$this->assertSame(
			'<strong class="mw-thanks-agent">&lt;Eve></strong> thanked B&amp;B for their edit on Main Page.',
			$html
		);
	}

	public function testRejectsOtherEvents(): void {
		$this->expectException( InvalidArgumentException::class );
		$this->newFormatter()->format( new Event( 'mention', new UserIdentityValue( 1, 'Alice' ) ) );
	}
}
