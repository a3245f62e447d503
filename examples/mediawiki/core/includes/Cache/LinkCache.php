<?php

namespace MediaWiki\Cache;

use InvalidArgumentException;
use MediaWiki\Title\Title;

/**
 * Bounded LRU cache of which titles exist (good links) and which do not (bad links).
 */
class LinkCache {
	private int $maxSize;
	/** @var array<string,int> key => page id, least recently used first */
	private array $good = [];
	/** @var array<string,bool> */
	private array $bad = [];
	private int $hits = 0;
	private int $misses = 0;

	public function __construct( int $maxSize = 1000 ) {
		if ( $maxSize < 1 ) {
			throw new InvalidArgumentException( 'LinkCache size must be positive' );
		}
		$this->maxSize = $maxSize;
	}

	private static function key( Title $title ): string {
		return $title->getNamespace() . ':' . $title->getDBkey();
	}

	public function addGoodLinkObj( int $id, Title $title ): void {
		$key = self::key( $title );
		unset( $this->bad[$key], $this->good[$key] );
		$this->good[$key] = $id;
		$this->evict();
	}

	public function addBadLinkObj( Title $title ): void {
		$key = self::key( $title );
		unset( $this->good[$key], $this->bad[$key] );
		$this->bad[$key] = true;
		$this->evict();
	}

	private function evict(): void {
		while ( count( $this->good ) + count( $this->bad ) > $this->maxSize ) {
			// Evict from whichever list holds the older entry; bad links go first
			if ( $this->bad ) {
				unset( $this->bad[array_key_first( $this->bad )] );
			} else {
				unset( $this->good[array_key_first( $this->good )] );
			}
		}
	}

	/**
	 * @return int Page id, or 0 if not known to exist
	 */
	public function getGoodLinkID( Title $title ): int {
		$key = self::key( $title );
		if ( !isset( $this->good[$key] ) ) {
			$this->misses++;
			return 0;
		}
		$this->hits++;
		$id = $this->good[$key];
		// Mark as recently used
		unset( $this->good[$key] );
		$this->good[$key] = $id;
		return $id;
	}

	public function isBadLink( Title $title ): bool {
		return isset( $this->bad[self::key( $title )] );
	}

	public function isKnown( Title $title ): bool {
		$key = self::key( $title );
		return isset( $this->good[$key] ) || isset( $this->bad[$key] );
	}

	public function clearLink( Title $title ): void {
		$key = self::key( $title );
		unset( $this->good[$key], $this->bad[$key] );
	}

	public function clear(): void {
		$this->good = [];
		$this->bad = [];
	}

	/**
	 * @return array{hits:int,misses:int,good:int,bad:int}
	 */
	public function getStats(): array {
		return [
			'hits' => $this->hits,
			'misses' => $this->misses,
			'good' => count( $this->good ),
			'bad' => count( $this->bad ),
		];
	}
}
