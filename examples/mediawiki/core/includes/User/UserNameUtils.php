<?php

namespace MediaWiki\User;

use MediaWiki\HookContainer\HookContainer;
use MediaWiki\Title\NamespaceInfo;
use MediaWiki\Title\Title;
use MediaWiki\Utils\IPUtils;

/**
 * Validation and canonicalisation of user names.
 */
class UserNameUtils {
	public const RIGOR_NONE = 'none';
	public const RIGOR_VALID = 'valid';
	public const RIGOR_USABLE = 'usable';
	public const RIGOR_CREATABLE = 'creatable';

	public const MAX_NAME_LENGTH = 255;

	private const DEFAULT_RESERVED = [
		'MediaWiki default', 'Conversion script', 'Maintenance script', 'Template namespace initialisation script',
		'Unknown user',
	];

	/** Characters not allowed in newly created accounts */
	private string $invalidCharacters;
	private ?HookContainer $hooks;
	/** @var string[]|null */
	private ?array $reservedNames = null;

	public function __construct( ?HookContainer $hooks = null, string $invalidCharacters = '@:>=' ) {
		$this->hooks = $hooks;
		$this->invalidCharacters = $invalidCharacters;
	}

	public function isIP( string $name ): bool {
		return IPUtils::isValid( $name );
	}

	/**
	 * Temporary accounts look like "~2024-17".
	 */
	public function isTemp( string $name ): bool {
		return (bool)preg_match( '/^~\d{4}-\d+$/', $name );
	}

	public function isValid( string $name ): bool {
		if ( $name === '' || $this->isIP( $name ) || IPUtils::isValidRange( $name ) ) {
			return false;
		}
		if ( strlen( $name ) > self::MAX_NAME_LENGTH || str_contains( $name, '/' ) ) {
			return false;
		}
		if ( preg_match( '/^\d{1,3}\.\d{1,3}\.\d{1,3}\.xxx$/', $name ) ) {
			return false;
		}
		$title = Title::tryNewFromText( $name, NamespaceInfo::NS_USER );
		if ( $title === null || $title->getNamespace() !== NamespaceInfo::NS_USER || $title->hasFragment() ) {
			return false;
		}
		// Must already be in canonical form
		return $title->getText() === $name;
	}

	/**
	 * @return string[]
	 */
	public function getReservedNames(): array {
		if ( $this->reservedNames === null ) {
			$reserved = self::DEFAULT_RESERVED;
			if ( $this->hooks ) {
				$this->hooks->run( 'UserGetReservedNames', [ &$reserved ] );
			}
			$this->reservedNames = array_values( array_unique( $reserved ) );
		}
		return $this->reservedNames;
	}

	public function isUsable( string $name ): bool {
		return $this->isValid( $name ) && !in_array( $name, $this->getReservedNames(), true );
	}

	public function isCreatable( string $name ): bool {
		if ( !$this->isUsable( $name ) || $this->isTemp( $name ) ) {
			return false;
		}
		return strpbrk( $name, $this->invalidCharacters ) === false;
	}

	/**
	 * Canonical form of a name, or false if it fails the given rigor.
	 *
	 * @return string|false
	 */
	public function getCanonical( string $name, string $rigor = self::RIGOR_VALID ) {
		if ( $rigor !== self::RIGOR_NONE && $this->isIP( trim( $name ) ) ) {
			return false;
		}
		$name = trim( preg_replace( '/[ _]+/', ' ', $name ) );
		if ( $name === '' || str_contains( $name, '#' ) ) {
			return false;
		}
		if ( $rigor === self::RIGOR_NONE ) {
			return $name;
		}
		$title = Title::tryNewFromText( $name, NamespaceInfo::NS_USER );
		if ( $title === null || $title->getNamespace() !== NamespaceInfo::NS_USER ) {
			return false;
		}
		$name = $title->getText();
		switch ( $rigor ) {
			case self::RIGOR_VALID:
				return $this->isValid( $name ) ? $name : false;
			case self::RIGOR_USABLE:
				return $this->isUsable( $name ) ? $name : false;
			case self::RIGOR_CREATABLE:
				return $this->isCreatable( $name ) ? $name : false;
			default:
				throw new \InvalidArgumentException( "Invalid rigor '$rigor'" );
		}
	}
}
