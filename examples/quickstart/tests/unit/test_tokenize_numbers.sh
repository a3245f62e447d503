# test_tokenize_numbers: checks one small thing, taking about 0.25s.
sleep 0.25
