//! The replicated records of the coordinator: runs, jobs, tasks, and the commands
//! that change them. Plain data: the coordinator's state machine applies commands to
//! them; reports and the CLI read them.

use crate::select::{LeftOut, Selection};
use std::collections::BTreeMap;

use crate::config::Pipeline;
use crate::matrix::JobSpec;
use crate::plan::PlannedShard;
use crate::task::{TaskOutcome, TaskSpec};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Gate,
    Check,
    Select,
}

impl Mode {
    /// Lower runs first: gate > check > select.
    pub fn priority(self) -> u8 {
        match self {
            Mode::Gate => 0,
            Mode::Check => 1,
            Mode::Select => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Gate => "gate",
            Mode::Check => "check",
            Mode::Select => "select",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "gate" | "" => Some(Mode::Gate),
            "check" => Some(Mode::Check),
            "select" => Some(Mode::Select),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed,
    /// The farm could not give a verdict: bad discovery, lost work past the limit.
    Error,
    /// Someone ended the run before its verdict (`farm cancel`).
    Cancelled,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Error => "error",
            Verdict::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub mode: Mode,
    pub submitter: String,
    pub pipeline: Pipeline,
    pub project_dir: String,
    pub env: BTreeMap<String, String>,
    pub jobs: Vec<Job>,
    /// How often one task may be lost (agent gone) before the run ends in error.
    pub max_lost: u32,
    pub accepted_ms: u64,
    pub finished_ms: Option<u64>,
    pub verdict: Option<Verdict>,
    pub message: String,
    pub counts: Counts,
    /// The first failing tests, in the order they were reported (at most 100).
    pub failed_tests: Vec<String>,
    /// What a `select` run asked for (empty otherwise).
    #[serde(default)]
    pub selection: Selection,
    /// The change under test as a unified diff, applied to the git workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// What the project directory held when the run was submitted (see
    /// [`crate::inventory::tree_fingerprint`]); empty when the client did not say.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tree: String,
    /// The client's name for this submission (see [`SUBMISSION_ID_MAX`]): a submit
    /// retried through another member after the first lost its answer is the same
    /// run, never a second one. Empty when the client gave none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub submission: String,
    /// The project's quarantine when the run was accepted: failures of the tests it
    /// covers are kept in `excused`, not counted in `counts.tests_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantine: Vec<crate::quarantine::Entry>,
    /// The first failures the quarantine excused (at most 100; all are counted in
    /// `counts.tests_excused`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excused: Vec<crate::quarantine::Excused>,
    /// Its tasks, results and test lists were dropped by retention
    /// ([`crate::retention`]); the record is its summary.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compacted: bool,
}

impl Job {
    /// A job of a run just submitted: to be discovered.
    pub fn new(spec: JobSpec) -> Job {
        Job {
            spec,
            state: JobState::Discovering,
            tests: 0,
            shards: 0,
            left_out: None,
            planned_with: None,
            only_tests: None,
        }
    }
}

impl Run {
    /// A run as submitted, before the coordinator accepts it: no id, no verdict,
    /// every job to be discovered; the rest (environment, selection, patch, ...) as
    /// the caller sets it on the result.
    pub fn submitted(mode: Mode, submitter: &str, pipeline: Pipeline, project_dir: &str, jobs: Vec<JobSpec>) -> Run {
        Run {
            id: String::new(),
            mode,
            submitter: submitter.into(),
            pipeline,
            project_dir: project_dir.into(),
            env: BTreeMap::new(),
            jobs: jobs.into_iter().map(Job::new).collect(),
            max_lost: 2,
            accepted_ms: 0,
            finished_ms: None,
            verdict: None,
            message: String::new(),
            counts: Counts::default(),
            failed_tests: Vec::new(),
            selection: Selection::default(),
            patch: None,
            tree: String::new(),
            submission: String::new(),
            quarantine: Vec::new(),
            excused: Vec::new(),
            compacted: false,
        }
    }
}

/// The longest submission id a client may give; ids are `[A-Za-z0-9_-]`.
pub const SUBMISSION_ID_MAX: usize = 64;

/// Whether `id` is a submission id a client may give: short, and of characters any
/// store key holds.
pub fn is_submission_id(id: &str) -> bool {
    id.len() <= SUBMISSION_ID_MAX && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Run {
    /// What an agent keeps warm for a job's tasks, so that the scheduler sends the next
    /// one where it already is: the install of the job's cell (`cell|command`, the same
    /// for every job of the run that shares it), else the run's git workspace (`""`);
    /// None when there is nothing to keep.
    pub fn warm_key(&self, job: usize) -> Option<String> {
        let spec = &self.jobs.get(job)?.spec;
        let stage = self.pipeline.stages.iter().find(|s| s.name == spec.stage)?;
        if let Some(install) = &stage.install {
            let cell: Vec<String> = spec.cell.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return Some(format!("{}|{install}", cell.join(",")));
        }
        self.pipeline.repos.iter().any(|r| r.git.is_some()).then(String::new)
    }

    /// The workspace of a pipeline whose repositories come from git (None: the commands
    /// run in `project_dir`).
    pub fn workspace(&self) -> Option<crate::workspace::Workspace> {
        let repos = &self.pipeline.repos;
        if repos.is_empty() || repos.iter().any(|r| r.git.is_none() || r.commit.is_none()) {
            return None;
        }
        let mut checkouts: Vec<crate::workspace::Checkout> = repos
            .iter()
            .map(|r| crate::workspace::Checkout {
                name: r.name.clone(),
                path: r.path.clone(),
                url: r.git.clone().unwrap_or_default(),
                commit: r.commit.clone().unwrap_or_default(),
            })
            .collect();
        // Outer directories first: `.` before `extensions/Echo`.
        checkouts.sort_by_key(|c| {
            if c.path == "." {
                0
            } else {
                c.path.matches('/').count() + 1
            }
        });
        Some(crate::workspace::Workspace {
            repos: checkouts,
            patch: self.patch.clone(),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub tasks_total: u32,
    pub tasks_done: u32,
    pub tests_total: u32,
    pub tests_passed: u32,
    pub tests_failed: u32,
    pub tests_skipped: u32,
    pub tasks_lost: u32,
    /// Failures of quarantined tests: kept, not counted as failed.
    #[serde(default)]
    pub tests_excused: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub spec: JobSpec,
    pub state: JobState,
    /// Number of tests discovered (the ids are stored apart, under `inv/`).
    pub tests: u32,
    pub shards: u32,
    /// What the run's selection left out of this job (select runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_out: Option<LeftOut>,
    /// The runner cost the planner cut the job by, when it cut balanced shards
    /// ([`crate::plan::PlanParams::runner`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_with: Option<crate::plan::RunnerCost>,
    /// Only these of the job's discovered tests run (`farm rerun --failed`: the ones
    /// that failed in the run it reruns). None: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_tests: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Discovering,
    /// Discovered; the leader plans it next.
    Discovered,
    Planned,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub run_id: String,
    pub job: usize,
    pub work: Work,
    pub state: TaskState,
    /// Number of leases so far; a report names the attempt it ran.
    pub attempt: u32,
    /// Agents this task was lost on (lease expired or infrastructure failure).
    pub lost_on: Vec<String>,
    pub queued_ms: u64,
    /// When the last lease was granted (wall ms), kept after the task is done.
    #[serde(default)]
    pub leased_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub done_by: Option<String>,
    pub outcome: Option<TaskOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    Discover,
    Shard(PlannedShard),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TaskState {
    Queued,
    Leased {
        agent: String,
        since_ms: u64,
    },
    Done,
    /// The run ended before this task was needed.
    Cancelled,
}

/// Everything that changes replicated state. Applied in log order by every node;
/// `apply` is deterministic: time and ids come in the command, never from the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    AcceptRun {
        run: Box<Run>,
    },
    PlanJob {
        run_id: String,
        job: usize,
        shards: Vec<PlannedShard>,
        now_ms: u64,
        #[serde(default)]
        left_out: Option<LeftOut>,
        /// The runner cost the shards were cut by (balanced planning), if any.
        #[serde(default)]
        planned_with: Option<crate::plan::RunnerCost>,
    },
    /// One lease. The scheduler proposes [`Command::LeaseTasks`] now; this stays so
    /// that logs and snapshots written before apply as they did.
    LeaseTask {
        task_id: String,
        agent: String,
        now_ms: u64,
    },
    /// Many leases in one entry, each applied as [`Command::LeaseTask`] would be, in
    /// order: the scheduler's pass over free slots commits once (a lease per commit
    /// held a 3-node cluster to a few hundred leases a second).
    LeaseTasks {
        leases: Vec<LeasePick>,
        now_ms: u64,
    },
    CompleteTask {
        task_id: String,
        agent: String,
        attempt: u32,
        outcome: Box<TaskOutcome>,
        now_ms: u64,
    },
    LoseTask {
        task_id: String,
        agent: String,
        reason: String,
        now_ms: u64,
    },
    /// Ends an active run with [`Verdict::Cancelled`]; its unfinished tasks are
    /// cancelled (a later result for one is ignored).
    CancelRun {
        run_id: String,
        reason: String,
        now_ms: u64,
    },
    /// Marks an agent drained (it keeps what it runs and is leased nothing new) or
    /// not. Replicated, so a drain outlives a leader change and the agent's restarts.
    SetDrained {
        agent: String,
        drained: bool,
    },
    /// Puts a test of a project in quarantine (or replaces its entry): runs accepted
    /// from then on do not fail on it.
    Quarantine {
        project: String,
        entry: crate::quarantine::Entry,
    },
    /// Takes a test out of quarantine.
    Unquarantine {
        project: String,
        test: String,
    },
    /// Compacts these finished runs to their summary (retention): their tasks and
    /// test lists are deleted. Active or unknown runs are left alone.
    CompactRuns {
        run_ids: Vec<String>,
    },
}

/// What applying a command did, returned to whoever proposed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Applied {
    RunAccepted {
        run_id: String,
    },
    /// AcceptRun of a submission seen before (a client's retry): the run it became,
    /// and nothing new.
    SubmissionSeen {
        run_id: String,
    },
    Planned,
    /// LeaseTasks: each lease's own result (Leased or Ignored), in order.
    LeasedMany(Vec<Applied>),
    Leased {
        attempt: u32,
        spec: Box<TaskSpec>,
    },
    Completed {
        applied: bool,
    },
    Lost,
    /// SetDrained: whether the agent was drained before.
    Drained {
        was: bool,
    },
    /// Quarantine / Unquarantine: whether the test was quarantined before.
    Quarantined {
        was: bool,
    },
    /// CompactRuns: how many runs were compacted.
    Compacted {
        runs: u32,
    },
    /// CancelRun: whether the run was still active (else its verdict stands).
    Cancelled {
        cancelled: bool,
        verdict: String,
    },
    /// CompleteTask from an agent that does not hold the task's current lease: nothing
    /// of the report is applied.
    ReportRefused(ReportRefused),
    /// The command no longer fits the state (e.g. the task was re-leased): ignored.
    Ignored(String),
    /// The command contradicts itself (validation) or could not be applied: every
    /// replica rejected it and went on.
    Rejected(String),
}

/// One lease of [`Command::LeaseTasks`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasePick {
    pub task_id: String,
    pub agent: String,
}

/// Why a task's report was refused. A lease is the task's attempt, counted up and
/// committed with each lease: only the agent holding the current one reports, so a
/// report from an agent whose lease was lost, or from one that never had it, cannot
/// put results into a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReportRefused {
    /// The task is queued again: the lease was lost before the report came.
    NotLeased { attempt: u32 },
    /// Another agent holds the task's lease.
    OtherAgent { holder: String },
    /// The report is for an older attempt than the current lease.
    StaleAttempt { current: u32 },
}

impl ReportRefused {
    /// The metric label: `not_leased`, `other_agent`, `stale_attempt`.
    pub fn label(&self) -> &'static str {
        match self {
            ReportRefused::NotLeased { .. } => "not_leased",
            ReportRefused::OtherAgent { .. } => "other_agent",
            ReportRefused::StaleAttempt { .. } => "stale_attempt",
        }
    }
}

impl std::fmt::Display for ReportRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportRefused::NotLeased { attempt } => {
                write!(f, "the lease of attempt {attempt} was lost; the task is queued again")
            }
            ReportRefused::OtherAgent { holder } => write!(f, "the task is leased to agent {holder}"),
            ReportRefused::StaleAttempt { current } => write!(f, "the current lease is attempt {current}"),
        }
    }
}

/// A run with its tasks: what GetRun answers, `farm submit --json` prints and `farm
/// up` writes to .farm/reports/RUN.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: Run,
    pub tasks: Vec<Task>,
    /// The run's OpenTelemetry trace id (32 hex digits); empty when not known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
}

/// What changed, for watchers and the scheduler.
#[derive(Debug, Clone)]
pub struct StateEvent {
    pub run_id: String,
    pub failed_tests: Vec<String>,
    pub finished: bool,
}

#[cfg(test)]
mod tests {
    use crate::report::testdata;

    #[test]
    fn the_warm_key_is_the_cells_install_else_the_git_workspace_else_none() {
        let mut run = testdata::run("r1", 0);
        assert_eq!(
            run.warm_key(0),
            None,
            "a project directory and no install: nothing to keep"
        );
        run.pipeline.stages[1].install = Some("php install.php".into());
        let unit = run.jobs.iter().position(|j| j.spec.stage == "unit").unwrap();
        assert_eq!(run.warm_key(unit).as_deref(), Some("|php install.php"));
        for repo in [("core", "."), ("Echo", "extensions/Echo")] {
            run.pipeline.repos.push(crate::select::Repo {
                name: repo.0.into(),
                path: repo.1.into(),
                test_namespace: String::new(),
                requires: Vec::new(),
                git: Some(format!("file:///r/{}", repo.0)),
                git_ref: None,
                commit: None,
            });
        }
        let api = run.jobs.iter().position(|j| j.spec.stage == "api").unwrap();
        assert_eq!(run.warm_key(api).as_deref(), Some(""), "the run's git workspace");
        assert_eq!(
            run.warm_key(unit).as_deref(),
            Some("|php install.php"),
            "the install wins"
        );
        assert_eq!(run.warm_key(99), None);
    }
}
