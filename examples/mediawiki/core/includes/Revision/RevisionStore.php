<?php

namespace MediaWiki\Revision;

use InvalidArgumentException;
use MediaWiki\HookContainer\HookContainer;
use MediaWiki\User\UserIdentity;
use MediaWiki\User\UserIdentityValue;
use MediaWiki\Utils\BaseConvert;
use MediaWiki\Utils\MWTimestamp;
use PDO;
use Throwable;

/**
 * Reads and writes the revision table and keeps page_latest up to date.
 */
class RevisionStore {
	private const FIELDS = 'rev_id, rev_page, rev_parent_id, rev_user, rev_user_text, rev_timestamp, rev_comment,'
		. ' rev_minor_edit, rev_sha1, rev_content';

	private PDO $db;
	private ?HookContainer $hooks;

	public function __construct( PDO $db, ?HookContainer $hooks = null ) {
		$this->db = $db;
		$this->hooks = $hooks;
	}

	/**
	 * @param string|int|false $timestamp
	 */
	public function insertRevision(
		int $pageId, string $content, UserIdentity $user, string $comment = '', bool $minor = false, $timestamp = false
	): RevisionRecord {
		$stmt = $this->db->prepare( 'SELECT page_latest FROM page WHERE page_id = ?' );
		$stmt->execute( [ $pageId ] );
		$latest = $stmt->fetchColumn();
		if ( $latest === false ) {
			throw new InvalidArgumentException( "No page with id $pageId" );
		}
		$ts = MWTimestamp::convert( MWTimestamp::TS_MW, $timestamp );
		if ( $ts === false ) {
			throw new InvalidArgumentException( 'Invalid revision timestamp' );
		}
		$parentId = (int)$latest ?: null;
		$sha1 = BaseConvert::sha1Base36( $content );

		$ownTransaction = !$this->db->inTransaction();
		if ( $ownTransaction ) {
			$this->db->beginTransaction();
		}
		try {
			$this->db->prepare(
				'INSERT INTO revision (rev_page, rev_parent_id, rev_user, rev_user_text, rev_timestamp, rev_comment,'
				. ' rev_minor_edit, rev_len, rev_sha1, rev_content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
			)->execute( [
				$pageId, $parentId, $user->getId(), $user->getName(), $ts, $comment, (int)$minor, strlen( $content ),
				$sha1, $content,
			] );
			$revId = (int)$this->db->lastInsertId();
			$this->db->prepare(
				'UPDATE page SET page_latest = ?, page_len = ?, page_touched = ?, page_is_new = ? WHERE page_id = ?'
			)->execute( [ $revId, strlen( $content ), $ts, $parentId === null ? 1 : 0, $pageId ] );
			if ( $user->isRegistered() ) {
				$this->db->prepare( 'UPDATE "user" SET user_editcount = user_editcount + 1 WHERE user_id = ?' )
					->execute( [ $user->getId() ] );
			}
			if ( $ownTransaction ) {
				$this->db->commit();
			}
		} catch ( Throwable $e ) {
			if ( $ownTransaction ) {
				$this->db->rollBack();
			}
			throw $e;
		}

		$rev = new RevisionRecord( $revId, $pageId, $parentId, $user, $ts, $comment, $content, $minor, $sha1 );
		if ( $this->hooks ) {
			$this->hooks->run( 'RevisionRecordInserted', [ $rev ] );
		}
		return $rev;
	}

	public function getRevisionById( int $id ): ?RevisionRecord {
		return $this->selectOne( 'rev_id = ?', [ $id ] );
	}

	/**
	 * @return RevisionRecord[] Newest first
	 */
	public function getRevisionsByPage( int $pageId, int $limit = 50 ): array {
		$stmt = $this->db->prepare(
			'SELECT ' . self::FIELDS . ' FROM revision WHERE rev_page = ? ORDER BY rev_timestamp DESC, rev_id DESC LIMIT ?'
		);
		$stmt->bindValue( 1, $pageId, PDO::PARAM_INT );
		$stmt->bindValue( 2, $limit, PDO::PARAM_INT );
		$stmt->execute();
		return array_map( [ $this, 'newRevisionFromRow' ], $stmt->fetchAll( PDO::FETCH_ASSOC ) );
	}

	public function getPreviousRevision( RevisionRecord $rev ): ?RevisionRecord {
		return $this->selectOne( 'rev_page = ? AND rev_id < ?', [ $rev->getPageId(), $rev->getId() ], 'rev_id DESC' );
	}

	public function getNextRevision( RevisionRecord $rev ): ?RevisionRecord {
		return $this->selectOne( 'rev_page = ? AND rev_id > ?', [ $rev->getPageId(), $rev->getId() ], 'rev_id ASC' );
	}

	public function getFirstRevision( int $pageId ): ?RevisionRecord {
		return $this->selectOne( 'rev_page = ?', [ $pageId ], 'rev_id ASC' );
	}

	public function countRevisions( int $pageId ): int {
		$stmt = $this->db->prepare( 'SELECT COUNT(*) FROM revision WHERE rev_page = ?' );
		$stmt->execute( [ $pageId ] );
		return (int)$stmt->fetchColumn();
	}

	public function countAuthors( int $pageId ): int {
		$stmt = $this->db->prepare( 'SELECT COUNT(DISTINCT rev_user_text) FROM revision WHERE rev_page = ?' );
		$stmt->execute( [ $pageId ] );
		return (int)$stmt->fetchColumn();
	}

	/**
	 * If $rev restores the content of an earlier revision, return that revision.
	 */
	public function findRevertedTo( RevisionRecord $rev, int $maxDepth = 15 ): ?RevisionRecord {
		$stmt = $this->db->prepare(
			'SELECT ' . self::FIELDS . ' FROM revision WHERE rev_page = ? AND rev_id < ? ORDER BY rev_id DESC LIMIT ?'
		);
		$stmt->bindValue( 1, $rev->getPageId(), PDO::PARAM_INT );
		$stmt->bindValue( 2, $rev->getId(), PDO::PARAM_INT );
		$stmt->bindValue( 3, $maxDepth, PDO::PARAM_INT );
		$stmt->execute();
		$rows = $stmt->fetchAll( PDO::FETCH_ASSOC );
		// The direct parent is a null edit, not a revert
		array_shift( $rows );
		foreach ( $rows as $row ) {
			if ( $row['rev_sha1'] === $rev->getSha1() ) {
				return $this->newRevisionFromRow( $row );
			}
		}
		return null;
	}

	private function selectOne( string $where, array $params, string $order = 'rev_id' ): ?RevisionRecord {
		$stmt = $this->db->prepare( 'SELECT ' . self::FIELDS . " FROM revision WHERE $where ORDER BY $order LIMIT 1" );
		$stmt->execute( $params );
		$row = $stmt->fetch( PDO::FETCH_ASSOC );
		return $row ? $this->newRevisionFromRow( $row ) : null;
	}

	private function newRevisionFromRow( array $row ): RevisionRecord {
		return new RevisionRecord(
			(int)$row['rev_id'],
			(int)$row['rev_page'],
			$row['rev_parent_id'] === null ? null : (int)$row['rev_parent_id'],
			new UserIdentityValue( (int)$row['rev_user'], $row['rev_user_text'] ),
			$row['rev_timestamp'],
			$row['rev_comment'],
			(string)$row['rev_content'],
			(bool)$row['rev_minor_edit'],
			$row['rev_sha1']
		);
	}
}
