//! A project's profile report (GetProfile).

use testfarm_shared::report::{improve, profile, Percentiles};

use super::run::{verdict, verdict_of};
use super::{ConvertError, Result};
use crate as wire;

fn percentiles(p: &Percentiles) -> wire::Percentiles {
    wire::Percentiles {
        count: p.count,
        p50: p.p50,
        p90: p.p90,
        p99: p.p99,
        max: p.max,
    }
}

fn percentiles_of(p: Option<wire::Percentiles>) -> Percentiles {
    let p = p.unwrap_or_default();
    Percentiles {
        count: p.count,
        p50: p.p50,
        p90: p.p90,
        p99: p.p99,
        max: p.max,
    }
}

fn share(s: &profile::Share) -> wire::Share {
    wire::Share {
        name: s.name.clone(),
        stage: s.stage.clone(),
        tests: s.tests,
        secs_per_run: s.secs_per_run,
        share: s.share,
    }
}

fn share_of(s: wire::Share) -> profile::Share {
    profile::Share {
        name: s.name,
        stage: s.stage,
        tests: s.tests,
        secs_per_run: s.secs_per_run,
        share: s.share,
    }
}

impl From<&improve::Improvement> for wire::Improvement {
    fn from(i: &improve::Improvement) -> Self {
        wire::Improvement {
            rank: i.rank,
            kind: i.kind.clone(),
            title: i.title.clone(),
            saves_secs: i.saves_secs,
            why: i.why.clone(),
            subject: i.subject.clone(),
            run_id: i.run_id.clone(),
        }
    }
}

impl From<wire::Improvement> for improve::Improvement {
    fn from(i: wire::Improvement) -> Self {
        improve::Improvement {
            rank: i.rank,
            kind: i.kind,
            title: i.title,
            saves_secs: i.saves_secs,
            why: i.why,
            subject: i.subject,
            run_id: i.run_id,
        }
    }
}

impl From<&profile::ProfileReport> for wire::ProfileReport {
    fn from(r: &profile::ProfileReport) -> Self {
        let o = &r.options;
        wire::ProfileReport {
            schema: r.schema.clone(),
            project: r.project.clone(),
            options: Some(wire::ProfileOptions {
                recent_runs: o.recent_runs as u32,
                stable_runs: o.stable_runs as u32,
                trend_ratio: o.trend_ratio,
                trend_min_secs: o.trend_min_secs,
                max_rows: o.max_rows as u32,
            }),
            tests: r.tests,
            runs: r
                .runs
                .iter()
                .map(|x| wire::ProfileRun {
                    run_id: x.run_id.clone(),
                    pipeline: x.pipeline.clone(),
                    verdict: verdict(x.verdict) as i32,
                    accepted_ms: x.accepted_ms,
                    wall_secs: x.wall_secs,
                    tests: x.tests,
                    failed: x.failed,
                    test_secs: x.test_secs,
                    lower_bound_secs: x.lower_bound_secs,
                    efficiency: x.efficiency,
                })
                .collect(),
            run_wall: Some(percentiles(&r.run_wall)),
            stages: r.stages.iter().map(share).collect(),
            extensions: r.extensions.iter().map(share).collect(),
            classes: r.classes.iter().map(share).collect(),
            jobs: r
                .jobs
                .iter()
                .map(|j| wire::JobWalls {
                    job: j.job.clone(),
                    stage: j.stage.clone(),
                    wall: Some(percentiles(&j.wall)),
                    test_secs_mean: j.test_secs_mean,
                })
                .collect(),
            trends: r
                .trends
                .iter()
                .map(|t| wire::Trend {
                    stage: t.stage.clone(),
                    test: t.test.clone(),
                    now_secs: t.now_secs,
                    median_secs: t.median_secs,
                    ratio: t.ratio,
                    slow_samples: t.slow_samples,
                    since_run: t.since_run.clone(),
                })
                .collect(),
            flaky: r
                .flaky
                .iter()
                .map(|f| wire::Flaky {
                    job: f.job.clone(),
                    stage: f.stage.clone(),
                    test: f.test.clone(),
                    runs: f.runs,
                    failed: f.failed,
                    failed_runs: f.failed_runs.clone(),
                })
                .collect(),
            stable: r
                .stable
                .iter()
                .map(|s| wire::Stable {
                    stage: s.stage.clone(),
                    test: s.test.clone(),
                    runs_without_failure: s.runs_without_failure,
                    ewma_secs: s.ewma_secs,
                })
                .collect(),
            stable_count: r.stable_count,
            improvements: r.improvements.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<wire::ProfileReport> for profile::ProfileReport {
    type Error = ConvertError;
    fn try_from(r: wire::ProfileReport) -> Result<Self> {
        let o = r.options.unwrap_or_default();
        let mut runs = Vec::with_capacity(r.runs.len());
        for (i, x) in r.runs.into_iter().enumerate() {
            runs.push(profile::RunRow {
                verdict: verdict_of(x.verdict, &format!("runs.{i}.verdict"))?,
                run_id: x.run_id,
                pipeline: x.pipeline,
                accepted_ms: x.accepted_ms,
                wall_secs: x.wall_secs,
                tests: x.tests,
                failed: x.failed,
                test_secs: x.test_secs,
                lower_bound_secs: x.lower_bound_secs,
                efficiency: x.efficiency,
            });
        }
        Ok(profile::ProfileReport {
            schema: r.schema,
            project: r.project,
            options: profile::ProfileOptions {
                recent_runs: o.recent_runs as usize,
                stable_runs: o.stable_runs as usize,
                trend_ratio: o.trend_ratio,
                trend_min_secs: o.trend_min_secs,
                max_rows: o.max_rows as usize,
            },
            tests: r.tests,
            runs,
            run_wall: percentiles_of(r.run_wall),
            stages: r.stages.into_iter().map(share_of).collect(),
            extensions: r.extensions.into_iter().map(share_of).collect(),
            classes: r.classes.into_iter().map(share_of).collect(),
            jobs: r
                .jobs
                .into_iter()
                .map(|j| profile::JobWalls {
                    job: j.job,
                    stage: j.stage,
                    wall: percentiles_of(j.wall),
                    test_secs_mean: j.test_secs_mean,
                })
                .collect(),
            trends: r
                .trends
                .into_iter()
                .map(|t| profile::Trend {
                    stage: t.stage,
                    test: t.test,
                    now_secs: t.now_secs,
                    median_secs: t.median_secs,
                    ratio: t.ratio,
                    slow_samples: t.slow_samples,
                    since_run: t.since_run,
                })
                .collect(),
            flaky: r
                .flaky
                .into_iter()
                .map(|f| profile::Flaky {
                    job: f.job,
                    stage: f.stage,
                    test: f.test,
                    runs: f.runs,
                    failed: f.failed,
                    failed_runs: f.failed_runs,
                })
                .collect(),
            stable: r
                .stable
                .into_iter()
                .map(|s| profile::Stable {
                    stage: s.stage,
                    test: s.test,
                    runs_without_failure: s.runs_without_failure,
                    ewma_secs: s.ewma_secs,
                })
                .collect(),
            stable_count: r.stable_count,
            improvements: r.improvements.into_iter().map(Into::into).collect(),
        })
    }
}
