# test_concurrency: an end-to-end check taking about 1.0s.
sleep 1.0
echo "test_concurrency ok"
