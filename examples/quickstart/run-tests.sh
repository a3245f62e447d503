#!/bin/sh
# A minimal test runner: runs the test scripts named in $FARM_TEST_IDS_FILE (one per
# line, relative to the directory given as $1) with $FARM_AXIS_SHELL, and writes JUnit
# XML to $FARM_JUNIT_PATH. Exits 1 if any test failed.
set -u
dir=$1
shell=${FARM_AXIS_SHELL:-sh}
out=$FARM_JUNIT_PATH
now() { date +%s.%N; }
escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

failed=0
cases=$(mktemp)
while IFS= read -r id; do
  [ -n "$id" ] || continue
  echo "--- $id"
  start=$(now)
  if output=$("$shell" "$dir/$id" 2>&1); then ok=1; else ok=0; fi
  end=$(now)
  printf '%s\n' "$output"
  secs=$(awk "BEGIN { printf \"%.3f\", $end - $start }")
  if [ "$ok" = 1 ]; then
    printf '  <testcase name="%s" time="%s"/>\n' "$id" "$secs" >> "$cases"
  else
    failed=$((failed + 1))
    msg=$(printf '%s' "$output" | tail -n 5 | escape)
    printf '  <testcase name="%s" time="%s"><failure message="test failed">%s</failure></testcase>\n' "$id" "$secs" "$msg" >> "$cases"
  fi
done < "$FARM_TEST_IDS_FILE"

{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo "<testsuite name=\"$dir\" failures=\"$failed\">"
  cat "$cases"
  echo '</testsuite>'
} > "$out"
rm -f "$cases"
[ "$failed" = 0 ]
