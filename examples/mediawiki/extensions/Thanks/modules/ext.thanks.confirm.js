'use strict';

/**
 * The "thank" link's confirmation step: what the dialog says, and whether the
 * link may be shown at all (never for one's own edits or anonymous authors).
 */

/**
 * @param {Object} revision
 * @param {string} revision.author
 * @param {boolean} revision.authorIsAnon
 * @param {string} viewer
 * @return {boolean}
 */
function canThank( revision, viewer ) {
	return !revision.authorIsAnon && revision.author !== viewer;
}

/**
 * @param {string} author
 * @param {string} [gender] 'female', 'male' or 'unknown'
 * @return {string}
 */
function confirmText( author, gender ) {
	const pronoun = { female: 'her', male: 'him' }[ gender ] || 'them';
	return 'Publicly thank ' + author + ' for this edit? This lets ' + pronoun + ' know you appreciated it.';
}

module.exports = { canThank, confirmText };
