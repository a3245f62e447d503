#!/usr/bin/env bash
# The one test command (README.md, .ci/run). Sets up what a fresh machine lacks, then
# runs every check: formatting, clippy, unit and cross-process integration tests, and
# the planning benchmark. Safe to run again; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "set-up: system packages"
# The quickstart and the sandbox need a POSIX shell and coreutils; the fixtures use
# procps-free /proc checks; tree-sitter's PHP grammar (test selection) is C, built
# with cc; the report test renders the pages in headless chromium; runtime images
# are debootstrapped from Debian packages (no registry here); the partition and
# nemesis tests cut loopback traffic with iptables.
# Installed only when missing.
need=()
for pair in sh:dash bash:bash awk:mawk cksum:coreutils cc:gcc git:git chromium:chromium debootstrap:debootstrap \
  setpriv:util-linux node:nodejs psql:postgresql-client iptables:iptables; do
  cmd=${pair%%:*} pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# examples/mediawiki runs with Debian's PHP and PHPUnit, against the database servers
# the agents start (MariaDB, PostgreSQL) and SQLite.
# The real MediaWiki kit (../shared/mediawiki) adds what its README lists: intl, the
# Debian libraries its dev dependencies load, and zstd to unpack it.
for pkg in php8.2-cli php8.2-sqlite3 php8.2-mysql php8.2-pgsql php8.2-xml php8.2-mbstring phpunit \
  mariadb-server postgresql php8.2-intl php-hamcrest php-doctrine-dbal php-sql-formatter jsonlint \
  php-composer-spdx-licenses zstd; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  # The servers are started by the agents, never as system services.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# The JUnit test reads `farm submit --junit` files with a third-party reader; the
# Python client test generates its stubs from farm.proto and finds the services by
# server reflection.
python3 -c 'import junitparser, grpc, grpc_tools, grpc_reflection' 2>/dev/null ||
  python3 -m pip install -q junitparser grpcio grpcio-tools grpcio-reflection
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (rustup) first" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "note: not root, so shards run without cgroups; the cgroup tests will fail" >&2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (deny warnings)"
cargo clippy --workspace --all-targets -- -D warnings

step "build"
cargo build --workspace --all-targets

step "runtime images (debootstrap + docker import; a no-op when the inputs are unchanged)"
if ! docker info >/dev/null 2>&1; then
  echo "the Docker daemon is not reachable: the container tests need it" >&2
  exit 2
fi
cargo run -q -p testfarm-cli -- image build base

step "tests: unit and cross-process integration"
cargo test --workspace

step "benchmark: planning 100k tests"
cargo bench -p testfarm-shared --bench plan

step "benchmark: real MediaWiki core:unit, serial phpunit against the farm on 2 agents x 1 slot"
# The farm as deployed: release binaries. FARM_BENCH_ROUNDS=5 for the long version.
cargo build --release -q -p testfarm-cli
FARM_BENCH_ROUNDS=${FARM_BENCH_ROUNDS:-2} cargo bench -p testfarm-integration --bench mediawiki

step "deploy: systemd units and the compose cluster (3 coordinators, 2 agents, Prometheus)"
FARM_BIN=target/release/farm scripts/test-compose.sh
