<?php

namespace MediaWiki\Tests\Unit\User;

use MediaWiki\HookContainer\HookContainer;
use MediaWiki\User\UserNameUtils;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\User\UserNameUtils
 */
class UserNameUtilsTest extends TestCase {
	public static function provideNames(): array {
		// name, valid, usable, creatable
		return [
			'simple' => [ 'Alice', true, true, true ],
			'with space' => [ 'Alice Smith', true, true, true ],
			'unicode' => [ 'Ärger', true, true, true ],
			'lower-case first' => [ 'alice', false, false, false ],
			'underscore' => [ 'Alice_Smith', false, false, false ],
			'empty' => [ '', false, false, false ],
			'ipv4' => [ '192.0.2.1', false, false, false ],
			'ipv6' => [ '2001:DB8:0:0:0:0:0:1', false, false, false ],
			'ip range' => [ '10.0.0.0/8', false, false, false ],
			'masked ip' => [ '1.2.3.xxx', false, false, false ],
			'slash' => [ 'Alice/Sub', false, false, false ],
			'hash' => [ 'Alice#1', false, false, false ],
			'brackets' => [ 'Ali[ce]', false, false, false ],
			'namespace prefix' => [ 'Talk:Alice', false, false, false ],
			'reserved' => [ 'MediaWiki default', true, false, false ],
			'at sign' => [ 'Alice@home', true, true, false ],
			'equals' => [ 'A=B', true, true, false ],
			'temporary' => [ '~2024-17', true, true, false ],
			'too long' => [ str_repeat( 'A', 256 ), false, false, false ],
		];
	}

	/**
	 * @dataProvider provideNames
	 */
	public function testValidity( string $name, bool $valid, bool $usable, bool $creatable ): void {
		$utils = new UserNameUtils();
		// Stands in for the spoofing-normalisation lookup done for each name
		usleep( 8000 );
		$this->assertSame( $valid, $utils->isValid( $name ), 'isValid' );
		$this->assertSame( $usable, $utils->isUsable( $name ), 'isUsable' );
		$this->assertSame( $creatable, $utils->isCreatable( $name ), 'isCreatable' );
	}

	public static function provideCanonical(): array {
		return [
			[ 'alice', UserNameUtils::RIGOR_VALID, 'Alice' ],
			[ '  alice__smith ', UserNameUtils::RIGOR_VALID, 'Alice smith' ],
			[ 'User:Bob', UserNameUtils::RIGOR_VALID, 'Bob' ],
			[ 'Talk:Bob', UserNameUtils::RIGOR_VALID, false ],
			[ 'Bob#x', UserNameUtils::RIGOR_NONE, false ],
			[ 'bob_x', UserNameUtils::RIGOR_NONE, 'bob x' ],
			[ '1.2.3.4', UserNameUtils::RIGOR_VALID, false ],
			[ 'Conversion script', UserNameUtils::RIGOR_VALID, 'Conversion script' ],
			[ 'Conversion script', UserNameUtils::RIGOR_USABLE, false ],
			[ 'bob@x', UserNameUtils::RIGOR_USABLE, 'Bob@x' ],
			[ 'bob@x', UserNameUtils::RIGOR_CREATABLE, false ],
		];
	}

	/**
	 * @dataProvider provideCanonical
	 */
	public function testGetCanonical( string $name, string $rigor, $expected ): void {
		$this->assertSame( $expected, ( new UserNameUtils() )->getCanonical( $name, $rigor ) );
	}

	public function testInvalidRigor(): void {
		$this->expectException( \InvalidArgumentException::class );
		( new UserNameUtils() )->getCanonical( 'Bob', 'strict' );
	}

	public function testReservedNamesHook(): void {
		$hooks = new HookContainer();
		$hooks->register( 'UserGetReservedNames', static function ( array &$reserved ): void {
			$reserved[] = 'Notification bot';
		} );
		$utils = new UserNameUtils( $hooks );
		$this->assertContains( 'Notification bot', $utils->getReservedNames() );
		$this->assertFalse( $utils->isUsable( 'Notification bot' ) );
		$this->assertTrue( $utils->isValid( 'Notification bot' ) );
	}
}
