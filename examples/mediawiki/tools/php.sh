#!/bin/sh
# php with the engine of the cell's FARM_AXIS_PHP: 8.2 as it is, 8.2-jit with
# opcache's tracing JIT (a different engine for the same code).
: "${FARM_AXIS_PHP:=8.2}"
case "$FARM_AXIS_PHP" in
	8.2) exec php "$@" ;;
	8.2-jit) exec php -d opcache.enable_cli=1 -d opcache.jit_buffer_size=64M -d opcache.jit=tracing "$@" ;;
	*) echo "tools/php.sh: no PHP engine for php=$FARM_AXIS_PHP" >&2; exit 2 ;;
esac
