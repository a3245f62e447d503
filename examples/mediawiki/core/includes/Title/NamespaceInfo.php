<?php

namespace MediaWiki\Title;

use InvalidArgumentException;

/**
 * Namespace registry: canonical names, aliases and the talk/subject mapping.
 */
class NamespaceInfo {
	public const NS_MEDIA = -2;
	public const NS_SPECIAL = -1;
	public const NS_MAIN = 0;
	public const NS_TALK = 1;
	public const NS_USER = 2;
	public const NS_USER_TALK = 3;
	public const NS_PROJECT = 4;
	public const NS_PROJECT_TALK = 5;
	public const NS_FILE = 6;
	public const NS_FILE_TALK = 7;
	public const NS_MEDIAWIKI = 8;
	public const NS_MEDIAWIKI_TALK = 9;
	public const NS_TEMPLATE = 10;
	public const NS_TEMPLATE_TALK = 11;
	public const NS_HELP = 12;
	public const NS_HELP_TALK = 13;
	public const NS_CATEGORY = 14;
	public const NS_CATEGORY_TALK = 15;

	private const CANONICAL_NAMES = [
		self::NS_MEDIA => 'Media',
		self::NS_SPECIAL => 'Special',
		self::NS_MAIN => '',
		self::NS_TALK => 'Talk',
		self::NS_USER => 'User',
		self::NS_USER_TALK => 'User_talk',
		self::NS_PROJECT => 'Project',
		self::NS_PROJECT_TALK => 'Project_talk',
		self::NS_FILE => 'File',
		self::NS_FILE_TALK => 'File_talk',
		self::NS_MEDIAWIKI => 'MediaWiki',
		self::NS_MEDIAWIKI_TALK => 'MediaWiki_talk',
		self::NS_TEMPLATE => 'Template',
		self::NS_TEMPLATE_TALK => 'Template_talk',
		self::NS_HELP => 'Help',
		self::NS_HELP_TALK => 'Help_talk',
		self::NS_CATEGORY => 'Category',
		self::NS_CATEGORY_TALK => 'Category_talk',
	];

	private const DEFAULT_ALIASES = [
		'Image' => self::NS_FILE,
		'Image_talk' => self::NS_FILE_TALK,
	];

	/** Subject namespaces (besides talk namespaces) where "/" makes a subpage */
	private const SUBPAGE_NAMESPACES = [
		self::NS_USER, self::NS_PROJECT, self::NS_MEDIAWIKI, self::NS_TEMPLATE, self::NS_HELP,
	];

	/** @var array<int,string> */
	private array $names;
	/** @var array<string,int> lower-cased name or alias => index */
	private array $index = [];

	/**
	 * @param array<int,string> $extraNamespaces Additional namespaces (id => canonical name), ids >= 100
	 * @param array<string,int> $aliases Additional aliases (name => id)
	 */
	public function __construct( array $extraNamespaces = [], array $aliases = [] ) {
		$this->names = self::CANONICAL_NAMES;
		foreach ( $extraNamespaces as $id => $name ) {
			if ( $id < 100 ) {
				throw new InvalidArgumentException( "Extra namespace ids must be >= 100, got $id" );
			}
			$this->names[$id] = str_replace( ' ', '_', $name );
		}
		foreach ( $this->names as $id => $name ) {
			if ( $name !== '' ) {
				$this->index[self::normalizeKey( $name )] = $id;
			}
		}
		foreach ( $aliases + self::DEFAULT_ALIASES as $alias => $id ) {
			if ( !isset( $this->names[$id] ) ) {
				throw new InvalidArgumentException( "Alias '$alias' points to unknown namespace $id" );
			}
			$this->index[self::normalizeKey( $alias )] = $id;
		}
	}

	private static function normalizeKey( string $name ): string {
		return mb_strtolower( str_replace( ' ', '_', trim( $name ) ) );
	}

	public function exists( int $ns ): bool {
		return isset( $this->names[$ns] );
	}

	public function getCanonicalName( int $ns ): ?string {
		return $this->names[$ns] ?? null;
	}

	public function getCanonicalIndex( string $name ): ?int {
		$key = self::normalizeKey( $name );
		if ( $key === '' ) {
			return null;
		}
		return $this->index[$key] ?? null;
	}

	/**
	 * @return int[] Non-negative namespace ids, sorted
	 */
	public function getValidNamespaces(): array {
		$ids = array_filter( array_keys( $this->names ), static fn ( int $id ) => $id >= 0 );
		sort( $ids );
		return array_values( $ids );
	}

	public function isTalk( int $ns ): bool {
		return $ns > self::NS_MAIN && $ns % 2 === 1;
	}

	public function isSubject( int $ns ): bool {
		return !$this->isTalk( $ns );
	}

	public function hasTalkNamespace( int $ns ): bool {
		return $ns >= self::NS_MAIN;
	}

	public function getTalk( int $ns ): int {
		if ( !$this->hasTalkNamespace( $ns ) ) {
			throw new InvalidArgumentException( "Namespace $ns has no talk namespace" );
		}
		return $this->isTalk( $ns ) ? $ns : $ns + 1;
	}

	public function getSubject( int $ns ): int {
		return $this->isTalk( $ns ) ? $ns - 1 : $ns;
	}

	public function getAssociated( int $ns ): int {
		return $this->isTalk( $ns ) ? $this->getSubject( $ns ) : $this->getTalk( $ns );
	}

	public function isContent( int $ns ): bool {
		return $ns === self::NS_MAIN;
	}

	public function isMovable( int $ns ): bool {
		return $ns >= self::NS_MAIN && $ns !== self::NS_CATEGORY;
	}

	public function hasSubpages( int $ns ): bool {
		return $this->isTalk( $ns ) || in_array( $ns, self::SUBPAGE_NAMESPACES, true ) || $ns >= 100;
	}
}
