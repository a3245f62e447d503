# A PID namespace of its own: only the shard's few processes are visible.
n=$(ls /proc | grep -c '^[0-9][0-9]*$')
[ "$n" -lt 12 ] || { echo "$n processes visible"; exit 1; }
