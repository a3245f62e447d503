<?php

namespace MediaWiki\Parser;

use MediaWiki\Html\Html;
use MediaWiki\Title\NamespaceInfo;
use MediaWiki\Title\Title;
use MediaWiki\Utils\MWTimestamp;

/**
 * A small wikitext parser: headings, bold/italic, internal and external links,
 * lists, horizontal rules, paragraphs, nowiki/pre, comments and a few magic words.
 */
class Parser {
	private const MARKER_PREFIX = "\x7fUNIQ-";
	private const MARKER_SUFFIX = "-QINU\x7f";
	private const TOC_MARKER = "\x7fTOC\x7f";
	private const URL_PROTOCOLS = '(?:https?:\/\/|ftp:\/\/|mailto:)';
	private const BLOCK_TAG_RE = '/^<\/?(?:div|table|tr|td|th|tbody|thead|caption|p|h[1-6]|ul|ol|li|dl|dt|dd|blockquote|pre|hr)\b/i';

	/** @var array<string,array{0:string,1:string}> list prefix char => [list tag, item tag] */
	private const LIST_TAGS = [
		'*' => [ 'ul', 'li' ],
		'#' => [ 'ol', 'li' ],
		':' => [ 'dl', 'dd' ],
		';' => [ 'dl', 'dt' ],
	];

	private ParserOptions $options;
	private ParserOutput $output;
	private ?Title $title = null;
	/** @var array<string,string> marker => html */
	private array $strip = [];
	/** @var array<string,bool> markers that stand for block-level content */
	private array $blockMarkers = [];
	private int $markerCount = 0;
	private int $extLinkCount = 0;
	/** @var array<string,bool> */
	private array $usedAnchors = [];
	private string $listPrefix = '';
	/** @var int[] */
	private array $sectionCounters = [];

	public function parse( string $text, ?Title $title = null, ?ParserOptions $options = null ): ParserOutput {
		$this->options = $options ?? new ParserOptions();
		$this->title = $title;
		$this->output = new ParserOutput();
		$this->strip = [];
		$this->blockMarkers = [];
		$this->markerCount = 0;
		$this->extLinkCount = 0;
		$this->usedAnchors = [];
		$this->listPrefix = '';
		$this->sectionCounters = [];

		$text = str_replace( [ "\r\n", "\r" ], "\n", $text );
		$text = $this->stripNoParse( $text );
		$text = preg_replace( '/<!--.*?(?:-->|$)/s', '', $text );
		$text = $this->replaceMagicWords( $text );
		$text = Sanitizer::removeHTMLtags( $text );
		$text = $this->replaceInternalLinks( $text );
		$text = $this->replaceExternalLinks( $text );
		$text = $this->doBlockLevels( $text );
		$text = $this->insertToc( $text );
		$text = $this->unstrip( $text );

		$this->output->setText( trim( $text ) );
		return $this->output;
	}

	private function addMarker( string $html, bool $isBlock = false ): string {
		$marker = self::MARKER_PREFIX . sprintf( '%08d', ++$this->markerCount ) . self::MARKER_SUFFIX;
		$this->strip[$marker] = $html;
		if ( $isBlock ) {
			$this->blockMarkers[$marker] = true;
		}
		return $marker;
	}

	private function unstrip( string $text ): string {
		for ( $i = 0; $i < 4 && str_contains( $text, self::MARKER_PREFIX ); $i++ ) {
			$text = strtr( $text, $this->strip );
		}
		return $text;
	}

	private function stripNoParse( string $text ): string {
		$text = preg_replace_callback( '/<nowiki\s*\/>|<nowiki>(.*?)<\/nowiki>/is', function ( array $m ): string {
			return isset( $m[1] ) ? $this->addMarker( htmlspecialchars( $m[1], ENT_NOQUOTES ) ) : '';
		}, $text );
		return preg_replace_callback( '/<pre>(.*?)<\/pre>/is', function ( array $m ): string {
			return $this->addMarker( '<pre>' . htmlspecialchars( $m[1], ENT_NOQUOTES ) . '</pre>', true );
		}, $text );
	}

	private function replaceMagicWords( string $text ): string {
		foreach ( [ 'NOTOC' => 'notoc', 'FORCETOC' => 'forcetoc', 'NOINDEX' => 'noindex' ] as $word => $flag ) {
			if ( str_contains( $text, "__{$word}__" ) ) {
				$this->output->setFlag( $flag );
				$text = str_replace( "__{$word}__", '', $text );
			}
		}
		return preg_replace_callback( '/\{\{\s*([^{}|]+?)\s*(?:\|[^{}]*)?\}\}/', function ( array $m ): string {
			switch ( $m[1] ) {
				case '!':
					return '|';
				case 'PAGENAME':
					return $this->title ? $this->title->getText() : '';
				case 'FULLPAGENAME':
					return $this->title ? $this->title->getPrefixedText() : '';
				case 'NAMESPACE':
					return $this->title ? $this->title->getNsText() : '';
				case 'CURRENTYEAR':
					return substr( MWTimestamp::convert( MWTimestamp::TS_MW ), 0, 4 );
			}
			$template = Title::tryNewFromText( $m[1], NamespaceInfo::NS_TEMPLATE );
			if ( $template !== null ) {
				$this->output->addTemplate( $template );
			}
			return $m[0];
		}, $text );
	}

	private function replaceInternalLinks( string $text ): string {
		return preg_replace_callback(
			'/\[\[([^\[\]|\n]+)(?:\|([^\[\]\n]*))?\]\]([a-z]+)?/',
			fn ( array $m ): string => $this->makeInternalLink( $m[1], $m[2] ?? null, $m[3] ?? '', $m[0] ),
			$text
		);
	}

	private function makeInternalLink( string $target, ?string $label, string $trail, string $wikitext ): string {
		$target = trim( Sanitizer::decodeCharReferences( $target ) );
		if ( str_starts_with( $target, '#' ) ) {
			$fragment = substr( $target, 1 );
			$href = '#' . Sanitizer::escapeIdForLink( $fragment );
			return $this->addMarker( Html::openElement( 'a', [ 'href' => $href ] ) )
				. ( $label ?? htmlspecialchars( $target, ENT_NOQUOTES ) ) . $trail . '</a>';
		}
		$leadingColon = str_starts_with( $target, ':' );
		$title = Title::tryNewFromText( $target );
		if ( $title === null ) {
			return $wikitext;
		}
		if ( !$leadingColon && $title->getNamespace() === NamespaceInfo::NS_CATEGORY ) {
			$sortKey = $label !== null ? Sanitizer::decodeCharReferences( $label )
				: ( $this->title ? $this->title->getText() : '' );
			$this->output->addCategory( $title->getDBkey(), $sortKey );
			return $trail;
		}
		if ( $label === null ) {
			$label = htmlspecialchars( ltrim( $target, ':' ), ENT_NOQUOTES );
		} elseif ( $label === '' ) {
			// Pipe trick: [[Help:Foo (bar)|]] shows "Foo"
			$label = htmlspecialchars( preg_replace( '/\s*\([^()]*\)$/', '', $title->getText() ), ENT_NOQUOTES );
		}
		$label .= $trail;

		if ( $this->title !== null && $title->equals( $this->title ) && !$title->hasFragment() ) {
			return $this->addMarker( Html::openElement( 'a', [ 'class' => 'mw-selflink selflink' ] ) ) . $label . '</a>';
		}
		$this->output->addLink( $title );
		if ( $this->options->linkExists( $title ) ) {
			$attribs = [
				'href' => $title->getLinkURL( $this->options->getArticlePath() ),
				'title' => $title->getPrefixedText(),
			];
		} else {
			$attribs = [
				'href' => $title->getEditURL( $this->options->getScriptPath() ) . '&redlink=1',
				'class' => 'new',
				'title' => $title->getPrefixedText() . ' (page does not exist)',
			];
		}
		return $this->addMarker( Html::openElement( 'a', $attribs ) ) . $label . '</a>';
	}

	private function externalLinkAttribs( string $url, string $class ): array {
		return [
			'rel' => 'nofollow',
			'class' => $class,
			'href' => $url,
			'target' => $this->options->getExternalLinkTarget(),
		];
	}

	private function replaceExternalLinks( string $text ): string {
		$text = preg_replace_callback(
			'/\[(' . self::URL_PROTOCOLS . '[^\]\s<>"\x7f]+)(?:[ \t]+([^\]\n]*))?\]/',
			function ( array $m ): string {
				$url = Sanitizer::decodeCharReferences( $m[1] );
				$label = trim( $m[2] ?? '' );
				$this->output->addExternalLink( $url );
				if ( $label === '' ) {
					$attribs = $this->externalLinkAttribs( $url, 'external autonumber' );
					return $this->addMarker( Html::openElement( 'a', $attribs ) . '[' . ++$this->extLinkCount . ']</a>' );
				}
				$attribs = $this->externalLinkAttribs( $url, 'external text' );
				return $this->addMarker( Html::openElement( 'a', $attribs ) ) . $label . '</a>';
			},
			$text
		);
		return preg_replace_callback(
			'/(?<![\w\/"\'=\x7f])((?:https?|ftp):\/\/[^\s<>\[\]"\x7f]+)/',
			function ( array $m ): string {
				$display = $m[1];
				$trailing = '';
				if ( preg_match( '/^(.*?)([.,;:!?]+|\))$/', $display, $t ) && !( $t[2] === ')' && str_contains( $t[1], '(' ) ) ) {
					$display = $t[1];
					$trailing = $t[2];
				}
				$url = Sanitizer::decodeCharReferences( $display );
				$this->output->addExternalLink( $url );
				$html = Html::openElement( 'a', $this->externalLinkAttribs( $url, 'external free' ) ) . $display . '</a>';
				return $this->addMarker( $html ) . $trailing;
			},
			$text
		);
	}

	private function doBlockLevels( string $text ): string {
		$out = [];
		$paragraph = [];
		$interface = $this->options->isInterfaceMessage();
		$flushParagraph = static function () use ( &$out, &$paragraph, $interface ): void {
			if ( $paragraph ) {
				$body = implode( "\n", $paragraph );
				$out[] = $interface ? $body : "<p>$body</p>";
				$paragraph = [];
			}
		};

		foreach ( explode( "\n", $text ) as $line ) {
			if ( preg_match( '/^(={1,6})\s*(.+?)\s*\1\s*$/', $line, $m ) ) {
				$flushParagraph();
				$out[] = $this->closeLists() . $this->makeHeading( strlen( $m[1] ), $m[2] );
				continue;
			}
			if ( preg_match( '/^-{4,}\s*$/', $line ) ) {
				$flushParagraph();
				$out[] = $this->closeLists() . '<hr>';
				continue;
			}
			if ( preg_match( '/^([*#:;]+)\s*(.*)$/', $line, $m ) ) {
				$flushParagraph();
				$out[] = $this->openListItem( $m[1] ) . $this->doQuotes( $m[2] );
				continue;
			}
			$close = $this->closeLists();
			if ( $close !== '' ) {
				$out[] = $close;
			}
			$trimmed = trim( $line );
			if ( $trimmed === '' ) {
				$flushParagraph();
				continue;
			}
			if ( isset( $this->blockMarkers[$trimmed] ) || preg_match( self::BLOCK_TAG_RE, $trimmed ) ) {
				$flushParagraph();
				$out[] = $this->doQuotes( $trimmed );
				continue;
			}
			$paragraph[] = $this->doQuotes( $line );
		}
		$flushParagraph();
		$close = $this->closeLists();
		if ( $close !== '' ) {
			$out[] = $close;
		}
		return implode( "\n", $out );
	}

	private function openListItem( string $prefix ): string {
		$html = '';
		$common = 0;
		$max = min( strlen( $prefix ), strlen( $this->listPrefix ) );
		while ( $common < $max && $prefix[$common] === $this->listPrefix[$common] ) {
			$common++;
		}
		// Close lists deeper than the common part
		for ( $i = strlen( $this->listPrefix ) - 1; $i >= $common; $i-- ) {
			[ $list, $item ] = self::LIST_TAGS[$this->listPrefix[$i]];
			$html .= "</$item></$list>";
		}
		if ( $common === strlen( $prefix ) && $common > 0 ) {
			// Same depth: next item in the current list
			[ , $item ] = self::LIST_TAGS[$prefix[$common - 1]];
			$html .= "</$item><$item>";
		} else {
			for ( $i = $common; $i < strlen( $prefix ); $i++ ) {
				[ $list, $item ] = self::LIST_TAGS[$prefix[$i]];
				$html .= "<$list><$item>";
			}
		}
		$this->listPrefix = $prefix;
		return $html;
	}

	private function closeLists(): string {
		$html = '';
		for ( $i = strlen( $this->listPrefix ) - 1; $i >= 0; $i-- ) {
			[ $list, $item ] = self::LIST_TAGS[$this->listPrefix[$i]];
			$html .= "</$item></$list>";
		}
		$this->listPrefix = '';
		return $html;
	}

	private function makeHeading( int $level, string $content ): string {
		$html = $this->doQuotes( $content );
		$plain = Sanitizer::stripAllTags( $this->unstrip( $html ) );
		$anchor = Sanitizer::escapeIdForAttribute( $plain );
		if ( $anchor === '' ) {
			$anchor = 'section';
		}
		if ( isset( $this->usedAnchors[$anchor] ) ) {
			$n = 2;
			while ( isset( $this->usedAnchors["{$anchor}_$n"] ) ) {
				$n++;
			}
			$anchor = "{$anchor}_$n";
		}
		$this->usedAnchors[$anchor] = true;

		$this->sectionCounters = array_filter( $this->sectionCounters,
			static fn ( int $l ): bool => $l <= $level, ARRAY_FILTER_USE_KEY );
		$this->sectionCounters[$level] = ( $this->sectionCounters[$level] ?? 0 ) + 1;
		ksort( $this->sectionCounters );
		$number = implode( '.', $this->sectionCounters );
		$this->output->addSection( $level, $plain, $anchor, $number );

		$marker = count( $this->output->getSections() ) === 1 ? self::TOC_MARKER : '';
		return $marker . Html::rawElement( "h$level", [],
			Html::rawElement( 'span', [ 'class' => 'mw-headline', 'id' => $anchor ], $html ) );
	}

	private function insertToc( string $text ): string {
		$sections = $this->output->getSections();
		$show = !$this->output->getFlag( 'notoc' ) && ( $this->output->getFlag( 'forcetoc' )
			|| count( $sections ) >= $this->options->getTocThreshold() );
		if ( !$show || !$sections ) {
			return str_replace( self::TOC_MARKER, '', $text );
		}
		$this->output->setFlag( 'show-toc' );
		$minLevel = min( array_column( $sections, 'level' ) );
		$items = '';
		foreach ( $sections as $section ) {
			$link = Html::rawElement( 'a', [ 'href' => '#' . Sanitizer::escapeIdForLink( $section['anchor'] ) ],
				Html::element( 'span', [ 'class' => 'tocnumber' ], $section['number'] ) . ' '
				. Html::element( 'span', [ 'class' => 'toctext' ], $section['line'] ) );
			$items .= Html::rawElement( 'li', [ 'class' => 'toclevel-' . ( $section['level'] - $minLevel + 1 ) ], $link );
		}
		$toc = Html::rawElement( 'div', [ 'id' => 'toc', 'class' => 'toc' ], Html::rawElement( 'ul', [], $items ) );
		return str_replace( self::TOC_MARKER, $toc . "\n", $text );
	}

	/**
	 * Convert '' and ''' runs in one line into <i> and <b>.
	 */
	public function doQuotes( string $line ): string {
		if ( !str_contains( $line, "''" ) ) {
			return $line;
		}
		$parts = preg_split( "/(''+)/", $line, -1, PREG_SPLIT_DELIM_CAPTURE );
		$stack = [];
		$out = '';
		foreach ( $parts as $i => $part ) {
			if ( $i % 2 === 0 ) {
				$out .= $part;
				continue;
			}
			$len = strlen( $part );
			if ( $len === 4 ) {
				$out .= "'";
				$len = 3;
			} elseif ( $len > 5 ) {
				$out .= str_repeat( "'", $len - 5 );
				$len = 5;
			}
			if ( $len === 2 ) {
				$out .= $this->toggle( $stack, 'i' );
			} elseif ( $len === 3 ) {
				$out .= $this->toggle( $stack, 'b' );
			} elseif ( !$stack ) {
				$out .= $this->toggle( $stack, 'i' ) . $this->toggle( $stack, 'b' );
			} elseif ( count( $stack ) === 2 ) {
				$top = end( $stack );
				$out .= $this->toggle( $stack, $top ) . $this->toggle( $stack, $stack[0] );
			} else {
				$open = $stack[0];
				$out .= $this->toggle( $stack, $open ) . $this->toggle( $stack, $open === 'b' ? 'i' : 'b' );
			}
		}
		while ( $stack ) {
			$out .= '</' . array_pop( $stack ) . '>';
		}
		return $out;
	}

	/**
	 * @param string[] &$stack open tags, innermost last
	 */
	private function toggle( array &$stack, string $tag ): string {
		$pos = array_search( $tag, $stack, true );
		if ( $pos === false ) {
			$stack[] = $tag;
			return "<$tag>";
		}
		$html = '';
		$reopen = array_slice( $stack, $pos + 1 );
		for ( $j = count( $stack ) - 1; $j >= $pos; $j-- ) {
			$html .= '</' . $stack[$j] . '>';
		}
		$stack = array_slice( $stack, 0, $pos );
		foreach ( $reopen as $t ) {
			$stack[] = $t;
			$html .= "<$t>";
		}
		return $html;
	}
}
