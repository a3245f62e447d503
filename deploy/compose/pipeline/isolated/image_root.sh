# The root filesystem is the runtime image (bookworm minbase), not the agent's: the
# farm binary the agent runs from is not there.
grep -q 'VERSION_CODENAME=bookworm' /etc/os-release || exit 1
[ ! -e /usr/local/bin/farm ] || { echo "the agent's filesystem is visible"; exit 1; }
