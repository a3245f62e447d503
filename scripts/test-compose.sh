#!/usr/bin/env bash
# The deploy test (issue 17), in steps, each timed:
#   1. the systemd units (deploy/systemd) pass `systemd-analyze verify` with no warning
#      and stay under an exposure threshold (`systemd-analyze security`);
#   2. the images are built from local images only (deploy/compose/build-images.sh);
#   3. the compose file validates (with and without the grafana profile), the Grafana
#      provisioning fits it, promtool accepts the Prometheus config;
#   4. the units as shipped boot under a real systemd (a container whose PID 1 is
#      systemd), run the smoke pipeline, hold their hardening and stop cleanly;
#   5. the compose cluster — 3 coordinators, 2 agents, Prometheus, all over mutual TLS
#      with certificates its `certs` service made — comes up, refuses a plain client, runs the
#      smoke pipeline (deploy/compose/pipeline) to a passed verdict, shows 3 voting
#      members with one leader and 2 connected agents; Prometheus has all 5 targets up
#      and every metric name the Grafana dashboard's queries use;
#   6. everything is taken down, volumes too, whatever happened (EXIT trap).
#
# Usage: scripts/test-compose.sh
#   FARM_BIN   the farm binary (default: target/release/farm if built, else target/debug/farm)
#   TESTFARM_UP_TIMEOUT  seconds to wait for each readiness condition (default 120)
# Needs: root (debootstrap of the base image), a reachable Docker daemon,
# docker-compose (1.29, Debian's), python3, curl, systemd-analyze. Anything missing
# fails the test (exit 2); it never passes without having run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
compose_dir=$root/deploy/compose
timeout=${TESTFARM_UP_TIMEOUT:-120}
project=testfarm-test-$$
started=$SECONDS

# ---- steps and their timings -------------------------------------------------------
declare -a timings=()
step_name="" step_start=0
step() {
  end_step
  step_name=$1 step_start=$SECONDS
  printf '\n==> %s\n' "$step_name"
}
end_step() {
  if [ -n "$step_name" ]; then
    timings+=("$(printf '%5ds  %s' $((SECONDS - step_start)) "$step_name")")
    step_name=""
  fi
}
print_timings() {
  end_step
  printf '\n---- timings ----\n'
  printf '%s\n' "${timings[@]}"
  printf '%5ds  total\n' $((SECONDS - started))
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
need_tool() { command -v "$1" >/dev/null 2>&1 || { echo "FAIL: $1 is missing ($2)" >&2; exit 2; }; }

# On every exit: the cluster's logs when it failed, its removal with its volumes, the
# timings.
cluster_started=0 sd_container=""
finish() {
  local rc=$?
  set +e
  if [ -n "$sd_container" ]; then
    if [ "$rc" != 0 ]; then
      echo "---- journal of the systemd container (last 60 lines) ----" >&2
      docker exec "$sd_container" journalctl --no-pager -n 60 >&2 2>&1
    fi
    docker rm -f "$sd_container" >/dev/null 2>&1
  fi
  if [ "$cluster_started" = 1 ]; then
    if [ "$rc" != 0 ]; then
      echo "---- logs of the failed cluster (last 40 lines per service) ----" >&2
      dc logs --no-color --tail 40 >&2 2>&1
    fi
    step "teardown: docker-compose down -v"
    dc down -v --remove-orphans >/dev/null 2>&1 || echo "WARNING: docker-compose down -v failed for project $project" >&2
  fi
  print_timings
  if [ "$rc" = 0 ]; then echo "compose test: passed"; else echo "compose test: FAILED (exit $rc)" >&2; fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- preconditions: all of them, loudly --------------------------------------------
step "preconditions"
if [ -z "${FARM_BIN:-}" ]; then
  if [ -x "$root/target/release/farm" ]; then FARM_BIN=$root/target/release/farm; else FARM_BIN=$root/target/debug/farm; fi
fi
case $FARM_BIN in /*) ;; *) FARM_BIN=$PWD/$FARM_BIN ;; esac
[ -x "$FARM_BIN" ] || { echo "FAIL: no farm binary at $FARM_BIN (hint: cargo build --release -p testfarm-cli, or set FARM_BIN)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "FAIL: not root: the base image is built with debootstrap, which needs root" >&2; exit 2; }
# Debian packages that are missing are installed (as scripts/test.sh does), then
# every tool must be there.
missing=()
for pair in docker-compose:docker-compose curl:curl python3:python3 systemd-analyze:systemd debootstrap:debootstrap; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || { echo "FAIL: apt-get install ${missing[*]} failed" >&2; exit 2; }
fi
need_tool docker "the Docker CLI: install Docker"
need_tool docker-compose "apt-get install docker-compose"
need_tool python3 "apt-get install python3"
need_tool curl "apt-get install curl"
need_tool systemd-analyze "apt-get install systemd"
need_tool debootstrap "apt-get install debootstrap"
docker info >/dev/null 2>&1 || { echo "FAIL: the Docker daemon is not reachable (docker info failed)" >&2; exit 2; }
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml || { echo "FAIL: cannot install PyYAML" >&2; exit 2; }
echo "farm: $FARM_BIN ($("$FARM_BIN" --version))"
echo "$(docker --version); $(docker-compose --version); $(systemd-analyze --version | head -n 1)"

# ---- systemd units -------------------------------------------------------------------
step "systemd units: systemd-analyze verify and security"
# verify checks that ExecStart's program exists: the copies name the binary under test
# instead of /usr/local/bin/farm. Any warning (an unknown or misspelt key is only a
# warning to systemd) fails the test.
units=$(mktemp -d)
for unit in "$root"/deploy/systemd/*.service; do
  sed "s#/usr/local/bin/farm#$FARM_BIN#g" "$unit" >"$units/$(basename "$unit")"
done
if ! out=$(cd "$units" && systemd-analyze verify ./testfarm-coordinator.service ./testfarm-agent.service 2>&1) || [ -n "$out" ]; then
  printf '%s\n' "$out" >&2
  fail "systemd-analyze verify: the units have errors or warnings (above)"
fi
echo "verify: no errors, no warnings"
# Exposure (0 safe .. 10 unsafe; --threshold is in tenths): the coordinator has no
# privilege and must stay near the floor; the agent builds sandboxes as root.
for pair in testfarm-coordinator:20 testfarm-agent:50; do
  unit=${pair%%:*} max=${pair##*:}
  if ! out=$(cd "$units" && systemd-analyze security --offline=yes --threshold="$max" "./$unit.service" 2>&1); then
    printf '%s\n' "$out" | tail -n 25 >&2
    fail "$unit.service is more exposed than $((max / 10)).$((max % 10)) (systemd-analyze security, above)"
  fi
  printf '%s\n' "$out" | tail -n 1
done
rm -rf "$units"

# ---- images ----------------------------------------------------------------------------
step "images: farm image build base, docker build node and prometheus"
"$compose_dir/build-images.sh" "$FARM_BIN" || fail "building the images failed"

# ---- static checks of the compose files -------------------------------------------------
step "compose file, prometheus config and grafana provisioning"
# Free ports on 127.0.0.1 (an empty port in docker-compose.yml means any).
export TESTFARM_GRPC_PORT_1= TESTFARM_GRPC_PORT_2= TESTFARM_GRPC_PORT_3= \
  TESTFARM_HTTP_PORT_1= TESTFARM_HTTP_PORT_2= TESTFARM_HTTP_PORT_3= \
  TESTFARM_PROMETHEUS_PORT= TESTFARM_GRAFANA_PORT= TESTFARM_AGENT_PREFIX=$project
dc() { docker-compose --project-directory "$compose_dir" -f "$compose_dir/docker-compose.yml" -p "$project" "$@"; }
dc config -q || fail "docker-compose.yml does not validate"
config=$(mktemp)
dc --profile grafana config >"$config" || fail "docker-compose.yml with --profile grafana does not validate"
python3 - "$compose_dir" "$config" <<'EOF' || fail "the Grafana provisioning does not fit the compose file (above)"
# Grafana cannot run here (no package, no registry): check statically that what it
# would load is consistent — the datasource reaches the prometheus service, the
# dashboard provider's path is where deploy/grafana/ is mounted, and the dashboard is
# JSON whose datasource variable is of the provisioned type.
import json, os, sys, urllib.parse, yaml
d = sys.argv[1]
cfg = yaml.safe_load(open(sys.argv[2]))
services = cfg["services"]
grafana = services["grafana"]
mounts = {}
for v in grafana["volumes"]:
    if isinstance(v, dict):
        mounts[v["target"]] = v["source"]
    else:
        src, dst = v.split(":")[:2]
        mounts[dst] = src
prov = os.path.join(d, "grafana", "provisioning")
ds = yaml.safe_load(open(os.path.join(prov, "datasources", "prometheus.yml")))["datasources"]
assert len(ds) == 1 and ds[0]["type"] == "prometheus", ds
url = urllib.parse.urlparse(ds[0]["url"])
assert url.hostname in services, f"datasource host {url.hostname} is not a compose service"
assert url.port == 9090, url
assert os.path.realpath(mounts["/etc/grafana/provisioning/datasources"]) == os.path.realpath(os.path.join(prov, "datasources"))
assert os.path.realpath(mounts["/etc/grafana/provisioning/dashboards"]) == os.path.realpath(os.path.join(prov, "dashboards"))
providers = yaml.safe_load(open(os.path.join(prov, "dashboards", "testfarm.yml")))["providers"]
path = providers[0]["options"]["path"]
src = mounts[path]
dash = json.load(open(os.path.join(src, "testfarm.json")))
var = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
assert var and var[0]["query"] == "prometheus", var
print(f"grafana: datasource -> {ds[0]['url']}, dashboard {dash['title']!r} from {src} at {path}")
EOF
rm -f "$config"
# promtool ships in Debian's prometheus package: check the config the service mounts.
docker run --rm --entrypoint promtool -v "$compose_dir/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" \
  "testfarm/compose-prometheus:${TESTFARM_TAG:-latest}" check config /etc/prometheus/prometheus.yml \
  || fail "promtool rejects deploy/compose/prometheus/prometheus.yml"

# poll WHAT CMD...: runs CMD every second until it succeeds or the timeout passes.
poll() {
  local what=$1 t0=$SECONDS; shift
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then
      echo "last try of: $what" >&2
      "$@" >&2 || true
      fail "timed out after ${timeout}s waiting for $what"
    fi
    sleep 1
  done
  echo "ready after $((SECONDS - t0))s: $what"
}

# ---- the systemd units under a real systemd --------------------------------------------
step "systemd units booted: both enabled units under systemd in a container, the smoke pipeline through them"
# A container whose PID 1 is systemd, made from the same local base image, with the
# units exactly as shipped (ExecStart=/usr/local/bin/farm), the sysusers entry and
# environment files for a cluster of one. It needs what the compose agents need (the
# host's cgroup filesystem writable, SYS_ADMIN, NET_ADMIN, DAC_READ_SEARCH, no seccomp
# filter, and the image cache for stage `isolated`).
sd_ctx=$(mktemp -d)
cp "$FARM_BIN" "$sd_ctx/farm"
cp "$root"/deploy/systemd/testfarm-{coordinator,agent}.service "$root/deploy/systemd/testfarm.sysusers.conf" "$sd_ctx/"
cp -r "$compose_dir/pipeline" "$sd_ctx/pipeline"
printf '%s\n' FARM_ID=1 FARM_LISTEN=127.0.0.1:7700 FARM_PEERS=1=127.0.0.1:7700 FARM_HTTP=127.0.0.1:9700 >"$sd_ctx/coordinator.env"
# No FARM_AGENT_ID: the unit's default, the host name, which `docker run --hostname`
# makes unique to this test (agents' cgroups are in the host's hierarchy) and keeps
# the image cacheable.
printf '%s\n' FARM_COORDINATORS=http://127.0.0.1:7700 FARM_AGENT_ARGS=--no-docker >"$sd_ctx/agent.env"
cat >"$sd_ctx/Dockerfile" <<EOF
FROM testfarm/compose-base:${TESTFARM_TAG:-latest}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 container=docker
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd systemd-sysv bash util-linux && rm -rf /var/lib/apt/lists/*
COPY testfarm.sysusers.conf /usr/lib/sysusers.d/testfarm.conf
RUN systemd-sysusers
COPY coordinator.env agent.env /etc/testfarm/
COPY testfarm-coordinator.service testfarm-agent.service /etc/systemd/system/
RUN systemctl enable testfarm-coordinator testfarm-agent
COPY pipeline /srv/testfarm/pipeline
COPY farm /usr/local/bin/farm
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/sbin/init"]
EOF
if ! docker build -t "testfarm/compose-systemd-test:${TESTFARM_TAG:-latest}" "$sd_ctx" >"$sd_ctx/build.log" 2>&1; then
  tail -n 30 "$sd_ctx/build.log" >&2
  fail "docker build of the systemd test image failed (above)"
fi
rm -rf "$sd_ctx"
sd_container=$project-systemd
docker run -d --name "$sd_container" --hostname "agent-systemd-$$" \
  --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add DAC_READ_SEARCH \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
  -v /var/cache/testfarm/images:/var/cache/testfarm/images:ro \
  "testfarm/compose-systemd-test:${TESTFARM_TAG:-latest}" >/dev/null || fail "cannot start the systemd container"
sd() { docker exec "$sd_container" "$@"; }
sd_units_active() { sd systemctl is-active testfarm-coordinator testfarm-agent; }
sd_agent_connected() {
  sd farm status --json --coordinator http://127.0.0.1:7700 | python3 -c '
import json, sys
assert [a["connected"] for a in json.load(sys.stdin)["agents"]] == [True]'
}
poll "testfarm-coordinator and testfarm-agent active under systemd" sd_units_active
poll "the agent connected to the coordinator under systemd" sd_agent_connected
sd farm submit /srv/testfarm/pipeline/farm.yaml --coordinator http://127.0.0.1:7700 \
  || fail "the smoke pipeline did not pass through the systemd units"
# What the hardening left each process: the coordinator runs as testfarm with no
# capability at all; both run with no_new_privs.
sd sh -c '
  for unit in testfarm-coordinator testfarm-agent; do
    pid=$(systemctl show -p MainPID --value $unit)
    printf "%s: user %s, " $unit "$(stat -c %U /proc/$pid)"
    grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/$pid/status | tr "\n\t" "  "; echo
  done' || fail "cannot read the units' processes"
sd sh -c '
  pid=$(systemctl show -p MainPID --value testfarm-coordinator)
  [ "$(stat -c %U /proc/$pid)" = testfarm ] || { echo "the coordinator does not run as testfarm"; exit 1; }
  grep -q "^CapEff:[[:space:]]*0000000000000000" /proc/$pid/status || { echo "the coordinator has capabilities"; exit 1; }
  for unit in testfarm-coordinator testfarm-agent; do
    pid=$(systemctl show -p MainPID --value $unit)
    grep -q "^NoNewPrivs:[[:space:]]*1" /proc/$pid/status || { echo "$unit runs without no_new_privs"; exit 1; }
  done' || fail "the hardening does not hold in the running units (above)"
# A clean stop: SIGTERM ends both within their TimeoutStopSec, neither ends failed.
sd systemctl stop testfarm-agent testfarm-coordinator || fail "systemctl stop failed"
for unit in testfarm-agent testfarm-coordinator; do
  state=$(sd systemctl show -p ActiveState --value "$unit")
  result=$(sd systemctl show -p Result --value "$unit")
  [ "$state" = inactive ] && [ "$result" = success ] || fail "$unit after stop: $state, result $result"
done
echo "stopped cleanly: testfarm-agent, testfarm-coordinator"
docker rm -f "$sd_container" >/dev/null
sd_container=""

step "up: docker-compose up -d (project $project)"
# From here on the project has resources (a network, volumes, containers): the EXIT
# trap takes them down.
cluster_started=1
dc up -d || fail "docker-compose up failed"

coords=http://coordinator-1:7700,http://coordinator-2:7700,http://coordinator-3:7700
# A farm command on the compose network (member names resolve only there).
farm_in() { dc exec -T agent-1 farm "$@"; }
# Every member answers, all three vote, and they agree on one leader.
cluster_ready() {
  farm_in cluster status --json --coordinator "$coords" | python3 -c '
import json, sys
members = json.load(sys.stdin)
statuses = [m.get("status") for m in members]
assert len(members) == 3 and all(statuses), members
assert all(sorted(s["voters"]) == [1, 2, 3] for s in statuses), statuses
leaders = {s["leader_id"] for s in statuses}
assert len(leaders) == 1 and 0 not in leaders, leaders
assert sum(s["is_leader"] for s in statuses) == 1, statuses
'
}
leader() {
  farm_in cluster status --json --coordinator "$coords" | python3 -c '
import json, sys
print(next(m["addr"] for m in json.load(sys.stdin) if m.get("status", {}).get("is_leader")))'
}
# The leader holds the agents' sessions: both registered and connected.
agents_ready() {
  farm_in status --json --coordinator "http://$(leader)" | python3 -c '
import json, sys
agents = json.load(sys.stdin)["agents"]
connected = sorted(a["id"] for a in agents if a.get("connected"))
assert len(connected) == 2, agents
'
}

prom=""
prom_url() { prom=http://$(dc port prometheus 9090); }
targets_up() {
  curl -fsS "$prom/api/v1/targets" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
up = sorted(t["labels"]["instance"] for t in targets if t["health"] == "up")
want = ["agent-1:9701", "agent-2:9701", "coordinator-1:9700", "coordinator-2:9700", "coordinator-3:9700"]
if up != want:
    for t in targets:
        print(t["labels"]["instance"], t["health"], t["lastError"], file=sys.stderr)
    sys.exit(1)
'
}

step "ready: 3 raft members with one leader, 2 agents connected"
poll "3 voting members agreeing on one leader" cluster_ready
poll "2 agents connected to the leader" agents_ready
farm_in cluster status --coordinator "$coords"
farm_in status --coordinator "http://$(leader)"

step "tls: every connection is mutual TLS; a client without a certificate is refused"
if dc exec -T agent-1 env -u FARM_TLS farm status --coordinator http://coordinator-1:7700 >/dev/null 2>&1; then
  fail "a client without a certificate was served"
fi
# The run pages over plain HTTP take the reader token the certs service made.
web=http://$(dc port coordinator-1 9700)
code=$(curl -s -o /dev/null -w '%{http_code}' "$web/")
[ "$code" = 401 ] || fail "the run pages answered $code without a token"
token=$(dc exec -T agent-1 cat /etc/testfarm/tls/reader-token)
code=$(curl -s -o /dev/null -w '%{http_code}' "$web/?token=$token")
[ "$code" = 200 ] || fail "the run pages answered $code with the reader token"
echo "run pages: 401 without a token, 200 with the reader token"
refusal=$(dc exec -T agent-1 env -u FARM_TLS farm status --coordinator http://coordinator-1:7700 2>&1 || true)
case $refusal in
  *"--tls DIR"*) echo "a plain client: $refusal" ;;
  *) fail "the refusal of a plain client does not point to --tls: $refusal" ;;
esac

step "pipeline: farm submit deploy/compose/pipeline/farm.yaml"
run_json=$(mktemp)
set +e
farm_in submit /srv/testfarm/pipeline/farm.yaml --json --coordinator "$coords" >"$run_json"
rc=$?
set -e
python3 - "$run_json" "$rc" "$compose_dir/pipeline" <<'EOF' || fail "the smoke pipeline did not pass (above)"
import json, os, sys
path, rc, pipeline = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# checks/ runs in both cells of the shell axis, unit/ and isolated/ in one.
expected = sum(len(os.listdir(os.path.join(pipeline, d))) * n for d, n in (("checks", 2), ("unit", 1), ("isolated", 1)))
try:
    record = json.load(open(path))
except ValueError:
    print(open(path).read(), file=sys.stderr)
    sys.exit(f"farm submit exited {rc} without a run record")
run = record["run"]
c = run["counts"]
agents = sorted({t.get("done_by") or "?" for t in record["tasks"]})
print(f"run {run['id']}: {run['verdict']} ({run['message']}); {c['tests_passed']}/{c['tests_total']} tests passed "
      f"in {c['tasks_done']} tasks on {', '.join(agents)}; farm submit exit {rc}")
for failed in run.get("failed_tests", []):
    print("  failed:", failed, file=sys.stderr)
assert rc == 0, f"farm submit exited {rc}"
assert run["verdict"] == "passed", run["verdict"]
assert c["tests_total"] == expected and c["tests_passed"] == expected, (expected, c)
assert c["tasks_lost"] == 0, c
EOF
rm -f "$run_json"

step "prometheus: 5 targets up, every dashboard metric scraped"
prom_url
poll "all 5 farm targets up in Prometheus ($prom)" targets_up
# The metric names the dashboard's queries use (panel targets and template variables),
# each of which must be one Prometheus has scraped from this cluster. The run above
# produced the histograms; poll until a scrape after it has them.
dashboard_metrics_known() {
  curl -fsS "$prom/api/v1/label/__name__/values" | python3 -c '
import json, re, sys
known = set(json.load(sys.stdin)["data"])
dash = json.load(open(sys.argv[1]))
exprs = [t.get("expr", "") for p in dash["panels"] for t in p.get("targets", [])]
exprs += [json.dumps(v.get("query", "")) + v.get("definition", "") for v in dash["templating"]["list"]]
used = sorted({m for e in exprs for m in re.findall(r"\b(farm_[a-z0-9_]+)\b", e)})
missing = [m for m in used if m not in known]
print(f"dashboard: {len(used)} metric names, {len(used) - len(missing)} scraped", file=sys.stderr)
if missing:
    sys.exit("not scraped from the cluster: " + ", ".join(missing))
' "$root/deploy/grafana/testfarm.json"
}
poll "every metric of deploy/grafana/testfarm.json in Prometheus" dashboard_metrics_known
dashboard_metrics_known

end_step
# The EXIT trap tears down and prints the timings.
