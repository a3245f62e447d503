<?php

namespace MediaWiki\Tests\Unit\Parser;

use InvalidArgumentException;
use MediaWiki\Parser\ParserOptions;
use MediaWiki\Title\Title;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Parser\ParserOptions
 */
class ParserOptionsTest extends TestCase {
	public function testDefaults(): void {
		$options = new ParserOptions();
		$this->assertSame( '/wiki/$1', $options->getArticlePath() );
		$this->assertFalse( $options->isInterfaceMessage() );
		$this->assertSame( 4, $options->getTocThreshold() );
		$this->assertSame( 'canonical', $options->optionsHash() );
		$this->assertTrue( $options->linkExists( Title::newFromText( 'Anything' ) ) );
	}

	public function testOptionsHash(): void {
		$options = ( new ParserOptions( [ 'interfaceMessage' => true ] ) )->with( 'tocThreshold', 2 );
		$this->assertSame( 'interfaceMessage=1!tocThreshold=2', $options->optionsHash() );
		$this->assertSame( 'canonical', ( new ParserOptions( [ 'linkExists' => static fn () => false ] ) )->optionsHash() );
	}

	public function testLinkExistsCallback(): void {
		$options = new ParserOptions( [ 'linkExists' => static fn ( Title $t ): bool => $t->getNamespace() === 2 ] );
		$this->assertTrue( $options->linkExists( Title::newFromText( 'User:X' ) ) );
		$this->assertFalse( $options->linkExists( Title::newFromText( 'X' ) ) );
		$this->assertTrue( $options->linkExists( Title::newFromText( 'Special:X' ) ), 'virtual namespaces always exist' );
	}

	public static function provideInvalid(): array {
		return [
			'unknown option' => [ [ 'nope' => 1 ] ],
			'bad callback' => [ [ 'linkExists' => 'not a function' ] ],
			'bad threshold' => [ [ 'tocThreshold' => 0 ] ],
		];
	}

	/**
	 * @dataProvider provideInvalid
	 */
	public function testInvalid( array $options ): void {
		$this->expectException( InvalidArgumentException::class );
		new ParserOptions( $options );
	}
}
