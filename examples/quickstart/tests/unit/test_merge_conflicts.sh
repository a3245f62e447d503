# test_merge_conflicts: checks one small thing, taking about 0.5s.
sleep 0.5
