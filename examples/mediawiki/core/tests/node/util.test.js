'use strict';

const { test } = require( 'node:test' );
const assert = require( 'node:assert/strict' );
const util = require( '../../resources/src/mediawiki.util.js' );

test( 'wikiUrlencode keeps titles readable', () => {
	assert.equal( util.wikiUrlencode( 'Main Page' ), 'Main_Page' );
	assert.equal( util.wikiUrlencode( 'Talk:Foo/Bar (baz)' ), 'Talk:Foo/Bar_(baz)' );
	assert.equal( util.wikiUrlencode( 'A&B?C' ), 'A%26B%3FC' );
	assert.equal( util.wikiUrlencode( 'Ünïcode' ), '%C3%9Cn%C3%AFcode' );
} );

test( 'escapeRegExp escapes every metacharacter', () => {
	const text = 'a.b*c+d?(e)[f]{g}|h^i$j\\k-l/m';
	assert.ok( new RegExp( '^' + util.escapeRegExp( text ) + '$' ).test( text ) );
	assert.equal( util.escapeRegExp( 'plain' ), 'plain' );
} );

test( 'getParamValue reads the query, not the fragment', () => {
	const url = 'https://wiki.example/w/index.php?title=Main_Page&action=edit&summary=a+b#section?x=1';
	assert.equal( util.getParamValue( 'action', url ), 'edit' );
	assert.equal( util.getParamValue( 'summary', url ), 'a b' );
	assert.equal( util.getParamValue( 'x', url ), null );
	assert.equal( util.getParamValue( 'title', 'https://wiki.example/?title' ), '' );
} );
