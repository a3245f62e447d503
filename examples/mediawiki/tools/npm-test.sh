#!/bin/sh
# Quibble's npm-test: the JavaScript tests of core and the extensions, run with
# Node's own test runner (node:test), so that no npm package is needed.
#
#   tools/npm-test.sh --list    print the test files, one per line
#   tools/npm-test.sh FILE...   run them (exit 1 if any test fails)
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--list" ]; then
	find core/tests/node extensions/*/tests/node -name '*.test.js' 2>/dev/null | LC_ALL=C sort
	exit 0
fi
exec node --test "$@"
