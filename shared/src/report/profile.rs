//! The profile report: where a project's time goes over its recent runs, what got
//! slower, what is flaky, what never fails. Built from the project's timing profiles
//! and its recent finished runs with their tasks ([`ProfileReport::build`]);
//! serialized as `/api/profiles/PROJECT`.
//!
//! - Time per stage, extension and class: mean test seconds per run over the recent
//!   runs (measured durations, so the figures agree with the runs' JUnit data).
//! - Job wall times: p50/p90/p99 (nearest rank) of each job's first-lease-to-last-
//!   report time, over the recent runs that gave a verdict.
//! - Trends: a test whose newest durations (from its profile's `recent_secs`) are all
//!   at least `trend_ratio` × the median of the durations before them, and slower by
//!   at least `trend_min_secs`; "since" is the oldest of the newest runs in which it
//!   was that slow.
//! - Flaky: there is no tree hash yet, so "the same tree" is approximated by the same
//!   pipeline, project directory and run environment: a test (per job) that both
//!   passed and failed among those recent runs is flaky.
//! - Stable: tests with no failure in their newest `stable_runs` runs (runs that did
//!   not run the test are skipped).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::improve::{self, Improvement};
use super::run::RunReport;
use super::{class_of, extension_of, Percentiles};
use crate::model::{Run, Task, Verdict};
use crate::profile::{median, TestProfile};

/// The `schema` of a profile report; bumped only on incompatible changes.
pub const PROFILE_SCHEMA: &str = "testfarm.profile-report/1";

/// One stored timing profile: `profile/PROJECT/STAGE/TEST`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEntry {
    pub stage: String,
    pub test: String,
    pub profile: TestProfile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileOptions {
    /// How many of the newest finished runs are read.
    pub recent_runs: usize,
    /// Runs without a failure that make a test "stable".
    pub stable_runs: usize,
    /// How much slower than its median a test must be to be a trend.
    pub trend_ratio: f64,
    /// …and by how many seconds at least (smaller changes are noise).
    pub trend_min_secs: f64,
    /// Rows per table (classes, stable tests).
    pub max_rows: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            recent_runs: 50,
            stable_runs: 10,
            trend_ratio: 2.0,
            trend_min_secs: 0.1,
            max_rows: 50,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileReport {
    pub schema: String,
    pub project: String,
    pub options: ProfileOptions,
    /// Tests with a timing profile.
    pub tests: u32,
    /// The recent runs read, oldest first.
    pub runs: Vec<RunRow>,
    /// Wall times of the runs with a verdict of passed or failed.
    pub run_wall: Percentiles,
    pub stages: Vec<Share>,
    pub extensions: Vec<Share>,
    /// The most expensive classes (at most `max_rows`).
    pub classes: Vec<Share>,
    pub jobs: Vec<JobWalls>,
    pub trends: Vec<Trend>,
    pub flaky: Vec<Flaky>,
    /// Tests without a failure in their newest `stable_runs` runs, most expensive
    /// first (at most `max_rows`; `stable_count` counts them all).
    pub stable: Vec<Stable>,
    pub stable_count: u32,
    pub improvements: Vec<Improvement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub run_id: String,
    pub pipeline: String,
    pub verdict: Option<Verdict>,
    pub accepted_ms: u64,
    pub wall_secs: f64,
    pub tests: u32,
    pub failed: u32,
    pub test_secs: f64,
    pub lower_bound_secs: f64,
    pub efficiency: f64,
}

/// Mean test seconds per run of one stage, extension or class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub name: String,
    /// The stage, for classes; empty otherwise.
    pub stage: String,
    /// Distinct test ids seen.
    pub tests: u32,
    pub secs_per_run: f64,
    /// Of all test seconds per run.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobWalls {
    pub job: String,
    pub stage: String,
    pub wall: Percentiles,
    pub test_secs_mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub stage: String,
    pub test: String,
    pub now_secs: f64,
    pub median_secs: f64,
    pub ratio: f64,
    /// How many of the newest profile samples are that slow.
    pub slow_samples: u32,
    /// The oldest of the newest runs in which the test was that slow.
    pub since_run: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flaky {
    pub job: String,
    pub stage: String,
    pub test: String,
    /// Runs of the same pipeline, directory and environment that ran it.
    pub runs: u32,
    pub failed: u32,
    pub failed_runs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stable {
    pub stage: String,
    pub test: String,
    pub runs_without_failure: u32,
    pub ewma_secs: f64,
}

impl ProfileReport {
    /// The report of `project`. `runs`: its finished runs with their tasks, any order
    /// (only the newest `recent_runs` are read). `slots`: known slot counts per agent,
    /// for the latest run's improvements.
    pub fn build(
        project: &str,
        profiles: &[ProfileEntry],
        runs: &[(Run, Vec<Task>)],
        slots: &BTreeMap<String, u32>,
        opts: &ProfileOptions,
    ) -> ProfileReport {
        let mut recent: Vec<&(Run, Vec<Task>)> = runs
            .iter()
            .filter(|(r, _)| r.pipeline.project == project && r.finished_ms.is_some())
            .collect();
        recent.sort_by_key(|(r, _)| (r.accepted_ms, run_seq(&r.id)));
        let skip = recent.len().saturating_sub(opts.recent_runs);
        let recent = &recent[skip..];
        let reports: Vec<RunReport> = recent.iter().map(|(r, t)| RunReport::build(r, t, slots)).collect();
        let judged: Vec<&RunReport> = reports
            .iter()
            .filter(|r| matches!(r.verdict, Some(Verdict::Passed | Verdict::Failed)))
            .collect();
        let mut report = ProfileReport {
            schema: PROFILE_SCHEMA.into(),
            project: project.into(),
            options: opts.clone(),
            tests: profiles.len() as u32,
            runs: reports.iter().map(run_row).collect(),
            run_wall: Percentiles::of(&judged.iter().map(|r| r.wall_secs).collect::<Vec<_>>()),
            stages: Vec::new(),
            extensions: Vec::new(),
            classes: Vec::new(),
            jobs: job_walls(&judged),
            trends: trends(profiles, recent, opts),
            flaky: flaky(recent),
            stable: Vec::new(),
            stable_count: 0,
            improvements: Vec::new(),
        };
        let (stages, extensions, mut classes) = shares(recent);
        classes.truncate(opts.max_rows);
        (report.stages, report.extensions, report.classes) = (stages, extensions, classes);
        let mut stable = stable(profiles, recent, opts.stable_runs);
        report.stable_count = stable.len() as u32;
        stable.truncate(opts.max_rows);
        report.stable = stable;
        report.improvements = improve::rank(reports.last(), Some(&report));
        report
    }
}

fn run_seq(id: &str) -> u64 {
    id.trim_start_matches('r').parse().unwrap_or(u64::MAX)
}

fn run_row(r: &RunReport) -> RunRow {
    RunRow {
        run_id: r.run_id.clone(),
        pipeline: r.pipeline.clone(),
        verdict: r.verdict,
        accepted_ms: r.accepted_ms,
        wall_secs: r.wall_secs,
        tests: r.counts.tests_total,
        failed: r.counts.tests_failed,
        test_secs: r.efficiency.total_test_secs,
        lower_bound_secs: r.efficiency.lower_bound_secs,
        efficiency: r.efficiency.efficiency,
    }
}

/// Each result of a run with its job's stage and display name.
fn results<'a>(
    run: &'a Run,
    tasks: &'a [Task],
) -> impl Iterator<Item = (&'a str, String, &'a crate::task::TestResult)> {
    tasks.iter().flat_map(move |t| {
        let spec = run.jobs.get(t.job).map(|j| &j.spec);
        let stage = spec.map_or("", |s| s.stage.as_str());
        let job = spec.map(|s| s.display_name()).unwrap_or_default();
        t.outcome
            .iter()
            .flat_map(|o| o.results.iter())
            .map(move |r| (stage, job.clone(), r))
    })
}

type Shares = (Vec<Share>, Vec<Share>, Vec<Share>);

fn shares(runs: &[&(Run, Vec<Task>)]) -> Shares {
    // (stage, name) → (distinct tests, total seconds)
    let mut stage: BTreeMap<(String, String), (BTreeSet<String>, f64)> = BTreeMap::new();
    let mut ext = stage.clone();
    let mut class = stage.clone();
    let mut total = 0.0;
    for (run, tasks) in runs {
        for (st, _, r) in results(run, tasks) {
            total += r.duration_secs;
            for (map, key) in [
                (&mut stage, (String::new(), st.to_string())),
                (&mut ext, (String::new(), extension_of(&r.id).to_string())),
                (&mut class, (st.to_string(), class_of(&r.id).to_string())),
            ] {
                let e = map.entry(key).or_default();
                e.0.insert(format!("{st}\u{0}{}", r.id));
                e.1 += r.duration_secs;
            }
        }
    }
    let n = runs.len().max(1) as f64;
    let rows = |map: BTreeMap<(String, String), (BTreeSet<String>, f64)>| {
        let mut v: Vec<Share> = map
            .into_iter()
            .map(|((stage, name), (tests, secs))| Share {
                name,
                stage,
                tests: tests.len() as u32,
                secs_per_run: secs / n,
                share: super::run::ratio(secs, total),
            })
            .collect();
        v.sort_by(|a, b| {
            b.secs_per_run
                .total_cmp(&a.secs_per_run)
                .then_with(|| a.name.cmp(&b.name))
        });
        v
    };
    (rows(stage), rows(ext), rows(class))
}

fn job_walls(reports: &[&RunReport]) -> Vec<JobWalls> {
    let mut by_job: BTreeMap<(String, String), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in reports {
        for j in &r.jobs {
            let e = by_job.entry((j.name.clone(), j.stage.clone())).or_default();
            e.0.push(j.wall_secs);
            e.1.push(j.test_secs);
        }
    }
    let mut out: Vec<JobWalls> = by_job
        .into_iter()
        .map(|((job, stage), (walls, secs))| JobWalls {
            job,
            stage,
            wall: Percentiles::of(&walls),
            test_secs_mean: secs.iter().sum::<f64>() / secs.len().max(1) as f64,
        })
        .collect();
    out.sort_by(|a, b| b.wall.p50.total_cmp(&a.wall.p50).then_with(|| a.job.cmp(&b.job)));
    out
}

fn trends(profiles: &[ProfileEntry], runs: &[&(Run, Vec<Task>)], opts: &ProfileOptions) -> Vec<Trend> {
    let mut out = Vec::new();
    for e in profiles {
        let samples = &e.profile.recent_secs;
        let Some(&now) = samples.last() else { continue };
        // The longest slow streak at the end that has at least two samples before it.
        let found = (2..samples.len()).find_map(|k| {
            let base = median(samples[..k].to_vec())?;
            let slow = samples[k..].iter().all(|&s| s >= opts.trend_ratio * base);
            (slow && base > 0.0 && now - base >= opts.trend_min_secs).then_some((k, base))
        });
        let Some((k, base)) = found else { continue };
        // The oldest of the newest runs in which the test was that slow.
        let mut since = None;
        for (run, tasks) in runs.iter().rev() {
            let durations: Vec<f64> = results(run, tasks)
                .filter(|(st, _, r)| *st == e.stage && r.id == e.test)
                .map(|(_, _, r)| r.duration_secs)
                .collect();
            if durations.is_empty() {
                continue;
            }
            let mean = durations.iter().sum::<f64>() / durations.len() as f64;
            if mean < opts.trend_ratio * base {
                break;
            }
            since = Some(run.id.clone());
        }
        out.push(Trend {
            stage: e.stage.clone(),
            test: e.test.clone(),
            now_secs: now,
            median_secs: base,
            ratio: now / base,
            slow_samples: (samples.len() - k) as u32,
            since_run: since,
        });
    }
    out.sort_by(|a, b| (b.now_secs - b.median_secs).total_cmp(&(a.now_secs - a.median_secs)));
    out
}

fn flaky(runs: &[&(Run, Vec<Task>)]) -> Vec<Flaky> {
    // (pipeline, project dir, env, job, stage, test) → (runs, failed runs)
    type Key = (String, String, String, String, String, String);
    let mut seen: BTreeMap<Key, (u32, Vec<String>)> = BTreeMap::new();
    for (run, tasks) in runs {
        let env = serde_json::to_string(&run.env).unwrap_or_default();
        // Per run: (job, stage, test) → failed at least once
        let mut outcome: BTreeMap<(String, String, String), bool> = BTreeMap::new();
        for (stage, job, r) in results(run, tasks) {
            if r.status == crate::task::TestStatus::Skipped {
                continue;
            }
            *outcome.entry((job, stage.into(), r.id.clone())).or_default() |= r.status.is_failure();
        }
        for ((job, stage, test), failed) in outcome {
            let key = (
                run.pipeline.name.clone(),
                run.project_dir.clone(),
                env.clone(),
                job,
                stage,
                test,
            );
            let e = seen.entry(key).or_default();
            e.0 += 1;
            if failed {
                e.1.push(run.id.clone());
            }
        }
    }
    let mut out: Vec<Flaky> = seen
        .into_iter()
        .filter(|(_, (n, failed))| !failed.is_empty() && (failed.len() as u32) < *n)
        .map(|((_, _, _, job, stage, test), (n, failed_runs))| Flaky {
            job,
            stage,
            test,
            runs: n,
            failed: failed_runs.len() as u32,
            failed_runs,
        })
        .collect();
    out.sort_by(|a, b| {
        let rate = |f: &Flaky| f64::from(f.failed) / f64::from(f.runs);
        rate(b).total_cmp(&rate(a)).then_with(|| a.test.cmp(&b.test))
    });
    out
}

fn stable(profiles: &[ProfileEntry], runs: &[&(Run, Vec<Task>)], needed: usize) -> Vec<Stable> {
    // (stage, test) → (runs without failure so far, broken by a failure)
    let mut streak: BTreeMap<(String, String), (u32, bool)> = BTreeMap::new();
    for (run, tasks) in runs.iter().rev() {
        let mut this_run: BTreeMap<(String, String), bool> = BTreeMap::new();
        for (stage, _, r) in results(run, tasks) {
            *this_run.entry((stage.into(), r.id.clone())).or_default() |= r.status.is_failure();
        }
        for (key, failed) in this_run {
            let e = streak.entry(key).or_default();
            if e.1 {
                continue;
            }
            if failed {
                e.1 = true;
            } else {
                e.0 += 1;
            }
        }
    }
    let ewma: BTreeMap<(&str, &str), f64> = profiles
        .iter()
        .map(|e| ((e.stage.as_str(), e.test.as_str()), e.profile.ewma_secs))
        .collect();
    let mut out: Vec<Stable> = streak
        .into_iter()
        .filter(|(_, (n, _))| *n as usize >= needed.max(1))
        .map(|((stage, test), (n, _))| Stable {
            ewma_secs: ewma.get(&(stage.as_str(), test.as_str())).copied().unwrap_or(0.0),
            stage,
            test,
            runs_without_failure: n,
        })
        .collect();
    out.sort_by(|a, b| b.ewma_secs.total_cmp(&a.ewma_secs).then_with(|| a.test.cmp(&b.test)));
    out
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
