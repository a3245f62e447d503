<?php

namespace MediaWiki\Tests\Integration\Parser;

use MediaWiki\Cache\LinkBatch;
use MediaWiki\Cache\LinkCache;
use MediaWiki\Json\JsonCodec;
use MediaWiki\Page\PageStore;
use MediaWiki\Parser\Parser;
use MediaWiki\Parser\ParserOptions;
use MediaWiki\Parser\ParserOutput;
use MediaWiki\Tests\DatabaseTestCase;
use MediaWiki\Title\Title;

/**
 * Parser output together with link existence, caching and serialisation.
 * Only some of these tests need the database.
 *
 * @covers \MediaWiki\Parser\Parser
 * @covers \MediaWiki\Parser\ParserOutput
 * @covers \MediaWiki\Parser\ParserOptions
 */
class ParserLinksTest extends DatabaseTestCase {
	private const TEXT = "See [[Existing page]], [[Missing page]] and [[Talk:Existing page|its talk]].\n[[Category:Linked]]";

	/**
	 * @group Database
	 */
	public function testLinkColoursFromDatabase(): void {
		$this->editPage( 'Existing page', 'I exist' );
		$options = new ParserOptions( [ 'linkExists' => ( new PageStore( $this->getDb() ) )->getExistenceChecker() ] );
		$html = ( new Parser() )->parse( self::TEXT, Title::newFromText( 'Source' ), $options )->getText();
		$this->assertStringContainsString( '<a href="/wiki/Existing_page" title="Existing page">Existing page</a>', $html );
		$this->assertStringContainsString( 'class="new" title="Missing page (page does not exist)"', $html );
		$this->assertStringContainsString( 'class="new" title="Talk:Existing page (page does not exist)"', $html );
	}

	/**
	 * @group Database
	 */
	public function testLinkBatchPreloadAvoidsPerLinkQueries(): void {
		$this->editPage( 'Existing page', 'I exist' );
		$first = ( new Parser() )->parse( self::TEXT, Title::newFromText( 'Source' ), new ParserOptions( [
			'linkExists' => static fn (): bool => true,
		] ) );
		$batch = new LinkBatch();
		$batch->setArray( $first->getLinks() );
		$cache = new LinkCache();
		$batch->execute( $this->getDb(), $cache );
		$lookups = 0;
		$options = new ParserOptions( [ 'linkExists' => static function ( Title $t ) use ( $cache, &$lookups ): bool {
			$lookups++;
			return $cache->getGoodLinkID( $t ) > 0;
		} ] );
		$html = ( new Parser() )->parse( self::TEXT, Title::newFromText( 'Source' ), $options )->getText();
		$this->assertSame( 3, $lookups );
		$this->assertSame( 2, substr_count( $html, 'class="new"' ) );
		$this->assertSame( 1, substr_count( $html, 'href="/wiki/Existing_page"' ) );
		$this->assertSame( [ 'hits' => 1, 'misses' => 2, 'good' => 1, 'bad' => 2 ], $cache->getStats() );
	}

	public function testOutputSurvivesJsonRoundTrip(): void {
		$output = ( new Parser() )->parse( "== Head ==\n" . self::TEXT . "\n[https://example.org x]", Title::newFromText( 'Source' ) );
		$codec = new JsonCodec();
		$copy = $codec->deserialize( $codec->serialize( $output ), ParserOutput::class );
		$this->assertSame( $output->getText(), $copy->getText() );
		$this->assertSame( $output->getLinkTargets(), $copy->getLinkTargets() );
		$this->assertSame( [ 'Linked' ], $copy->getCategoryNames() );
		$this->assertSame( [ 'https://example.org' ], $copy->getExternalLinks() );
		$this->assertSame( $output->getSections(), $copy->getSections() );
	}

	public function testOptionsHashSeparatesCacheEntries(): void {
		$cache = [];
		$parser = new Parser();
		foreach ( [ [], [ 'interfaceMessage' => true ], [ 'articlePath' => '/w/$1' ], [] ] as $opts ) {
			$options = new ParserOptions( $opts );
			$cache[$options->optionsHash()] ??= $parser->parse( '[[Foo]]', null, $options )->getText();
		}
		$this->assertSame( [ 'canonical', 'interfaceMessage=1', 'articlePath=/w/$1' ], array_keys( $cache ) );
		$this->assertStringContainsString( 'href="/w/Foo"', $cache['articlePath=/w/$1'] );
	}

	public function testNonDatabaseTestHasNoConnection(): void {
		$this->expectException( \LogicException::class );
		$this->expectExceptionMessage( 'not in @group Database' );
		$this->getDb();
	}
}
