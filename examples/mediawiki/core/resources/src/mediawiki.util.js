'use strict';

/**
 * A few of mediawiki.util's helpers, as plain functions (CommonJS, so that Node's
 * test runner loads them without a bundler).
 */

/**
 * Encode a page title for a URL path the way MediaWiki does: spaces become
 * underscores, and `:`, `/`, `@`, `~`, `!`, `$`, `*`, `(`, `)`, `,`, `;` stay readable.
 *
 * @param {string} title
 * @return {string}
 */
function wikiUrlencode( title ) {
	return encodeURIComponent( String( title ).replace( / /g, '_' ) )
		.replace( /%(3A|2F|40|7E|21|24|2A|28|29|2C|3B)/g, ( m, hex ) => String.fromCharCode( parseInt( hex, 16 ) ) );
}

/**
 * @param {string} text
 * @return {string} text with every RegExp metacharacter escaped
 */
function escapeRegExp( text ) {
	return String( text ).replace( /[\\^$.*+?()[\]{}|\-/]/g, '\\$&' );
}

/**
 * The value of a query parameter of a URL, or null.
 *
 * @param {string} name
 * @param {string} url
 * @return {string|null}
 */
function getParamValue( name, url ) {
	const query = url.split( '#' )[ 0 ].split( '?' )[ 1 ] || '';
	for ( const pair of query.split( '&' ) ) {
		const eq = pair.indexOf( '=' );
		const key = decodeURIComponent( ( eq < 0 ? pair : pair.slice( 0, eq ) ).replace( /\+/g, ' ' ) );
		if ( key === name ) {
			return eq < 0 ? '' : decodeURIComponent( pair.slice( eq + 1 ).replace( /\+/g, ' ' ) );
		}
	}
	return null;
}

module.exports = { wikiUrlencode, escapeRegExp, getParamValue };
