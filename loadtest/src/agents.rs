//! `loadtest agents`: simulated agents against a real 3-node cluster. Each agent is a
//! task of this process with its own connection to the leader, as a real one: it
//! registers with its slots, holds the lease stream open, heartbeats, and for every
//! task it is leased answers as a real agent would — a discovery with the run's test
//! ids (SIM_TESTS of the task's environment), a shard with a result for each of its
//! tests after sleeping their time (SIM_TEST_MS each). Submitters keep runs of
//! several jobs coming for the whole measurement. Nothing runs but the farm's own
//! protocol: this measures the coordinator, not a test runner.
//!
//! Printed: runs accepted, tasks completed per second, committed raft entries per
//! second (the leader's commit index over the window), lease latency p50/p99 (a
//! task's lease committed after it was queued, from the records of a sample of
//! runs), and each coordinator's RSS and CPU.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testfarm_proto::agent_service_client::AgentServiceClient;
use testfarm_proto::farm_client::FarmClient;
use testfarm_proto::raft_service_client::RaftServiceClient;
use testfarm_proto::{
    exit, task_spec, ClusterStatusRequest, Exit, GetRunRequest, HeartbeatRequest, LeaseRequest, Phases,
    RegisterRequest, SubmitRequest, TaskAssignment, TaskOutcome, TaskReport, TestResult, TestStatus, WatchRunRequest,
};
use tonic::transport::Channel;

use crate::raft;
use crate::stats::{now_ms, Quantiles};

#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    #[arg(long, default_value_t = 2000)]
    pub agents: usize,
    #[arg(long, default_value_t = 5)]
    pub slots: u32,
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Runs in flight: each submitter follows its run to the verdict before the next.
    #[arg(long, default_value_t = 150)]
    pub submitters: usize,
    /// Jobs (stages) per run: MediaWiki's gate has about 13 per change.
    #[arg(long, default_value_t = 13)]
    pub jobs: usize,
    /// Tests per job.
    #[arg(long, default_value_t = 200)]
    pub tests: usize,
    /// Each test's simulated time.
    #[arg(long, default_value_t = 50)]
    pub test_ms: u64,
}

#[derive(Default)]
struct Stats {
    registered: AtomicU64,
    tasks_done: AtomicU64,
    reports_refused: AtomicU64,
    runs_accepted: AtomicU64,
    runs_finished: AtomicU64,
    run_ids: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
}

impl Stats {
    fn error(&self, what: String) {
        let mut errors = self.errors.lock().expect("errors lock");
        if errors.len() < 20 {
            errors.push(what);
        }
    }
}

fn pipeline(jobs: usize) -> String {
    let mut yaml = String::from("pipeline: sim\nstages:\n");
    for j in 0..jobs {
        yaml.push_str(&format!("  job{j}:\n    discover: sim\n    each: sim\n"));
    }
    yaml
}

async fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

/// The leader's URL, as the first member that knows it says.
async fn leader_url(addrs: &[String]) -> Option<String> {
    for addr in addrs {
        let Ok(ch) = channel(&format!("http://{addr}")).await else {
            continue;
        };
        let Ok(reply) = RaftServiceClient::new(ch)
            .cluster_status(ClusterStatusRequest { digest: false })
            .await
        else {
            continue;
        };
        let r = reply.into_inner();
        if r.is_leader {
            return Some(format!("http://{addr}"));
        }
        if !r.leader_addr.is_empty() {
            return Some(format!("http://{}", r.leader_addr));
        }
    }
    None
}

/// What a real agent would report for `assignment`.
async fn work(assignment: &TaskAssignment, test_ms: u64) -> TaskOutcome {
    let spec = assignment.spec.clone().unwrap_or_default();
    let mut outcome = TaskOutcome {
        exit: Some(Exit {
            kind: Some(exit::Kind::Exited(0)),
        }),
        ..TaskOutcome::default()
    };
    match spec.kind {
        Some(task_spec::Kind::Discover(_)) => {
            let n: usize = spec.env.get("SIM_TESTS").and_then(|v| v.parse().ok()).unwrap_or(10);
            outcome.discovered = (0..n).map(|k| format!("t{k}")).collect();
        }
        Some(task_spec::Kind::Shard(shard)) => {
            let secs = test_ms as f64 / 1000.0;
            tokio::time::sleep(Duration::from_millis(test_ms * shard.tests.len() as u64)).await;
            outcome.phases = Some(Phases {
                run_secs: secs * shard.tests.len() as f64,
                ..Phases::default()
            });
            outcome.results = shard
                .tests
                .into_iter()
                .map(|id| TestResult {
                    id,
                    status: TestStatus::Passed as i32,
                    duration_secs: secs,
                    message: String::new(),
                })
                .collect();
        }
        None => {}
    }
    outcome.sent_at_ms = now_ms();
    outcome
}

/// One simulated agent, until `stop`.
async fn agent(url: String, id: String, slots: u32, test_ms: u64, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    let Ok(ch) = channel(&url).await else {
        stats.error(format!("{id}: cannot connect to {url}"));
        return;
    };
    let mut client = AgentServiceClient::new(ch);
    let reply = match client
        .register(RegisterRequest {
            agent_id: id.clone(),
            slots,
            ..RegisterRequest::default()
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => {
            stats.error(format!("{id}: register: {}", e.message()));
            return;
        }
    };
    let mut stream = match client.lease(LeaseRequest { agent_id: id.clone() }).await {
        Ok(s) => s.into_inner(),
        Err(e) => {
            stats.error(format!("{id}: lease: {}", e.message()));
            return;
        }
    };
    stats.registered.fetch_add(1, Ordering::Relaxed);
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let every = Duration::from_millis(reply.heartbeat_interval_ms.max(100));
    {
        let (mut client, id, running, stop) = (client.clone(), id.clone(), running.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(every).await;
                let tasks: Vec<String> = running.lock().expect("running lock").iter().cloned().collect();
                let _ = client
                    .heartbeat(HeartbeatRequest {
                        agent_id: id.clone(),
                        running_tasks: tasks,
                    })
                    .await;
            }
        });
    }
    while !stop.load(Ordering::Relaxed) {
        let message = match tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
            Err(_) => continue,
            Ok(Ok(Some(m))) => m,
            Ok(_) => return,
        };
        running.lock().expect("running lock").insert(message.task_id.clone());
        let (mut client, id, running, stats) = (client.clone(), id.clone(), running.clone(), stats.clone());
        tokio::spawn(async move {
            let outcome = work(&message, test_ms).await;
            let report = TaskReport {
                agent_id: id,
                task_id: message.task_id.clone(),
                attempt: message.attempt,
                outcome: Some(outcome),
            };
            match client.report_task(report).await {
                Ok(_) => stats.tasks_done.fetch_add(1, Ordering::Relaxed),
                Err(_) => stats.reports_refused.fetch_add(1, Ordering::Relaxed),
            };
            running.lock().expect("running lock").remove(&message.task_id);
        });
    }
}

/// Submits a run, follows it to its verdict, and again, until `stop`: a closed loop,
/// so that the runs in flight are the submitters' count and the queue stays within
/// the agents' capacity (an open loop measures only how long a queue can grow).
async fn submitter(url: String, jobs: usize, tests: usize, stats: Arc<Stats>, stop: Arc<AtomicBool>) {
    let Ok(ch) = channel(&url).await else {
        return;
    };
    let mut client = FarmClient::new(ch);
    let yaml = pipeline(jobs);
    while !stop.load(Ordering::Relaxed) {
        let request = SubmitRequest {
            pipeline_yaml: yaml.clone(),
            pipeline_path: "sim.yaml".into(),
            project_dir: "/tmp".into(),
            mode: "gate".into(),
            submitter: "loadtest".into(),
            env: [("SIM_TESTS".to_string(), tests.to_string())].into(),
            ..SubmitRequest::default()
        };
        let run_id = match client.submit(request).await {
            Ok(r) => {
                stats.runs_accepted.fetch_add(1, Ordering::Relaxed);
                let id = r.into_inner().run_id;
                stats.run_ids.lock().expect("run ids lock").push(id.clone());
                id
            }
            Err(e) => {
                stats.error(format!("submit: {}", e.message()));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(watch) = client.watch_run(WatchRunRequest { run_id: run_id.clone() }).await else {
            continue;
        };
        let mut events = watch.into_inner();
        while let Ok(Some(event)) = events.message().await {
            if !event.verdict.is_empty() {
                stats.runs_finished.fetch_add(1, Ordering::Relaxed);
                break;
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
        }
    }
}

/// RSS (bytes) and CPU seconds of a process, from /proc.
fn usage(pid: u32) -> (u64, f64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
        })
        .unwrap_or(0)
        * 1024;
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command's closing parenthesis; utime and stime are 14, 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}

async fn commit_index(url: &str) -> u64 {
    let Ok(ch) = channel(url).await else { return 0 };
    RaftServiceClient::new(ch)
        .cluster_status(ClusterStatusRequest { digest: false })
        .await
        .map(|r| r.into_inner().commit)
        .unwrap_or(0)
}

/// What a measurement gave.
#[derive(Debug, Default)]
pub struct Figures {
    pub registered: u64,
    pub runs_accepted: u64,
    pub runs_finished: u64,
    pub tasks_done: u64,
    pub reports_refused: u64,
    pub tasks_per_sec: f64,
    pub entries_per_sec: f64,
    pub lease_p50_ms: f64,
    pub lease_p99_ms: f64,
    /// RSS at the start and the end of the window, by coordinator.
    pub rss: Vec<(u64, u64)>,
    pub errors: Vec<String>,
}

/// Measures and prints as it goes; returns the figures.
pub async fn measure_and_print(opts: Options) -> Figures {
    let cluster = raft::start(3);
    raft::wait_ready(&cluster.addrs[0]).await;
    let Some(leader) = leader_url(&cluster.addrs).await else {
        return Figures {
            errors: vec!["no leader".into()],
            ..Figures::default()
        };
    };
    println!(
        "agents: {} simulated agents × {} slots against 3 coordinators (leader {leader}); {} submitters of runs of {} jobs × {} tests of {} ms, for {} s",
        opts.agents, opts.slots, opts.submitters, opts.jobs, opts.tests, opts.test_ms, opts.seconds
    );
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    for i in 0..opts.agents {
        tokio::spawn(agent(
            leader.clone(),
            format!("sim-{i}"),
            opts.slots,
            opts.test_ms,
            stats.clone(),
            stop.clone(),
        ));
    }
    while stats.registered.load(Ordering::Relaxed) < opts.agents as u64 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{} agents registered in {:.1} s",
        stats.registered.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    let before: Vec<(u64, f64)> = cluster.children.iter().map(|c| usage(c.id())).collect();
    let commit_before = commit_index(&leader).await;
    let window = Instant::now();
    for _ in 0..opts.submitters {
        tokio::spawn(submitter(
            leader.clone(),
            opts.jobs,
            opts.tests,
            stats.clone(),
            stop.clone(),
        ));
    }
    let mut last = 0;
    while window.elapsed() < Duration::from_secs(opts.seconds) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let done = stats.tasks_done.load(Ordering::Relaxed);
        eprintln!(
            "  {:>4.0}s: {} runs accepted, {} finished, {} tasks done (+{} in 5 s)",
            window.elapsed().as_secs_f64(),
            stats.runs_accepted.load(Ordering::Relaxed),
            stats.runs_finished.load(Ordering::Relaxed),
            done,
            done - last
        );
        last = done;
    }
    let secs = window.elapsed().as_secs_f64();
    let commit_after = commit_index(&leader).await;
    let done = stats.tasks_done.load(Ordering::Relaxed);
    let after: Vec<(u64, f64)> = cluster.children.iter().map(|c| usage(c.id())).collect();
    stop.store(true, Ordering::Relaxed);

    // Lease latency from a sample of the runs' records: lease committed − queued.
    let ids: Vec<String> = stats.run_ids.lock().expect("run ids lock").clone();
    let step = (ids.len() / 50).max(1);
    let mut latencies: Vec<Duration> = Vec::new();
    if let Ok(ch) = channel(&leader).await {
        let mut client = FarmClient::new(ch).max_decoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES);
        for id in ids.iter().step_by(step) {
            let Ok(reply) = client.get_run(GetRunRequest { run_id: id.clone() }).await else {
                continue;
            };
            for t in reply.into_inner().tasks {
                if let (Some(leased), queued) = (t.leased_ms, t.queued_ms) {
                    latencies.push(Duration::from_millis(leased.saturating_sub(queued)));
                }
            }
        }
    }
    let lease = Quantiles::of(latencies);
    println!(
        "runs finished {}; runs accepted {} ({:.1}/s); tasks completed {} ({:.0}/s), reports refused {}; committed entries {:.0}/s",
        stats.runs_finished.load(Ordering::Relaxed),
        stats.runs_accepted.load(Ordering::Relaxed),
        stats.runs_accepted.load(Ordering::Relaxed) as f64 / secs,
        done,
        done as f64 / secs,
        stats.reports_refused.load(Ordering::Relaxed),
        commit_after.saturating_sub(commit_before) as f64 / secs
    );
    println!(
        "lease latency (queued → leased, tasks of {} sampled runs): {lease}",
        ids.len().div_ceil(step)
    );
    for (i, ((rss, cpu0), (_, cpu1))) in before.iter().zip(&after).enumerate() {
        let (rss_end, _) = after[i];
        println!(
            "coordinator {}: RSS {:.0} MiB → {:.0} MiB, CPU {:.0}% of a core over the window",
            i + 1,
            *rss as f64 / 1048576.0,
            rss_end as f64 / 1048576.0,
            100.0 * (cpu1 - cpu0) / secs
        );
    }
    let errors = stats.errors.lock().expect("errors lock").clone();
    for e in &errors {
        println!("error: {e}");
    }
    Figures {
        registered: stats.registered.load(Ordering::Relaxed),
        runs_accepted: stats.runs_accepted.load(Ordering::Relaxed),
        runs_finished: stats.runs_finished.load(Ordering::Relaxed),
        tasks_done: done,
        reports_refused: stats.reports_refused.load(Ordering::Relaxed),
        tasks_per_sec: done as f64 / secs,
        entries_per_sec: commit_after.saturating_sub(commit_before) as f64 / secs,
        lease_p50_ms: lease.p50.as_secs_f64() * 1000.0,
        lease_p99_ms: lease.p99.as_secs_f64() * 1000.0,
        rss: before.iter().zip(&after).map(|(b, a)| (b.0, a.0)).collect(),
        errors,
    }
}
