# test_config_overrides: checks one small thing, taking about 0.8s.
sleep 0.8
