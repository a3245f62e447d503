//! Runs one task on this agent: prepares its directory, runs the discovery or the
//! shard in the sandbox executor, and turns what happened into a [`TaskOutcome`].
//! See ../shared/DESIGN.md, "Data flow of one run", step 6.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testfarm_shared::config::RunMode;
use testfarm_shared::junit::parse_junit;
use testfarm_shared::task::{
    reconcile, ExitKind, Phases, TaskKind, TaskOutcome, TaskSpec, TestResult, TestStatus, Usage,
};

use crate::cgroup::ShardCgroup;
use crate::process::{self, ProcessOutcome, SandboxCommand};

/// Where and how this agent runs tasks.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Per-task directories (logs, test-id files, JUnit) live under here.
    pub work_dir: PathBuf,
    /// cgroup parent the agent owns (`testfarm/<agent>`), or None when the host
    /// cannot give cgroups (the agent said so once, loudly, at start).
    pub cgroup_parent: Option<String>,
}

const LOG_TAIL_LINES: usize = 30;

impl Sandbox {
    /// An outcome with nothing in it yet.
    pub fn empty_outcome(&self) -> TaskOutcome {
        TaskOutcome {
            exit: ExitKind::Exited { code: 0 },
            discovered: Vec::new(),
            results: Vec::new(),
            phases: Phases::default(),
            usage: Usage::default(),
            log_path: String::new(),
            log_tail: String::new(),
            sent_at_ms: 0,
        }
    }

    pub async fn run(&self, spec: &TaskSpec, attempt: u32) -> TaskOutcome {
        let prepare_started = Instant::now();
        let dir = self.work_dir.join("tasks").join(format!("{}-a{attempt}", spec.task_id));
        let log = dir.join("log.txt");
        let project = PathBuf::from(&spec.project_dir);
        let mut outcome = self.empty_outcome();
        outcome.log_path = log.display().to_string();
        if let Err(message) = prepare(&dir, &project) {
            outcome.exit = ExitKind::Infrastructure { message };
            return outcome;
        }
        let mut env = spec.env.clone();
        env.insert("FARM_RUN_ID".into(), spec.run_id.clone());
        env.insert("FARM_TASK_ID".into(), spec.task_id.clone());
        env.insert("FARM_STAGE".into(), spec.stage.clone());
        env.insert("FARM_SHARD_DIR".into(), dir.display().to_string());
        for (axis, value) in &spec.cell {
            env.insert(
                format!("FARM_AXIS_{}", axis.to_uppercase().replace(['-', '.'], "_")),
                value.clone(),
            );
        }
        outcome.phases.prepare_secs = prepare_started.elapsed().as_secs_f64();
        let ctx = Ctx {
            sandbox: self,
            spec,
            dir: &dir,
            log: &log,
            project: &project,
        };
        match &spec.kind {
            TaskKind::Discover { command } => ctx.discover(command, env, &mut outcome).await,
            TaskKind::Shard {
                mode: RunMode::Junit { command },
                tests,
                ..
            } => ctx.junit_shard(command, tests, env, &mut outcome).await,
            TaskKind::Shard {
                mode: RunMode::Each { command },
                tests,
                ..
            } => ctx.each_shard(command, tests, env, &mut outcome).await,
        }
        outcome.log_tail = tail(&log, LOG_TAIL_LINES);
        outcome
    }
}

fn prepare(dir: &Path, project: &Path) -> Result<(), String> {
    if !project.is_dir() {
        return Err(format!(
            "project directory {} does not exist on this agent",
            project.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create task directory {}: {e}", dir.display()))
}

struct Ctx<'a> {
    sandbox: &'a Sandbox,
    spec: &'a TaskSpec,
    dir: &'a Path,
    log: &'a Path,
    project: &'a Path,
}

impl Ctx<'_> {
    /// One cgroup per process run, named after the task (and test, in `each` mode).
    fn cgroup(&self, suffix: &str) -> Result<Option<ShardCgroup>, String> {
        let Some(parent) = &self.sandbox.cgroup_parent else {
            return Ok(None);
        };
        let name = format!("{}{suffix}", self.spec.task_id);
        ShardCgroup::create(parent, &name, &self.spec.limits)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    async fn sandboxed(
        &self,
        command: &str,
        env: &BTreeMap<String, String>,
        timeout: Duration,
        suffix: &str,
    ) -> ProcessOutcome {
        let cgroup = match self.cgroup(suffix) {
            Ok(c) => c,
            Err(message) => {
                return ProcessOutcome {
                    exit: ExitKind::Infrastructure {
                        message: format!("cannot create the shard's cgroup: {message}"),
                    },
                    start_secs: 0.0,
                    run_secs: 0.0,
                    usage: Usage::default(),
                }
            }
        };
        let outcome = process::run(SandboxCommand {
            command,
            cwd: self.project,
            env,
            log: self.log,
            timeout,
            cgroup: cgroup.as_ref(),
        })
        .await;
        if let Some(cgroup) = cgroup {
            cgroup.destroy();
        }
        outcome
    }

    async fn discover(&self, command: &str, mut env: BTreeMap<String, String>, outcome: &mut TaskOutcome) {
        let out = self.dir.join("discovered.txt");
        env.insert("FARM_DISCOVERED_FILE".into(), out.display().to_string());
        // stdout is the list; stderr goes to the log.
        let wrapped = format!("exec >\"$FARM_DISCOVERED_FILE\"\n{command}");
        let p = self.sandboxed(&wrapped, &env, self.spec.limits.timeout, "").await;
        absorb(outcome, &p);
        outcome.exit = p.exit;
        if outcome.exit == (ExitKind::Exited { code: 0 }) {
            match std::fs::read_to_string(&out) {
                Ok(text) => {
                    outcome.discovered = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect()
                }
                Err(e) => {
                    outcome.exit = ExitKind::Infrastructure {
                        message: format!("cannot read {}: {e}", out.display()),
                    }
                }
            }
        }
    }

    async fn junit_shard(
        &self,
        command: &str,
        tests: &[String],
        mut env: BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
    ) {
        let ids = self.dir.join("tests.txt");
        let junit = self.dir.join("junit.xml");
        if let Err(e) = std::fs::write(&ids, tests.join("\n") + "\n") {
            outcome.exit = ExitKind::Infrastructure {
                message: format!("cannot write {}: {e}", ids.display()),
            };
            return;
        }
        env.insert("FARM_TEST_IDS_FILE".into(), ids.display().to_string());
        env.insert("FARM_JUNIT_PATH".into(), junit.display().to_string());
        let p = self.sandboxed(command, &env, self.spec.limits.timeout, "").await;
        absorb(outcome, &p);
        let reported = match std::fs::read_to_string(&junit) {
            Ok(xml) => match parse_junit(&xml, &junit.display().to_string()) {
                Ok(results) => results,
                Err(e) => {
                    append_log(self.log, &format!("farm: {e}"));
                    Vec::new()
                }
            },
            Err(_) => {
                append_log(
                    self.log,
                    &format!("farm: the runner wrote no JUnit at {}", junit.display()),
                );
                Vec::new()
            }
        };
        outcome.results = reconcile(tests, reported, &p.exit);
        outcome.exit = p.exit;
    }

    async fn each_shard(
        &self,
        command: &str,
        tests: &[String],
        mut env: BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
    ) {
        let deadline = Instant::now() + self.spec.limits.timeout;
        let mut results = Vec::new();
        let mut exit = ExitKind::Exited { code: 0 };
        for (n, test) in tests.iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                exit = ExitKind::TimedOut;
                break;
            }
            env.insert("FARM_TEST_ID".into(), test.clone());
            append_log(self.log, &format!("farm: --- {test}"));
            let p = self.sandboxed(command, &env, left, &format!(".t{n}")).await;
            absorb(outcome, &p);
            let (status, message) = match &p.exit {
                ExitKind::Exited { code: 0 } => (TestStatus::Passed, String::new()),
                ExitKind::Exited { code } => (
                    TestStatus::Failed,
                    format!("exit code {code}; log tail:\n{}", tail(self.log, 10)),
                ),
                ExitKind::Signalled { signal } => (TestStatus::Failed, format!("killed by signal {signal}")),
                ExitKind::TimedOut => (TestStatus::TimedOut, "killed at the shard's timeout".into()),
                ExitKind::MemoryLimit => (TestStatus::MemoryLimit, "killed at the memory limit".into()),
                ExitKind::Infrastructure { .. } => {
                    exit = p.exit.clone();
                    break;
                }
            };
            results.push(TestResult {
                id: test.clone(),
                status,
                duration_secs: p.run_secs,
                message,
            });
            if p.exit == ExitKind::TimedOut {
                exit = ExitKind::TimedOut;
                break;
            }
            if p.exit == ExitKind::MemoryLimit {
                exit = ExitKind::MemoryLimit;
            }
        }
        outcome.results = reconcile(tests, results, &exit);
        outcome.exit = match exit {
            // Each test's own failure is its result; the runner itself did fine.
            ExitKind::MemoryLimit => ExitKind::MemoryLimit,
            other => other,
        };
    }
}

/// Adds one process's phases and usage into the task's.
fn absorb(outcome: &mut TaskOutcome, p: &ProcessOutcome) {
    outcome.phases.start_secs += p.start_secs;
    outcome.phases.run_secs += p.run_secs;
    outcome.usage.cpu_secs += p.usage.cpu_secs;
    outcome.usage.peak_memory_bytes = outcome.usage.peak_memory_bytes.max(p.usage.peak_memory_bytes);
    outcome.usage.cgroup = p.usage.cgroup;
}

fn append_log(log: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
