//! `loadtest nemesis`: a raft cluster and its agents, every one a separate process,
//! under faults drawn from a seed — kill -9, SIGSTOP/SIGCONT, restarts, partitions of
//! coordinators; kill -9 and pauses of agents mid-shard — while clients submit runs
//! and follow each to its verdict through the member they submitted to, whichever
//! member dies under them. Every fault is undone within its cycle; at the end the
//! history recorded on the side (what each client was told and how it exited, the run
//! records read back, each agent's own log of what it ran, each replica's state
//! digest) goes to [`crate::checker`].
//!
//! A seed replays the same schedule: the same faults in the same order, the same
//! victims (by role: "the leader"), holds and submissions. Timing between processes is
//! the machine's, so a replay strikes at nearly, not exactly, the same moments.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::Value;
use testfarm_integration::cli::Cli;
use testfarm_integration::rng::Rng;
use testfarm_integration::{record, Cluster, ClusterOptions};

use crate::checker::{self, Ack, AgentRun, Anomaly, Exit, Expected, History, Recorded, TestKey};
use crate::stats::{now_ms, Quantiles};

/// One kind of fault, struck and undone within a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// kill -9 of the leader; restarted on its data after 0–1.5 s.
    KillLeader,
    /// kill -9 of a follower; restarted after 0–1.5 s.
    KillFollower,
    /// SIGSTOP of a member (the leader half the time) for 0.5–4 s, then SIGCONT.
    PauseMember,
    /// A member (the leader half the time) cut off from the others by iptables for
    /// 1–4 s; clients and agents still reach it.
    PartitionMember,
    /// kill -9 of an agent, mid-shard when it runs one; restarted with the same id
    /// after 0–2 s.
    KillAgent,
    /// SIGSTOP of an agent for 1–5 s (the lease timeout is 3 s), then SIGCONT: its
    /// leases are lost and given to another; its late reports must be refused.
    PauseAgent,
}

pub const ALL_FAULTS: [Fault; 6] = [
    Fault::KillLeader,
    Fault::KillFollower,
    Fault::PauseMember,
    Fault::PartitionMember,
    Fault::KillAgent,
    Fault::PauseAgent,
];

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::KillLeader => "kill -9 leader",
            Fault::KillFollower => "kill -9 follower",
            Fault::PauseMember => "pause member",
            Fault::PartitionMember => "partition member",
            Fault::KillAgent => "kill -9 agent",
            Fault::PauseAgent => "pause agent",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Coordinators: 3 or 5.
    pub nodes: usize,
    pub agents: usize,
    pub slots: u32,
    /// Concurrent submitting clients.
    pub clients: usize,
    pub cycles: usize,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes: 3,
            agents: 3,
            // More slots than the clients keep busy, so that the probe submitted at a
            // leader kill is leased as soon as the farm can.
            slots: 2,
            clients: 4,
            cycles: 100,
            seed: 1,
        }
    }
}

/// A leader killed: when, and how long until a new leader and the first lease after.
/// Work is due at once: the nemesis submits a probe run through a survivor as soon
/// as the leader is down, and the agents have free slots.
#[derive(Debug, Clone)]
pub struct Failover {
    pub cycle: usize,
    pub killed_ms: u64,
    /// From the members' logs ("became leader").
    pub new_leader: Option<Duration>,
    /// From the run records read back (the earliest `leased_ms` after the kill).
    pub first_lease: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub nodes: usize,
    pub agents: usize,
    pub cycles: usize,
    pub faults: BTreeMap<Fault, usize>,
    /// `cycle:fault:victim` for each cycle, in order.
    pub schedule: Vec<String>,
    pub submissions: usize,
    pub submit_attempts: usize,
    pub acknowledged: usize,
    /// Acknowledged runs read back with a verdict, by verdict.
    pub verdicts: BTreeMap<String, usize>,
    /// Client exit codes, by code.
    pub exits: BTreeMap<i32, usize>,
    /// Runs that ended without a test verdict (error, cancelled): id, verdict, message.
    pub unjudged: Vec<String>,
    pub failovers: Vec<Failover>,
    /// Task attempts the agents' logs say they ran, and how many of them were a
    /// second or later attempt (work lost to a fault and leased again).
    pub attempts_run: usize,
    pub attempts_retried: usize,
    /// Agents killed while they held a lease.
    pub agents_killed_mid_shard: usize,
    pub replicas: BTreeMap<u64, String>,
    pub anomalies: Vec<Anomaly>,
    pub elapsed: Duration,
    /// Where the cluster's logs were kept (anomalies found), if anywhere.
    pub kept: Option<PathBuf>,
}

impl Report {
    /// Failover figures (new leader, first lease), p50 and p99, over the kills whose
    /// times are known.
    pub fn failover_quantiles(&self) -> (Quantiles, Quantiles) {
        let leaders: Vec<Duration> = self.failovers.iter().filter_map(|f| f.new_leader).collect();
        let leases: Vec<Duration> = self.failovers.iter().filter_map(|f| f.first_lease).collect();
        (Quantiles::of(leaders), Quantiles::of(leases))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let faults: Vec<String> = self.faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            f,
            "nemesis seed {}: {} cycles on {} coordinators and {} agents in {:.0}s ({})",
            self.seed,
            self.cycles,
            self.nodes,
            self.agents,
            self.elapsed.as_secs_f64(),
            faults.join(", ")
        )?;
        let verdicts: Vec<String> = self.verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        let exits: Vec<String> = self.exits.iter().map(|(c, n)| format!("exit {c}: {n}")).collect();
        writeln!(
            f,
            "runs: {} submitted ({} submit attempts), {} acknowledged, {} finished ({}); clients: {}",
            self.submissions,
            self.submit_attempts,
            self.acknowledged,
            self.verdicts.values().sum::<usize>(),
            verdicts.join(", "),
            exits.join(", ")
        )?;
        writeln!(
            f,
            "agents ran {} task attempts, {} of them again after a loss; {} of {} agent kills mid-shard",
            self.attempts_run,
            self.attempts_retried,
            self.agents_killed_mid_shard,
            self.faults.get(&Fault::KillAgent).copied().unwrap_or(0)
        )?;
        let (leader, lease) = self.failover_quantiles();
        writeln!(
            f,
            "failover after a leader kill: new leader {leader}; first new lease {lease}"
        )?;
        let each: Vec<String> = self
            .failovers
            .iter()
            .map(|f| {
                let secs = |d: Option<Duration>| d.map_or("?".to_string(), |d| format!("{:.2}", d.as_secs_f64()));
                format!("{}:{}/{}", f.cycle, secs(f.new_leader), secs(f.first_lease))
            })
            .collect();
        writeln!(f, "each leader kill (cycle:leader/lease s): {}", each.join(" "))?;
        for line in &self.unjudged {
            writeln!(f, "without a test verdict: {line}")?;
        }
        let replicas: Vec<String> = self
            .replicas
            .iter()
            .map(|(id, d)| format!("node {id} {}", &d[..d.len().min(23)]))
            .collect();
        writeln!(f, "replicas after healing: {}", replicas.join(", "))?;
        writeln!(f, "schedule: {}", self.schedule.join(" "))?;
        if self.anomalies.is_empty() {
            writeln!(f, "anomalies: 0")?;
        } else {
            writeln!(
                f,
                "anomalies: {} (replay: loadtest nemesis --seed {} --cycles {})",
                self.anomalies.len(),
                self.seed,
                self.cycles
            )?;
            for a in &self.anomalies {
                writeln!(f, "  {a}")?;
            }
        }
        if let Some(dir) = &self.kept {
            writeln!(f, "logs kept in {}", dir.display())?;
        }
        Ok(())
    }
}

/// How long a client may take from submit to exit; past it the client counts as hung.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(240);
/// How long the cluster may take to settle after the last fault.
const SETTLE: Duration = Duration::from_secs(90);
/// A rejected submit (no member accepted it) is tried again this many times, with the
/// same submission id, as a CI job retried would.
const SUBMIT_TRIES: usize = 5;

/// The pipeline every client submits: tests/fixtures/nemesis.
pub fn fixture() -> PathBuf {
    testfarm_integration::fixture("nemesis")
}

/// What one submission asks for: its tests and the result each must have.
#[derive(Debug, Clone)]
struct Variant {
    quick: u32,
    fail: BTreeSet<u32>,
    slow: bool,
    hog: bool,
}

impl Variant {
    fn draw(rng: &mut Rng) -> Variant {
        let quick = 2 + rng.below(7) as u32;
        let fail = (1..=quick).filter(|_| rng.chance(1, 6)).collect();
        Variant {
            quick,
            fail,
            slow: rng.chance(1, 3),
            hog: rng.chance(1, 4),
        }
    }

    fn expected(&self) -> Expected {
        let mut results: BTreeMap<TestKey, String> = (1..=self.quick)
            .map(|i| {
                let status = if self.fail.contains(&i) { "failed" } else { "passed" };
                (("quick".to_string(), format!("q{i}")), status.to_string())
            })
            .collect();
        if self.slow {
            results.insert(("slow".into(), "long".into()), "passed".into());
        }
        if self.hog {
            results.insert(("hog".into(), "hog".into()), "memory_limit".into());
        }
        Expected { results }
    }

    fn args(&self) -> Vec<String> {
        let fail: Vec<String> = self.fail.iter().map(|i| format!("q{i}")).collect();
        let mut args = vec![
            "--env".to_string(),
            format!("NEMESIS_QUICK={}", self.quick),
            "--env".to_string(),
            format!("NEMESIS_FAIL={}", fail.join(" ")),
        ];
        for (stage, on) in [("slow", self.slow), ("hog", self.hog)] {
            if !on {
                args.extend(["--skip".to_string(), stage.to_string()]);
            }
        }
        args
    }
}

/// What one client saw.
#[derive(Default)]
struct ClientLog {
    acks: Vec<Ack>,
    expected: BTreeMap<String, Expected>,
    submissions: usize,
    attempts: usize,
}

/// The run id `farm submit` said it was accepted as (its stderr), if it said so.
fn accepted_as(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("farm: accepted as "))
        .map(|id| id.trim().to_string())
}

/// A client: submits through a random member, follows the run to its verdict through
/// that member (and whichever it fails over to), records what it was told and its exit
/// code; again until told to stop.
fn client(cli: Cli, urls: Vec<String>, name: String, seed: u64, stop: Arc<AtomicBool>) -> ClientLog {
    let mut rng = Rng::new(seed);
    let mut log = ClientLog::default();
    let pipeline = fixture().display().to_string();
    while !stop.load(Ordering::SeqCst) {
        log.submissions += 1;
        let submission = format!("{name}-{}", log.submissions);
        let variant = Variant::draw(&mut rng);
        log.expected.insert(submission.clone(), variant.expected());
        for _ in 0..SUBMIT_TRIES {
            log.attempts += 1;
            let url = &urls[rng.below(urls.len() as u64) as usize];
            let mut args: Vec<String> = ["submit", &pipeline, "--coordinator", url, "--json", "--submission-id"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.push(submission.clone());
            args.extend(variant.args());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (run_id, exit) = match cli.try_run(&args, CLIENT_TIMEOUT) {
                Ok(out) => match accepted_as(&out.stderr).or_else(|| run_id_of(&out.stdout)) {
                    Some(run_id) => (Some(run_id), Exit::Followed(out.code)),
                    None => (None, Exit::Submitted(out.code)),
                },
                Err(_) => (None, Exit::Hung),
            };
            let rejected = run_id.is_none() && exit != Exit::Hung;
            log.acks.push(Ack {
                client: name.clone(),
                submission: submission.clone(),
                run_id,
                exit,
            });
            if !rejected {
                break;
            }
            std::thread::sleep(rng.millis(200, 1000));
        }
        std::thread::sleep(rng.millis(100, 600));
    }
    log
}

fn run_id_of(stdout: &str) -> Option<String> {
    let rec: Value = serde_json::from_str(stdout.trim()).ok()?;
    rec["run"]["id"].as_str().map(str::to_string)
}

/// A member to strike: the leader half the time (when there is one), else any.
fn victim(c: &Cluster, rng: &mut Rng) -> usize {
    match c.leader() {
        Some(l) if rng.chance(1, 2) => l,
        _ => rng.below(c.len() as u64) as usize,
    }
}

/// What one cycle struck.
struct Struck {
    /// The victim: `n2` (a coordinator) or `a1` (an agent).
    who: String,
    failover: Option<Failover>,
    /// The probe run submitted while the leader was down: what it was told, and the
    /// result each of its tests must have.
    probe: Option<(Ack, Expected)>,
    /// An agent was killed while it held a lease.
    mid_shard: bool,
}

/// The probe submitted at a leader kill: one quick test that passes.
fn probe_variant() -> Variant {
    Variant {
        quick: 1,
        fail: BTreeSet::new(),
        slow: false,
        hog: false,
    }
}

/// Submits the probe through `url` without following it (accepted once a new leader
/// commits it).
fn submit_probe(c: &Cluster, url: &str, submission: &str) -> Ack {
    let pipeline = fixture().display().to_string();
    let mut args: Vec<String> = [
        "submit",
        &pipeline,
        "--coordinator",
        url,
        "--no-wait",
        "--submission-id",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(submission.to_string());
    args.extend(probe_variant().args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (run_id, exit) = match c.cli().try_run(&args, Duration::from_secs(60)) {
        Ok(out) => {
            let id = out.stdout.trim();
            (
                (out.code == 0 && id.starts_with('r')).then(|| id.to_string()),
                Exit::Submitted(out.code),
            )
        }
        Err(_) => (None, Exit::Hung),
    };
    Ack {
        client: "nemesis".into(),
        submission: submission.into(),
        run_id,
        exit,
    }
}

/// The agents (by index) holding a lease now, as the leader's status says.
fn busy_agents(c: &Cluster) -> Vec<usize> {
    let Some(status) = c.leader().and_then(|l| c.try_status(l)) else {
        return Vec::new();
    };
    let holders: BTreeSet<&str> = status["leases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["agent"].as_str())
        .collect();
    (0..c.agent_count())
        .filter(|&k| holders.contains(c.agent_id(k)))
        .collect()
}

/// Strikes `fault` and undoes it.
fn strike(c: &mut Cluster, rng: &mut Rng, fault: Fault, cycle: usize, seed: u64) -> Struck {
    let member = |i: usize| format!("n{}", i + 1);
    let only = |who: String| Struck {
        who,
        failover: None,
        probe: None,
        mid_shard: false,
    };
    match fault {
        Fault::KillLeader | Fault::KillFollower => {
            let leader = c.wait_for_leader(SETTLE);
            let i = if fault == Fault::KillLeader {
                leader
            } else {
                let others: Vec<usize> = (0..c.len()).filter(|&i| i != leader).collect();
                others[rng.below(others.len() as u64) as usize]
            };
            let down = rng.millis(0, 1500);
            let killed_ms = now_ms();
            let killed = Instant::now();
            c.kill(i);
            let probe = (fault == Fault::KillLeader).then(|| {
                let survivor = c.url((i + 1) % c.len());
                let submission = format!("s{seed}-probe-{cycle}");
                (submit_probe(c, &survivor, &submission), probe_variant().expected())
            });
            std::thread::sleep(down.saturating_sub(killed.elapsed()));
            c.restart(i);
            let failover = (fault == Fault::KillLeader).then_some(Failover {
                cycle,
                killed_ms,
                new_leader: None,
                first_lease: None,
            });
            Struck {
                who: member(i),
                failover,
                probe,
                mid_shard: false,
            }
        }
        Fault::PauseMember => {
            let i = victim(c, rng);
            c.pause(i);
            std::thread::sleep(rng.millis(500, 4000));
            c.resume(i);
            only(member(i))
        }
        Fault::PartitionMember => {
            let i = victim(c, rng);
            c.partition(i);
            std::thread::sleep(rng.millis(1000, 4000));
            c.heal(i);
            only(member(i))
        }
        Fault::KillAgent => {
            // Mid-shard: an agent that holds a lease, when one does.
            let busy = busy_agents(c);
            let k = if busy.is_empty() {
                rng.below(c.agent_count() as u64) as usize
            } else {
                busy[rng.below(busy.len() as u64) as usize]
            };
            c.kill_agent(k);
            std::thread::sleep(rng.millis(0, 2000));
            c.restart_agent(k);
            Struck {
                mid_shard: !busy.is_empty(),
                ..only(format!("a{}", k + 1))
            }
        }
        Fault::PauseAgent => {
            let k = rng.below(c.agent_count() as u64) as usize;
            c.pause_agent(k);
            std::thread::sleep(rng.millis(1000, 5000));
            c.resume_agent(k);
            only(format!("a{}", k + 1))
        }
    }
}

/// The run record of `run_id` read back through any member: None without a verdict
/// within the time left.
fn read_back(c: &Cluster, run_id: &str, deadline: Instant) -> Option<Value> {
    let urls = c.urls();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        if let Ok(out) = c
            .cli()
            .try_run(&["watch", run_id, "--coordinator", &urls, "--json"], left)
        {
            if let Ok(rec) = serde_json::from_str::<Value>(out.stdout.trim()) {
                if rec["run"]["verdict"].is_string() {
                    return Some(rec);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn recorded(rec: &Value) -> Recorded {
    Recorded {
        submission: rec["run"]["submission"].as_str().unwrap_or("").to_string(),
        verdict: rec["run"]["verdict"].as_str().map(str::to_string),
        results: record::results(rec)
            .into_iter()
            .map(|r| ((record::job_name(rec, r.job), r.id), r.status))
            .collect(),
    }
}

/// A log line's timestamp (tracing's RFC 3339 prefix), in unix milliseconds.
fn line_ms(line: &str) -> Option<u64> {
    let stamp = line.split_whitespace().next()?;
    let t = humantime::parse_rfc3339_weak(stamp.trim_end_matches('Z')).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_millis() as u64)
}

/// `key=value` of a tracing line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// What each agent says it ran: its "running" lines, task and attempt.
fn agent_runs(c: &Cluster) -> Vec<AgentRun> {
    let mut out = Vec::new();
    for k in 0..c.agent_count() {
        for log in c.agent_logs(k) {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            for line in text.lines().filter(|l| l.contains(" running ")) {
                let (Some(task), Some(attempt)) = (field(line, "task"), field(line, "attempt")) else {
                    continue;
                };
                out.push(AgentRun {
                    agent: c.agent_id(k).to_string(),
                    task: task.to_string(),
                    attempt: attempt.parse().unwrap_or(0),
                });
            }
        }
    }
    out
}

/// When each member became leader, from their logs (raft-rs's "became leader").
fn leader_elections(c: &Cluster) -> Vec<u64> {
    let mut out: Vec<u64> = (0..c.len())
        .flat_map(|i| {
            c.node_log(i)
                .lines()
                .filter(|l| l.contains("became leader"))
                .filter_map(line_ms)
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

/// Waits until every member answers with a digest at one index; the digests by node
/// id. If they never agree on an index, the last answers, index included, so that
/// the checker flags them.
fn settled_digests(c: &Cluster) -> BTreeMap<u64, String> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let all = c.digests();
        let indexes: BTreeSet<u64> = all.iter().flatten().map(|(i, _)| *i).collect();
        let everyone = all.iter().all(Option::is_some);
        if (everyone && indexes.len() == 1) || Instant::now() > deadline {
            return all
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    let text = match d {
                        Some((index, digest)) if indexes.len() == 1 => format!("{digest} @{index}"),
                        Some((index, digest)) => format!("{digest} @{index} (unsettled)"),
                        None => "no answer".to_string(),
                    };
                    (i as u64 + 1, text)
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The run: start, strike `cycles` faults while the clients submit, heal, read back,
/// check. Panics only where the harness cannot go on (a member that will not restart).
pub fn run(opts: &Options) -> Report {
    let started = Instant::now();
    let mut rng = Rng::new(opts.seed);
    let mut c = Cluster::start(
        "nemesis",
        ClusterOptions {
            nodes: opts.nodes,
            agents: opts.agents,
            slots: opts.slots,
            lease_timeout: "3s",
            heartbeat: "500ms",
            // A run is failed as lost work only past this many losses of one task;
            // the nemesis loses some on purpose.
            max_lost: 10,
            ..ClusterOptions::default()
        },
    );
    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = (0..c.len()).map(|i| c.url(i)).collect();
    let clients: Vec<_> = (0..opts.clients)
        .map(|k| {
            let (cli, urls, stop) = (c.cli(), urls.clone(), stop.clone());
            let name = format!("s{}-c{}", opts.seed, k + 1);
            let seed = opts.seed ^ ((k as u64 + 1) << 32);
            std::thread::spawn(move || client(cli, urls, name, seed, stop))
        })
        .collect();

    let mut report = Report {
        seed: opts.seed,
        nodes: opts.nodes,
        agents: opts.agents,
        cycles: opts.cycles,
        ..Report::default()
    };
    let mut probes = ClientLog::default();
    // Every kind in each round of six, in an order the seed draws.
    let mut round: Vec<Fault> = Vec::new();
    for cycle in 0..opts.cycles {
        if round.is_empty() {
            round = ALL_FAULTS.to_vec();
            for i in (1..round.len()).rev() {
                round.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        let fault = round.pop().expect("refilled");
        let Struck {
            who,
            failover,
            probe,
            mid_shard,
        } = strike(&mut c, &mut rng, fault, cycle, opts.seed);
        report.agents_killed_mid_shard += usize::from(mid_shard);
        *report.faults.entry(fault).or_default() += 1;
        report.schedule.push(format!("{cycle}:{who}:{fault:?}"));
        report.failovers.extend(failover);
        if let Some((ack, expected)) = probe {
            probes.expected.insert(ack.submission.clone(), expected);
            probes.submissions += 1;
            probes.attempts += 1;
            probes.acks.push(ack);
        }
        eprintln!(
            "nemesis: cycle {}/{} {fault} {who} ({:.0}s)",
            cycle + 1,
            opts.cycles,
            started.elapsed().as_secs_f64()
        );
        c.wait_for_leader(SETTLE);
        std::thread::sleep(rng.millis(200, 1000));
    }
    stop.store(true, Ordering::SeqCst);
    let mut logs: Vec<ClientLog> = clients.into_iter().map(|h| h.join().expect("client thread")).collect();
    logs.push(probes);

    let mut history = History::default();
    for log in logs {
        report.submissions += log.submissions;
        report.submit_attempts += log.attempts;
        history.acks.extend(log.acks);
        history.expected.extend(log.expected);
    }
    let run_ids: BTreeSet<String> = history.acks.iter().filter_map(|a| a.run_id.clone()).collect();
    report.acknowledged = run_ids.len();
    for ack in &history.acks {
        if let Exit::Followed(code) = ack.exit {
            *report.exits.entry(code).or_default() += 1;
        }
    }
    let deadline = Instant::now() + SETTLE;
    // Every task's last lease.
    let mut leases: Vec<u64> = Vec::new();
    for run_id in &run_ids {
        let Some(rec) = read_back(&c, run_id, deadline) else {
            continue;
        };
        leases.extend(record::tasks(&rec).iter().filter_map(|t| t["leased_ms"].as_u64()));
        let verdict = record::verdict(&rec);
        if !matches!(verdict, "passed" | "failed") {
            let message = rec["run"]["message"].as_str().unwrap_or("");
            report.unjudged.push(format!("{run_id} {verdict}: {message}"));
        }
        let rec = recorded(&rec);
        if let Some(v) = &rec.verdict {
            *report.verdicts.entry(v.clone()).or_default() += 1;
        }
        history.records.insert(run_id.clone(), rec);
    }
    let elections = leader_elections(&c);
    for f in &mut report.failovers {
        let since_kill = |t: u64| Duration::from_millis(t - f.killed_ms);
        f.new_leader = elections.iter().find(|&&t| t > f.killed_ms).map(|&t| since_kill(t));
        f.first_lease = leases
            .iter()
            .copied()
            .filter(|&t| t > f.killed_ms)
            .min()
            .map(since_kill);
    }
    history.agent_runs = agent_runs(&c);
    report.attempts_run = history.agent_runs.len();
    report.attempts_retried = history.agent_runs.iter().filter(|r| r.attempt > 1).count();
    history.replica_hashes = settled_digests(&c);
    report.replicas = history.replica_hashes.clone();
    report.anomalies = checker::check(&history);
    // Kept for a look: anomalies, or runs the faults ended without a test verdict.
    if !report.anomalies.is_empty() || !report.unjudged.is_empty() {
        report.kept = Some(c.keep());
    }
    report.elapsed = started.elapsed();
    report
}

/// The done-when targets `report` missed: any anomaly; the first new lease after a
/// leader kill slower than `lease_p99` at p99, or never measured.
pub fn misses(report: &Report, lease_p99: Duration) -> Vec<String> {
    let mut out = Vec::new();
    if !report.anomalies.is_empty() {
        out.push(format!("{} anomalies", report.anomalies.len()));
    }
    let (_, lease) = report.failover_quantiles();
    if lease.count == 0 {
        out.push("no leader kill: the first new lease was not measured".into());
    } else if lease.p99 > lease_p99 {
        out.push(format!(
            "first new lease after a leader kill: p99 {:.2}s > {:.2}s",
            lease.p99.as_secs_f64(),
            lease_p99.as_secs_f64()
        ));
    }
    out
}

/// Whether the harness can run here: root, for iptables partitions and the agents'
/// cgroups. (A missing `farm` binary is named by the harness when it starts one.)
pub fn preflight() -> Result<(), String> {
    if nix::unistd::Uid::effective().is_root() {
        Ok(())
    } else {
        Err("the nemesis needs root: iptables partitions and the agents' cgroups".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_says_every_test_and_its_result() {
        let v = Variant {
            quick: 3,
            fail: [2].into(),
            slow: false,
            hog: true,
        };
        let want: BTreeMap<TestKey, String> = [
            (("quick".into(), "q1".into()), "passed".into()),
            (("quick".into(), "q2".into()), "failed".into()),
            (("quick".into(), "q3".into()), "passed".into()),
            (("hog".into(), "hog".into()), "memory_limit".into()),
        ]
        .into();
        assert_eq!(v.expected().results, want);
        assert_eq!(
            v.args(),
            ["--env", "NEMESIS_QUICK=3", "--env", "NEMESIS_FAIL=q2", "--skip", "slow"]
        );
    }

    #[test]
    fn log_lines_give_their_time_and_fields() {
        let line = "2026-12-07T23:12:33.123456Z  INFO testfarm_agent::session: running task=r7.j1.s0 attempt=2 job=hog";
        assert_eq!(line_ms(line), Some(1_796_685_153_123));
        assert_eq!(field(line, "task"), Some("r7.j1.s0"));
        assert_eq!(field(line, "attempt"), Some("2"));
        assert_eq!(field(line, "nothing"), None);
        assert_eq!(accepted_as("farm: accepted as r12\nFAIL x"), Some("r12".into()));
        assert_eq!(accepted_as("farm: error: no leader"), None);
    }
}
