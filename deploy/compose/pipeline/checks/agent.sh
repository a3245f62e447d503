# The shard runs on one of the compose agents, in the mounted project directory.
case $(cat /proc/sys/kernel/hostname) in
  agent-*) ;;
  *) echo "unexpected host $(cat /proc/sys/kernel/hostname)"; exit 1 ;;
esac
[ "$(pwd)" = /srv/testfarm/pipeline ] || { echo "cwd is $(pwd)"; exit 1; }
