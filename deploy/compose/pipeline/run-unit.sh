#!/bin/sh
# Runs the scripts named in $FARM_TEST_IDS_FILE (ids relative to unit/) and writes
# one JUnit testsuite to $FARM_JUNIT_PATH; exits 1 if any failed.
set -u
failed=0
cases=""
while IFS= read -r id; do
  [ -n "$id" ] || continue
  if sh "unit/$id" >/dev/null 2>&1; then
    cases="$cases<testcase name=\"$id\" time=\"0.001\"/>"
  else
    failed=$((failed + 1))
    cases="$cases<testcase name=\"$id\" time=\"0.001\"><failure message=\"failed\"/></testcase>"
  fi
done < "$FARM_TEST_IDS_FILE"
printf '<?xml version="1.0"?><testsuite name="unit" failures="%s">%s</testsuite>\n' "$failed" "$cases" > "$FARM_JUNIT_PATH"
[ "$failed" = 0 ]
