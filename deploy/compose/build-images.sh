#!/usr/bin/env bash
# Builds the compose cluster's images on this Docker host, from nothing a registry
# holds:
#   1. `farm image build base`: debootstrap Debian's minbase and `docker import` it as
#      testfarm/base:HASH (a no-op when it is built already: scripts/test.sh does it);
#   2. testfarm/compose-node:TAG      FROM it + bash, git, certificates + the farm binary;
#   3. testfarm/compose-prometheus:TAG FROM it + Debian's prometheus package.
# (and tags the base as testfarm/compose-base:TAG).
# Docker caches the layers: a second run with the same binary takes seconds.
#
# Usage: deploy/compose/build-images.sh [FARM_BIN]
#   FARM_BIN      the farm binary (default: target/release/farm, else target/debug/farm).
#                 It runs inside the images (Debian bookworm, glibc 2.36): build it on
#                 bookworm or older.
#   TESTFARM_TAG  the images' tag (default: latest; docker-compose.yml reads the same).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/deploy/compose
tag=${TESTFARM_TAG:-latest}

die() { echo "build-images: $*" >&2; exit 2; }

bin=${1:-${FARM_BIN:-}}
if [ -z "$bin" ]; then
  if [ -x "$root/target/release/farm" ]; then bin=$root/target/release/farm; else bin=$root/target/debug/farm; fi
fi
[ -x "$bin" ] || die "no farm binary at $bin (hint: cargo build --release -p testfarm-cli, or set FARM_BIN)"
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (docker info failed)"
if ! command -v debootstrap >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "debootstrap is missing and this is not root (hint: sudo apt-get install debootstrap)"
  echo "build-images: installing debootstrap" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# 1. The base image: its tag is the hash of its inputs, so read it from farm's summary
#    line ("testfarm/base:HASH: rootfs ..., docker image ...").
out=$("$bin" image build base --definitions "$root/deploy/images") || die "farm image build base failed"
printf '%s\n' "$out"
base=$(printf '%s\n' "$out" | sed -n 's#^\(testfarm/base:[0-9a-z]*\): .*#\1#p' | tail -n 1)
[ -n "$base" ] || die "cannot find the image reference in the output of farm image build base"
docker image inspect "$base" >/dev/null 2>&1 || die "$base is not in Docker (was the daemon reachable for farm?)"
# Also as testfarm/compose-base:TAG, for what else builds on it (scripts/test-compose.sh
# boots the systemd units in a container made from it).
docker tag "$base" "testfarm/compose-base:$tag"
echo "build-images: base image $base (tagged testfarm/compose-base:$tag)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# docker build IMAGE CONTEXT: its log goes to a file, shown when the build fails.
build() {
  local image=$1 context=$2 start=$SECONDS
  if ! docker build --build-arg "FARM_BASE_IMAGE=$base" -t "$image" "$context" >"$tmp/build.log" 2>&1; then
    tail -n 40 "$tmp/build.log" >&2
    die "docker build of $image failed (its last lines are above)"
  fi
  echo "build-images: $image ($((SECONDS - start)) s)"
}

# 2. The node image, from a context of its Dockerfile and the binary alone.
mkdir "$tmp/node"
cp "$here/node/Dockerfile" "$tmp/node/Dockerfile"
cp "$bin" "$tmp/node/farm"
build "testfarm/compose-node:$tag" "$tmp/node"

# 3. Prometheus (its context is its directory: the Dockerfile and the mounted config).
build "testfarm/compose-prometheus:$tag" "$here/prometheus"
