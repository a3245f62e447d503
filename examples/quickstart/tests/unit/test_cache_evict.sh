# test_cache_evict: checks one small thing, taking about 1.0s.
sleep 1.0
