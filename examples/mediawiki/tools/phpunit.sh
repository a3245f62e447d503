#!/bin/sh
# PHPUnit for one cell of the matrix: the PHP engine of FARM_AXIS_PHP, the database of
# FARM_AXIS_DB (in the shard's own directory: the project may be read-only), and the
# failure switch MW_FAIL_CELL=PHP/DB that fails one test in that cell only.
set -e
: "${FARM_AXIS_PHP:=8.2}" "${FARM_AXIS_DB:=sqlite}"
export MW_DB="$FARM_AXIS_DB"
export MW_DB_DIR="${FARM_SHARD_DIR:-${TMPDIR:-/tmp}}"
if [ -n "${MW_FAIL_CELL:-}" ] && [ "$MW_FAIL_CELL" = "$FARM_AXIS_PHP/$FARM_AXIS_DB" ]; then
  export MW_FAIL=1
fi
phpunit=$(command -v phpunit) || {
  echo "tools/phpunit.sh: phpunit is not installed on this agent (apt-get install phpunit)" >&2
  exit 2
}
case "$FARM_AXIS_PHP" in
  8.2) exec php "$phpunit" "$@" ;;
  8.2-jit) exec php -d opcache.enable_cli=1 -d opcache.jit_buffer_size=64M -d opcache.jit=tracing "$phpunit" "$@" ;;
  *) echo "tools/phpunit.sh: no PHP engine for php=$FARM_AXIS_PHP" >&2; exit 2 ;;
esac
