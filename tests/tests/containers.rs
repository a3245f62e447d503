//! The executors against the real Docker daemon and the real kernel: the same fixture
//! pipeline (tests/fixtures/containers) in a container and in the sandbox with the
//! `base` runtime image (built on demand with `farm image build base`), limits,
//! network isolation, and what a killed agent leaves behind.

use std::time::{Duration, Instant};

use serde_json::Value;
use testfarm_integration::containers::{
    agent_containers, container_cgroup, container_exists, docker, ensure_image, fixture_copy, read_trimmed,
    shard_containers,
};
use testfarm_integration::listener::CountingListener;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{Farm, Options};

const EXECUTORS: [&str; 2] = ["docker", "sandbox"];
const LIMIT_64MIB: u64 = 64 << 20;

/// A farm of one agent (slots 2) with the `base` image built.
fn farm(tag: &str) -> Farm {
    ensure_image("base");
    Farm::start(
        tag,
        Options {
            agents: 1,
            ..Options::default()
        },
    )
}

/// The fixture for `executor`, copied into the farm's directory, with more rewrites.
fn pipeline(farm: &Farm, case: &str, executor: &str, more: &[(&str, &str)]) -> std::path::PathBuf {
    let mut replace = vec![("executor: docker", format!("executor: {executor}"))];
    replace.extend(more.iter().map(|(a, b)| (*a, b.to_string())));
    let pairs: Vec<(&str, &str)> = replace.iter().map(|(a, b)| (*a, b.as_str())).collect();
    fixture_copy("containers", &farm.dir().join(format!("project-{case}")), &pairs)
}

/// The shard tasks' outcomes (not discovery).
fn shard_outcomes(rec: &Value) -> Vec<&Value> {
    record::shard_tasks(rec).into_iter().map(|t| &t["outcome"]).collect()
}

#[test]
fn a_shard_passes_alike_in_docker_and_in_the_sandbox() {
    let mut farm = farm("ct-same");
    let mut seen: Vec<Vec<(String, String)>> = Vec::new();
    for executor in EXECUTORS {
        let yaml = pipeline(&farm, executor, executor, &[]);
        let out = farm.submit(&yaml, &["--only", "checks"]);
        let rec = out.json();
        assert_eq!(
            out.code,
            0,
            "{executor}: {}\nlogs: {:?}",
            summary(&rec),
            farm.task_files("log.txt")
        );
        let mut rows: Vec<(String, String)> = record::results(&rec).into_iter().map(|r| (r.id, r.status)).collect();
        rows.sort();
        for o in shard_outcomes(&rec) {
            let u = &o["usage"];
            assert_eq!(u["executor"], executor, "{u}");
            assert_eq!(u["cgroup"], true, "{u}");
            assert!(u["cpu_secs"].as_f64().unwrap() > 0.0, "{u}");
            assert!(u["peak_memory_bytes"].as_u64().unwrap() > 0, "{u}");
            assert!(u["peak_pids"].as_u64().unwrap() >= 1, "{u}");
            assert_eq!(u["oom_kills"], 0, "{u}");
        }
        let starts: Vec<f64> = shard_outcomes(&rec)
            .iter()
            .map(|o| o["phases"]["start_secs"].as_f64().unwrap_or(f64::NAN))
            .collect();
        eprintln!(
            "{executor}: {} checks passed; shard start_secs {starts:.3?}",
            rows.len()
        );
        seen.push(rows);
    }
    assert_eq!(seen[0].len(), 8, "{:?}", seen[0]);
    assert!(seen[0].iter().all(|(_, s)| s == "passed"), "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1], "docker and sandbox disagree");
}

#[test]
fn over_the_memory_limit_is_reported_as_memory_limit() {
    let mut farm = farm("ct-oom");
    for executor in EXECUTORS {
        let yaml = pipeline(&farm, executor, executor, &[]);
        let out = farm.submit(&yaml, &["--only", "hog"]);
        let rec = out.json();
        assert_eq!(out.code, 1, "{executor}: {}", summary(&rec));
        let rows = record::results(&rec);
        assert_eq!(rows.len(), 1, "{}", summary(&rec));
        assert_eq!(rows[0].status, "memory_limit", "{executor}: {}", summary(&rec));
        let o = &record::task(&rec, &rows[0].task)["outcome"];
        assert_eq!(o["exit"]["kind"], "memory_limit", "{executor}");
        let u = &o["usage"];
        assert!(u["oom_kills"].as_u64().unwrap() >= 1, "{executor}: {u}");
        let peak = u["peak_memory_bytes"].as_u64().unwrap();
        assert!(
            peak > LIMIT_64MIB / 2 && peak <= LIMIT_64MIB + (4 << 20),
            "{executor}: peak {peak} bytes against the 64MiB limit"
        );
        eprintln!(
            "{executor}: hog.sh killed at {:.1}MiB, {} OOM kill(s)",
            peak as f64 / (1 << 20) as f64,
            u["oom_kills"]
        );
    }
}

#[test]
fn a_fork_bomb_is_held_by_the_pids_limit_and_cleaned_up() {
    let mut farm = farm("ct-bomb");
    for executor in EXECUTORS {
        let yaml = pipeline(&farm, executor, executor, &[]);
        let started = Instant::now();
        let out = farm.submit(&yaml, &["--only", "bomb"]);
        let took = started.elapsed();
        let rec = out.json();
        let rows = record::results(&rec);
        assert_eq!(rows.len(), 1, "{}", summary(&rec));
        let o = &record::task(&rec, &rows[0].task)["outcome"];
        assert_eq!(rows[0].status, "passed", "{executor}: {}", summary(&rec));
        let peak = o["usage"]["peak_pids"].as_u64().unwrap();
        assert!(
            (16..=32).contains(&peak),
            "{executor}: highest process count {peak}, the limit is 32"
        );
        assert!(took < Duration::from_secs(25), "{executor}: the run took {took:?}");
        // Nothing of it is left: no container, no process in the agent's cgroups.
        let agent = farm.agent_id(0).to_string();
        assert_eq!(agent_containers(&agent, false), Vec::<String>::new(), "{executor}");
        let left = pids_under(&format!("/sys/fs/cgroup/pids/testfarm/{agent}"));
        assert_eq!(
            left,
            Vec::<i32>::new(),
            "{executor}: processes left in the agent's cgroups"
        );
        eprintln!(
            "{executor}: fork bomb held at {peak} processes, ended as {} after {:.1}s ({})",
            o["exit"]["kind"],
            o["phases"]["run_secs"].as_f64().unwrap_or(f64::NAN),
            rows[0].status
        );
    }
}

/// Pids in any cgroup below `dir` (v1 `cgroup.procs`).
fn pids_under(dir: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn no_network_when_the_stage_asks_for_none() {
    // A listener on the host's loopback; connections to it are counted.
    let listener = CountingListener::start();
    let port = listener.port.to_string();
    let mut farm = farm("ct-net");
    // (case, executor, farm.yaml rewrites, what the shard must find)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        ("docker-none", "docker", &[], "unreachable"),
        ("sandbox-none", "sandbox", &[], "unreachable"),
        // Without an image the sandbox still isolates by default.
        (
            "sandbox-host",
            "sandbox",
            &[("  image: base\n", ""), ("  network: none\n", "")],
            "unreachable",
        ),
        // Controls: the listener is reachable from the host's network.
        (
            "sandbox-bridge",
            "sandbox",
            &[("network: none", "network: bridge")],
            "reachable",
        ),
        (
            "sandbox-host-open",
            "sandbox",
            &[("  image: base\n", ""), ("  network: none\n", "  isolation: none\n")],
            "reachable",
        ),
    ];
    for (case, executor, rewrites, expect) in cases {
        let yaml = pipeline(&farm, case, executor, rewrites);
        let env_port = format!("LISTENER_PORT={port}");
        let env_expect = format!("EXPECT={expect}");
        let before = listener.accepted();
        let out = farm.submit(&yaml, &["--only", "net", "--env", &env_port, "--env", &env_expect]);
        let rec = out.json();
        assert_eq!(out.code, 0, "{case}: expected {expect}; {}", summary(&rec));
        let task = &record::shard_tasks(&rec)[0];
        let log = std::fs::read_to_string(task["outcome"]["log_path"].as_str().unwrap()).unwrap_or_default();
        assert!(log.contains(&format!("is {expect}")), "{case}: {log}");
        let want = before + usize::from(expect == "reachable");
        assert_eq!(listener.settled(want), want, "{case}: connections seen by the listener");
        eprintln!("{case}: 127.0.0.1:{port} {expect}");
    }
}

/// Waits for the agent's one running shard container (discovery's come and go);
/// returns its id.
fn running_container(farm: &mut Farm, agent: &str) -> String {
    let mut found = Vec::new();
    farm.wait_until(
        "a running shard container of the agent",
        Duration::from_secs(60),
        |_| {
            found = shard_containers(agent);
            !found.is_empty()
        },
    );
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0).0
}

#[test]
fn limits_are_in_the_container_cgroup_files() {
    let mut farm = farm("ct-limits");
    let yaml = pipeline(&farm, "docker", "docker", &[]);
    farm.submit_no_wait(&yaml, &["--only", "sleeper"]);
    let agent = farm.agent_id(0).to_string();
    let id = running_container(&mut farm, &agent);
    let memory = container_cgroup("memory", &agent, &id).expect("the container's memory cgroup");
    let cpu = container_cgroup("cpu", &agent, &id).expect("the container's cpu cgroup");
    let pids = container_cgroup("pids", &agent, &id).expect("the container's pids cgroup");
    assert_eq!(
        read_trimmed(&memory.join("memory.limit_in_bytes")),
        LIMIT_64MIB.to_string()
    );
    let memsw = memory.join("memory.memsw.limit_in_bytes");
    if memsw.exists() {
        assert_eq!(read_trimmed(&memsw), LIMIT_64MIB.to_string(), "memory+swap = memory");
    }
    assert_eq!(read_trimmed(&cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read_trimmed(&cpu.join("cpu.cfs_quota_us")), "50000", "cpu: 0.5");
    assert_eq!(read_trimmed(&pids.join("pids.max")), "32");
    // The labels, the user, the network and the privileges, as docker sees them.
    let inspect: Value = serde_json::from_str(&docker(&["inspect", &id])).unwrap();
    let c = &inspect[0];
    assert_eq!(c["Config"]["Labels"]["testfarm.agent"], agent.as_str());
    assert!(c["Config"]["Labels"]["testfarm.task"]
        .as_str()
        .unwrap()
        .starts_with('r'));
    assert_eq!(c["Config"]["User"], "65534:65534");
    assert_eq!(c["HostConfig"]["NetworkMode"], "none");
    assert_eq!(c["HostConfig"]["Privileged"], false);
    assert_eq!(c["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(c["HostConfig"]["SecurityOpt"], serde_json::json!(["no-new-privileges"]));
    eprintln!("limits of {id} in {}", memory.display());
}

#[test]
fn a_killed_agent_leaves_no_container_once_restarted() {
    let mut farm = farm("ct-kill");
    let yaml = pipeline(&farm, "docker", "docker", &[]);
    farm.submit_no_wait(&yaml, &["--only", "sleeper"]);
    let agent = farm.agent_id(0).to_string();
    let id = running_container(&mut farm, &agent);
    let memory = container_cgroup("memory", &agent, &id).expect("the container's memory cgroup");

    farm.kill_agent(0);
    // The daemon keeps the container running without its agent.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &id]), "true");

    let restarted = Instant::now();
    farm.restart_agent(0);
    farm.wait_until("the old container removed", Duration::from_secs(30), |_| {
        !container_exists(&id)
    });
    farm.wait_for_agents(1);
    assert!(!memory.exists(), "{} left behind", memory.display());
    // Whatever runs now under this agent is a new container (the shard, leased again).
    assert!(!agent_containers(&agent, false).contains(&id));
    eprintln!(
        "container {} removed {:.2}s after the agent's restart",
        &id[..12],
        restarted.elapsed().as_secs_f64()
    );
}
