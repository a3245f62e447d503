<?php

namespace MediaWiki\Message;

use MediaWiki\Utils\StringUtils;

/**
 * A localisable message with parameters, {{PLURAL}}, {{GENDER}} and friends.
 */
class Message {
	private const PARAM_TEXT = 'text';
	private const PARAM_NUM = 'num';
	private const PARAM_RAW = 'raw';

	private static ?MessageCache $defaultCache = null;

	/** @var string[] */
	private array $keysToTry;
	/** @var array<int,array{type:string,value:mixed}> */
	private array $params = [];
	private string $language = 'en';
	private MessageCache $cache;
	/** @var callable|null */
	private $genderResolver = null;

	/**
	 * @param string|string[] $key A key, or keys to try in order
	 */
	public function __construct( $key, array $params = [], ?MessageCache $cache = null ) {
		$this->keysToTry = (array)$key;
		if ( !$this->keysToTry ) {
			throw new \InvalidArgumentException( 'Message key must not be empty' );
		}
		$this->cache = $cache ?? self::getDefaultCache();
		$this->params( ...$params );
	}

	public static function newFromKey( string $key, ...$params ): self {
		return new self( $key, $params );
	}

	public static function getDefaultCache(): MessageCache {
		self::$defaultCache ??= MessageCache::newFromDirectories( [ dirname( __DIR__, 2 ) . '/languages/i18n' ] );
		return self::$defaultCache;
	}

	public static function setDefaultCache( ?MessageCache $cache ): void {
		self::$defaultCache = $cache;
	}

	public function params( ...$params ): self {
		foreach ( $params as $param ) {
			$this->params[] = [ 'type' => self::PARAM_TEXT, 'value' => $param ];
		}
		return $this;
	}

	public function numParams( ...$params ): self {
		foreach ( $params as $param ) {
			$this->params[] = [ 'type' => self::PARAM_NUM, 'value' => $param ];
		}
		return $this;
	}

	/**
	 * Parameters inserted after escaping (must already be safe HTML).
	 */
	public function rawParams( ...$params ): self {
		foreach ( $params as $param ) {
			$this->params[] = [ 'type' => self::PARAM_RAW, 'value' => $param ];
		}
		return $this;
	}

	public function inLanguage( string $lang ): self {
		$this->language = strtolower( $lang );
		return $this;
	}

	public function getLanguage(): string {
		return $this->language;
	}

	/**
	 * @param callable $resolver fn( string $userName ): string returning male|female|unknown
	 */
	public function withGenderResolver( callable $resolver ): self {
		$this->genderResolver = $resolver;
		return $this;
	}

	public function getKey(): string {
		foreach ( $this->keysToTry as $key ) {
			if ( $this->cache->has( $key, $this->language ) ) {
				return $key;
			}
		}
		return end( $this->keysToTry );
	}

	public function exists(): bool {
		return $this->fetch() !== null;
	}

	public function isDisabled(): bool {
		$text = $this->fetch();
		return $text === null || $text === '' || $text === '-';
	}

	private function fetch(): ?string {
		foreach ( $this->keysToTry as $key ) {
			$text = $this->cache->get( $key, $this->language );
			if ( $text !== null ) {
				return $text;
			}
		}
		return null;
	}

	/**
	 * Parameters substituted, no {{...}} expansion.
	 */
	public function plain(): string {
		return $this->format( 'plain' );
	}

	/**
	 * Parameters substituted and {{...}} expanded; not escaped.
	 */
	public function text(): string {
		return $this->format( 'text' );
	}

	/**
	 * Like text(), but HTML-escaped (raw parameters are left as they are).
	 */
	public function escaped(): string {
		return $this->format( 'escaped' );
	}

	public function __toString(): string {
		return $this->text();
	}

	private function format( string $format ): string {
		$raw = $this->fetch();
		if ( $raw === null ) {
			$missing = '⧼' . $this->getKey() . '⧽';
			return $format === 'escaped' ? htmlspecialchars( $missing, ENT_QUOTES ) : $missing;
		}
		$rawValues = [];
		$text = preg_replace_callback( '/\$(\d+)/', function ( array $m ) use ( &$rawValues ): string {
			$index = (int)$m[1] - 1;
			if ( !isset( $this->params[$index] ) ) {
				return $m[0];
			}
			$param = $this->params[$index];
			switch ( $param['type'] ) {
				case self::PARAM_NUM:
					return StringUtils::formatNum( $param['value'], $this->language );
				case self::PARAM_RAW:
					$marker = "\x7fRAW$index\x7f";
					$rawValues[$marker] = (string)$param['value'];
					return $marker;
				default:
					return $param['value'] instanceof self ? $param['value']->text() : (string)$param['value'];
			}
		}, $raw );
		if ( $format !== 'plain' ) {
			$text = $this->expandMagic( $text );
		}
		if ( $format === 'escaped' ) {
			$text = htmlspecialchars( $text, ENT_QUOTES );
		}
		return strtr( $text, $rawValues );
	}

	private function expandMagic( string $text ): string {
		$re = '/\{\{\s*(PLURAL|GENDER|LC|UC|UCFIRST|INT)\s*:([^{}]*)\}\}/i';
		for ( $depth = 0; $depth < 5 && preg_match( $re, $text ); $depth++ ) {
			$text = preg_replace_callback( $re, function ( array $m ): string {
				$parts = array_map( 'trim', explode( '|', $m[2] ) );
				$arg = array_shift( $parts );
				switch ( strtoupper( $m[1] ) ) {
					case 'PLURAL':
						$n = StringUtils::parseFormattedNum( $arg, $this->language ) ?? 0;
						return PluralRules::choose( $this->language, $n, $parts );
					case 'GENDER':
						return $this->chooseGender( $arg, $parts );
					case 'LC':
						return mb_strtolower( $arg );
					case 'UC':
						return mb_strtoupper( $arg );
					case 'UCFIRST':
						return StringUtils::ucfirst( $arg );
					default:
						return ( new self( $arg, [], $this->cache ) )->inLanguage( $this->language )->text();
				}
			}, $text );
		}
		return $text;
	}

	private function chooseGender( string $arg, array $forms ): string {
		if ( !$forms ) {
			return '';
		}
		$gender = in_array( $arg, [ 'male', 'female', 'unknown' ], true ) ? $arg : 'unknown';
		if ( $this->genderResolver !== null && $gender === 'unknown' && $arg !== '' && $arg !== 'unknown' ) {
			$gender = ( $this->genderResolver )( $arg );
		}
		$index = [ 'male' => 0, 'female' => 1 ][$gender] ?? 2;
		return $forms[$index] ?? $forms[0];
	}
}
