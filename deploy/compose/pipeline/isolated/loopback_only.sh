# network: none: the only interface is loopback.
[ "$(grep -c ':' /proc/net/dev)" = 1 ] && grep -q '^ *lo:' /proc/net/dev || { cat /proc/net/dev; exit 1; }
