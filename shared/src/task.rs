//! What travels between coordinator and agent: a task to run ([`TaskSpec`]) and what
//! came of it ([`TaskOutcome`]). Plain data, JSON on the wire.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Limits, RunMode};
use crate::runtime::Runtime;

/// A unit of work leased to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub run_id: String,
    pub task_id: String,
    pub project: String,
    pub stage: String,
    pub job_name: String,
    pub cell: BTreeMap<String, String>,
    /// Directory the commands run in.
    pub project_dir: String,
    /// Stage env, then the run's env on top.
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    pub kind: TaskKind,
    /// W3C traceparent of this task attempt's span: the agent's spans go under it.
    #[serde(default)]
    pub trace_parent: String,
    /// The stage's executor, runtime image and network.
    #[serde(default)]
    pub runtime: Runtime,
    /// The git checkouts (and patch) to run in, instead of `project_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<crate::workspace::Workspace>,
    /// Databases the agent provides to the task (see [`crate::service`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<crate::service::Service>,
    /// The stage's install step, run once per key on the agent before the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<crate::install::Install>,
    /// Programs the commands need on `PATH` where they run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Run the stage's `discover` command; its stdout lines are the test ids (for a
    /// PHPUnit stage: the ids in the list it writes, see [`crate::phpunit`]).
    Discover {
        command: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phpunit: Option<crate::phpunit::Phpunit>,
    },
    /// Run these tests.
    Shard {
        mode: RunMode,
        tests: Vec<String>,
        estimate_secs: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Passed,
    Failed,
    Error,
    Skipped,
    /// Scheduled in the shard, but the runner reported nothing for it.
    Missing,
    /// Did not finish: the shard hit its timeout.
    TimedOut,
    /// Did not finish: the shard's cgroup hit its memory limit.
    MemoryLimit,
}

impl TestStatus {
    /// The status's name, as in JSON: `passed`, `timed_out`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Error => "error",
            TestStatus::Skipped => "skipped",
            TestStatus::Missing => "missing",
            TestStatus::TimedOut => "timed_out",
            TestStatus::MemoryLimit => "memory_limit",
        }
    }

    /// Whether this status fails a run.
    pub fn is_failure(self) -> bool {
        !matches!(self, TestStatus::Passed | TestStatus::Skipped)
    }

    /// Order for merging several results into one (data-provider cases of a
    /// method): the higher wins.
    pub fn severity(self) -> u8 {
        match self {
            TestStatus::Skipped => 0,
            TestStatus::Passed => 1,
            TestStatus::Missing => 2,
            TestStatus::Failed => 3,
            TestStatus::Error => 4,
            TestStatus::TimedOut => 5,
            TestStatus::MemoryLimit => 6,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub id: String,
    pub status: TestStatus,
    pub duration_secs: f64,
    /// Failure message or log excerpt; empty when passed.
    pub message: String,
}

/// How the executor's work ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ExitKind {
    /// The command ran to completion with this exit code.
    Exited { code: i32 },
    /// Killed by a signal that the farm did not send.
    Signalled { signal: i32 },
    /// The farm killed the process group at the timeout.
    TimedOut,
    /// The kernel killed it at the cgroup's memory limit.
    MemoryLimit,
    /// The agent could not run it at all (workspace, spawn, cgroup): retried elsewhere.
    Infrastructure { message: String },
}

impl ExitKind {
    /// How it ended, in words for messages: "exit code 1", "killed at its timeout".
    pub fn describe(&self) -> String {
        match self {
            ExitKind::Exited { code } => format!("exit code {code}"),
            ExitKind::Signalled { signal } => format!("killed by signal {signal}"),
            ExitKind::TimedOut => "killed at its timeout".into(),
            ExitKind::MemoryLimit => "killed at its memory limit".into(),
            ExitKind::Infrastructure { message } => format!("infrastructure failure: {message}"),
        }
    }
}

/// Seconds spent in each phase of a task, as measured by the agent (queued is
/// measured by the coordinator: lease time minus queue time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub queued_secs: f64,
    pub prepare_secs: f64,
    pub start_secs: f64,
    pub run_secs: f64,
    pub upload_secs: f64,
}

/// What the shard's cgroup (the sandbox's, or the container's) used; for a shard in a
/// PHPUnit worker, what its child process used (its rusage). Kept with the task in the
/// run record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub cpu_secs: f64,
    pub peak_memory_bytes: u64,
    /// False when the agent could not make a cgroup: the figures are then zero, unless
    /// the shard ran in a worker (`worker_warm` set).
    pub cgroup: bool,
    /// The highest number of processes (tasks) seen in the group. Sampled from
    /// `pids.current` while it runs (cgroup v1 has no `pids.peak`), so a very short
    /// spike between two samples can be missed; `pids.peak` where the kernel has it.
    #[serde(default)]
    pub peak_pids: u64,
    /// Processes the kernel OOM-killed at the memory limit.
    #[serde(default)]
    pub oom_kills: u64,
    /// The executor that ran the task (`sandbox`, `docker`); empty in older reports.
    #[serde(default)]
    pub executor: String,
    /// For a git workspace: whether it was there already (true) or built for this
    /// task (false); None without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_warm: Option<bool>,
    /// For a stage with an install step: whether it was done already on this agent
    /// (true) or ran for this task (false); None without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_warm: Option<bool>,
    /// For a PHPUnit shard run in a worker: whether the worker had bootstrapped
    /// already (true) or started for this shard (false); None in a process of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_warm: Option<bool>,
}

impl Usage {
    /// Adds another process run of the same task (each-mode runs one per test): cpu
    /// and kills add up, peaks take the maximum.
    pub fn absorb(&mut self, other: &Usage) {
        self.cpu_secs += other.cpu_secs;
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
        self.peak_pids = self.peak_pids.max(other.peak_pids);
        self.oom_kills += other.oom_kills;
        self.cgroup = other.cgroup;
        if !other.executor.is_empty() {
            self.executor = other.executor.clone();
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    pub exit: ExitKind,
    /// Discovered test ids (discover tasks only).
    pub discovered: Vec<String>,
    /// One result per scheduled test, plus any extra the runner reported.
    pub results: Vec<TestResult>,
    pub phases: Phases,
    pub usage: Usage,
    /// Where the agent keeps the full log.
    pub log_path: String,
    /// The last lines of the log.
    pub log_tail: String,
    /// Wall-clock ms (unix) when the agent started sending this report.
    pub sent_at_ms: u64,
}

impl TaskOutcome {
    /// An outcome with these results and nothing measured yet.
    pub fn new(exit: ExitKind, discovered: Vec<String>, results: Vec<TestResult>) -> TaskOutcome {
        TaskOutcome {
            exit,
            discovered,
            results,
            phases: Phases::default(),
            usage: Usage::default(),
            log_path: String::new(),
            log_tail: String::new(),
            sent_at_ms: 0,
        }
    }

    /// Whether the agent failed to run the task at all (retry elsewhere).
    pub fn is_infrastructure_failure(&self) -> bool {
        matches!(self.exit, ExitKind::Infrastructure { .. })
    }

    /// The first measurement that is not a finite, non-negative number of seconds,
    /// named by its field (`results.3.duration_secs`, `phases.run_secs`): such a
    /// figure would poison every timing profile it is averaged into.
    pub fn bad_measurement(&self) -> Option<String> {
        let bad = |secs: f64| !(secs.is_finite() && secs >= 0.0);
        if let Some(n) = self.results.iter().position(|r| bad(r.duration_secs)) {
            return Some(format!("results.{n}.duration_secs"));
        }
        let p = &self.phases;
        let named = [
            ("phases.queued_secs", p.queued_secs),
            ("phases.prepare_secs", p.prepare_secs),
            ("phases.start_secs", p.start_secs),
            ("phases.run_secs", p.run_secs),
            ("phases.upload_secs", p.upload_secs),
            ("usage.cpu_secs", self.usage.cpu_secs),
        ];
        named
            .iter()
            .find(|(_, secs)| bad(*secs))
            .map(|(field, _)| field.to_string())
    }
}

/// Reconciles what a runner reported with what the shard scheduled: every scheduled
/// test gets exactly one result. A test the runner never mentioned is `Missing`, or
/// `TimedOut` / `MemoryLimit` when the shard was killed before reaching it.
pub fn reconcile(scheduled: &[String], reported: Vec<TestResult>, exit: &ExitKind) -> Vec<TestResult> {
    let mut by_id: BTreeMap<String, TestResult> = BTreeMap::new();
    let mut extra = Vec::new();
    let wanted: std::collections::HashSet<&str> = scheduled.iter().map(String::as_str).collect();
    // PHPUnit reports a data provider whose class was skipped as a whole (a missing
    // `@requires`) as one case named after the method: it stands for each of the
    // method's scheduled data sets.
    let mut data_sets: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in scheduled {
        let method = crate::phpunit::method_of(id);
        if method != id {
            data_sets.entry(method).or_default().push(id);
        }
    }
    let mut expanded = Vec::with_capacity(reported.len());
    for r in reported {
        match data_sets.get(r.id.as_str()) {
            Some(sets) if !wanted.contains(r.id.as_str()) => expanded.extend(sets.iter().map(|id| TestResult {
                id: id.to_string(),
                duration_secs: r.duration_secs / sets.len() as f64,
                ..r.clone()
            })),
            _ => expanded.push(r),
        }
    }
    for mut r in expanded {
        // PHPUnit's data-provider cases (`C::m with data set #1`) fold into their
        // method: the worst status, the sum of the times, every message.
        let method = crate::phpunit::method_of(&r.id).to_string();
        if method != r.id && wanted.contains(method.as_str()) && !wanted.contains(r.id.as_str()) {
            r.id = method;
            if let Some(seen) = by_id.get_mut(&r.id) {
                seen.duration_secs += r.duration_secs;
                if r.status.severity() > seen.status.severity() {
                    seen.status = r.status;
                }
                if !r.message.is_empty() {
                    if !seen.message.is_empty() {
                        seen.message.push('\n');
                    }
                    seen.message.push_str(&r.message);
                }
                continue;
            }
        }
        if wanted.contains(r.id.as_str()) || by_id.contains_key(&r.id) {
            by_id.insert(r.id.clone(), r);
        } else {
            extra.push(r);
        }
    }
    let (absent_status, why) = match exit {
        ExitKind::TimedOut => (
            TestStatus::TimedOut,
            "the shard hit its timeout before this test finished",
        ),
        ExitKind::MemoryLimit => (
            TestStatus::MemoryLimit,
            "the shard was killed at its memory limit before this test finished",
        ),
        _ => (TestStatus::Missing, "the runner reported no result for this test"),
    };
    let mut out: Vec<TestResult> = scheduled
        .iter()
        .map(|id| {
            by_id.remove(id).unwrap_or_else(|| TestResult {
                id: id.clone(),
                status: absent_status,
                duration_secs: 0.0,
                message: why.into(),
            })
        })
        .collect();
    out.extend(extra);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str, status: TestStatus) -> TestResult {
        TestResult {
            id: id.into(),
            status,
            duration_secs: 0.1,
            message: String::new(),
        }
    }

    #[test]
    fn every_scheduled_test_gets_one_result() {
        let scheduled = vec!["a".to_string(), "b".to_string()];
        let out = reconcile(
            &scheduled,
            vec![r("a", TestStatus::Passed), r("x", TestStatus::Passed)],
            &ExitKind::Exited { code: 0 },
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].status, TestStatus::Missing);
        assert_eq!(out[2].id, "x");
    }

    #[test]
    fn killed_shards_mark_unfinished_tests_with_the_cause() {
        let scheduled = vec!["a".to_string(), "b".to_string()];
        let out = reconcile(&scheduled, vec![r("a", TestStatus::Passed)], &ExitKind::MemoryLimit);
        assert_eq!(out[1].status, TestStatus::MemoryLimit);
        assert!(out[1].status.is_failure());
        let out = reconcile(&scheduled, vec![], &ExitKind::TimedOut);
        assert!(out.iter().all(|t| t.status == TestStatus::TimedOut));
    }

    #[test]
    fn a_method_reported_whole_stands_for_each_of_its_scheduled_data_sets() {
        let scheduled = vec![
            "C::m with data set #0".to_string(),
            "C::m with data set #1".to_string(),
            "C::n".to_string(),
        ];
        let out = reconcile(
            &scheduled,
            vec![r("C::m", TestStatus::Skipped), r("C::n", TestStatus::Passed)],
            &ExitKind::Exited { code: 0 },
        );
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0].id, "C::m with data set #0");
        assert_eq!(out[0].status, TestStatus::Skipped);
        assert_eq!(out[1].status, TestStatus::Skipped);
        assert_eq!(out[2].status, TestStatus::Passed);
    }

    #[test]
    fn a_data_set_scheduled_by_its_own_id_keeps_it_beside_a_plain_case_of_the_method() {
        // PHPUnit names an empty data set #0 like the method itself.
        let scheduled = vec!["C::m".to_string(), "C::m with data set #1".to_string()];
        let out = reconcile(
            &scheduled,
            vec![
                r("C::m", TestStatus::Passed),
                r("C::m with data set #1", TestStatus::Failed),
            ],
            &ExitKind::Exited { code: 1 },
        );
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].status, TestStatus::Passed);
        assert_eq!(out[1].status, TestStatus::Failed);
    }

    #[test]
    fn data_provider_cases_fold_into_their_method() {
        let scheduled = vec!["C::m".to_string(), "C::n".to_string()];
        let mut a = r("C::m with data set #0", TestStatus::Passed);
        a.duration_secs = 0.25;
        let mut b = r("C::m with data set #1", TestStatus::Failed);
        b.message = "2 is not 1".into();
        let out = reconcile(
            &scheduled,
            vec![a, b, r("C::n", TestStatus::Passed)],
            &ExitKind::Exited { code: 1 },
        );
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].id, "C::m");
        assert_eq!(out[0].status, TestStatus::Failed);
        assert!((out[0].duration_secs - 0.35).abs() < 1e-9, "{}", out[0].duration_secs);
        assert_eq!(out[0].message, "2 is not 1");
        assert_eq!(out[1].status, TestStatus::Passed);
    }
}
