<?php

namespace MediaWiki\Revision;

use MediaWiki\User\UserIdentity;
use MediaWiki\Utils\BaseConvert;

/**
 * One stored revision of a page.
 */
final class RevisionRecord {
	private int $id;
	private int $pageId;
	private ?int $parentId;
	private UserIdentity $user;
	private string $timestamp;
	private string $comment;
	private string $content;
	private bool $minor;
	private string $sha1;

	public function __construct(
		int $id, int $pageId, ?int $parentId, UserIdentity $user, string $timestamp, string $comment,
		string $content, bool $minor = false, ?string $sha1 = null
	) {
		$this->id = $id;
		$this->pageId = $pageId;
		$this->parentId = $parentId;
		$this->user = $user;
		$this->timestamp = $timestamp;
		$this->comment = $comment;
		$this->content = $content;
		$this->minor = $minor;
		$this->sha1 = $sha1 ?? BaseConvert::sha1Base36( $content );
	}

	public function getId(): int {
		return $this->id;
	}

	public function getPageId(): int {
		return $this->pageId;
	}

	public function getParentId(): ?int {
		return $this->parentId;
	}

	public function getUser(): UserIdentity {
		return $this->user;
	}

	public function getTimestamp(): string {
		return $this->timestamp;
	}

	public function getComment(): string {
		return $this->comment;
	}

	public function getContent(): string {
		return $this->content;
	}

	public function isMinor(): bool {
		return $this->minor;
	}

	public function getSha1(): string {
		return $this->sha1;
	}

	public function getSize(): int {
		return strlen( $this->content );
	}

	/**
	 * Byte difference to the parent revision (or to an empty page).
	 */
	public function getSizeDiff( ?RevisionRecord $parent ): int {
		return $this->getSize() - ( $parent ? $parent->getSize() : 0 );
	}

	public function hasSameContent( RevisionRecord $other ): bool {
		return $this->sha1 === $other->sha1 && $this->content === $other->content;
	}
}
