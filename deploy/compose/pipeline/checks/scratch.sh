# The task's scratch directory is writable (the project directory is read-only here).
echo hello > "$TMPDIR/probe" && [ "$(cat "$TMPDIR/probe")" = hello ]
