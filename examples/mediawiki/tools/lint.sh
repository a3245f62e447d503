#!/bin/sh
# Lint stage, like MediaWiki's "composer test": php -l on every PHP file plus
# a small style checker (tools/phpcs.php). Needs only php-cli and a POSIX sh.
#
#   tools/lint.sh --list    print the check ids, one per line
#   tools/lint.sh [ID...]   run the named checks (all of them when none is given)
#
# Problems are printed one per line as "file:line: message" (paths relative to
# the project root). Exit status: 0 if every check passed, 1 if any check found
# a problem, 2 for usage errors. Set PHP to use another php binary.

set -u

PHP=${PHP:-php}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AREAS="core extensions tests tools"

list_checks() {
	for area in $AREAS; do
		echo "phplint:$area"
	done
	for area in $AREAS; do
		echo "phpcs:$area"
	done
}

# php -l every .php file of an area
run_phplint() {
	area=$1
	status=0
	count=0
	files=$(cd "$ROOT" && find "$area" -type f -name '*.php' | LC_ALL=C sort)
	while IFS= read -r file; do
		[ -n "$file" ] || continue
		count=$((count + 1))
		if ! output=$(cd "$ROOT" && "$PHP" -d display_errors=1 -d log_errors=0 -l "$file" 2>&1); then
			status=1
			problem=$(printf '%s\n' "$output" \
				| sed -n 's/^.*[Ee]rror: *\(.*\) in \(.*\) on line \([0-9][0-9]*\)$/\2:\3: \1/p' | head -n 1)
			if [ -n "$problem" ]; then
				printf '%s\n' "$problem"
			else
				printf '%s:0: php -l failed: %s\n' "$file" "$(printf '%s' "$output" | tr '\n' ' ')"
			fi
		fi
	done <<EOF_FILES
$files
EOF_FILES
	echo "phplint:$area: $count file(s) checked" >&2
	return $status
}

run_phpcs() {
	(cd "$ROOT" && "$PHP" tools/phpcs.php "$1")
}

run_check() {
	case "$1" in
		phplint:*) area=${1#phplint:} ;;
		phpcs:*) area=${1#phpcs:} ;;
		*) area= ;;
	esac
	case " $AREAS " in
		*" $area "*) ;;
		*)
			echo "lint.sh: unknown check id '$1' (see tools/lint.sh --list)" >&2
			return 2
			;;
	esac
	case "$1" in
		phplint:*) run_phplint "$area" ;;
		phpcs:*) run_phpcs "$area" ;;
	esac
}

if [ "$#" -eq 1 ] && [ "$1" = "--list" ]; then
	list_checks
	exit 0
fi
if [ "$#" -ge 1 ] && { [ "$1" = "-h" ] || [ "$1" = "--help" ]; }; then
	sed -n '2,10s/^# \{0,1\}//p' "$0"
	exit 0
fi
if [ "$#" -eq 0 ]; then
	set -- $(list_checks)
fi

overall=0
for id in "$@"; do
	run_check "$id"
	rc=$?
	if [ "$rc" -eq 2 ]; then
		exit 2
	fi
	if [ "$rc" -ne 0 ]; then
		echo "FAILED $id" >&2
		overall=1
	fi
done
exit $overall
