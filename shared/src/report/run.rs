//! The run report: where one run's wall time went. Built from the run record and its
//! tasks ([`RunReport::build`]); serialized as `/api/runs/ID` and `farm report --json`.
//!
//! Lanes: the tasks each agent ran, packed into slot lanes first-fit by start time
//! (a task starts at its lease, ends when its report is applied). An agent gets as
//! many lanes as it has slots when the caller knows them (registered agents), else as
//! many as its busiest moment needed.
//!
//! Critical path: see [`super::lanes`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::improve::Improvement;
use super::lanes::{accounted_ms, critical_path, horizon, kind, pack_lanes, place, Placed};
use super::secs_between;
use crate::config::Split;
use crate::model::{Counts, Mode, Run, Task, Verdict, Work};
use crate::quarantine;
use crate::task::{ExitKind, TaskOutcome};

/// The `schema` of a run report; bumped only on incompatible changes.
pub const RUN_SCHEMA: &str = "testfarm.run-report/1";
/// How many of the slowest tests a report lists.
pub const SLOWEST: usize = 15;
/// How many failures a report lists (the run record counts them all).
pub const MAX_FAILURES: usize = 50;
/// Lines of log kept per failure.
pub const EXCERPT_LINES: usize = 15;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: String,
    pub run_id: String,
    pub pipeline: String,
    pub project: String,
    pub project_dir: String,
    pub mode: Mode,
    pub submitter: String,
    /// None while the run is in progress.
    pub verdict: Option<Verdict>,
    pub message: String,
    pub accepted_ms: u64,
    pub finished_ms: Option<u64>,
    /// Accept to verdict; while running, accept to the latest event in the records.
    pub wall_secs: f64,
    pub counts: Counts,
    pub efficiency: Efficiency,
    pub phases: PhaseBreakdown,
    pub agents: Vec<AgentSummary>,
    pub jobs: Vec<JobSummary>,
    pub lanes: Vec<Lane>,
    pub critical_path: CriticalPath,
    pub slowest: Vec<TestTime>,
    pub failures: Vec<Failure>,
    /// The project's quarantine as the run took it, with each entry's failures here.
    #[serde(default)]
    pub quarantine: Vec<QuarantineRow>,
    /// Ranked by the wall time each would save per run; filled by [`super::improve::rank`].
    pub improvements: Vec<Improvement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Total test time / slots.
    Work,
    /// The longest unit that cannot be split.
    LongestUnit,
}

/// The run against its lower bound `max(total test time / slots, longest unit)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// Sum of every test's measured duration (JUnit time or per-test timing).
    pub total_test_secs: f64,
    /// Slot lanes of the report.
    pub slots: u32,
    pub work_per_slot_secs: f64,
    /// The longest thing a shard cannot cut: a test, or a whole class in a stage with
    /// `split: class`.
    pub longest_unit: Option<UnitTime>,
    pub lower_bound_secs: f64,
    pub bound_by: Option<Bound>,
    pub wall_secs: f64,
    /// lower_bound / wall (1.0: the run ended at its bound).
    pub efficiency: f64,
    /// wall − lower bound.
    pub overhead_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitTime {
    pub job: String,
    pub stage: String,
    /// `test` or `class`.
    pub kind: String,
    pub name: String,
    pub secs: f64,
    /// The next longest unit of the run (what bounds it once this one is split).
    pub next_secs: f64,
    /// The longest single test in this unit (the unit itself for a test).
    pub longest_test_secs: f64,
}

/// Seconds per phase, summed over tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTotals {
    pub tasks: u32,
    /// Waiting in the coordinator's queue (not on a slot).
    pub queued_secs: f64,
    pub prepare_secs: f64,
    /// Process or container start.
    pub start_secs: f64,
    /// Running the tests.
    pub run_secs: f64,
    /// Of the run phase, the tests' own time and the rest (the runner's overhead).
    #[serde(default)]
    pub test_secs: f64,
    #[serde(default)]
    pub runner_secs: f64,
    pub upload_secs: f64,
    /// The rest of the time on a slot: lease delivery, result parsing.
    pub other_secs: f64,
    /// Time on a slot: lease to report (prepare + start + run + upload + other).
    pub slot_secs: f64,
    /// Tasks that ran in a PHPUnit worker (bootstrapped once per slot): their start
    /// phase is the worker's start for the first, nothing for the rest.
    #[serde(default)]
    pub worker_tasks: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseBreakdown {
    pub shards: PhaseTotals,
    pub discovery: PhaseTotals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub agent: String,
    pub slots: u32,
    pub tasks: u32,
    /// Phases of this agent's shard tasks.
    pub shard_phases: PhaseTotals,
    /// prepare / slot time of its shards.
    pub prepare_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub index: usize,
    pub name: String,
    pub stage: String,
    pub cell: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub tests: u32,
    pub shards: u32,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub test_secs: f64,
    /// First task start and last task end, seconds after the run was accepted.
    pub start_secs: f64,
    pub end_secs: f64,
    pub wall_secs: f64,
    pub queued_mean_secs: f64,
    pub queued_max_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lane {
    pub agent: String,
    /// 0-based slot index within the agent.
    pub slot: u32,
    pub busy_secs: f64,
    pub tasks: Vec<LaneTask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneTask {
    pub task_id: String,
    pub job: usize,
    pub job_name: String,
    /// `discover` or `shard`.
    pub kind: String,
    /// Seconds after the run was accepted.
    pub start_secs: f64,
    pub end_secs: f64,
    pub queued_secs: f64,
    pub prepare_secs: f64,
    pub start_phase_secs: f64,
    pub run_secs: f64,
    pub upload_secs: f64,
    /// The tests' own time (the sum of their durations).
    #[serde(default)]
    pub test_secs: f64,
    /// The runner's own overhead: the run phase minus the tests' own time (process
    /// start, bootstrap, loading the suite, reporting).
    #[serde(default)]
    pub runner_secs: f64,
    pub tests: u32,
    pub failed: u32,
    /// `passed`, `failed` (a test or the runner failed), `error` (discovery or
    /// infrastructure) or `running`.
    pub status: String,
    pub critical: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CriticalPath {
    pub secs: f64,
    pub segments: Vec<PathSegment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathSegment {
    /// `discover`, `shard` or `wait`.
    pub kind: String,
    pub task_id: Option<String>,
    pub job_name: Option<String>,
    pub agent: Option<String>,
    pub start_secs: f64,
    pub end_secs: f64,
    pub secs: f64,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestTime {
    pub job_name: String,
    pub stage: String,
    pub test: String,
    pub secs: f64,
    pub status: String,
    pub task_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub job_name: String,
    /// None when the runner or discovery failed without a failing test.
    pub test: Option<String>,
    /// A test status, or `runner` / `discovery`.
    pub status: String,
    pub message: String,
    pub task_id: String,
    pub agent: String,
    pub log_path: String,
    pub log_excerpt: String,
    /// The quarantine entry that excused this failure (it did not fail the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<String>,
}

/// A quarantined test (or method, or class) of the run's project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRow {
    pub test: String,
    pub reason: String,
    pub by: String,
    pub since_ms: u64,
    /// `since_ms` as a date (`2026-12-03T14:05:09Z`).
    pub since: String,
    /// Failures of this run it excused.
    pub failed_here: u32,
}

impl RunReport {
    /// The report of `run` from its `tasks`. `slots`: known slot counts per agent id
    /// (agents not named get as many lanes as they needed).
    pub fn build(run: &Run, tasks: &[Task], slots: &BTreeMap<String, u32>) -> RunReport {
        let horizon = horizon(run, tasks);
        let t0 = run.accepted_ms;
        let rel = |ms: u64| secs_between(t0, ms);
        let job_names: Vec<String> = run.jobs.iter().map(|j| j.spec.display_name()).collect();
        let mut placed = place(tasks, horizon);
        let lanes_of = pack_lanes(&mut placed, slots);
        let critical = critical_path(run, &placed, &job_names);
        let on_path: Vec<&str> = critical.segments.iter().filter_map(|s| s.task_id.as_deref()).collect();

        let mut lanes: Vec<Lane> = lanes_of
            .iter()
            .flat_map(|(agent, n)| {
                (0..*n).map(|slot| Lane {
                    agent: agent.clone(),
                    slot: slot as u32,
                    busy_secs: 0.0,
                    tasks: Vec::new(),
                })
            })
            .collect();
        let lane_base: BTreeMap<&str, usize> = {
            let mut base = BTreeMap::new();
            let mut at = 0;
            for (agent, n) in &lanes_of {
                base.insert(agent.as_str(), at);
                at += n;
            }
            base
        };
        for p in &placed {
            let t = p.task;
            let o = t.outcome.as_ref();
            let (tests, failed) = o.map_or((0, 0), |o| {
                (
                    o.results.len() as u32,
                    o.results.iter().filter(|r| r.status.is_failure()).count() as u32,
                )
            });
            let lane = &mut lanes[lane_base[p.agent.as_str()] + p.lane];
            lane.busy_secs += secs_between(p.start, p.end);
            let ph = o.map(|o| o.phases.clone()).unwrap_or_default();
            let test_secs = o.map_or(0.0, test_secs);
            lane.tasks.push(LaneTask {
                task_id: t.id.clone(),
                job: t.job,
                job_name: job_names.get(t.job).cloned().unwrap_or_default(),
                kind: kind(t).into(),
                start_secs: rel(p.start),
                end_secs: rel(p.end),
                queued_secs: ph.queued_secs,
                prepare_secs: ph.prepare_secs,
                start_phase_secs: ph.start_secs,
                run_secs: ph.run_secs,
                upload_secs: ph.upload_secs,
                test_secs,
                runner_secs: (ph.run_secs - test_secs).max(0.0),
                tests,
                failed,
                status: status(t, o, p.running).into(),
                critical: on_path.contains(&t.id.as_str()),
            });
        }

        let efficiency = efficiency(run, tasks, lanes.len() as u32, secs_between(t0, horizon));
        let mut report = RunReport {
            schema: RUN_SCHEMA.into(),
            run_id: run.id.clone(),
            pipeline: run.pipeline.name.clone(),
            project: run.pipeline.project.clone(),
            project_dir: run.project_dir.clone(),
            mode: run.mode,
            submitter: run.submitter.clone(),
            verdict: run.verdict,
            message: run.message.clone(),
            accepted_ms: run.accepted_ms,
            finished_ms: run.finished_ms,
            wall_secs: secs_between(t0, horizon),
            counts: run.counts.clone(),
            efficiency,
            phases: PhaseBreakdown::default(),
            agents: Vec::new(),
            jobs: jobs(run, tasks, &placed, &job_names),
            lanes,
            critical_path: critical,
            slowest: slowest(run, tasks, &job_names),
            failures: failures(run, tasks, &job_names),
            quarantine: quarantine_rows(run, tasks),
            improvements: Vec::new(),
        };
        for p in placed.iter().filter(|p| !p.running) {
            let totals = match p.task.work {
                Work::Discover => &mut report.phases.discovery,
                Work::Shard(_) => &mut report.phases.shards,
            };
            add_phases(totals, p);
        }
        report.agents = lanes_of
            .iter()
            .map(|(agent, n)| {
                let mut shard_phases = PhaseTotals::default();
                let mine = placed.iter().filter(|p| &p.agent == agent && !p.running);
                let mut count = 0;
                for p in mine {
                    count += 1;
                    if matches!(p.task.work, Work::Shard(_)) {
                        add_phases(&mut shard_phases, p);
                    }
                }
                AgentSummary {
                    agent: agent.clone(),
                    slots: *n as u32,
                    tasks: count,
                    prepare_share: ratio(shard_phases.prepare_secs, shard_phases.slot_secs),
                    shard_phases,
                }
            })
            .collect();
        report
    }

    /// Every lane task, in lane order.
    pub fn lane_tasks(&self) -> impl Iterator<Item = (&Lane, &LaneTask)> {
        self.lanes.iter().flat_map(|l| l.tasks.iter().map(move |t| (l, t)))
    }
}

pub(crate) fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

fn status(task: &Task, outcome: Option<&TaskOutcome>, running: bool) -> &'static str {
    if running {
        return "running";
    }
    let Some(o) = outcome else { return "error" };
    let exited_ok = matches!(o.exit, ExitKind::Exited { code: 0 });
    match task.work {
        // A successful discovery's ids are kept apart from the task (under `inv/`).
        Work::Discover if exited_ok => "passed",
        Work::Discover => "error",
        Work::Shard(_) if matches!(o.exit, ExitKind::Infrastructure { .. }) => "error",
        Work::Shard(_) if exited_ok && !o.results.iter().any(|r| r.status.is_failure()) => "passed",
        Work::Shard(_) => "failed",
    }
}

fn add_phases(totals: &mut PhaseTotals, p: &Placed) {
    let slot_ms = p.end - p.start;
    totals.tasks += 1;
    totals.slot_secs += slot_ms as f64 / 1000.0;
    if let Some(o) = &p.task.outcome {
        let ph = &o.phases;
        totals.queued_secs += ph.queued_secs;
        totals.prepare_secs += ph.prepare_secs;
        totals.start_secs += ph.start_secs;
        totals.run_secs += ph.run_secs;
        let tests = test_secs(o);
        totals.test_secs += tests;
        totals.runner_secs += (ph.run_secs - tests).max(0.0);
        totals.upload_secs += ph.upload_secs;
        totals.worker_tasks += u32::from(o.usage.worker_warm.is_some());
        totals.other_secs += slot_ms.saturating_sub(accounted_ms(o)) as f64 / 1000.0;
    }
}

fn efficiency(run: &Run, tasks: &[Task], slots: u32, wall: f64) -> Efficiency {
    // Units per job: tests, or classes where the stage keeps a class together.
    let mut units: Vec<UnitTime> = Vec::new();
    let mut total = 0.0;
    for (j, job) in run.jobs.iter().enumerate() {
        let split = run
            .pipeline
            .stages
            .iter()
            .find(|s| s.name == job.spec.stage)
            .map_or(Split::Test, |s| s.split);
        // unit name → (seconds, longest test)
        let mut per_unit: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for r in tasks.iter().filter(|t| t.job == j).flat_map(results) {
            total += r.duration_secs;
            let name = match split {
                // Auto cuts a class that would bound the job: tests are its units.
                Split::Test | Split::Auto => r.id.as_str(),
                Split::Class => super::class_of(&r.id),
            };
            let unit = per_unit.entry(name).or_default();
            unit.0 += r.duration_secs;
            unit.1 = unit.1.max(r.duration_secs);
        }
        units.extend(per_unit.into_iter().map(|(name, (secs, longest))| UnitTime {
            job: job.spec.display_name(),
            stage: job.spec.stage.clone(),
            kind: if split == Split::Class { "class" } else { "test" }.into(),
            name: name.into(),
            secs,
            next_secs: 0.0,
            longest_test_secs: longest,
        }));
    }
    units.sort_by(|a, b| b.secs.total_cmp(&a.secs));
    let next = units.get(1).map_or(0.0, |u| u.secs);
    let longest = units.into_iter().next().map(|mut u| {
        u.next_secs = next;
        u
    });
    let per_slot = ratio(total, f64::from(slots));
    let longest_secs = longest.as_ref().map_or(0.0, |u| u.secs);
    let bound = per_slot.max(longest_secs);
    Efficiency {
        total_test_secs: total,
        slots,
        work_per_slot_secs: per_slot,
        bound_by: (bound > 0.0).then_some(if longest_secs > per_slot {
            Bound::LongestUnit
        } else {
            Bound::Work
        }),
        longest_unit: longest,
        lower_bound_secs: bound,
        wall_secs: wall,
        efficiency: ratio(bound, wall).min(1.0),
        overhead_secs: (wall - bound).max(0.0),
    }
}

/// The tests' own time in a task's outcome.
fn test_secs(o: &crate::task::TaskOutcome) -> f64 {
    o.results.iter().map(|r| r.duration_secs).sum()
}

fn results(task: &Task) -> impl Iterator<Item = &crate::task::TestResult> {
    task.outcome.iter().flat_map(|o| o.results.iter())
}

fn jobs(run: &Run, tasks: &[Task], placed: &[Placed], names: &[String]) -> Vec<JobSummary> {
    let t0 = run.accepted_ms;
    run.jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            let mine: Vec<&Placed> = placed.iter().filter(|p| p.task.job == j).collect();
            let start = mine.iter().map(|p| p.start).min().unwrap_or(t0);
            let end = mine.iter().map(|p| p.end).max().unwrap_or(t0);
            let queued: Vec<f64> = mine
                .iter()
                .filter(|p| matches!(p.task.work, Work::Shard(_)))
                .filter_map(|p| p.task.outcome.as_ref().map(|o| o.phases.queued_secs))
                .collect();
            let rs: Vec<_> = tasks.iter().filter(|t| t.job == j).flat_map(results).collect();
            let count = |f: fn(&crate::task::TestResult) -> bool| rs.iter().filter(|r| f(r)).count() as u32;
            JobSummary {
                index: j,
                name: names[j].clone(),
                stage: job.spec.stage.clone(),
                cell: job.spec.cell.clone(),
                labels: job.spec.labels.clone(),
                tests: job.tests,
                shards: job.shards,
                passed: count(|r| r.status == crate::task::TestStatus::Passed),
                failed: count(|r| r.status.is_failure()),
                skipped: count(|r| r.status == crate::task::TestStatus::Skipped),
                test_secs: rs.iter().map(|r| r.duration_secs).sum(),
                start_secs: secs_between(t0, start),
                end_secs: secs_between(t0, end),
                wall_secs: secs_between(start, end),
                queued_mean_secs: ratio(queued.iter().sum(), queued.len() as f64),
                queued_max_secs: queued.iter().copied().fold(0.0, f64::max),
            }
        })
        .collect()
}

fn slowest(run: &Run, tasks: &[Task], names: &[String]) -> Vec<TestTime> {
    let mut all: Vec<TestTime> = tasks
        .iter()
        .flat_map(|t| {
            results(t).map(move |r| TestTime {
                job_name: names.get(t.job).cloned().unwrap_or_default(),
                stage: run.jobs.get(t.job).map(|j| j.spec.stage.clone()).unwrap_or_default(),
                test: r.id.clone(),
                secs: r.duration_secs,
                status: status_name(r.status),
                task_id: t.id.clone(),
            })
        })
        .collect();
    all.sort_by(|a, b| b.secs.total_cmp(&a.secs).then_with(|| a.test.cmp(&b.test)));
    all.truncate(SLOWEST);
    all
}

pub(crate) fn status_name(status: crate::task::TestStatus) -> String {
    status.as_str().to_string()
}

fn failures(run: &Run, tasks: &[Task], names: &[String]) -> Vec<Failure> {
    let mut out = Vec::new();
    let mut sorted: Vec<&Task> = tasks.iter().filter(|t| t.outcome.is_some()).collect();
    sorted.sort_by_key(|t| (t.finished_ms, t.id.clone()));
    for t in sorted {
        let o = t.outcome.as_ref().expect("filtered");
        let base = |test: Option<String>, status: String, message: String| Failure {
            job_name: names.get(t.job).cloned().unwrap_or_default(),
            log_excerpt: excerpt(&o.log_tail, test.as_deref()),
            test,
            status,
            message,
            task_id: t.id.clone(),
            agent: t.done_by.clone().unwrap_or_default(),
            log_path: o.log_path.clone(),
            quarantined: None,
        };
        let failing: Vec<_> = o.results.iter().filter(|r| r.status.is_failure()).collect();
        for r in &failing {
            out.push(Failure {
                quarantined: quarantine::covering(&run.quarantine, &r.id).map(|e| e.test.clone()),
                ..base(Some(r.id.clone()), status_name(r.status), r.message.clone())
            });
        }
        let exited_ok = matches!(o.exit, ExitKind::Exited { code: 0 });
        match t.work {
            Work::Discover if !exited_ok => out.push(base(None, "discovery".into(), o.exit.describe())),
            Work::Discover if run.jobs.get(t.job).is_some_and(|j| j.tests == 0) => {
                out.push(base(None, "discovery".into(), "`discover` printed no test ids".into()));
            }
            Work::Shard(_) if !exited_ok && failing.is_empty() => {
                out.push(base(None, "runner".into(), o.exit.describe()));
            }
            _ => {}
        }
    }
    out.truncate(MAX_FAILURES);
    out
}

fn quarantine_rows(run: &Run, tasks: &[Task]) -> Vec<QuarantineRow> {
    let mut failed: BTreeMap<&str, u32> = BTreeMap::new();
    let shard_results = tasks
        .iter()
        .filter(|t| matches!(t.work, Work::Shard(_)))
        .filter_map(|t| t.outcome.as_ref())
        .flat_map(|o| &o.results);
    for r in shard_results.filter(|r| r.status.is_failure()) {
        if let Some(entry) = quarantine::covering(&run.quarantine, &r.id) {
            *failed.entry(entry.test.as_str()).or_default() += 1;
        }
    }
    run.quarantine
        .iter()
        .map(|e| QuarantineRow {
            test: e.test.clone(),
            reason: e.reason.clone(),
            by: e.by.clone(),
            since_ms: e.since_ms,
            since: crate::units::utc(e.since_ms),
            failed_here: failed.get(e.test.as_str()).copied().unwrap_or(0),
        })
        .collect()
}

/// The log lines about `test`: from the last line that names it, else the tail.
fn excerpt(log: &str, test: Option<&str>) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let from = test
        .and_then(|id| lines.iter().rposition(|l| l.contains(id)))
        .unwrap_or(lines.len().saturating_sub(EXCERPT_LINES));
    lines[from..lines.len().min(from + EXCERPT_LINES)].join("\n")
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
