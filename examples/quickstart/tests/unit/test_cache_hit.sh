# test_cache_hit: checks one small thing, taking about 0.2s.
sleep 0.2
