<?php

namespace MediaWiki\Tests\Unit\Autoload;

use MediaWiki\Autoload\Psr4Autoloader;
use PHPUnit\Framework\TestCase;

/**
 * @covers \MediaWiki\Autoload\Psr4Autoloader
 */
class Psr4AutoloaderTest extends TestCase {
	private function root(): string {
		return dirname( __DIR__, 5 );
	}

	public function testLongestPrefixWins(): void {
		$loader = new Psr4Autoloader();
		$loader->addNamespace( 'MediaWiki\\', $this->root() . '/core/includes' );
		$loader->addNamespace( 'MediaWiki\\Extension\\Echo', $this->root() . '/extensions/Echo/includes/' );
		$this->assertSame(
			$this->root() . '/extensions/Echo/includes/Event.php',
			$loader->findFile( 'MediaWiki\\Extension\\Echo\\Event' )
		);
		$this->assertSame(
			$this->root() . '/core/includes/Title/Title.php',
			$loader->findFile( '\\MediaWiki\\Title\\Title' )
		);
		$this->assertSame( [ 'MediaWiki\\Extension\\Echo\\', 'MediaWiki\\' ], array_keys( $loader->getNamespaces() ) );
	}

	public function testMissingClass(): void {
		$loader = new Psr4Autoloader();
		$loader->addNamespace( 'MediaWiki', $this->root() . '/core/includes' );
		$this->assertNull( $loader->findFile( 'MediaWiki\\Nope\\Nothing' ) );
		$this->assertNull( $loader->findFile( 'Other\\Title' ) );
		$this->assertFalse( $loader->loadClass( 'MediaWiki\\Nope\\Nothing' ) );
	}

	public function testDuplicateDirectoriesIgnored(): void {
		$loader = new Psr4Autoloader();
		$loader->addNamespace( 'A\\', '/x' );
		$loader->addNamespace( 'A', '/x/' );
		$this->assertSame( [ 'A\\' => [ '/x/' ] ], $loader->getNamespaces() );
	}
}
