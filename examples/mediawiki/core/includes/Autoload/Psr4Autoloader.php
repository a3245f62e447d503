<?php

namespace MediaWiki\Autoload;

/**
 * Minimal PSR-4 autoloader.
 *
 * Namespace prefixes are matched longest first, so an extension prefix such as
 * MediaWiki\Extension\Echo\ wins over the core MediaWiki\ prefix.
 */
class Psr4Autoloader {
	/** @var array<string,string[]> prefix => base directories */
	private array $prefixes = [];
	private bool $sorted = true;

	public function addNamespace( string $prefix, string $baseDir ): void {
		$prefix = trim( $prefix, '\\' ) . '\\';
		$baseDir = rtrim( $baseDir, '/\\' ) . '/';
		if ( !in_array( $baseDir, $this->prefixes[$prefix] ?? [], true ) ) {
			$this->prefixes[$prefix][] = $baseDir;
		}
		$this->sorted = false;
	}

	/**
	 * @return array<string,string[]>
	 */
	public function getNamespaces(): array {
		$this->sort();
		return $this->prefixes;
	}

	public function register(): void {
		spl_autoload_register( [ $this, 'loadClass' ] );
	}

	public function unregister(): void {
		spl_autoload_unregister( [ $this, 'loadClass' ] );
	}

	private function sort(): void {
		if ( !$this->sorted ) {
			uksort( $this->prefixes, static function ( string $a, string $b ): int {
				return ( strlen( $b ) <=> strlen( $a ) ) ?: strcmp( $a, $b );
			} );
			$this->sorted = true;
		}
	}

	public function findFile( string $class ): ?string {
		$this->sort();
		$class = ltrim( $class, '\\' );
		foreach ( $this->prefixes as $prefix => $dirs ) {
			if ( strncmp( $class, $prefix, strlen( $prefix ) ) !== 0 ) {
				continue;
			}
			$relative = str_replace( '\\', '/', substr( $class, strlen( $prefix ) ) ) . '.php';
			foreach ( $dirs as $dir ) {
				if ( is_file( $dir . $relative ) ) {
					return $dir . $relative;
				}
			}
		}
		return null;
	}

	public function loadClass( string $class ): bool {
		$file = $this->findFile( $class );
		if ( $file === null ) {
			return false;
		}
		require_once $file;
		return true;
	}
}
