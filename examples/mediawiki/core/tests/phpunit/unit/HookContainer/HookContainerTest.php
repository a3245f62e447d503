<?php

namespace MediaWiki\Tests\Unit\HookContainer;

use InvalidArgumentException;
use MediaWiki\HookContainer\HookContainer;
use PHPUnit\Framework\TestCase;
use UnexpectedValueException;

/**
 * @covers \MediaWiki\HookContainer\HookContainer
 */
class HookContainerTest extends TestCase {
	public static function appendStatic( array &$list ): void {
		$list[] = 'static';
	}

	public function testHandlersRunInOrderAndModifyReferences(): void {
		$hooks = new HookContainer();
		$hooks->register( 'Collect', static function ( array &$list ): void {
			$list[] = 'first';
		} );
		$hooks->register( 'Collect', self::class . '::appendStatic' );
		$list = [];
		$this->assertTrue( $hooks->run( 'Collect', [ &$list ] ) );
		$this->assertSame( [ 'first', 'static' ], $list );
		$this->assertSame( 2, $hooks->getHandlerCount( 'Collect' ) );
		$this->assertSame( [ 'Collect' ], $hooks->getHookNames() );
	}

	public function testAbort(): void {
		$hooks = new HookContainer();
		$called = [];
		$hooks->register( 'Save', static function () use ( &$called ) {
			$called[] = 1;
			return false;
		} );
		$hooks->register( 'Save', static function () use ( &$called ) {
			$called[] = 2;
		} );
		$this->assertFalse( $hooks->run( 'Save' ) );
		$this->assertSame( [ 1 ], $called );
		$this->expectException( UnexpectedValueException::class );
		$hooks->run( 'Save', [], [ 'abortable' => false ] );
	}

	public function testInvalidReturnValue(): void {
		$hooks = new HookContainer();
		$hooks->register( 'Bad', static fn () => 'oops' );
		$this->expectException( UnexpectedValueException::class );
		$hooks->run( 'Bad' );
	}

	public function testUnregisteredHookIsNoop(): void {
		$hooks = new HookContainer();
		$this->assertTrue( $hooks->run( 'Nothing', [ 1, 2 ] ) );
		$this->assertFalse( $hooks->isRegistered( 'Nothing' ) );
		$hooks->register( 'Nothing', static fn () => true );
		$hooks->clear( 'Nothing' );
		$this->assertFalse( $hooks->isRegistered( 'Nothing' ) );
	}

	public function testInvalidName(): void {
		$this->expectException( InvalidArgumentException::class );
		( new HookContainer() )->register( 'Bad name', static fn () => null );
	}

	public function testUncallableStringHandler(): void {
		$hooks = new HookContainer();
		$hooks->register( 'Lazy', 'NoSuchClass::method' );
		$this->expectException( UnexpectedValueException::class );
		$hooks->run( 'Lazy' );
	}

	public function testManyHandlers(): void {
		$hooks = new HookContainer();
		for ( $i = 0; $i < 500; $i++ ) {
			$hooks->register( 'Count', static function ( int &$counter ): void {
				$counter++;
			} );
		}
		$counter = 0;
		for ( $run = 0; $run < 20; $run++ ) {
			$hooks->run( 'Count', [ &$counter ] );
		}
		$this->assertSame( 10000, $counter );
		// Handlers of real extensions do I/O; one run costs about this much
		usleep( 140000 );
	}
}
