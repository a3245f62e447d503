<?php

namespace MediaWiki\Title;

use MediaWiki\Parser\Sanitizer;
use MediaWiki\Utils\StringUtils;

/**
 * A normalised page title: namespace + database key (+ optional fragment).
 */
final class Title {
	public const MAX_LENGTH = 255;
	public const MAX_SPECIAL_LENGTH = 512;

	/** Characters never allowed in a title (the fragment has been split off already) */
	private const ILLEGAL_CHARS_RE = '/[\x00-\x1f\x7f#<>\[\]|{}]|%[0-9A-Fa-f]{2}/';
	private const ENTITY_RE = '/&[A-Za-z0-9\x80-\xff]+;|&#[0-9]+;|&#x[0-9A-Fa-f]+;/';
	private const BIDI_RE = '/[\x{200E}\x{200F}\x{202A}-\x{202E}]+/u';
	private const WHITESPACE_RE = '/[ _\x{00A0}\x{1680}\x{180E}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+/u';

	private static ?NamespaceInfo $namespaceInfo = null;

	private int $namespace;
	private string $dbKey;
	private string $fragment;

	private function __construct( int $namespace, string $dbKey, string $fragment ) {
		$this->namespace = $namespace;
		$this->dbKey = $dbKey;
		$this->fragment = $fragment;
	}

	public static function getNamespaceInfo(): NamespaceInfo {
		self::$namespaceInfo ??= new NamespaceInfo();
		return self::$namespaceInfo;
	}

	/**
	 * Replace the namespace registry (tests, extensions adding namespaces).
	 */
	public static function setNamespaceInfo( ?NamespaceInfo $info ): void {
		self::$namespaceInfo = $info;
	}

	/**
	 * @throws MalformedTitleException
	 */
	public static function newFromText( string $text, int $defaultNamespace = NamespaceInfo::NS_MAIN ): self {
		[ $ns, $dbKey, $fragment ] = self::splitTitleString( $text, $defaultNamespace );
		return new self( $ns, $dbKey, $fragment );
	}

	public static function tryNewFromText( string $text, int $defaultNamespace = NamespaceInfo::NS_MAIN ): ?self {
		try {
			return self::newFromText( $text, $defaultNamespace );
		} catch ( MalformedTitleException $e ) {
			return null;
		}
	}

	/**
	 * Create a title from trusted parts without validation (e.g. from a database row).
	 */
	public static function makeTitle( int $namespace, string $dbKey, string $fragment = '' ): self {
		return new self( $namespace, strtr( $dbKey, ' ', '_' ), $fragment );
	}

	/**
	 * Create a title from untrusted parts; returns null when invalid.
	 */
	public static function makeTitleSafe( int $namespace, string $text ): ?self {
		$info = self::getNamespaceInfo();
		$prefix = $info->getCanonicalName( $namespace );
		if ( $prefix === null ) {
			return null;
		}
		$title = self::tryNewFromText( $prefix === '' ? ':' . $text : "$prefix:$text" );
		if ( $title === null || $title->getNamespace() !== $namespace ) {
			return null;
		}
		return $title;
	}

	/**
	 * Split and normalise a title string.
	 *
	 * @return array{0:int,1:string,2:string} namespace, db key, fragment
	 * @throws MalformedTitleException
	 */
	public static function splitTitleString( string $text, int $defaultNamespace = NamespaceInfo::NS_MAIN ): array {
		$info = self::getNamespaceInfo();
		if ( !StringUtils::isUtf8( $text ) ) {
			throw new MalformedTitleException( 'title-invalid-utf8', $text );
		}
		$dbKey = preg_replace( self::BIDI_RE, '', $text );
		$dbKey = preg_replace( self::WHITESPACE_RE, '_', $dbKey );
		$dbKey = trim( $dbKey, '_' );

		$fragment = '';
		$hash = strpos( $dbKey, '#' );
		if ( $hash !== false ) {
			$fragment = trim( strtr( substr( $dbKey, $hash + 1 ), '_', ' ' ) );
			$dbKey = rtrim( substr( $dbKey, 0, $hash ), '_' );
		}
		if ( $dbKey === '' ) {
			throw new MalformedTitleException( 'title-invalid-empty', $text );
		}

		$ns = $defaultNamespace;
		if ( $dbKey[0] === ':' ) {
			$ns = NamespaceInfo::NS_MAIN;
			$dbKey = ltrim( substr( $dbKey, 1 ), '_' );
		} elseif ( preg_match( '/^(.+?)_*:_*(.*)$/s', $dbKey, $m ) ) {
			$index = $info->getCanonicalIndex( $m[1] );
			if ( $index !== null ) {
				$ns = $index;
				$dbKey = $m[2];
				if ( $ns === NamespaceInfo::NS_TALK && preg_match( '/^(.+?)_*:_*(.*)$/s', $dbKey, $x )
					&& $info->getCanonicalIndex( $x[1] ) !== null
				) {
					throw new MalformedTitleException( 'title-invalid-talk-namespace', $text );
				}
			}
		}

		if ( $dbKey === '' ) {
			throw new MalformedTitleException( 'title-invalid-empty', $text );
		}
		if ( $dbKey[0] === ':' ) {
			throw new MalformedTitleException( 'title-invalid-leading-colon', $text );
		}
		if ( preg_match( self::ILLEGAL_CHARS_RE, $dbKey ) || preg_match( self::ENTITY_RE, $dbKey ) ) {
			throw new MalformedTitleException( 'title-invalid-characters', $text );
		}
		if ( self::isRelativePath( $dbKey ) ) {
			throw new MalformedTitleException( 'title-invalid-relative', $text );
		}
		if ( strpos( $dbKey, '~~~' ) !== false ) {
			throw new MalformedTitleException( 'title-invalid-magic-tilde', $text );
		}
		$maxLength = $ns === NamespaceInfo::NS_SPECIAL ? self::MAX_SPECIAL_LENGTH : self::MAX_LENGTH;
		if ( strlen( $dbKey ) > $maxLength ) {
			throw new MalformedTitleException( 'title-invalid-too-long', $text );
		}

		return [ $ns, StringUtils::ucfirst( $dbKey ), $fragment ];
	}

	private static function isRelativePath( string $dbKey ): bool {
		if ( strpos( $dbKey, '.' ) === false ) {
			return false;
		}
		return $dbKey === '.' || $dbKey === '..'
			|| str_starts_with( $dbKey, './' ) || str_starts_with( $dbKey, '../' )
			|| str_contains( $dbKey, '/./' ) || str_contains( $dbKey, '/../' )
			|| str_ends_with( $dbKey, '/.' ) || str_ends_with( $dbKey, '/..' );
	}

	public function getNamespace(): int {
		return $this->namespace;
	}

	public function getDBkey(): string {
		return $this->dbKey;
	}

	public function getText(): string {
		return strtr( $this->dbKey, '_', ' ' );
	}

	public function getNsText(): string {
		return strtr( self::getNamespaceInfo()->getCanonicalName( $this->namespace ) ?? '', '_', ' ' );
	}

	public function getPrefixedDBkey(): string {
		$ns = self::getNamespaceInfo()->getCanonicalName( $this->namespace ) ?? '';
		return $ns === '' ? $this->dbKey : "$ns:{$this->dbKey}";
	}

	public function getPrefixedText(): string {
		return strtr( $this->getPrefixedDBkey(), '_', ' ' );
	}

	public function getFullText(): string {
		$text = $this->getPrefixedText();
		return $this->fragment === '' ? $text : "$text#{$this->fragment}";
	}

	public function getFragment(): string {
		return $this->fragment;
	}

	public function hasFragment(): bool {
		return $this->fragment !== '';
	}

	public function createFragmentTarget( string $fragment ): self {
		return new self( $this->namespace, $this->dbKey, $fragment );
	}

	public function isSpecialPage(): bool {
		return $this->namespace === NamespaceInfo::NS_SPECIAL;
	}

	public function isTalkPage(): bool {
		return self::getNamespaceInfo()->isTalk( $this->namespace );
	}

	public function canHaveTalkPage(): bool {
		return self::getNamespaceInfo()->hasTalkNamespace( $this->namespace );
	}

	public function getTalkPage(): self {
		return new self( self::getNamespaceInfo()->getTalk( $this->namespace ), $this->dbKey, '' );
	}

	public function getSubjectPage(): self {
		return new self( self::getNamespaceInfo()->getSubject( $this->namespace ), $this->dbKey, '' );
	}

	public function isSubpage(): bool {
		return self::getNamespaceInfo()->hasSubpages( $this->namespace ) && str_contains( $this->dbKey, '/' );
	}

	public function getRootText(): string {
		if ( !$this->isSubpage() ) {
			return $this->getText();
		}
		return strtr( strstr( $this->dbKey, '/', true ), '_', ' ' );
	}

	public function getBaseText(): string {
		if ( !$this->isSubpage() ) {
			return $this->getText();
		}
		return strtr( substr( $this->dbKey, 0, strrpos( $this->dbKey, '/' ) ), '_', ' ' );
	}

	public function getSubpageText(): string {
		if ( !$this->isSubpage() ) {
			return $this->getText();
		}
		return strtr( substr( $this->dbKey, strrpos( $this->dbKey, '/' ) + 1 ), '_', ' ' );
	}

	public function equals( self $other ): bool {
		return $this->namespace === $other->namespace && $this->dbKey === $other->dbKey;
	}

	public static function compare( self $a, self $b ): int {
		return ( $a->namespace <=> $b->namespace ) ?: strcmp( $a->dbKey, $b->dbKey );
	}

	/**
	 * URL-encode a title path component, keeping characters that are safe in paths.
	 */
	public static function urlencode( string $s ): string {
		return strtr( rawurlencode( $s ), [
			'%3B' => ';', '%40' => '@', '%24' => '$', '%21' => '!', '%2A' => '*',
			'%28' => '(', '%29' => ')', '%2C' => ',', '%2F' => '/', '%3A' => ':',
		] );
	}

	public function getLinkURL( string $articlePath = '/wiki/$1' ): string {
		$url = str_replace( '$1', self::urlencode( $this->getPrefixedDBkey() ), $articlePath );
		if ( $this->fragment !== '' ) {
			$url .= '#' . Sanitizer::escapeIdForLink( $this->fragment );
		}
		return $url;
	}

	public function getEditURL( string $scriptPath = '/index.php' ): string {
		return $scriptPath . '?title=' . self::urlencode( $this->getPrefixedDBkey() ) . '&action=edit';
	}

	public function __toString(): string {
		return $this->getPrefixedText();
	}
}
