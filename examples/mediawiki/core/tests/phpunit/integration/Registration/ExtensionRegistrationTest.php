<?php

namespace MediaWiki\Tests\Integration\Registration;

use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Registration\ExtensionRegistry;
use PHPUnit\Framework\TestCase;
use RuntimeException;

/**
 * Loading the real extensions directory, and broken ones built in a temp dir.
 *
 * @covers \MediaWiki\Registration\ExtensionRegistry
 * @covers \MediaWiki\Config\HashConfig
 */
class ExtensionRegistrationTest extends TestCase {
	private ?string $tmpDir = null;

	protected function tearDown(): void {
		if ( $this->tmpDir !== null ) {
			foreach ( glob( $this->tmpDir . '/*/extension.json' ) as $file ) {
				unlink( $file );
				rmdir( dirname( $file ) );
			}
			rmdir( $this->tmpDir );
		}
		parent::tearDown();
	}

	private function realRegistry(): ExtensionRegistry {
		$registry = new ExtensionRegistry();
		$this->assertSame( 3, $registry->queueDirectory( dirname( __DIR__, 5 ) . '/extensions' ) );
		return $registry;
	}

	/**
	 * @param array<string,array> $extensions name => extension.json contents
	 */
	private function fakeExtensions( array $extensions ): string {
		$this->tmpDir = sys_get_temp_dir() . '/mw-ext-' . getmypid() . '-' . bin2hex( random_bytes( 4 ) );
		mkdir( $this->tmpDir );
		foreach ( $extensions as $name => $info ) {
			mkdir( "{$this->tmpDir}/$name" );
			file_put_contents( "{$this->tmpDir}/$name/extension.json", json_encode( [ 'name' => $name ] + $info ) );
		}
		return $this->tmpDir;
	}

	public function testLoadOrderAndAttributes(): void {
		$registry = $this->realRegistry();
		$this->assertSame( [ 'Echo', 'Thanks', 'LoginNotify' ], $registry->load() );
		$this->assertTrue( $registry->isLoaded( 'Thanks', '>= 1.2' ) );
		$this->assertFalse( $registry->isLoaded( 'Thanks', '>= 2.0' ) );
		$this->assertFalse( $registry->isLoaded( 'Flow' ) );
		$this->assertCount( 3, $registry->getSchemaFiles() );
		foreach ( array_merge( $registry->getSchemaFiles(), $registry->getMessagesDirs() ) as $path ) {
			$this->assertFileExists( $path );
		}
		$this->assertSame( 99, $registry->getConfig()->get( 'EchoMaxNotificationCount' ) );
		$this->assertSame( 3, $registry->getConfig()->get( 'LoginNotifyAttemptsNewIP' ) );
	}

	public function testAutoloadNamespacesPointAtDirectories(): void {
		$map = $this->realRegistry()->getAutoloadNamespaces( true );
		$this->assertCount( 6, $map );
		foreach ( $map as $prefix => $dir ) {
			$this->assertMatchesRegularExpression( '/^MediaWiki\\\\Extension\\\\\w+\\\\(Tests\\\\)?$/', $prefix );
			$this->assertDirectoryExists( $dir );
		}
		$this->assertCount( 3, $this->realRegistry()->getAutoloadNamespaces() );
	}

	public function testHooksFromExtensionJsonAreCallable(): void {
		$hooks = new HookContainer();
		$this->assertSame( 3, $this->realRegistry()->registerHooks( $hooks ) );
		$this->assertSame( 2, $hooks->getHandlerCount( 'EchoGetBundleRules' ) );
		$reserved = [];
		$this->assertTrue( $hooks->run( 'UserGetReservedNames', [ &$reserved ] ) );
		$this->assertSame( [ 'Echo notifier' ], $reserved );
	}

	public function testMissingDependency(): void {
		$registry = new ExtensionRegistry();
		$registry->queueDirectory( $this->fakeExtensions( [
			'Child' => [ 'requires' => [ 'extensions' => [ 'Parent' => '*' ] ] ],
		] ) );
		$this->expectException( RuntimeException::class );
		$this->expectExceptionMessage( 'Child requires Parent to be installed.' );
		$registry->load();
	}

	public function testIncompatibleCore(): void {
		$registry = new ExtensionRegistry( '1.42.0' );
		$registry->queueDirectory( $this->fakeExtensions( [ 'Modern' => [ 'requires' => [ 'MediaWiki' => '>= 1.43' ] ] ] ) );
		$this->expectException( RuntimeException::class );
		$this->expectExceptionMessage( 'Modern is not compatible with the current MediaWiki core (version 1.42.0)' );
		$registry->load();
	}

	public function testDependencyVersionTooOld(): void {
		$registry = new ExtensionRegistry();
		$registry->queueDirectory( $this->fakeExtensions( [
			'Base' => [ 'version' => '1.0.0' ],
			'Plugin' => [ 'requires' => [ 'extensions' => [ 'Base' => '^2.0' ] ] ],
		] ) );
		$this->expectExceptionMessage( 'Plugin requires Base ^2.0, but version 1.0.0 is installed.' );
		$registry->load();
	}

	public function testCircularDependencies(): void {
		$registry = new ExtensionRegistry();
		$registry->queueDirectory( $this->fakeExtensions( [
			'Chicken' => [ 'requires' => [ 'extensions' => [ 'Egg' => '*' ] ] ],
			'Egg' => [ 'requires' => [ 'extensions' => [ 'Chicken' => '*' ] ] ],
		] ) );
		$this->expectExceptionMessage( 'Circular extension dependencies between: Chicken, Egg' );
		$registry->load();
	}

	public function testInvalidJson(): void {
		$dir = $this->fakeExtensions( [ 'Broken' => [] ] );
		file_put_contents( "$dir/Broken/extension.json", '{"name": ' );
		$this->expectException( RuntimeException::class );
		$this->expectExceptionMessage( 'Invalid JSON' );
		( new ExtensionRegistry() )->queueDirectory( $dir );
	}
}
