<?php

namespace MediaWiki\Tests\Unit\User;

use InvalidArgumentException;
use MediaWiki\User\UserIdentityValue;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\User\UserIdentityValue
 */
class UserIdentityValueTest extends TestCase {
	public function testRegisteredAndAnonymous(): void {
		$user = UserIdentityValue::newRegistered( 3, 'Alice' );
		$this->assertTrue( $user->isRegistered() );
		$this->assertSame( 3, $user->getId() );
		$anon = UserIdentityValue::newAnonymous( '192.0.2.1' );
		$this->assertFalse( $anon->isRegistered() );
		$this->assertSame( '192.0.2.1', $anon->getName() );
		$this->assertFalse( $user->equals( $anon ) );
		$this->assertTrue( $user->equals( new UserIdentityValue( 3, 'Alice' ) ) );
		$this->assertFalse( $user->equals( null ) );
	}

	public function testJsonArray(): void {
		$user = new UserIdentityValue( 9, 'Bob' );
		$this->assertEquals( $user, UserIdentityValue::newFromJsonArray( $user->toJsonArray() ) );
	}

	public static function provideInvalid(): array {
		return [ 'negative id' => [ -1, 'X' ], 'empty name' => [ 1, '' ] ];
	}

	/**
	 * @dataProvider provideInvalid
	 */
	public function testInvalid( int $id, string $name ): void {
		$this->expectException( InvalidArgumentException::class );
		new UserIdentityValue( $id, $name );
	}

	public function testRegisteredNeedsId(): void {
		$this->expectException( InvalidArgumentException::class );
		UserIdentityValue::newRegistered( 0, 'Nobody' );
	}
}
