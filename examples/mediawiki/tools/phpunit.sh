#!/bin/sh
# PHPUnit for one cell of the matrix: the PHP engine of FARM_AXIS_PHP (tools/php.sh),
# the database the farm made for the task (FARM_DB_TYPE and FARM_DB_*; else the
# db axis, else SQLite in the shard's own directory: the project may be read-only),
# the install in FARM_INSTALL_DIR, and the failure switch MW_FAIL_CELL=PHP/DB that
# fails one test in that cell only.
set -e
: "${FARM_AXIS_PHP:=8.2}" "${FARM_AXIS_DB:=sqlite}"
export MW_DB="${FARM_DB_TYPE:-$FARM_AXIS_DB}"
export MW_DB_DIR="${FARM_DB_DIR:-${FARM_SHARD_DIR:-${TMPDIR:-/tmp}}}"
export MW_INSTALL_DIR="${FARM_INSTALL_DIR:-}"
if [ -n "${MW_FAIL_CELL:-}" ] && [ "$MW_FAIL_CELL" = "$FARM_AXIS_PHP/$FARM_AXIS_DB" ]; then
	export MW_FAIL=1
fi
phpunit=$(command -v phpunit) || {
	echo "tools/phpunit.sh: phpunit is not installed on this agent (apt-get install phpunit)" >&2
	exit 2
}
exec "$(dirname "$0")/php.sh" "$phpunit" "$@"
