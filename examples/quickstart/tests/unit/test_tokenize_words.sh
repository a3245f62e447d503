# test_tokenize_words: checks one small thing, taking about 0.15s.
sleep 0.15
