# test_parse_unicode: checks one small thing, taking about 0.3s.
sleep 0.3
