# A unit test for the runner stage: passes.
test $((2 + 2)) -eq 4
