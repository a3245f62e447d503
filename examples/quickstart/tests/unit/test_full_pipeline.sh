# test_full_pipeline: checks one small thing, taking about 4.0s.
sleep 4.0
