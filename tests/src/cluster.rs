//! [`Cluster`]: a raft-replicated coordinator of N real `farm coordinator` processes
//! and M real agents in one temporary directory, with kill -9, restart on the same
//! data and address, leader lookup through `farm cluster status`, and network
//! partitions through iptables ([`crate::firewall`]).
//!
//! Each coordinator listens on an address of its own, `127.A.B.(11+i)` with the same
//! port: A from this test process's id, B unique per cluster of the process, so
//! parallel tests (and a parallel test process) never share an address, and a
//! partition rule names exactly one pair of nodes. Agents and CLI commands connect
//! from 127.0.0.1, so partitions cut only coordinator-to-coordinator traffic.
//!
//! Process handling, log tails on panic and cleanup follow [`crate::Farm`]: dropping the
//! cluster kills every process it started, what their shards left, the agents'
//! cgroups and its firewall rules; after a panic it prints a `farm cluster status`,
//! the tail of every log and keeps the directory.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::certs::Certs;
use crate::cleanup::{kill_shard_leftovers, remove_agent_cgroups};
use crate::cli::Cli;
use crate::firewall::Firewall;
use crate::members::{Members, Role};
use crate::process::{spawn_logged, tail, Output, Proc};

use nix::sys::signal::Signal;

/// Sends `sig` to a child (a stopped process takes SIGCONT and SIGKILL alike).
fn signal(proc: &Proc, sig: Signal) {
    let pid = nix::unistd::Pid::from_raw(proc.child.id() as i32);
    let _ = nix::sys::signal::kill(pid, sig);
}

/// How long a coordinator may take to bind, a cluster to elect its first leader, and
/// agents to register.
const START_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);
/// Lines of each log printed when a test fails.
const TAIL_LINES: usize = 30;
/// Command outputs printed when a test fails (the most recent ones).
const TAIL_COMMANDS: usize = 12;

/// How to start a cluster. Short timeouts so that failures are seen within seconds.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub nodes: usize,
    pub agents: usize,
    pub slots: u32,
    pub lease_timeout: &'static str,
    pub heartbeat: &'static str,
    pub max_lost: u32,
    pub min_shard: &'static str,
    /// Elections after 10 ticks, heartbeats every 2.
    pub raft_tick: &'static str,
    pub snapshot_every: u64,
    /// Mutual TLS on every connection, raft between the nodes included: a CA made
    /// with `farm certs init` and a certificate for each node, agent and the CLI.
    pub tls: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            agents: 2,
            slots: 2,
            lease_timeout: "3s",
            heartbeat: "500ms",
            max_lost: 2,
            min_shard: "1s",
            raft_tick: "50ms",
            snapshot_every: 10_000,
            tls: false,
        }
    }
}

struct Node {
    id: u64,
    ip: Ipv4Addr,
    proc: Option<Proc>,
    starts: u32,
    /// Every log of this node, one per start.
    logs: Vec<PathBuf>,
}

/// Raft coordinators and agents, all real processes, in one temporary directory.
pub struct Cluster {
    tag: String,
    opts: ClusterOptions,
    dir: tempfile::TempDir,
    port: u16,
    nodes: Vec<Node>,
    /// Killed coordinators (reaped; their logs are kept).
    killed: Vec<Proc>,
    agents: Vec<Proc>,
    agent_ids: Vec<String>,
    /// Every log of each agent, one per start.
    agent_logs: Vec<Vec<PathBuf>>,
    /// Killed agents (reaped).
    killed_agents: Vec<Proc>,
    cli: Cli,
    firewall: Firewall,
    /// The cluster's CA, with `ClusterOptions::tls`.
    certs: Option<Certs>,
    /// Keep the directory when dropped (see [`Cluster::keep`]).
    keep: bool,
}

/// Clusters started by this process, for distinct addresses.
static CLUSTERS: AtomicU32 = AtomicU32::new(0);

/// Addresses for `n` nodes, `127.A.B.(11+i)`, and a port free on all of them.
fn pick_addresses(n: usize) -> (Vec<Ipv4Addr>, u16) {
    let a = 100 + (std::process::id() % 150) as u8;
    for _ in 0..250 {
        let b = (CLUSTERS.fetch_add(1, Ordering::SeqCst) % 250 + 1) as u8;
        let ips: Vec<Ipv4Addr> = (0..n).map(|i| Ipv4Addr::new(127, a, b, 11 + i as u8)).collect();
        let Ok(first) = TcpListener::bind((ips[0], 0)) else {
            continue;
        };
        let port = first.local_addr().expect("local addr").port();
        let others: Vec<_> = ips[1..].iter().map(|ip| TcpListener::bind((*ip, port))).collect();
        if others.iter().all(Result::is_ok) {
            return (ips, port);
        }
    }
    panic!("no free loopback addresses for a cluster of {n}");
}

impl Cluster {
    /// Starts `opts.nodes` coordinators, waits for a leader, starts `opts.agents`
    /// agents (given every coordinator's URL) and returns once all of them are
    /// connected to the leader. `tag` names the test: short, `[a-z0-9-]`.
    pub fn start(tag: &str, opts: ClusterOptions) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix(&format!("farm-it-{tag}-"))
            .tempdir()
            .expect("temp dir");
        let (ips, port) = pick_addresses(opts.nodes);
        let certs = opts.tls.then(|| Certs::init(&dir.path().join("tls")));
        let mut cli = Cli::new(dir.path());
        if let Some(certs) = &certs {
            cli = cli.with_tls(certs.issue("client", "it-client"));
        }
        let mut cluster = Cluster {
            certs,
            tag: tag.into(),
            nodes: ips
                .into_iter()
                .enumerate()
                .map(|(i, ip)| Node {
                    id: i as u64 + 1,
                    ip,
                    proc: None,
                    starts: 0,
                    logs: Vec::new(),
                })
                .collect(),
            opts,
            dir,
            port,
            killed: Vec::new(),
            agents: Vec::new(),
            agent_ids: Vec::new(),
            agent_logs: Vec::new(),
            killed_agents: Vec::new(),
            cli,
            firewall: Firewall::new(tag),
            keep: false,
        };
        for i in 0..cluster.nodes.len() {
            if let Err(why) = cluster.try_start_node(i) {
                panic!("{why}");
            }
        }
        cluster.wait_for_leader(START_TIMEOUT);
        for _ in 0..cluster.opts.agents {
            cluster.add_agent();
        }
        cluster.wait_for_agents(cluster.opts.agents);
        cluster
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the directory (logs, command outputs) when the cluster is dropped, as a
    /// failed test does; returns where it is.
    pub fn keep(&mut self) -> PathBuf {
        self.keep = true;
        self.dir().to_path_buf()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// `ip:port` of node `i` (index from 0; its raft id is `i + 1`).
    pub fn addr(&self, i: usize) -> String {
        format!("{}:{}", self.nodes[i].ip, self.port)
    }

    /// `http://ip:port` of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("http://{}", self.addr(i))
    }

    /// Every node's URL, comma-separated (what agents are given).
    pub fn urls(&self) -> String {
        (0..self.len()).map(|i| self.url(i)).collect::<Vec<_>>().join(",")
    }

    pub fn cli(&self) -> Cli {
        self.cli.clone()
    }

    fn peers(&self) -> String {
        (0..self.len())
            .map(|i| format!("{}={}", self.nodes[i].id, self.addr(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts node `i` on its address and data dir and waits until it listens.
    /// Err: why it did not come up, with its log.
    fn try_start_node(&mut self, i: usize) -> Result<(), String> {
        let id = self.nodes[i].id;
        let addr_file = self.dir().join(format!("node-{id}.addr"));
        let _ = fs::remove_file(&addr_file);
        self.nodes[i].starts += 1;
        let n = self.nodes[i].starts;
        let log = self.dir().join(format!("node-{id}-start-{n}.log"));
        let listen = self.addr(i);
        let mut args: Vec<String> = [
            "coordinator",
            "--id",
            &id.to_string(),
            "--listen",
            &listen,
            "--peers",
            &self.peers(),
            "--data-dir",
            &self.dir().join(format!("node-{id}")).display().to_string(),
            "--addr-file",
            &addr_file.display().to_string(),
            "--lease-timeout",
            self.opts.lease_timeout,
            "--heartbeat",
            self.opts.heartbeat,
            "--max-lost",
            &self.opts.max_lost.to_string(),
            "--min-shard",
            self.opts.min_shard,
            "--raft-tick",
            self.opts.raft_tick,
            "--snapshot-every",
            &self.opts.snapshot_every.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(certs) = &self.certs {
            let credentials = certs.issue("coordinator", &format!("node-{id}"));
            args.extend(["--tls".to_string(), credentials.display().to_string()]);
        }
        let mut proc = spawn_logged(&format!("node {id} (start {n})"), &args, &log);
        self.nodes[i].logs.push(log.clone());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if fs::read_to_string(&addr_file).is_ok_and(|t| !t.trim().is_empty()) {
                self.nodes[i].proc = Some(proc);
                return Ok(());
            }
            if !proc.alive() || Instant::now() > deadline {
                let why = if proc.alive() {
                    "did not listen in time"
                } else {
                    "exited"
                };
                proc.kill();
                self.killed.push(proc);
                let log_text = fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("node {id} (--listen {listen}) {why}; its log:\n{log_text}"));
            }
            std::thread::sleep(POLL);
        }
    }

    pub fn node_alive(&mut self, i: usize) -> bool {
        self.nodes[i].proc.as_mut().is_some_and(|p| p.alive())
    }

    /// Indexes of the nodes whose process runs.
    pub fn live_nodes(&mut self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.node_alive(i)).collect()
    }

    /// kill -9 of node `i` (reaped; its log is kept).
    pub fn kill(&mut self, i: usize) {
        let mut proc = self.nodes[i].proc.take().expect("the node is running");
        proc.kill();
        self.killed.push(proc);
    }

    /// Starts node `i` again on the same address and data dir; retries for a while in
    /// case the port is not free yet.
    pub fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].proc.is_none(), "kill node {i} first");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.try_start_node(i) {
                Ok(()) => return,
                Err(why) if Instant::now() > deadline => panic!("restart failed: {why}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Every log of node `i` so far, oldest first, concatenated.
    pub fn node_log(&self, i: usize) -> String {
        self.nodes[i]
            .logs
            .iter()
            .map(|p| fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("")
    }

    /// The log of node `i`'s current (latest) process.
    pub fn current_log(&self, i: usize) -> String {
        self.nodes[i]
            .logs
            .last()
            .map(|p| fs::read_to_string(p).unwrap_or_default())
            .unwrap_or_default()
    }

    // ------------------------------------------------------------ raft status

    /// `farm cluster status --json` asked of every node.
    pub fn members(&self) -> Members {
        let all: Vec<String> = (0..self.len()).map(|i| self.addr(i)).collect();
        let joined = all.join(",");
        let mut roles = vec![None; self.len()];
        let Ok(out) = self.cli.try_run(
            &["cluster", "status", "--coordinator", &joined, "--json"],
            Duration::from_secs(20),
        ) else {
            return Members(roles);
        };
        if out.code != 0 {
            return Members(roles);
        }
        let rows: Value = serde_json::from_str(out.stdout.trim()).unwrap_or(Value::Null);
        for row in rows.as_array().into_iter().flatten() {
            let Some(i) = all.iter().position(|a| row["addr"] == a.as_str()) else {
                continue;
            };
            roles[i] = Role::from_json(&row["status"]);
        }
        Members(roles)
    }

    /// The node a majority follows, if there is one now.
    pub fn leader(&self) -> Option<usize> {
        self.members().leader()
    }

    /// Waits until a majority follows a leader; returns it.
    pub fn wait_for_leader(&mut self, timeout: Duration) -> usize {
        let mut leader = None;
        self.wait_until("a leader followed by a majority", timeout, |c| {
            leader = c.leader();
            leader.is_some()
        });
        leader.expect("checked")
    }

    /// Waits until node `i` has applied what the leader has; returns how long it took.
    pub fn wait_caught_up(&mut self, i: usize, timeout: Duration) -> Duration {
        let started = Instant::now();
        let what = format!("node {} to catch up with the leader", i + 1);
        self.wait_until(&what, timeout, |c| {
            let m = c.members();
            match (m.leader().and_then(|l| m.role(l)), m.role(i)) {
                (Some(l), Some(me)) => me.applied >= l.applied && me.leader_id == l.id,
                _ => false,
            }
        });
        started.elapsed()
    }

    // ------------------------------------------------------------ partitions

    /// Cuts node `i` off from every other node (both directions); clients and agents
    /// still reach it.
    pub fn partition(&mut self, i: usize) {
        for j in 0..self.len() {
            if j != i {
                let (a, b) = (self.nodes[i].ip, self.nodes[j].ip);
                self.firewall.cut(a, b);
            }
        }
    }

    /// Undoes [`Cluster::partition`] of node `i`.
    pub fn heal(&mut self, i: usize) {
        for j in 0..self.len() {
            if j != i {
                let (a, b) = (self.nodes[i].ip, self.nodes[j].ip);
                self.firewall.mend(a, b);
            }
        }
    }

    // ------------------------------------------------------------ agents

    /// Starts one more agent, given every coordinator; returns its index.
    pub fn add_agent(&mut self) -> usize {
        let n = self.agents.len() + 1;
        let id = format!("{}-{}-a{n}", self.tag, std::process::id());
        self.agent_ids.push(id);
        self.agent_logs.push(Vec::new());
        let proc = self.spawn_agent(n - 1);
        self.agents.push(proc);
        n - 1
    }

    /// Starts agent `k` (its id, work dir and slots), logging to a new file.
    fn spawn_agent(&mut self, k: usize) -> Proc {
        let id = self.agent_ids[k].clone();
        let work_dir = self.dir().join(format!("agent-{}", k + 1));
        let mut args = crate::agent_args(&self.urls(), &id, self.opts.slots, &work_dir);
        if let Some(certs) = &self.certs {
            args.extend(["--tls".to_string(), certs.issue("agent", &id).display().to_string()]);
        }
        let starts = self.agent_logs[k].len();
        let log = if starts == 0 {
            self.dir().join(format!("agent-{}.log", k + 1))
        } else {
            self.dir().join(format!("agent-{}-start-{}.log", k + 1, starts + 1))
        };
        self.agent_logs[k].push(log.clone());
        spawn_logged(&format!("agent {id}"), &args, &log)
    }

    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    pub fn agent_id(&self, k: usize) -> &str {
        &self.agent_ids[k]
    }

    /// Every log of agent `k` so far, oldest first.
    pub fn agent_logs(&self, k: usize) -> &[PathBuf] {
        &self.agent_logs[k]
    }

    /// kill -9 of agent `k` (what its shards left behind is theirs to lose: the
    /// coordinator must lease them again).
    pub fn kill_agent(&mut self, k: usize) {
        self.agents[k].kill();
    }

    /// Starts agent `k` again, same id and work dir (after [`Cluster::kill_agent`]).
    pub fn restart_agent(&mut self, k: usize) {
        let fresh = self.spawn_agent(k);
        let mut old = std::mem::replace(&mut self.agents[k], fresh);
        old.kill();
        self.killed_agents.push(old);
    }

    // ------------------------------------------------------------ pauses

    /// SIGSTOP of node `i`: it keeps its sockets and state and answers nothing, as a
    /// process in a long GC pause or a frozen VM does.
    pub fn pause(&mut self, i: usize) {
        signal(
            self.nodes[i].proc.as_ref().expect("the node is running"),
            Signal::SIGSTOP,
        );
    }

    /// SIGCONT of node `i`.
    pub fn resume(&mut self, i: usize) {
        signal(
            self.nodes[i].proc.as_ref().expect("the node is running"),
            Signal::SIGCONT,
        );
    }

    /// SIGSTOP of agent `k` (its shards run on; it sends nothing).
    pub fn pause_agent(&mut self, k: usize) {
        signal(&self.agents[k], Signal::SIGSTOP);
    }

    /// SIGCONT of agent `k`.
    pub fn resume_agent(&mut self, k: usize) {
        signal(&self.agents[k], Signal::SIGCONT);
    }

    /// Each member's state digest and the index it was taken at (`farm cluster
    /// status --digest`); None for a member that did not answer.
    pub fn digests(&self) -> Vec<Option<(u64, String)>> {
        let all: Vec<String> = (0..self.len()).map(|i| self.addr(i)).collect();
        let mut out = vec![None; self.len()];
        let Ok(reply) = self.cli.try_run(
            &[
                "cluster",
                "status",
                "--coordinator",
                &all.join(","),
                "--json",
                "--digest",
            ],
            Duration::from_secs(30),
        ) else {
            return out;
        };
        let rows: Value = serde_json::from_str(reply.stdout.trim()).unwrap_or(Value::Null);
        for row in rows.as_array().into_iter().flatten() {
            let Some(i) = all.iter().position(|a| row["addr"] == a.as_str()) else {
                continue;
            };
            let status = &row["status"];
            if let (Some(applied), Some(digest)) = (status["digest_applied"].as_u64(), status["state_digest"].as_str())
            {
                out[i] = Some((applied, digest.to_string()));
            }
        }
        out
    }

    /// Waits until `count` agents have an open lease stream on the leader.
    pub fn wait_for_agents(&mut self, count: usize) {
        self.wait_until("agents connected to the leader", START_TIMEOUT, |c| {
            let Some(leader) = c.leader() else {
                return false;
            };
            let Some(status) = c.try_status(leader) else {
                return false;
            };
            let connected = status["agents"]
                .as_array()
                .map(|a| a.iter().filter(|a| a["connected"].as_bool() == Some(true)).count())
                .unwrap_or(0);
            connected >= count
        });
    }

    // ------------------------------------------------------------ CLI commands

    /// Runs `farm <args>` to completion (at most [`COMMAND_TIMEOUT`]).
    pub fn farm(&self, args: &[&str]) -> Output {
        self.cli.run(args)
    }

    /// `farm submit PIPELINE --json [extra]` through node `i`, followed to the verdict.
    pub fn submit(&self, i: usize, pipeline: &Path, extra: &[&str]) -> Output {
        let url = self.url(i);
        let path = pipeline.display().to_string();
        let mut args = vec!["submit", path.as_str(), "--coordinator", &url, "--json"];
        args.extend_from_slice(extra);
        self.farm(&args)
    }

    /// `farm submit PIPELINE --no-wait` through node `i`: the run id.
    pub fn submit_no_wait(&self, i: usize, pipeline: &Path, extra: &[&str]) -> String {
        let url = self.url(i);
        let path = pipeline.display().to_string();
        let mut args = vec!["submit", path.as_str(), "--coordinator", &url, "--no-wait"];
        args.extend_from_slice(extra);
        let out = self.farm(&args);
        assert_eq!(
            out.code,
            0,
            "submit --no-wait through node {} failed: {}",
            i + 1,
            out.stderr
        );
        let run_id = out.stdout.trim().to_string();
        assert!(run_id.starts_with('r'), "not a run id: {:?}", out.stdout);
        run_id
    }

    /// `farm watch RUN --json` through node `i`.
    pub fn watch(&self, i: usize, run_id: &str) -> Output {
        let url = self.url(i);
        self.farm(&["watch", run_id, "--coordinator", &url, "--json"])
    }

    /// Follows a run to its verdict through whichever node answers (nodes may be down
    /// or restarting); returns the final record.
    pub fn follow_run(&mut self, run_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let mut errors = Vec::new();
        let mut next = 0;
        loop {
            let live = self.live_nodes();
            assert!(
                Instant::now() < deadline,
                "no node gave the verdict of {run_id} within {timeout:?}: {errors:#?}"
            );
            if live.is_empty() {
                std::thread::sleep(POLL);
                continue;
            }
            let i = live[next % live.len()];
            next += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let url = self.url(i);
            match self
                .cli
                .try_run(&["watch", run_id, "--coordinator", &url, "--json"], left)
            {
                Ok(out) => {
                    if let Ok(rec) = serde_json::from_str::<Value>(out.stdout.trim()) {
                        if rec["run"]["verdict"].is_string() {
                            return rec;
                        }
                    }
                    errors.push(format!("node {}: exit {}: {}", i + 1, out.code, out.stderr.trim()));
                }
                Err(e) => errors.push(e),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `farm status --json` of node `i`, None if it does not answer.
    pub fn try_status(&self, i: usize) -> Option<Value> {
        let url = self.url(i);
        let out = self
            .cli
            .try_run(&["status", "--coordinator", &url, "--json"], Duration::from_secs(20))
            .ok()?;
        if out.code != 0 {
            return None;
        }
        serde_json::from_str(out.stdout.trim()).ok()
    }

    /// `farm status --json` of node `i`, parsed.
    pub fn status(&self, i: usize) -> Value {
        self.try_status(i)
            .unwrap_or_else(|| panic!("`farm status` of node {} failed", i + 1))
    }

    /// The summary of `run_id` among node `i`'s active runs (None once it finished).
    pub fn active_run(&self, i: usize, run_id: &str) -> Option<Value> {
        self.status(i)["active_runs"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["id"] == run_id))
            .cloned()
    }

    /// Polls `ready` every 50ms until it holds; panics after `timeout`.
    pub fn wait_until(&mut self, what: &str, timeout: Duration, mut ready: impl FnMut(&mut Cluster) -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for: {what}"
            );
            std::thread::sleep(POLL);
        }
    }

    // ------------------------------------------------------------ teardown

    fn print_logs(&self, status: &str) {
        eprintln!(
            "\n===== cluster `{}` failed; logs are kept in {} =====",
            self.tag,
            self.dir().display()
        );
        eprintln!("----- farm cluster status at the failure:\n{status}");
        let mut logs: Vec<(String, PathBuf)> = Vec::new();
        for node in &self.nodes {
            for (n, log) in node.logs.iter().enumerate() {
                logs.push((format!("node {} (start {})", node.id, n + 1), log.clone()));
            }
        }
        for p in self.killed_agents.iter().chain(&self.agents) {
            logs.push((p.label.clone(), p.log.clone()));
        }
        let commands = self.cli.outputs();
        let skipped = commands.len().saturating_sub(2 * TAIL_COMMANDS);
        if skipped > 0 {
            eprintln!("----- ({} earlier command outputs not shown)", skipped / 2);
        }
        for path in &commands[skipped..] {
            let label = path.file_name().unwrap_or_default().to_string_lossy();
            logs.push((label.into_owned(), path.clone()));
        }
        for (label, path) in logs {
            let text = tail(&path, TAIL_LINES);
            if text.trim().is_empty() {
                continue;
            }
            eprintln!("----- {label}: {} (last {TAIL_LINES} lines)", path.display());
            eprintln!("{text}");
        }
        eprintln!("===== end of logs of `{}` =====", self.tag);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        let status = if failed {
            let all: Vec<String> = (0..self.len()).map(|i| self.addr(i)).collect();
            match self.cli.try_run(
                &["cluster", "status", "--coordinator", &all.join(",")],
                Duration::from_secs(10),
            ) {
                Ok(out) => format!("{}{}", out.stdout, out.stderr),
                Err(e) => e,
            }
        } else {
            String::new()
        };
        self.firewall.clear();
        // Agents first, so that they start nothing more.
        for agent in &mut self.agents {
            agent.kill();
        }
        for node in &mut self.nodes {
            if let Some(p) = &mut node.proc {
                p.kill();
            }
        }
        kill_shard_leftovers(self.dir());
        for id in &self.agent_ids {
            remove_agent_cgroups(id);
        }
        if failed {
            self.print_logs(&status);
        }
        if failed || self.keep {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
            let _ = dir.keep();
        }
    }
}
