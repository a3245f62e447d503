# A UTS namespace of its own.
[ "$(cat /proc/sys/kernel/hostname)" = testfarm ] || { echo "hostname $(cat /proc/sys/kernel/hostname)"; exit 1; }
