# test_checksum: the failure that can be switched on with QUICKSTART_FAIL=1.
sleep 0.3
sum=$(printf 'testfarm' | cksum | cut -d' ' -f1)
expected=4082655438
if [ "${QUICKSTART_FAIL:-0}" = 1 ]; then expected=0; fi
if [ "$sum" != "$expected" ]; then
  echo "checksum mismatch: got $sum, expected $expected" >&2
  exit 1
fi
