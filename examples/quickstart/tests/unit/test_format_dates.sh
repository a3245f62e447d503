# test_format_dates: checks one small thing, taking about 0.5s.
sleep 0.5
