'use strict';

const { test } = require( 'node:test' );
const assert = require( 'node:assert/strict' );
const { canThank, confirmText } = require( '../../modules/ext.thanks.confirm.js' );

test( 'nobody thanks themselves or an IP', () => {
	assert.equal( canThank( { author: 'Alice', authorIsAnon: false }, 'Bob' ), true );
	assert.equal( canThank( { author: 'Bob', authorIsAnon: false }, 'Bob' ), false );
	assert.equal( canThank( { author: '192.0.2.1', authorIsAnon: true }, 'Bob' ), false );
} );

test( 'the confirmation names the author with their pronoun', () => {
	assert.match( confirmText( 'Alice', 'female' ), /thank Alice .* lets her know/ );
	assert.match( confirmText( 'Sam' ), /lets them know/ );
} );
