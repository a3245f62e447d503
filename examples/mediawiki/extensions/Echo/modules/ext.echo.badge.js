'use strict';

/**
 * The notification badge: its label, capped like Echo's ("99+"), and the
 * accessible text for screen readers.
 */

const CAP = 99;

/**
 * @param {number} count Unread notifications
 * @return {string} The badge label; empty for none
 */
function badgeLabel( count ) {
	if ( !Number.isInteger( count ) || count < 0 ) {
		throw new TypeError( 'count must be a non-negative integer, got ' + count );
	}
	if ( count === 0 ) {
		return '';
	}
	return count > CAP ? CAP + '+' : String( count );
}

/**
 * @param {number} alerts
 * @param {number} notices
 * @return {string}
 */
function badgeTitle( alerts, notices ) {
	const parts = [];
	if ( alerts ) {
		parts.push( alerts === 1 ? '1 alert' : badgeLabel( alerts ) + ' alerts' );
	}
	if ( notices ) {
		parts.push( notices === 1 ? '1 notice' : badgeLabel( notices ) + ' notices' );
	}
	return parts.length ? parts.join( ', ' ) : 'No new notifications';
}

module.exports = { badgeLabel, badgeTitle, CAP };
