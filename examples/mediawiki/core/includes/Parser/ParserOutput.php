<?php

namespace MediaWiki\Parser;

use MediaWiki\Json\JsonCodecable;
use MediaWiki\Title\Title;

/**
 * The result of parsing: HTML plus link tables and metadata.
 */
class ParserOutput implements JsonCodecable {
	private string $text;
	/** @var array<int,array<string,int>> namespace => db key => 1 */
	private array $links = [];
	/** @var array<int,array<string,int>> */
	private array $templates = [];
	/** @var array<string,string> category db key => sort key */
	private array $categories = [];
	/** @var array<string,int> */
	private array $externalLinks = [];
	/** @var array<int,array{level:int,line:string,anchor:string,number:string}> */
	private array $sections = [];
	/** @var array<string,bool> */
	private array $flags = [];

	public function __construct( string $text = '' ) {
		$this->text = $text;
	}

	public function getText(): string {
		return $this->text;
	}

	public function setText( string $text ): void {
		$this->text = $text;
	}

	public function addLink( Title $title ): void {
		$this->links[$title->getNamespace()][$title->getDBkey()] = 1;
	}

	public function getLinks(): array {
		return $this->links;
	}

	/**
	 * @return string[] prefixed db keys of all links, sorted
	 */
	public function getLinkTargets(): array {
		$targets = [];
		foreach ( $this->links as $ns => $keys ) {
			foreach ( array_keys( $keys ) as $dbKey ) {
				$targets[] = Title::makeTitle( $ns, (string)$dbKey )->getPrefixedDBkey();
			}
		}
		sort( $targets );
		return $targets;
	}

	public function addTemplate( Title $title ): void {
		$this->templates[$title->getNamespace()][$title->getDBkey()] = 1;
	}

	public function getTemplates(): array {
		return $this->templates;
	}

	public function addCategory( string $dbKey, string $sortKey ): void {
		$this->categories[$dbKey] = $sortKey;
	}

	public function getCategories(): array {
		return $this->categories;
	}

	/**
	 * @return string[]
	 */
	public function getCategoryNames(): array {
		return array_map( 'strval', array_keys( $this->categories ) );
	}

	public function addExternalLink( string $url ): void {
		$this->externalLinks[$url] = 1;
	}

	/**
	 * @return string[]
	 */
	public function getExternalLinks(): array {
		return array_map( 'strval', array_keys( $this->externalLinks ) );
	}

	public function addSection( int $level, string $line, string $anchor, string $number ): void {
		$this->sections[] = [ 'level' => $level, 'line' => $line, 'anchor' => $anchor, 'number' => $number ];
	}

	public function getSections(): array {
		return $this->sections;
	}

	public function setFlag( string $flag ): void {
		$this->flags[$flag] = true;
	}

	public function getFlag( string $flag ): bool {
		return $this->flags[$flag] ?? false;
	}

	public function toJsonArray(): array {
		return [
			'text' => $this->text,
			'links' => $this->links,
			'templates' => $this->templates,
			'categories' => $this->categories,
			'externalLinks' => $this->externalLinks,
			'sections' => $this->sections,
			'flags' => array_keys( $this->flags ),
		];
	}

	public static function newFromJsonArray( array $json ): self {
		$output = new self( $json['text'] ?? '' );
		$output->links = $json['links'] ?? [];
		$output->templates = $json['templates'] ?? [];
		$output->categories = $json['categories'] ?? [];
		$output->externalLinks = $json['externalLinks'] ?? [];
		$output->sections = $json['sections'] ?? [];
		foreach ( $json['flags'] ?? [] as $flag ) {
			$output->setFlag( $flag );
		}
		return $output;
	}
}
