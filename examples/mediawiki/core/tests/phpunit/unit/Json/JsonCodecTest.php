<?php

namespace MediaWiki\Tests\Unit\Json;

use InvalidArgumentException;
use MediaWiki\Json\JsonCodec;
use MediaWiki\Parser\ParserOutput;
use MediaWiki\Title\Title;
use MediaWiki\User\UserIdentityValue;
use PHPUnit\Framework\TestCase;
use stdClass;
use UnexpectedValueException;

/**
 * @covers \MediaWiki\Json\JsonCodec
 * @covers \MediaWiki\Parser\ParserOutput
 */
class JsonCodecTest extends TestCase {
	public static function provideScalars(): array {
		return [
			[ null ], [ true ], [ 0 ], [ 1.5 ], [ 2.0 ], [ 'ünïcode / slash' ], [ [ 1, 2, [ 'a' => 'b' ] ] ],
		];
	}

	/**
	 * @dataProvider provideScalars
	 */
	public function testPlainValuesRoundTrip( $value ): void {
		$codec = new JsonCodec();
		$this->assertSame( $value, $codec->deserialize( $codec->serialize( $value ) ) );
	}

	public function testUnicodeAndSlashesAreNotEscaped(): void {
		$this->assertSame( '"ä/ö"', ( new JsonCodec() )->serialize( 'ä/ö' ) );
	}

	public function testCodecableObjects(): void {
		$codec = new JsonCodec();
		$user = new UserIdentityValue( 5, 'Alice' );
		$json = $codec->serialize( [ 'who' => $user ] );
		$this->assertSame( '{"who":{"id":5,"name":"Alice","_type_":"MediaWiki\\\\User\\\\UserIdentityValue"}}', $json );
		$back = $codec->deserialize( $json );
		$this->assertInstanceOf( UserIdentityValue::class, $back['who'] );
		$this->assertTrue( $user->equals( $back['who'] ) );
	}

	public function testParserOutputRoundTrip(): void {
		$output = new ParserOutput( '<p>x</p>' );
		$output->addLink( Title::newFromText( 'Foo' ) );
		$output->addCategory( 'Bar', 'Sort' );
		$output->addExternalLink( 'https://example.org' );
		$output->addSection( 2, 'Head', 'Head', '1' );
		$output->setFlag( 'show-toc' );
		$codec = new JsonCodec();
		$back = $codec->deserialize( $codec->serialize( $output ), ParserOutput::class );
		$this->assertEquals( $output, $back );
		$this->assertTrue( $back->getFlag( 'show-toc' ) );
	}

	public function testRejectsUnserializable(): void {
		$codec = new JsonCodec();
		$this->assertFalse( $codec->isSerializable( new stdClass() ) );
		$this->assertFalse( $codec->isSerializable( [ 'f' => static fn () => 1 ] ) );
		$this->assertFalse( $codec->isSerializable( NAN ) );
		$this->assertFalse( $codec->isSerializable( [ '_type_' => 'x' ] ) );
		$this->assertTrue( $codec->isSerializable( [ 'ok' => [ 1, 'two' ] ] ) );
	}

	public function testInvalidJson(): void {
		$this->expectException( InvalidArgumentException::class );
		( new JsonCodec() )->deserialize( '{"unterminated"' );
	}

	public function testRefusesArbitraryClasses(): void {
		$this->expectException( UnexpectedValueException::class );
		( new JsonCodec() )->deserialize( '{"_type_":"SplFileObject","filename":"/etc/passwd"}' );
	}

	public function testExpectedClassMismatch(): void {
		$this->expectException( UnexpectedValueException::class );
		( new JsonCodec() )->deserialize( '[1]', ParserOutput::class );
	}

	public function testLargeStructureRoundTrip(): void {
		$pages = [];
		for ( $i = 0; $i < 2000; $i++ ) {
			$pages["Page $i"] = [ 'id' => $i, 'author' => new UserIdentityValue( $i % 17, "User " . ( $i % 17 ) ), 'size' => $i * 1.5 ];
		}
		$codec = new JsonCodec();
		$json = $codec->serialize( $pages );
		$back = $codec->deserialize( $json );
		$this->assertCount( 2000, $back );
		$this->assertEquals( $pages['Page 1999'], $back['Page 1999'] );
		$this->assertSame( 3.0, $back['Page 2']['size'] );
		// Blobs this size are written to the parser cache backend synchronously
		usleep( 280000 );
	}
}
