<?php

namespace MediaWiki\Registration;

use MediaWiki\Config\HashConfig;
use MediaWiki\HookContainer\HookContainer;
use RuntimeException;

/**
 * Reads extension.json files, checks their requirements and orders them by dependency.
 */
class ExtensionRegistry {
	public const MW_VERSION = '1.43.0';

	private string $coreVersion;
	/** @var array<string,array> name => decoded extension.json plus 'path' */
	private array $queued = [];
	/** @var string[]|null */
	private ?array $loadOrder = null;

	public function __construct( string $coreVersion = self::MW_VERSION ) {
		$this->coreVersion = $coreVersion;
	}

	public function queue( string $jsonFile ): void {
		$json = @file_get_contents( $jsonFile );
		if ( $json === false ) {
			throw new RuntimeException( "Cannot read $jsonFile" );
		}
		$info = json_decode( $json, true );
		if ( !is_array( $info ) ) {
			throw new RuntimeException( "Invalid JSON in $jsonFile: " . json_last_error_msg() );
		}
		$name = $info['name'] ?? null;
		if ( !is_string( $name ) || !preg_match( '/^[A-Za-z][A-Za-z0-9]*$/', $name ) ) {
			throw new RuntimeException( "$jsonFile: missing or invalid 'name'" );
		}
		if ( isset( $this->queued[$name] ) ) {
			throw new RuntimeException( "Extension $name is queued twice ($jsonFile)" );
		}
		$info['path'] = dirname( $jsonFile );
		$this->queued[$name] = $info;
		$this->loadOrder = null;
	}

	/**
	 * Queue every <dir>/<Name>/extension.json.
	 *
	 * @return int Number of extensions queued
	 */
	public function queueDirectory( string $dir ): int {
		$files = glob( rtrim( $dir, '/' ) . '/*/extension.json' ) ?: [];
		sort( $files );
		foreach ( $files as $file ) {
			$this->queue( $file );
		}
		return count( $files );
	}

	/**
	 * Check requirements and compute the load order.
	 *
	 * @return string[] Extension names, dependencies first
	 */
	public function load(): array {
		if ( $this->loadOrder !== null ) {
			return $this->loadOrder;
		}
		$deps = [];
		foreach ( $this->queued as $name => $info ) {
			$requires = $info['requires'] ?? [];
			$coreConstraint = $requires['MediaWiki'] ?? '*';
			if ( !VersionChecker::satisfies( $this->coreVersion, $coreConstraint ) ) {
				throw new RuntimeException(
					"$name is not compatible with the current MediaWiki core (version {$this->coreVersion}),"
					. " it requires: $coreConstraint."
				);
			}
			$deps[$name] = [];
			foreach ( $requires['extensions'] ?? [] as $dep => $constraint ) {
				if ( !isset( $this->queued[$dep] ) ) {
					throw new RuntimeException( "$name requires $dep to be installed." );
				}
				$depVersion = $this->queued[$dep]['version'] ?? null;
				if ( $constraint !== '*' && ( $depVersion === null || !VersionChecker::satisfies( $depVersion, $constraint ) ) ) {
					throw new RuntimeException(
						"$name requires $dep $constraint, but version " . ( $depVersion ?? 'unknown' ) . ' is installed.'
					);
				}
				$deps[$name][] = $dep;
			}
		}
		$this->loadOrder = self::sortByDependencies( $deps );
		return $this->loadOrder;
	}

	/**
	 * Kahn's algorithm with alphabetical tie-breaking.
	 *
	 * @param array<string,string[]> $deps name => names it depends on
	 * @return string[]
	 */
	public static function sortByDependencies( array $deps ): array {
		$remaining = $deps;
		$order = [];
		while ( $remaining ) {
			$ready = [];
			foreach ( $remaining as $name => $needs ) {
				if ( !array_diff( $needs, $order ) ) {
					$ready[] = $name;
				}
			}
			if ( !$ready ) {
				$names = array_keys( $remaining );
				sort( $names );
				throw new RuntimeException( 'Circular extension dependencies between: ' . implode( ', ', $names ) );
			}
			sort( $ready );
			$order[] = $ready[0];
			unset( $remaining[$ready[0]] );
		}
		return $order;
	}

	public function isLoaded( string $name, string $constraint = '*' ): bool {
		if ( !in_array( $name, $this->load(), true ) ) {
			return false;
		}
		$version = $this->queued[$name]['version'] ?? null;
		return $constraint === '*' || ( $version !== null && VersionChecker::satisfies( $version, $constraint ) );
	}

	public function getExtensionInfo( string $name ): ?array {
		return $this->queued[$name] ?? null;
	}

	/**
	 * @return array<string,string> namespace prefix => absolute directory
	 */
	public function getAutoloadNamespaces( bool $includeTests = false ): array {
		$map = [];
		foreach ( $this->load() as $name ) {
			$info = $this->queued[$name];
			$keys = $includeTests ? [ 'AutoloadNamespaces', 'TestAutoloadNamespaces' ] : [ 'AutoloadNamespaces' ];
			foreach ( $keys as $key ) {
				foreach ( $info[$key] ?? [] as $prefix => $dir ) {
					$map[$prefix] = $info['path'] . '/' . rtrim( $dir, '/' );
				}
			}
		}
		return $map;
	}

	/**
	 * @return string[] Absolute i18n directories of all extensions
	 */
	public function getMessagesDirs(): array {
		$dirs = [];
		foreach ( $this->load() as $name ) {
			$info = $this->queued[$name];
			foreach ( $info['MessagesDirs'] ?? [] as $list ) {
				foreach ( (array)$list as $dir ) {
					$dirs[] = $info['path'] . '/' . $dir;
				}
			}
		}
		return $dirs;
	}

	/**
	 * @return string[] Absolute paths of the extensions' SQL schema files, in load order
	 */
	public function getSchemaFiles(): array {
		$files = [];
		foreach ( $this->load() as $name ) {
			$info = $this->queued[$name];
			if ( isset( $info['DatabaseSchema'] ) ) {
				$files[] = $info['path'] . '/' . $info['DatabaseSchema'];
			}
		}
		return $files;
	}

	public function registerHooks( HookContainer $hooks ): int {
		$count = 0;
		foreach ( $this->load() as $name ) {
			foreach ( $this->queued[$name]['Hooks'] ?? [] as $hook => $handlers ) {
				foreach ( (array)$handlers as $handler ) {
					$hooks->register( $hook, $handler );
					$count++;
				}
			}
		}
		return $count;
	}

	public function getConfig(): HashConfig {
		$config = new HashConfig();
		foreach ( $this->load() as $name ) {
			$config = $config->merge( HashConfig::newFromExtensionJson( $this->queued[$name] ) );
		}
		return $config;
	}
}
