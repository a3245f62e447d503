//! A run's record (GetRun) and the run summaries of Status.

use std::collections::BTreeMap;

use testfarm_shared::{config, matrix, model, plan, quarantine, select};

use super::{each, hashed, millis, required, sorted, ConvertError, Result};
use crate as wire;

// ---------------------------------------------------------------- enums

impl From<model::Mode> for wire::Mode {
    fn from(m: model::Mode) -> Self {
        match m {
            model::Mode::Gate => wire::Mode::Gate,
            model::Mode::Check => wire::Mode::Check,
            model::Mode::Select => wire::Mode::Select,
        }
    }
}

fn mode_of(value: i32) -> Result<model::Mode> {
    match wire::Mode::try_from(value) {
        Ok(wire::Mode::Gate) => Ok(model::Mode::Gate),
        Ok(wire::Mode::Check) => Ok(model::Mode::Check),
        Ok(wire::Mode::Select) => Ok(model::Mode::Select),
        _ => Err(ConvertError::unknown("mode", value)),
    }
}

/// The wire's verdict of an optional one (none: unspecified).
pub fn verdict(v: Option<model::Verdict>) -> wire::Verdict {
    match v {
        None => wire::Verdict::Unspecified,
        Some(model::Verdict::Passed) => wire::Verdict::Passed,
        Some(model::Verdict::Failed) => wire::Verdict::Failed,
        Some(model::Verdict::Error) => wire::Verdict::Error,
        Some(model::Verdict::Cancelled) => wire::Verdict::Cancelled,
    }
}

pub(crate) fn verdict_of(value: i32, field: &str) -> Result<Option<model::Verdict>> {
    Ok(match wire::Verdict::try_from(value) {
        Ok(wire::Verdict::Unspecified) => None,
        Ok(wire::Verdict::Passed) => Some(model::Verdict::Passed),
        Ok(wire::Verdict::Failed) => Some(model::Verdict::Failed),
        Ok(wire::Verdict::Error) => Some(model::Verdict::Error),
        Ok(wire::Verdict::Cancelled) => Some(model::Verdict::Cancelled),
        Err(_) => return Err(ConvertError::unknown(field, value)),
    })
}

impl From<&model::Counts> for wire::Counts {
    fn from(c: &model::Counts) -> Self {
        wire::Counts {
            tasks_total: c.tasks_total,
            tasks_done: c.tasks_done,
            tests_total: c.tests_total,
            tests_passed: c.tests_passed,
            tests_failed: c.tests_failed,
            tests_skipped: c.tests_skipped,
            tasks_lost: c.tasks_lost,
            tests_excused: c.tests_excused,
        }
    }
}

impl From<wire::Counts> for model::Counts {
    fn from(c: wire::Counts) -> Self {
        model::Counts {
            tasks_total: c.tasks_total,
            tasks_done: c.tasks_done,
            tests_total: c.tests_total,
            tests_passed: c.tests_passed,
            tests_failed: c.tests_failed,
            tests_skipped: c.tests_skipped,
            tasks_lost: c.tasks_lost,
            tests_excused: c.tests_excused,
        }
    }
}

// ---------------------------------------------------------------- the pipeline

fn names(list: &[String]) -> wire::Names {
    wire::Names { names: list.to_vec() }
}

impl From<&config::Stage> for wire::Stage {
    fn from(s: &config::Stage) -> Self {
        wire::Stage {
            name: s.name.clone(),
            discover: s.discover.clone(),
            mode: Some((&s.mode).into()),
            cells: s.cells.iter().map(|(k, v)| (k.clone(), names(v))).collect(),
            labels: hashed(&s.labels),
            env: hashed(&s.env),
            limits: Some((&s.limits).into()),
            split: match s.split {
                config::Split::Test => wire::Split::Test,
                config::Split::Class => wire::Split::Class,
                config::Split::Auto => wire::Split::Auto,
            } as i32,
            default_estimate_ms: millis(s.default_estimate),
            runtime: Some((&s.runtime).into()),
            services: s.services.clone(),
            install: s.install.clone(),
            tools: s.tools.clone(),
        }
    }
}

impl TryFrom<wire::Stage> for config::Stage {
    type Error = ConvertError;
    fn try_from(s: wire::Stage) -> Result<Self> {
        let split = match wire::Split::try_from(s.split) {
            Ok(wire::Split::Test | wire::Split::Unspecified) => config::Split::Test,
            Ok(wire::Split::Class) => config::Split::Class,
            Ok(wire::Split::Auto) => config::Split::Auto,
            Err(_) => return Err(ConvertError::unknown("split", s.split)),
        };
        Ok(config::Stage {
            mode: required(s.mode, "mode")?
                .try_into()
                .map_err(|e: ConvertError| e.within("mode"))?,
            name: s.name,
            discover: s.discover,
            cells: s.cells.into_iter().map(|(k, v)| (k, v.names)).collect(),
            labels: sorted(s.labels),
            env: sorted(s.env),
            limits: required(s.limits, "limits")?.into(),
            split,
            default_estimate: std::time::Duration::from_millis(s.default_estimate_ms),
            runtime: s
                .runtime
                .map(TryInto::try_into)
                .transpose()
                .map_err(|e: ConvertError| e.within("runtime"))?
                .unwrap_or_default(),
            services: s.services,
            install: s.install,
            tools: s.tools,
        })
    }
}

impl From<&select::Repo> for wire::Repo {
    fn from(r: &select::Repo) -> Self {
        wire::Repo {
            name: r.name.clone(),
            path: r.path.clone(),
            test_namespace: r.test_namespace.clone(),
            requires: r.requires.clone(),
            git: r.git.clone(),
            git_ref: r.git_ref.clone(),
            commit: r.commit.clone(),
        }
    }
}

impl From<wire::Repo> for select::Repo {
    fn from(r: wire::Repo) -> Self {
        select::Repo {
            name: r.name,
            path: r.path,
            test_namespace: r.test_namespace,
            requires: r.requires,
            git: r.git,
            git_ref: r.git_ref,
            commit: r.commit,
        }
    }
}

impl From<&config::Pipeline> for wire::Pipeline {
    fn from(p: &config::Pipeline) -> Self {
        wire::Pipeline {
            name: p.name.clone(),
            project: p.project.clone(),
            axes: p
                .axes
                .iter()
                .map(|(name, values)| wire::Axis {
                    name: name.clone(),
                    values: values.clone(),
                })
                .collect(),
            stages: p.stages.iter().map(Into::into).collect(),
            repos: p.repos.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<wire::Pipeline> for config::Pipeline {
    type Error = ConvertError;
    fn try_from(p: wire::Pipeline) -> Result<Self> {
        Ok(config::Pipeline {
            name: p.name,
            project: p.project,
            axes: p.axes.into_iter().map(|a| (a.name, a.values)).collect(),
            stages: each(p.stages, "stages")?,
            repos: p.repos.into_iter().map(Into::into).collect(),
        })
    }
}

// ---------------------------------------------------------------- selection

impl From<&select::Pick> for wire::StaticPick {
    fn from(p: &select::Pick) -> Self {
        wire::StaticPick {
            classes: p.classes.clone(),
            expected_recall: p.expected_recall,
            left_out_files: p.left_out_files,
        }
    }
}

impl From<wire::StaticPick> for select::Pick {
    fn from(p: wire::StaticPick) -> Self {
        select::Pick {
            classes: p.classes,
            expected_recall: p.expected_recall,
            left_out_files: p.left_out_files,
        }
    }
}

impl From<&select::LeftOut> for wire::LeftOut {
    fn from(l: &select::LeftOut) -> Self {
        wire::LeftOut {
            tests: l.tests,
            with_failures: l.with_failures,
            expected_failures: l.expected_failures,
            repos: l.repos.clone(),
            kept_by: l.kept_by.iter().map(|(r, n)| (r.as_str().to_string(), *n)).collect(),
            expected_recall: l.expected_recall,
        }
    }
}

impl TryFrom<wire::LeftOut> for select::LeftOut {
    type Error = ConvertError;
    fn try_from(l: wire::LeftOut) -> Result<Self> {
        let mut kept_by = BTreeMap::new();
        for (reason, n) in l.kept_by {
            let r = select::Reason::parse(&reason).ok_or_else(|| ConvertError {
                field: "kept_by".into(),
                problem: format!("unknown reason `{reason}`"),
            })?;
            kept_by.insert(r, n);
        }
        Ok(select::LeftOut {
            tests: l.tests,
            with_failures: l.with_failures,
            expected_failures: l.expected_failures,
            repos: l.repos,
            kept_by,
            expected_recall: l.expected_recall,
        })
    }
}

// ---------------------------------------------------------------- jobs and tasks

impl From<&model::Job> for wire::Job {
    fn from(j: &model::Job) -> Self {
        wire::Job {
            stage: j.spec.stage.clone(),
            cell: hashed(&j.spec.cell),
            labels: hashed(&j.spec.labels),
            display_name: j.spec.display_name(),
            state: match j.state {
                model::JobState::Discovering => wire::JobState::Discovering,
                model::JobState::Discovered => wire::JobState::Discovered,
                model::JobState::Planned => wire::JobState::Planned,
            } as i32,
            tests: j.tests,
            shards: j.shards,
            left_out: j.left_out.as_ref().map(Into::into),
            planned_with: j.planned_with.map(|c| wire::RunnerCost {
                overhead_secs: c.overhead_secs,
                spread: c.spread,
            }),
            only_tests: j.only_tests.as_deref().map(names),
        }
    }
}

impl TryFrom<wire::Job> for model::Job {
    type Error = ConvertError;
    fn try_from(j: wire::Job) -> Result<Self> {
        let state = match wire::JobState::try_from(j.state) {
            Ok(wire::JobState::Discovering) => model::JobState::Discovering,
            Ok(wire::JobState::Discovered) => model::JobState::Discovered,
            Ok(wire::JobState::Planned) => model::JobState::Planned,
            _ => return Err(ConvertError::unknown("state", j.state)),
        };
        Ok(model::Job {
            spec: matrix::JobSpec {
                stage: j.stage,
                cell: sorted(j.cell),
                labels: sorted(j.labels),
            },
            state,
            tests: j.tests,
            shards: j.shards,
            left_out: j
                .left_out
                .map(TryInto::try_into)
                .transpose()
                .map_err(|e: ConvertError| e.within("left_out"))?,
            planned_with: j.planned_with.map(|c| plan::RunnerCost {
                overhead_secs: c.overhead_secs,
                spread: c.spread,
            }),
            only_tests: j.only_tests.map(|n| n.names),
        })
    }
}

impl From<&model::Task> for wire::Task {
    fn from(t: &model::Task) -> Self {
        use wire::task::{State, Work};
        wire::Task {
            id: t.id.clone(),
            run_id: t.run_id.clone(),
            job: t.job as u32,
            work: Some(match &t.work {
                model::Work::Discover => Work::Discover(true),
                model::Work::Shard(s) => Work::Shard(wire::PlannedShard {
                    tests: s.tests.clone(),
                    estimates: s.estimates.clone(),
                    estimate_secs: s.estimate_secs,
                }),
            }),
            state: Some(match &t.state {
                model::TaskState::Queued => State::Queued(true),
                model::TaskState::Leased { agent, since_ms } => State::Leased(wire::Leased {
                    agent: agent.clone(),
                    since_ms: *since_ms,
                }),
                model::TaskState::Done => State::Done(true),
                model::TaskState::Cancelled => State::Cancelled(true),
            }),
            attempt: t.attempt,
            lost_on: t.lost_on.clone(),
            queued_ms: t.queued_ms,
            leased_ms: t.leased_ms,
            finished_ms: t.finished_ms,
            done_by: t.done_by.clone(),
            outcome: t.outcome.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<wire::Task> for model::Task {
    type Error = ConvertError;
    fn try_from(t: wire::Task) -> Result<Self> {
        use wire::task::{State, Work};
        Ok(model::Task {
            work: match required(t.work, "work")? {
                Work::Discover(_) => model::Work::Discover,
                Work::Shard(s) => model::Work::Shard(plan::PlannedShard {
                    tests: s.tests,
                    estimates: s.estimates,
                    estimate_secs: s.estimate_secs,
                }),
            },
            state: match required(t.state, "state")? {
                State::Queued(_) => model::TaskState::Queued,
                State::Leased(l) => model::TaskState::Leased {
                    agent: l.agent,
                    since_ms: l.since_ms,
                },
                State::Done(_) => model::TaskState::Done,
                State::Cancelled(_) => model::TaskState::Cancelled,
            },
            id: t.id,
            run_id: t.run_id,
            job: t.job as usize,
            attempt: t.attempt,
            lost_on: t.lost_on,
            queued_ms: t.queued_ms,
            leased_ms: t.leased_ms,
            finished_ms: t.finished_ms,
            done_by: t.done_by,
            outcome: t
                .outcome
                .map(TryInto::try_into)
                .transpose()
                .map_err(|e: ConvertError| e.within("outcome"))?,
        })
    }
}

// ---------------------------------------------------------------- the run

impl From<&model::Run> for wire::Run {
    fn from(r: &model::Run) -> Self {
        wire::Run {
            id: r.id.clone(),
            mode: wire::Mode::from(r.mode) as i32,
            submitter: r.submitter.clone(),
            pipeline: Some((&r.pipeline).into()),
            project_dir: r.project_dir.clone(),
            env: hashed(&r.env),
            jobs: r.jobs.iter().map(Into::into).collect(),
            max_lost: r.max_lost,
            accepted_ms: r.accepted_ms,
            finished_ms: r.finished_ms,
            verdict: verdict(r.verdict) as i32,
            message: r.message.clone(),
            counts: Some((&r.counts).into()),
            failed_tests: r.failed_tests.clone(),
            selection: Some(wire::Selection {
                changed_files: r.selection.changed_files.clone(),
                repos: r.selection.repos.clone(),
                filter: r.selection.filter.clone(),
                pick: r.selection.pick.as_ref().map(Into::into),
            }),
            patch: r.patch.clone(),
            tree: r.tree.clone(),
            submission: r.submission.clone(),
            quarantine: r
                .quarantine
                .iter()
                .map(|e| wire::QuarantinedTest {
                    project: r.pipeline.project.clone(),
                    test: e.test.clone(),
                    reason: e.reason.clone(),
                    by: e.by.clone(),
                    since_ms: e.since_ms,
                })
                .collect(),
            excused: r
                .excused
                .iter()
                .map(|e| wire::Excused {
                    name: e.name.clone(),
                    entry: e.entry.clone(),
                })
                .collect(),
            compacted: r.compacted,
        }
    }
}

impl TryFrom<wire::Run> for model::Run {
    type Error = ConvertError;
    fn try_from(r: wire::Run) -> Result<Self> {
        let selection = r.selection.unwrap_or_default();
        Ok(model::Run {
            mode: mode_of(r.mode)?,
            pipeline: required(r.pipeline, "pipeline")?
                .try_into()
                .map_err(|e: ConvertError| e.within("pipeline"))?,
            jobs: each(r.jobs, "jobs")?,
            verdict: verdict_of(r.verdict, "verdict")?,
            id: r.id,
            submitter: r.submitter,
            project_dir: r.project_dir,
            env: sorted(r.env),
            max_lost: r.max_lost,
            accepted_ms: r.accepted_ms,
            finished_ms: r.finished_ms,
            message: r.message,
            counts: r.counts.unwrap_or_default().into(),
            failed_tests: r.failed_tests,
            selection: select::Selection {
                changed_files: selection.changed_files,
                repos: selection.repos,
                filter: selection.filter,
                pick: selection.pick.map(Into::into),
            },
            patch: r.patch,
            tree: r.tree,
            submission: r.submission,
            quarantine: r
                .quarantine
                .into_iter()
                .map(|q| quarantine::Entry {
                    test: q.test,
                    reason: q.reason,
                    by: q.by,
                    since_ms: q.since_ms,
                })
                .collect(),
            excused: r
                .excused
                .into_iter()
                .map(|e| quarantine::Excused {
                    name: e.name,
                    entry: e.entry,
                })
                .collect(),
            compacted: r.compacted,
        })
    }
}

/// A run and its tasks, as GetRun sends them.
pub fn record(run: &model::Run, tasks: &[model::Task], trace_id: String) -> wire::RunRecord {
    wire::RunRecord {
        run: Some(run.into()),
        tasks: tasks.iter().map(Into::into).collect(),
        trace_id,
    }
}

/// The record of a GetRun reply.
pub fn from_record(record: wire::RunRecord) -> Result<model::RunRecord> {
    let run = required(record.run, "run")?
        .try_into()
        .map_err(|e: ConvertError| e.within("run"))?;
    Ok(model::RunRecord {
        run,
        tasks: each(record.tasks, "tasks")?,
        trace_id: record.trace_id,
    })
}

/// The summary of an active run in a Status reply.
pub fn summary(run: &model::Run) -> wire::RunSummary {
    wire::RunSummary {
        id: run.id.clone(),
        pipeline: run.pipeline.name.clone(),
        mode: wire::Mode::from(run.mode) as i32,
        counts: Some((&run.counts).into()),
        verdict: verdict(run.verdict) as i32,
    }
}
