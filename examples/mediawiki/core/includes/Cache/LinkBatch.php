<?php

namespace MediaWiki\Cache;

use InvalidArgumentException;
use MediaWiki\Title\Title;
use PDO;

/**
 * Look up the existence of many titles with few queries.
 */
class LinkBatch {
	/** @var array<int,array<string,bool>> namespace => db key => true */
	private array $data = [];
	private int $batchSize;

	/**
	 * @param iterable<Title> $titles
	 */
	public function __construct( iterable $titles = [], int $batchSize = 200 ) {
		if ( $batchSize < 1 ) {
			throw new InvalidArgumentException( 'Batch size must be positive' );
		}
		$this->batchSize = $batchSize;
		foreach ( $titles as $title ) {
			$this->addObj( $title );
		}
	}

	public function add( int $namespace, string $dbKey ): void {
		if ( $dbKey === '' || $namespace < 0 ) {
			return;
		}
		$this->data[$namespace][strtr( $dbKey, ' ', '_' )] = true;
	}

	public function addObj( Title $title ): void {
		$this->add( $title->getNamespace(), $title->getDBkey() );
	}

	/**
	 * @param array<int,array<string,mixed>> $array namespace => db key => anything
	 */
	public function setArray( array $array ): void {
		$this->data = [];
		foreach ( $array as $ns => $keys ) {
			foreach ( array_keys( $keys ) as $dbKey ) {
				$this->add( (int)$ns, (string)$dbKey );
			}
		}
	}

	public function isEmpty(): bool {
		return $this->data === [];
	}

	public function getSize(): int {
		return array_sum( array_map( 'count', $this->data ) );
	}

	/**
	 * @return Title[] In namespace, then key order
	 */
	public function getTitles(): array {
		$titles = [];
		$data = $this->data;
		ksort( $data );
		foreach ( $data as $ns => $keys ) {
			$keys = array_map( 'strval', array_keys( $keys ) );
			sort( $keys );
			foreach ( $keys as $dbKey ) {
				$titles[] = Title::makeTitle( $ns, $dbKey );
			}
		}
		return $titles;
	}

	/**
	 * Build a WHERE condition for a set of titles.
	 *
	 * @param Title[] $titles
	 * @return array{0:string,1:array} SQL fragment and positional parameters
	 */
	public static function constructSet( array $titles, string $nsField = 'page_namespace', string $keyField = 'page_title' ): array {
		$byNs = [];
		foreach ( $titles as $title ) {
			$byNs[$title->getNamespace()][] = $title->getDBkey();
		}
		if ( !$byNs ) {
			return [ '1 = 0', [] ];
		}
		$clauses = [];
		$params = [];
		foreach ( $byNs as $ns => $keys ) {
			$clauses[] = "($nsField = ? AND $keyField IN (" . implode( ', ', array_fill( 0, count( $keys ), '?' ) ) . '))';
			$params[] = $ns;
			array_push( $params, ...$keys );
		}
		return [ implode( ' OR ', $clauses ), $params ];
	}

	/**
	 * Query the page table and fill the link cache.
	 *
	 * @return array<string,int> prefixed db key => page id for existing pages
	 */
	public function execute( PDO $db, LinkCache $cache ): array {
		$found = [];
		foreach ( array_chunk( $this->getTitles(), $this->batchSize ) as $chunk ) {
			[ $where, $params ] = self::constructSet( $chunk );
			$stmt = $db->prepare( "SELECT page_id, page_namespace, page_title FROM page WHERE page_latest > 0 AND ($where)" );
			$stmt->execute( $params );
			$existing = [];
			foreach ( $stmt->fetchAll( PDO::FETCH_ASSOC ) as $row ) {
				$existing[$row['page_namespace'] . ':' . $row['page_title']] = (int)$row['page_id'];
			}
			foreach ( $chunk as $title ) {
				$id = $existing[$title->getNamespace() . ':' . $title->getDBkey()] ?? 0;
				if ( $id > 0 ) {
					$cache->addGoodLinkObj( $id, $title );
					$found[$title->getPrefixedDBkey()] = $id;
				} else {
					$cache->addBadLinkObj( $title );
				}
			}
		}
		return $found;
	}
}
