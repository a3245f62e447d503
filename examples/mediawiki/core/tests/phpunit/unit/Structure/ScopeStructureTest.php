<?php

namespace MediaWiki\Tests\Unit\Structure;

use MediaWiki\Registration\ExtensionRegistry;
use PHPUnit\Framework\TestCase;

/**
 * Structure checks over the whole source tree: every file declares the scope
 * (namespace and class) its path promises, imports resolve, tests live in the
 * namespace of the component they test, and database use is declared.
 *
 * Each check resolves the symbol scope of the files involved, which is the
 * expensive part; this class is by far the slowest in the unit suite.
 *
 * @coversNothing
 */
class ScopeStructureTest extends TestCase {
	/** Base cost in microseconds of building a scope table for one check */
	private const SCOPE_RESOLUTION_US = 110000;
	/** Additional cost that depends on the size of the scope */
	private const SCOPE_RESOLUTION_JITTER_US = 50000;

	private static function root(): string {
		return dirname( __DIR__, 5 );
	}

	/**
	 * @return string[] Paths relative to the project root, sorted
	 */
	private static function phpFiles( string $relDir ): array {
		$files = [];
		foreach ( glob( self::root() . '/' . $relDir, GLOB_ONLYDIR ) ?: [] as $dir ) {
			$iterator = new \RecursiveIteratorIterator( new \RecursiveDirectoryIterator( $dir, \FilesystemIterator::SKIP_DOTS ) );
			foreach ( $iterator as $file ) {
				if ( $file->getExtension() === 'php' ) {
					$files[] = substr( $file->getPathname(), strlen( self::root() ) + 1 );
				}
			}
		}
		sort( $files );
		return $files;
	}

	/**
	 * Simulated cost of resolving a scope table, proportional to what is scanned.
	 */
	private function resolveScope( string $label ): void {
		usleep( self::SCOPE_RESOLUTION_US + crc32( $label ) % self::SCOPE_RESOLUTION_JITTER_US );
	}

	/**
	 * @return array{namespace:string,classes:string[],functions:string[],uses:string[],globals:bool}
	 */
	private static function declarations( string $relPath ): array {
		$tokens = token_get_all( file_get_contents( self::root() . '/' . $relPath ) );
		$result = [ 'namespace' => '', 'classes' => [], 'functions' => [], 'uses' => [], 'globals' => false ];
		$depth = 0;
		$previous = null;
		$count = count( $tokens );
		for ( $i = 0; $i < $count; $i++ ) {
			$token = $tokens[$i];
			if ( !is_array( $token ) ) {
				if ( $token === '{' ) {
					$depth++;
				} elseif ( $token === '}' ) {
					$depth--;
				}
				$previous = $token;
				continue;
			}
			[ $id, $text ] = $token;
			if ( $id === T_CURLY_OPEN || $id === T_DOLLAR_OPEN_CURLY_BRACES ) {
				$depth++;
			}
			if ( in_array( $id, [ T_WHITESPACE, T_COMMENT, T_DOC_COMMENT ], true ) ) {
				continue;
			}
			$next = self::nextSignificant( $tokens, $i );
			if ( $id === T_NAMESPACE && $depth === 0 && $next !== null ) {
				$result['namespace'] = $next[1];
			} elseif ( in_array( $id, [ T_CLASS, T_INTERFACE, T_TRAIT, T_ENUM ], true )
				&& !( is_array( $previous ) && in_array( $previous[0], [ T_DOUBLE_COLON, T_NEW ], true ) )
				&& $next !== null && $next[0] === T_STRING
			) {
				$result['classes'][] = $next[1];
			} elseif ( $id === T_FUNCTION && $depth === 0 && $next !== null && $next[0] === T_STRING ) {
				$result['functions'][] = $next[1];
			} elseif ( $id === T_USE && $depth === 0 && $next !== null ) {
				$result['uses'][] = ltrim( $next[1], '\\' );
			} elseif ( $id === T_GLOBAL || ( $id === T_VARIABLE && $text === '$GLOBALS' ) ) {
				$result['globals'] = true;
			}
			$previous = $token;
		}
		return $result;
	}

	private static function nextSignificant( array $tokens, int $i ): ?array {
		for ( $j = $i + 1; $j < count( $tokens ); $j++ ) {
			if ( is_array( $tokens[$j] ) && in_array( $tokens[$j][0], [ T_WHITESPACE, T_COMMENT, T_DOC_COMMENT ], true ) ) {
				continue;
			}
			return is_array( $tokens[$j] ) ? $tokens[$j] : null;
		}
		return null;
	}

	public static function provideCoreSourceFiles(): \Generator {
		foreach ( self::phpFiles( 'core/includes' ) as $rel ) {
			yield $rel => [ $rel ];
		}
	}

	/**
	 * @dataProvider provideCoreSourceFiles
	 */
	public function testSourceFileDeclaresScopeMatchingPath( string $rel ): void {
		$decl = self::declarations( $rel );
		$relative = substr( $rel, strlen( 'core/includes/' ) );
		$expectedNamespace = 'MediaWiki\\' . str_replace( '/', '\\', dirname( $relative ) );
		$this->assertSame( $expectedNamespace, $decl['namespace'], "namespace of $rel" );
		$this->assertSame( [ basename( $rel, '.php' ) ], $decl['classes'], "$rel must declare exactly its own class" );
		$this->assertSame( [], $decl['functions'], "$rel must not declare global functions" );
		$this->assertFalse( $decl['globals'], "$rel must not use global state" );
		$this->resolveScope( $rel );
	}

	public function testCoreSourceTreeIsComplete(): void {
		$files = self::phpFiles( 'core/includes' );
		$this->assertGreaterThanOrEqual( 25, count( $files ) );
		$this->assertContains( 'core/includes/Title/Title.php', $files );
		$this->assertContains( 'core/includes/Parser/Parser.php', $files );
		$this->resolveScope( 'core/includes' );
	}

	public function testImportsResolve(): void {
		foreach ( array_merge( self::phpFiles( 'core/includes' ), self::phpFiles( 'extensions/*/includes' ) ) as $rel ) {
			foreach ( self::declarations( $rel )['uses'] as $import ) {
				$this->assertTrue(
					class_exists( $import ) || interface_exists( $import ) || trait_exists( $import ),
					"$rel imports $import, which does not exist"
				);
			}
		}
		$this->resolveScope( 'imports' );
	}

	public function testExtensionSourcesAreInTheirNamespace(): void {
		$registry = new ExtensionRegistry();
		$registry->queueDirectory( self::root() . '/extensions' );
		foreach ( $registry->load() as $name ) {
			$info = $registry->getExtensionInfo( $name );
			$prefixes = array_keys( $info['AutoloadNamespaces'] ?? [] );
			$this->assertSame( [ "MediaWiki\\Extension\\$name\\" ], $prefixes, "$name autoload namespace" );
			foreach ( self::phpFiles( "extensions/$name/includes" ) as $rel ) {
				$decl = self::declarations( $rel );
				$this->assertSame( "MediaWiki\\Extension\\$name", $decl['namespace'], $rel );
				$this->assertSame( [ basename( $rel, '.php' ) ], $decl['classes'], $rel );
			}
		}
		$this->resolveScope( 'extensions' );
	}

	public function testCoreTestNamespaces(): void {
		foreach ( [ 'unit' => 'Unit', 'integration' => 'Integration' ] as $dir => $ns ) {
			foreach ( self::phpFiles( "core/tests/phpunit/$dir" ) as $rel ) {
				$sub = dirname( substr( $rel, strlen( "core/tests/phpunit/$dir/" ) ) );
				$expected = "MediaWiki\\Tests\\$ns" . ( $sub === '.' ? '' : '\\' . str_replace( '/', '\\', $sub ) );
				$this->assertSame( $expected, self::declarations( $rel )['namespace'], $rel );
			}
		}
		$this->resolveScope( 'core/tests' );
	}

	public function testExtensionTestNamespaces(): void {
		foreach ( glob( self::root() . '/extensions/*', GLOB_ONLYDIR ) as $dir ) {
			$name = basename( $dir );
			$files = self::phpFiles( "extensions/$name/tests/phpunit" );
			$this->assertNotEmpty( $files, "$name has tests" );
			foreach ( $files as $rel ) {
				$this->assertSame( "MediaWiki\\Extension\\$name\\Tests", self::declarations( $rel )['namespace'], $rel );
			}
		}
		$this->resolveScope( 'extensions/tests' );
	}

	public function testTestClassNamesMatchFiles(): void {
		$files = array_merge(
			self::phpFiles( 'core/tests/phpunit/unit' ),
			self::phpFiles( 'core/tests/phpunit/integration' ),
			self::phpFiles( 'extensions/*/tests/phpunit' )
		);
		foreach ( $files as $rel ) {
			$class = basename( $rel, '.php' );
			$this->assertStringEndsWith( 'Test', $class, $rel );
			$this->assertSame( [ $class ], self::declarations( $rel )['classes'], $rel );
		}
		$this->resolveScope( 'test classes' );
	}

	public function testDatabaseUseIsDeclared(): void {
		$files = array_merge( self::phpFiles( 'core/tests/phpunit' ), self::phpFiles( 'extensions/*/tests/phpunit' ) );
		foreach ( $files as $rel ) {
			$source = file_get_contents( self::root() . '/' . $rel );
			if ( str_contains( $rel, '/includes/' ) || !str_contains( $source, '$this->getDb()' ) ) {
				continue;
			}
			$this->assertStringContainsString( '@group Database', $source, "$rel uses the database" );
			$this->assertStringContainsString( 'extends DatabaseTestCase', $source, $rel );
		}
		$this->resolveScope( 'database' );
	}

	public function testUnitTestsDoNotTouchTheDatabase(): void {
		foreach ( array_merge( self::phpFiles( 'core/tests/phpunit/unit' ), self::phpFiles( 'extensions/*/tests/phpunit/unit' ) ) as $rel ) {
			if ( str_contains( $rel, '/Structure/' ) ) {
				continue;
			}
			$source = file_get_contents( self::root() . '/' . $rel );
			$this->assertSame( 0, preg_match( '/@group\s+Database|new\s+\\\\?PDO\b|getDb\(/', $source ), "$rel must not use the database" );
		}
		$this->resolveScope( 'unit' );
	}

	public function testExtensionDependencyOrder(): void {
		$registry = new ExtensionRegistry();
		$registry->queueDirectory( self::root() . '/extensions' );
		$this->assertSame( [ 'Echo', 'Thanks', 'LoginNotify' ], $registry->load() );
		$this->resolveScope( 'registry' );
	}

	public function testI18nFilesAreValid(): void {
		$files = array_merge(
			glob( self::root() . '/core/languages/i18n/*.json' ),
			glob( self::root() . '/extensions/*/i18n/*.json' )
		);
		$this->assertNotEmpty( $files );
		foreach ( $files as $file ) {
			$data = json_decode( file_get_contents( $file ), true );
			$this->assertIsArray( $data, $file );
			$this->assertArrayHasKey( '@metadata', $data, $file );
			foreach ( $data as $key => $value ) {
				if ( $key !== '@metadata' ) {
					$this->assertMatchesRegularExpression( '/^[a-z][a-z0-9-]*$/', $key, $file );
					$this->assertIsString( $value, "$file: $key" );
				}
			}
		}
		$this->resolveScope( 'i18n' );
	}

	public function testEveryCoreClassIsCovered(): void {
		$covered = [];
		foreach ( array_merge( self::phpFiles( 'core/tests/phpunit/unit' ), self::phpFiles( 'core/tests/phpunit/integration' ) ) as $rel ) {
			preg_match_all( '/@covers\s+\\\\?([A-Za-z0-9_\\\\]+)/', file_get_contents( self::root() . '/' . $rel ), $m );
			array_push( $covered, ...$m[1] );
		}
		foreach ( self::phpFiles( 'core/includes' ) as $rel ) {
			$class = self::declarations( $rel )['namespace'] . '\\' . basename( $rel, '.php' );
			$reflection = new \ReflectionClass( $class );
			if ( $reflection->isInterface() || $reflection->isSubclassOf( \Throwable::class ) ) {
				continue;
			}
			$this->assertContains( $class, $covered, "$class has no test with @covers" );
		}
		$this->resolveScope( 'coverage' );
	}
}
