<?php

namespace MediaWiki\Page;

use InvalidArgumentException;
use MediaWiki\Title\Title;
use MediaWiki\Utils\MWTimestamp;
use PDO;
use RuntimeException;

/**
 * Reads and writes the page table.
 */
class PageStore {
	private const FIELDS = 'page_id, page_namespace, page_title, page_latest, page_len, page_touched, page_is_redirect';

	private PDO $db;

	public function __construct( PDO $db ) {
		$this->db = $db;
	}

	public function createPage( Title $title ): PageRecord {
		if ( $title->getNamespace() < 0 ) {
			throw new InvalidArgumentException( "Cannot create a page in a virtual namespace: $title" );
		}
		if ( $this->getPageByTitle( $title ) !== null ) {
			throw new RuntimeException( "Page already exists: $title" );
		}
		$this->db->prepare(
			'INSERT INTO page (page_namespace, page_title, page_touched, page_latest, page_len) VALUES (?, ?, ?, 0, 0)'
		)->execute( [ $title->getNamespace(), $title->getDBkey(), MWTimestamp::now() ] );
		return $this->getPageById( (int)$this->db->lastInsertId() );
	}

	public function getOrCreatePage( Title $title ): PageRecord {
		return $this->getPageByTitle( $title ) ?? $this->createPage( $title );
	}

	public function getPageByTitle( Title $title ): ?PageRecord {
		$stmt = $this->db->prepare( 'SELECT ' . self::FIELDS . ' FROM page WHERE page_namespace = ? AND page_title = ?' );
		$stmt->execute( [ $title->getNamespace(), $title->getDBkey() ] );
		$row = $stmt->fetch( PDO::FETCH_ASSOC );
		return $row ? PageRecord::newFromRow( $row ) : null;
	}

	public function getPageById( int $id ): ?PageRecord {
		$stmt = $this->db->prepare( 'SELECT ' . self::FIELDS . ' FROM page WHERE page_id = ?' );
		$stmt->execute( [ $id ] );
		$row = $stmt->fetch( PDO::FETCH_ASSOC );
		return $row ? PageRecord::newFromRow( $row ) : null;
	}

	/**
	 * A page "exists" once it has at least one revision.
	 */
	public function exists( Title $title ): bool {
		$page = $this->getPageByTitle( $title );
		return $page !== null && $page->exists();
	}

	/**
	 * @return callable fn( Title ): bool, suitable for ParserOptions 'linkExists'
	 */
	public function getExistenceChecker(): callable {
		return fn ( Title $title ): bool => $this->exists( $title );
	}

	public function movePage( Title $from, Title $to ): PageRecord {
		$page = $this->getPageByTitle( $from );
		if ( $page === null ) {
			throw new RuntimeException( "Cannot move non-existent page: $from" );
		}
		if ( $this->getPageByTitle( $to ) !== null ) {
			throw new RuntimeException( "Cannot move $from: target $to already exists" );
		}
		$this->db->prepare( 'UPDATE page SET page_namespace = ?, page_title = ?, page_touched = ? WHERE page_id = ?' )
			->execute( [ $to->getNamespace(), $to->getDBkey(), MWTimestamp::now(), $page->getId() ] );
		return $this->getPageById( $page->getId() );
	}

	public function deletePage( Title $title ): bool {
		$page = $this->getPageByTitle( $title );
		if ( $page === null ) {
			return false;
		}
		$this->db->prepare( 'DELETE FROM revision WHERE rev_page = ?' )->execute( [ $page->getId() ] );
		$this->db->prepare( 'DELETE FROM page WHERE page_id = ?' )->execute( [ $page->getId() ] );
		return true;
	}

	public function setRedirect( Title $title, bool $isRedirect ): void {
		$this->db->prepare( 'UPDATE page SET page_is_redirect = ? WHERE page_namespace = ? AND page_title = ?' )
			->execute( [ (int)$isRedirect, $title->getNamespace(), $title->getDBkey() ] );
	}

	/**
	 * @return Title[]
	 */
	public function listPagesInNamespace( int $namespace, int $limit = 100 ): array {
		$stmt = $this->db->prepare( 'SELECT page_title FROM page WHERE page_namespace = ? ORDER BY page_title LIMIT ?' );
		$stmt->bindValue( 1, $namespace, PDO::PARAM_INT );
		$stmt->bindValue( 2, $limit, PDO::PARAM_INT );
		$stmt->execute();
		return array_map(
			static fn ( $dbKey ): Title => Title::makeTitle( $namespace, (string)$dbKey ),
			$stmt->fetchAll( PDO::FETCH_COLUMN )
		);
	}
}
