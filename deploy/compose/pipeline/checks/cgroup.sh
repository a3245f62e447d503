# The shard runs in a cgroup of its agent (testfarm/<agent>/<shard>) that holds
# the stage's memory limit (64 MiB): the agent container can make cgroups (the host's
# cgroup filesystem, writable), so the limits hold.
if grep -q '^0::/' /proc/self/cgroup && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  path=$(sed -n 's/^0:://p' /proc/self/cgroup)            # cgroup v2
  limit_file=/sys/fs/cgroup$path/memory.max
else
  path=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)  # cgroup v1
  limit_file=/sys/fs/cgroup/memory$path/memory.limit_in_bytes
fi
case $path in
  */testfarm/?*/?*) ;;
  *) echo "not in an agent's cgroup:"; cat /proc/self/cgroup; exit 1 ;;
esac
limit=$(cat "$limit_file") || exit 1
[ "$limit" = $((64 * 1024 * 1024)) ] || { echo "memory limit $limit in $limit_file, expected 64 MiB"; exit 1; }
