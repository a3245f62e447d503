# test_tokenize_quotes: checks one small thing, taking about 0.4s.
sleep 0.4
