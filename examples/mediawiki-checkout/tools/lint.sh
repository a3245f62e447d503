#!/bin/sh
# composer-test's lint for examples/mediawiki-checkout: `php -l` on every PHP file of
# the tree but vendor/ and node_modules/, one test per file, so that the farm splits
# them like any other tests. Runs in the MediaWiki tree (the project directory).
#
#   lint.sh --list           the files, one per line (the stage's discover)
#   lint.sh --junit OUT      lint the files named on stdin, a JUnit testcase each
set -u

xml() {
	printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}

case "${1:-}" in
--list)
	find . \( -name vendor -o -name node_modules -o -name .git -o -name .farm \) -prune \
		-o -type f -name '*.php' -print | sed 's|^\./||' | LC_ALL=C sort
	;;
--junit)
	out=${2:?lint.sh --junit OUT}
	{
		echo '<?xml version="1.0" encoding="UTF-8"?>'
		echo '<testsuite name="php -l">'
		while IFS= read -r file; do
			[ -n "$file" ] || continue
			if problem=$(php -d display_errors=1 -d log_errors=0 -l "$file" 2>&1); then
				printf '<testcase name="%s"/>\n' "$(xml "$file")"
			else
				printf '<testcase name="%s"><failure message="%s"/></testcase>\n' \
					"$(xml "$file")" "$(xml "$(printf '%s' "$problem" | tr '\n' ' ')")"
			fi
		done
		echo '</testsuite>'
	} > "$out"
	;;
*)
	echo "usage: lint.sh --list | lint.sh --junit OUT < FILES" >&2
	exit 2
	;;
esac
