'use strict';

const { test } = require( 'node:test' );
const assert = require( 'node:assert/strict' );
const { badgeLabel, badgeTitle, CAP } = require( '../../modules/ext.echo.badge.js' );

test( 'the badge label is capped', () => {
	assert.equal( badgeLabel( 0 ), '' );
	assert.equal( badgeLabel( 7 ), '7' );
	assert.equal( badgeLabel( CAP ), '99' );
	assert.equal( badgeLabel( CAP + 1 ), '99+' );
} );

test( 'bad counts are refused', () => {
	assert.throws( () => badgeLabel( -1 ), TypeError );
	assert.throws( () => badgeLabel( 1.5 ), TypeError );
} );

test( 'the title reads alerts before notices', () => {
	assert.equal( badgeTitle( 0, 0 ), 'No new notifications' );
	assert.equal( badgeTitle( 1, 0 ), '1 alert' );
	assert.equal( badgeTitle( 2, 150 ), '2 alerts, 99+ notices' );
} );
