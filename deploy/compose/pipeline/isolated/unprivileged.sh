# The runtime user nobody, with no capabilities and no way to gain any.
[ "$(id -u):$(id -g)" = 65534:65534 ] || { echo "uid:gid $(id -u):$(id -g)"; exit 1; }
for set in CapEff CapPrm CapBnd CapAmb; do
  grep -q "^$set:[[:space:]]*0*\$" /proc/self/status || { grep Cap /proc/self/status; exit 1; }
done
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status || exit 1
