<?php

namespace MediaWiki\Page;

use MediaWiki\Title\Title;

/**
 * A row of the page table.
 */
final class PageRecord {
	private int $id;
	private int $namespace;
	private string $dbKey;
	private int $latest;
	private int $length;
	private string $touched;
	private bool $redirect;

	public function __construct(
		int $id, int $namespace, string $dbKey, int $latest, int $length, string $touched, bool $redirect = false
	) {
		$this->id = $id;
		$this->namespace = $namespace;
		$this->dbKey = $dbKey;
		$this->latest = $latest;
		$this->length = $length;
		$this->touched = $touched;
		$this->redirect = $redirect;
	}

	public static function newFromRow( array $row ): self {
		return new self(
			(int)$row['page_id'],
			(int)$row['page_namespace'],
			(string)$row['page_title'],
			(int)$row['page_latest'],
			(int)$row['page_len'],
			(string)$row['page_touched'],
			(bool)$row['page_is_redirect']
		);
	}

	public function getId(): int {
		return $this->id;
	}

	public function getNamespace(): int {
		return $this->namespace;
	}

	public function getDBkey(): string {
		return $this->dbKey;
	}

	public function getTitle(): Title {
		return Title::makeTitle( $this->namespace, $this->dbKey );
	}

	public function getLatest(): int {
		return $this->latest;
	}

	public function getLength(): int {
		return $this->length;
	}

	public function getTouched(): string {
		return $this->touched;
	}

	public function isRedirect(): bool {
		return $this->redirect;
	}

	public function exists(): bool {
		return $this->latest > 0;
	}
}
