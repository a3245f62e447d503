//! [`Farm`]: one coordinator and its agents as real processes in one temporary
//! directory, and the `farm` CLI commands that drive them.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::certs::Certs;
use crate::cleanup::{kill_service_leftovers, kill_shard_leftovers, remove_agent_cgroups, remove_agent_containers};
use crate::process::{base_command, farm_command, spawn_logged, spawn_logged_with, tail, Output, Proc};

/// How long one CLI command (a whole run, followed to its verdict) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a coordinator may take to write its address, and agents to register.
const START_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);
/// Lines of each log printed when a test fails.
const TAIL_LINES: usize = 40;

/// How to start a farm.
#[derive(Debug, Clone)]
pub struct Options {
    pub agents: usize,
    pub slots: u32,
    pub lease_timeout: &'static str,
    pub heartbeat: &'static str,
    pub max_lost: u32,
    pub min_shard: &'static str,
    /// Start the coordinator with `--http 127.0.0.1:0` (metrics and report pages);
    /// [`Farm::http_url`] is then its address.
    pub http: bool,
    /// How long one `farm` command may take ([`COMMAND_TIMEOUT`] by default; a real
    /// MediaWiki gate needs minutes).
    pub command_timeout: Duration,
    /// More flags for the coordinator (e.g. retention).
    pub coordinator_args: Vec<&'static str>,
    /// More flags for every agent (e.g. `--task-log-cap`).
    pub agent_args: Vec<&'static str>,
    /// Mutual TLS everywhere: a CA made with `farm certs init` in the farm's dir,
    /// and a certificate for the coordinator, each agent and the CLI commands
    /// ([`Farm::credentials`]).
    pub tls: bool,
}

impl Default for Options {
    /// Short leases so that losses are seen within seconds.
    fn default() -> Self {
        Options {
            agents: 2,
            slots: 2,
            lease_timeout: "3s",
            heartbeat: "500ms",
            max_lost: 2,
            min_shard: "1s",
            http: false,
            command_timeout: COMMAND_TIMEOUT,
            coordinator_args: Vec::new(),
            agent_args: Vec::new(),
            tls: false,
        }
    }
}

/// A coordinator and its agents, all real processes, in one temporary directory.
pub struct Farm {
    tag: String,
    opts: Options,
    dir: tempfile::TempDir,
    coordinator: Option<Proc>,
    /// Every coordinator that was started (killed ones are reaped, logs kept).
    old_coordinators: Vec<Proc>,
    coordinator_starts: u32,
    /// `host:port`, the same across restarts.
    addr: String,
    /// `http://host:port` of the coordinator's HTTP side, with `Options::http`.
    http_addr: Option<String>,
    agents: Vec<Proc>,
    /// Agents replaced by [`Farm::restart_agent`] (killed; logs kept).
    restarted_agents: Vec<Proc>,
    agent_ids: Vec<String>,
    commands: u32,
    /// Command output files, for the failure report.
    command_logs: Vec<PathBuf>,
    /// The farm's CA, with `Options::tls`.
    certs: Option<Certs>,
}

impl Farm {
    /// Starts a coordinator and `opts.agents` agents, and returns once every agent is
    /// registered with an open lease stream (so the first plan sees all slots).
    /// `tag` names the test in agent ids and the temp dir: short, `[a-z0-9-]`.
    pub fn start(tag: &str, opts: Options) -> Farm {
        let dir = tempfile::Builder::new()
            .prefix(&format!("farm-it-{tag}-"))
            .tempdir()
            .expect("temp dir");
        let mut farm = Farm {
            tag: tag.into(),
            opts,
            dir,
            coordinator: None,
            old_coordinators: Vec::new(),
            coordinator_starts: 0,
            addr: String::new(),
            http_addr: None,
            agents: Vec::new(),
            restarted_agents: Vec::new(),
            agent_ids: Vec::new(),
            commands: 0,
            command_logs: Vec::new(),
            certs: None,
        };
        if farm.opts.tls {
            farm.certs = Some(Certs::init(&farm.dir().join("tls")));
        }
        farm.start_coordinator("127.0.0.1:0");
        for _ in 0..farm.opts.agents {
            farm.add_agent();
        }
        farm.wait_for_agents(farm.opts.agents);
        farm
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `http://host:port` of the coordinator.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://host:port` of the coordinator's HTTP side (reports, /metrics); panics
    /// unless the farm was started with `Options::http`.
    pub fn http_url(&self) -> String {
        self.http_addr
            .clone()
            .expect("start the farm with Options { http: true, .. } to serve HTTP")
    }

    fn addr_file(&self) -> PathBuf {
        self.dir().join("coordinator.addr")
    }

    fn start_coordinator(&mut self, listen: &str) {
        if let Err(why) = self.try_start_coordinator(listen) {
            panic!("{why}");
        }
    }

    /// Starts a coordinator on `listen` and waits for its address file. Err: why it
    /// did not come up, with its log.
    fn try_start_coordinator(&mut self, listen: &str) -> Result<(), String> {
        let addr_file = self.addr_file();
        let _ = fs::remove_file(&addr_file);
        self.coordinator_starts += 1;
        let n = self.coordinator_starts;
        let log = self.dir().join(format!("coordinator-{n}.log"));
        let mut args: Vec<String> = [
            "coordinator",
            "--listen",
            listen,
            "--data-dir",
            &self.dir().join("coordinator").display().to_string(),
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
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if self.opts.http {
            args.extend(["--http".to_string(), "127.0.0.1:0".to_string()]);
        }
        if let Some(dir) = self.credentials("coordinator", "coordinator") {
            args.extend(["--tls".to_string(), dir.display().to_string()]);
        }
        args.extend(self.opts.coordinator_args.iter().map(|s| s.to_string()));
        let mut proc = spawn_logged(&format!("coordinator #{n}"), &args, &log);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(text) = fs::read_to_string(&addr_file) {
                // With --http, the HTTP address is printed right after the address file.
                let http = http_line(&log);
                if !text.trim().is_empty() && (!self.opts.http || http.is_some()) {
                    self.addr = text.trim().to_string();
                    self.http_addr = http;
                    self.coordinator = Some(proc);
                    return Ok(());
                }
            }
            if !proc.alive() || Instant::now() > deadline {
                let why = if proc.alive() {
                    "did not write its address in time"
                } else {
                    "exited"
                };
                proc.kill();
                let log_text = fs::read_to_string(&log).unwrap_or_default();
                self.old_coordinators.push(proc);
                return Err(format!(
                    "coordinator #{n} (--listen {listen}) {why}; its log:\n{log_text}"
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// With `Options::tls`: the credentials directory of `role NAME` (issued by the
    /// farm's CA on first use); None without TLS.
    pub fn credentials(&self, role: &str, name: &str) -> Option<PathBuf> {
        self.certs.as_ref().map(|c| c.issue(role, name))
    }

    /// Starts one more agent; returns its index.
    pub fn add_agent(&mut self) -> usize {
        let n = self.agents.len() + 1;
        let id = format!("{}-{}-a{n}", self.tag, std::process::id());
        let work_dir = self.dir().join(format!("agent-{n}"));
        let mut args = crate::agent_args(&self.url(), &id, self.opts.slots, &work_dir);
        args.extend(self.opts.agent_args.iter().map(|a| a.to_string()));
        if let Some(dir) = self.credentials("agent", &id) {
            args.extend(["--tls".to_string(), dir.display().to_string()]);
        }
        let log = self.dir().join(format!("agent-{n}.log"));
        let proc = spawn_logged(&format!("agent {id}"), &args, &log);
        self.agents.push(proc);
        self.agent_ids.push(id);
        n - 1
    }

    /// Starts one more agent as `uid`:`gid` instead of root (so without cgroups, and
    /// with the sandbox through a user namespace); returns its index. Its work dir is
    /// made for that user, and the farm's dir opened for it to pass through (not to
    /// list).
    pub fn add_agent_as(&mut self, uid: u32, gid: u32) -> usize {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let n = self.agents.len() + 1;
        let id = format!("{}-{}-a{n}", self.tag, std::process::id());
        let work_dir = self.dir().join(format!("agent-{n}"));
        fs::set_permissions(self.dir(), fs::Permissions::from_mode(0o711)).expect("open the farm dir");
        fs::create_dir_all(&work_dir).expect("create the agent's work dir");
        std::os::unix::fs::chown(&work_dir, Some(uid), Some(gid)).expect("give the work dir away");
        let mut args = crate::agent_args(&self.url(), &id, self.opts.slots, &work_dir);
        args.extend(self.opts.agent_args.iter().map(|a| a.to_string()));
        let mut command = base_command(&args);
        // std drops the supplementary groups too when root changes the uid.
        command.uid(uid).gid(gid);
        let log = self.dir().join(format!("agent-{n}.log"));
        let proc = spawn_logged_with(&format!("agent {id} (uid {uid})"), command, &log);
        self.agents.push(proc);
        self.agent_ids.push(id);
        n - 1
    }

    /// Waits until `count` agents are registered and connected.
    pub fn wait_for_agents(&mut self, count: usize) {
        self.wait_until("agents registered with open lease streams", START_TIMEOUT, |f| {
            let status = f.status();
            let connected = status["agents"]
                .as_array()
                .map(|a| a.iter().filter(|a| a["connected"].as_bool() == Some(true)).count())
                .unwrap_or(0);
            connected >= count
        });
    }

    pub fn agent_id(&self, index: usize) -> &str {
        &self.agent_ids[index]
    }

    pub fn agent_ids(&self) -> &[String] {
        &self.agent_ids
    }

    /// Where agent `index` keeps its task directories (`tasks/<task>-a<attempt>/`).
    pub fn agent_work_dir(&self, index: usize) -> PathBuf {
        self.dir().join(format!("agent-{}", index + 1))
    }

    /// Whether agent `index` is still running (it may have been killed, or died).
    pub fn agent_alive(&mut self, index: usize) -> bool {
        self.agents[index].alive()
    }

    /// kill -9 of one agent (only the agent: what its shards started lives on, like
    /// after a network partition; the farm's Drop collects those).
    pub fn kill_agent(&mut self, index: usize) {
        self.agents[index].kill();
    }

    /// Starts agent `index` again (after [`Farm::kill_agent`]) with the same id and
    /// work dir, and a new log file.
    pub fn restart_agent(&mut self, index: usize) {
        assert!(!self.agents[index].alive(), "kill agent {index} first");
        let id = self.agent_ids[index].clone();
        let work_dir = self.agent_work_dir(index);
        let restarts = self.restarted_agents.len() + 1;
        let mut args = crate::agent_args(&self.url(), &id, self.opts.slots, &work_dir);
        args.extend(self.opts.agent_args.iter().map(|a| a.to_string()));
        if let Some(dir) = self.credentials("agent", &id) {
            args.extend(["--tls".to_string(), dir.display().to_string()]);
        }
        let log = self.dir().join(format!("agent-{}-restart-{restarts}.log", index + 1));
        let old = std::mem::replace(
            &mut self.agents[index],
            spawn_logged(&format!("agent {id} (restarted)"), &args, &log),
        );
        self.restarted_agents.push(old);
    }

    /// kill -9 of the coordinator.
    pub fn kill_coordinator(&mut self) {
        let mut proc = self.coordinator.take().expect("a coordinator is running");
        proc.kill();
        self.old_coordinators.push(proc);
    }

    /// Starts the coordinator again on the same data dir and the same port. Retries
    /// for a few seconds in case the port is not free yet.
    pub fn restart_coordinator(&mut self) {
        assert!(self.coordinator.is_none(), "kill the coordinator first");
        let listen = self.addr.clone();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.try_start_coordinator(&listen) {
                Ok(()) => return,
                Err(why) if Instant::now() > deadline => panic!("restart failed: {why}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    // -------------------------------------------------------------- CLI commands

    /// Runs `farm <args>` to completion (at most `Options::command_timeout`).
    pub fn farm(&mut self, args: &[&str]) -> Output {
        let timeout = self.opts.command_timeout;
        self.commands += 1;
        let n = self.commands;
        let name = args.first().copied().unwrap_or("farm");
        let stdout = self.dir().join(format!("cmd-{n}-{name}.out"));
        let stderr = self.dir().join(format!("cmd-{n}-{name}.err"));
        self.command_logs.push(stdout.clone());
        self.command_logs.push(stderr.clone());
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let started = Instant::now();
        let mut command = farm_command(&args, &stdout, &stderr);
        if let Some(dir) = self.credentials("client", "it-client") {
            command.env("FARM_TLS", dir);
        }
        let mut child = command.spawn().expect("spawn farm");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for farm") {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`farm {}` did not finish within {timeout:?}", args.join(" "));
            }
            std::thread::sleep(POLL);
        };
        Output {
            code: status
                .code()
                .unwrap_or_else(|| panic!("`farm {}` died: {status}", args.join(" "))),
            stdout: fs::read_to_string(&stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr).unwrap_or_default(),
            elapsed: started.elapsed(),
        }
    }

    /// `farm submit PIPELINE --json [extra]`, followed to the verdict.
    pub fn submit(&mut self, pipeline: &Path, extra: &[&str]) -> Output {
        let url = self.url();
        let path = pipeline.display().to_string();
        let mut args = vec!["submit", path.as_str(), "--coordinator", &url, "--json"];
        args.extend_from_slice(extra);
        self.farm(&args)
    }

    /// `farm submit PIPELINE --no-wait [extra]`: the run id.
    pub fn submit_no_wait(&mut self, pipeline: &Path, extra: &[&str]) -> String {
        let url = self.url();
        let path = pipeline.display().to_string();
        let mut args = vec!["submit", path.as_str(), "--coordinator", &url, "--no-wait"];
        args.extend_from_slice(extra);
        let out = self.farm(&args);
        assert_eq!(out.code, 0, "submit --no-wait failed: {}", out.stderr);
        let run_id = out.stdout.trim().to_string();
        assert!(run_id.starts_with('r'), "not a run id: {:?}", out.stdout);
        run_id
    }

    /// `farm watch RUN --json`.
    pub fn watch(&mut self, run_id: &str) -> Output {
        let url = self.url();
        self.farm(&["watch", run_id, "--coordinator", &url, "--json"])
    }

    /// `farm status --json`, parsed.
    pub fn status(&mut self) -> Value {
        let url = self.url();
        let out = self.farm(&["status", "--coordinator", &url, "--json"]);
        assert_eq!(out.code, 0, "farm status failed: {}", out.stderr);
        out.json()
    }

    /// Polls `ready` every 100ms until it holds; panics after `timeout`.
    pub fn wait_until(&mut self, what: &str, timeout: Duration, mut ready: impl FnMut(&mut Farm) -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for: {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Files named `name` in any agent's task directories: (agent index, path).
    pub fn task_files(&self, name: &str) -> Vec<(usize, PathBuf)> {
        let mut out = Vec::new();
        for agent in 0..self.agents.len() {
            let tasks = self.agent_work_dir(agent).join("tasks");
            for entry in fs::read_dir(&tasks).into_iter().flatten().flatten() {
                let path = entry.path().join(name);
                if path.exists() {
                    out.push((agent, path));
                }
            }
        }
        out.sort();
        out
    }

    // -------------------------------------------------------------- teardown

    fn print_logs(&self) {
        let mut logs: Vec<(String, PathBuf)> = Vec::new();
        for p in &self.old_coordinators {
            logs.push((p.label.clone(), p.log.clone()));
        }
        if let Some(p) = &self.coordinator {
            logs.push((p.label.clone(), p.log.clone()));
        }
        for p in self.restarted_agents.iter().chain(&self.agents) {
            logs.push((p.label.clone(), p.log.clone()));
        }
        for path in &self.command_logs {
            let label = path.file_name().unwrap_or_default().to_string_lossy();
            logs.push((label.into_owned(), path.clone()));
        }
        eprintln!(
            "\n===== farm `{}` failed; logs are kept in {} =====",
            self.tag,
            self.dir().display()
        );
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

impl Drop for Farm {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        // Agents first, so that they start nothing more.
        for agent in &mut self.agents {
            agent.kill();
        }
        if let Some(c) = &mut self.coordinator {
            c.kill();
        }
        kill_shard_leftovers(self.dir());
        kill_service_leftovers(self.dir());
        for id in &self.agent_ids {
            // Containers first: their cgroups are under the agent's.
            remove_agent_containers(id);
            remove_agent_cgroups(id);
        }
        if failed {
            self.print_logs();
            // Keep the directory for a look: the logs above name it.
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
            let _ = dir.keep();
        }
    }
}

/// The address in the coordinator's "farm coordinator HTTP on http://ADDR" line.
fn http_line(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("farm coordinator HTTP on "))
        .map(str::to_string)
}
