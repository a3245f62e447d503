<?php

namespace MediaWiki\Message;

use MediaWiki\Utils\StringUtils;
use RuntimeException;

/**
 * In-memory store of localisation messages, loaded from i18n JSON files.
 */
class MessageCache {
	private const FALLBACKS = [
		'de-formal' => [ 'de' ],
		'de-at' => [ 'de' ],
		'pt-br' => [ 'pt' ],
		'uk' => [ 'ru' ],
		'be' => [ 'ru' ],
	];

	/** @var array<string,array<string,string>> language => key => text */
	private array $messages = [];

	/**
	 * @param array<string,array<string,string>> $messages
	 */
	public function __construct( array $messages = [] ) {
		foreach ( $messages as $lang => $list ) {
			$this->addMessages( $lang, $list );
		}
	}

	/**
	 * @param string[] $dirs
	 */
	public static function newFromDirectories( array $dirs ): self {
		$cache = new self();
		foreach ( $dirs as $dir ) {
			$cache->loadDirectory( $dir );
		}
		return $cache;
	}

	private static function normalizeKey( string $key ): string {
		return StringUtils::lcfirst( strtr( $key, ' ', '_' ) );
	}

	/**
	 * Load every <lang>.json file in a directory.
	 *
	 * @return int Number of messages loaded
	 */
	public function loadDirectory( string $dir ): int {
		if ( !is_dir( $dir ) ) {
			throw new RuntimeException( "Messages directory not found: $dir" );
		}
		$count = 0;
		$files = glob( rtrim( $dir, '/' ) . '/*.json' ) ?: [];
		sort( $files );
		foreach ( $files as $file ) {
			$lang = basename( $file, '.json' );
			if ( $lang === 'qqq' ) {
				continue;
			}
			$data = json_decode( (string)file_get_contents( $file ), true );
			if ( !is_array( $data ) ) {
				throw new RuntimeException( "Invalid JSON in $file: " . json_last_error_msg() );
			}
			unset( $data['@metadata'] );
			$this->addMessages( $lang, $data );
			$count += count( $data );
		}
		return $count;
	}

	/**
	 * @param array<string,string> $messages
	 */
	public function addMessages( string $lang, array $messages ): void {
		foreach ( $messages as $key => $text ) {
			$this->messages[strtolower( $lang )][self::normalizeKey( (string)$key )] = (string)$text;
		}
	}

	/**
	 * @return string[]
	 */
	public static function getFallbackChain( string $lang ): array {
		$lang = strtolower( $lang );
		$chain = [ $lang ];
		foreach ( self::FALLBACKS[$lang] ?? [] as $fallback ) {
			$chain[] = $fallback;
		}
		if ( !in_array( 'en', $chain, true ) ) {
			$chain[] = 'en';
		}
		return $chain;
	}

	public function get( string $key, string $lang = 'en' ): ?string {
		$key = self::normalizeKey( $key );
		foreach ( self::getFallbackChain( $lang ) as $code ) {
			if ( isset( $this->messages[$code][$key] ) ) {
				return $this->messages[$code][$key];
			}
		}
		return null;
	}

	public function has( string $key, string $lang = 'en' ): bool {
		return $this->get( $key, $lang ) !== null;
	}

	/**
	 * @return string[]
	 */
	public function getLanguages(): array {
		$langs = array_keys( $this->messages );
		sort( $langs );
		return $langs;
	}

	/**
	 * @return string[]
	 */
	public function getKeys( string $lang = 'en' ): array {
		$keys = array_map( 'strval', array_keys( $this->messages[strtolower( $lang )] ?? [] ) );
		sort( $keys );
		return $keys;
	}
}
