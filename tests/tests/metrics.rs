//! Prometheus metrics of real coordinator and agent processes agree with the run they
//! served: shards, tests, leases and losses. (Kept apart from the `Farm` harness
//! because it starts every process with `--http`.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testfarm_integration::{farm_bin, workspace_root};

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

fn scrape(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            let mut body = String::new();
            if s.read_to_string(&mut body).is_ok() && body.starts_with("HTTP/1.") {
                return body
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_string())
                    .unwrap_or_default();
            }
        }
        assert!(Instant::now() < deadline, "no /metrics at {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of one series (exact name with labels), 0 if absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[test]
fn metrics_agree_with_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let grpc = free_addr();
    let http = free_addr();
    let mut procs = Procs(Vec::new());
    let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log");
    procs.0.push(
        Command::new(farm_bin())
            .args([
                "coordinator",
                "--listen",
                &grpc,
                "--http",
                &http,
                "--lease-timeout",
                "3s",
                "--heartbeat",
                "500ms",
            ])
            .arg("--data-dir")
            .arg(dir.path().join("c"))
            .stdout(log("c.out"))
            .stderr(log("c.err"))
            .spawn()
            .expect("coordinator"),
    );
    let agent_http: Vec<String> = (0..2).map(|_| free_addr()).collect();
    for (i, a) in agent_http.iter().enumerate() {
        let id = format!("metrics-{}-a{i}", std::process::id());
        procs.0.push(
            Command::new(farm_bin())
                .args([
                    "agent",
                    "--coordinator",
                    &format!("http://{grpc}"),
                    "--id",
                    &id,
                    "--http",
                    a,
                ])
                .arg("--work-dir")
                .arg(dir.path().join(&id))
                .stdout(log(&format!("{id}.out")))
                .stderr(log(&format!("{id}.err")))
                .spawn()
                .expect("agent"),
        );
    }
    scrape(&http); // the coordinator is up
    let out = Command::new(farm_bin())
        .args(["submit", "--json", "--coordinator", &format!("http://{grpc}")])
        .arg(workspace_root().join("examples/quickstart/farm.yaml"))
        .stderr(Stdio::inherit())
        .output()
        .expect("submit");
    assert_eq!(out.status.code(), Some(0), "the quickstart passes");
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run record");
    let tasks = record["tasks"].as_array().expect("tasks");
    let shards = tasks.iter().filter(|t| t["work"] != "discover").count() as f64;
    let discovers = tasks.len() as f64 - shards;
    let tests = record["run"]["counts"]["tests_total"].as_f64().expect("tests_total");
    assert!(shards > 3.0 && tests > 50.0);

    let c = scrape(&http);
    assert_eq!(value(&c, r#"farm_tasks_completed_total{kind="shard"}"#), shards, "{c}");
    assert_eq!(value(&c, r#"farm_tasks_completed_total{kind="discover"}"#), discovers);
    assert_eq!(value(&c, r#"farm_task_run_seconds_count{kind="shard"}"#), shards);
    assert_eq!(value(&c, r#"farm_tests_total{status="passed"}"#), tests);
    assert_eq!(
        value(&c, "farm_tasks_leased_total"),
        tasks.len() as f64,
        "one lease per task, none retried"
    );
    assert_eq!(value(&c, "farm_tasks_lost_total"), 0.0);
    assert_eq!(
        value(&c, r#"farm_runs_finished_total{mode="gate",verdict="passed"}"#),
        1.0
    );
    assert_eq!(value(&c, "farm_raft_is_leader"), 1.0);
    assert!(
        value(&c, "farm_raft_applied_index") >= (2 * tasks.len() + 1) as f64,
        "every lease and result committed"
    );
    assert_eq!(value(&c, "farm_agent_slots"), 4.0, "2 agents x 2 slots");
    // The run's wall time, as measured by the coordinator, is in the histogram.
    let wall =
        (record["run"]["finished_ms"].as_f64().unwrap() - record["run"]["accepted_ms"].as_f64().unwrap()) / 1000.0;
    assert!((value(&c, r#"farm_run_wall_seconds_sum{mode="gate"}"#) - wall).abs() < 0.01);
    // The test time the shards ran adds up to what the results say, within scheduling noise.
    let results_secs: f64 = tasks
        .iter()
        .filter_map(|t| t["outcome"]["results"].as_array())
        .flatten()
        .map(|r| r["duration_secs"].as_f64().unwrap_or(0.0))
        .sum();
    let run_secs = value(&c, r#"farm_task_run_seconds_sum{kind="shard"}"#);
    assert!(
        run_secs >= results_secs * 0.95 && run_secs <= results_secs * 1.3,
        "{run_secs} vs {results_secs}"
    );

    // Agents: between them, every task and every test, once.
    let mut agent_tasks = 0.0;
    let mut agent_tests = 0.0;
    for a in &agent_http {
        let m = scrape(a);
        agent_tasks += value(&m, r#"farm_agent_tasks_total{kind="shard",exit="ok"}"#)
            + value(&m, r#"farm_agent_tasks_total{kind="discover",exit="ok"}"#);
        agent_tests += value(&m, r#"farm_agent_tests_total{status="passed"}"#);
        assert_eq!(value(&m, "farm_agent_slots_total"), 2.0);
        assert_eq!(value(&m, "farm_agent_report_retries_total"), 0.0);
    }
    assert_eq!(agent_tasks, tasks.len() as f64);
    assert_eq!(agent_tests, tests);
}
