//! Prioritized improvements: each rule looks at a run report (the latest run) and/or a
//! profile report and proposes a change with the wall time it would save per run,
//! computed from the data. A rule that finds nothing yields nothing; savings under
//! [`MIN_SAVING_SECS`] are dropped. The list is ranked by time saved.
//!
//! | kind | when | saves per run |
//! |---|---|---|
//! | `split` | the longest unit (test, or class under `split: class`) bounds the run | its time − the bound without it |
//! | `capacity` | the run is bound by work / slots | that bound − the bound at the slots where the longest unit binds |
//! | `tail` | slots ran dry while the last shards ran | idle tail slot-seconds / slots, at most wall − bound |
//! | `discovery` | discovery is on the critical path | its time there (inventories cached by tree would skip it) |
//! | `prepare` | workspace preparation ≥ 10% of an agent's shard time | those agents' prepare seconds / slots |
//! | `regression` | a test got ≥ 2× slower (see the profile report's trends) | the extra seconds / slots |
//! | `flaky` | a test passed and failed on the same pipeline, directory, env | failure rate × median run wall (a spurious failure costs a rerun) |

use serde::{Deserialize, Serialize};

use super::profile::ProfileReport;
use super::run::{Bound, RunReport};
use super::{fmt_pct, fmt_secs};

/// Savings smaller than this are noise, not advice.
pub const MIN_SAVING_SECS: f64 = 0.05;
/// Prepare share of an agent's shard time that is worth a warm workspace.
pub const PREPARE_SHARE: f64 = 0.10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Improvement {
    /// 1 = saves the most.
    pub rank: u32,
    /// `split`, `capacity`, `tail`, `discovery`, `prepare`, `regression` or `flaky`.
    pub kind: String,
    /// What to do and the finding, in one line.
    pub title: String,
    /// Wall time it would save per run, seconds.
    pub saves_secs: f64,
    /// How the figure was computed, from which data.
    pub why: String,
    /// The test, class, job or agents it is about.
    pub subject: String,
    /// The run the finding comes from, if one.
    pub run_id: Option<String>,
}

/// Every rule over `run` (the latest run) and `profile`, ranked by time saved.
pub fn rank(run: Option<&RunReport>, profile: Option<&ProfileReport>) -> Vec<Improvement> {
    let mut out = Vec::new();
    if let Some(r) = run {
        out.extend(split(r));
        out.extend(capacity(r));
        out.extend(tail(r));
        out.extend(runner(r));
        out.extend(discovery(r));
        out.extend(prepare(r));
    }
    if let Some(p) = profile {
        let slots = run.map_or(1, |r| r.efficiency.slots.max(1));
        out.extend(regressions(p, slots));
        out.extend(flaky(p));
    }
    out.retain(|i| i.saves_secs >= MIN_SAVING_SECS);
    out.sort_by(|a, b| {
        b.saves_secs
            .total_cmp(&a.saves_secs)
            .then_with(|| a.title.cmp(&b.title))
    });
    for (n, i) in out.iter_mut().enumerate() {
        i.rank = n as u32 + 1;
    }
    out
}

fn item(kind: &str, title: String, saves: f64, why: String, subject: &str, run: Option<&str>) -> Improvement {
    Improvement {
        rank: 0,
        kind: kind.into(),
        title,
        saves_secs: saves,
        why,
        subject: subject.into(),
        run_id: run.map(str::to_string),
    }
}

fn split(r: &RunReport) -> Option<Improvement> {
    let e = &r.efficiency;
    let unit = e.longest_unit.as_ref()?;
    if e.bound_by != Some(Bound::LongestUnit) {
        return None;
    }
    // Split, the unit's parts can run side by side: the bound becomes the work per
    // slot, the next unit, or (for a class) its longest test.
    let part = if unit.kind == "class" {
        unit.longest_test_secs
    } else {
        0.0
    };
    let after = e.work_per_slot_secs.max(unit.next_secs).max(part);
    Some(item(
        "split",
        format!(
            "split {} {} ({}) — it alone bounds the run at {}",
            unit.kind,
            unit.name,
            unit.job,
            fmt_secs(unit.secs)
        ),
        unit.secs - after,
        format!(
            "{} of tests over {} slots is {} per slot, but this {} runs {} on one slot; split, the bound \
             becomes {} (next longest unit {}{})",
            fmt_secs(e.total_test_secs),
            e.slots,
            fmt_secs(e.work_per_slot_secs),
            unit.kind,
            fmt_secs(unit.secs),
            fmt_secs(after),
            fmt_secs(unit.next_secs),
            if unit.kind == "class" {
                format!(", longest test in the class {}", fmt_secs(part))
            } else {
                String::new()
            }
        ),
        &unit.name,
        Some(&r.run_id),
    ))
}

/// The runner's own overhead: time in the run phase outside any test, paid by every
/// shard. A worker per slot that starts and bootstraps once pays it once per slot.
/// Shards that ran in PHPUnit workers already do: what is left of their overhead is
/// loading their own test files and data providers and PHPUnit's work per test, which
/// one serial run pays as well, so nothing is promised for them.
fn runner(r: &RunReport) -> Option<Improvement> {
    let shards = &r.phases.shards;
    let slots = f64::from(r.efficiency.slots.max(1));
    if shards.tasks == 0 || shards.runner_secs <= 0.0 || shards.worker_tasks >= shards.tasks {
        return None;
    }
    let per_shard = shards.runner_secs / f64::from(shards.tasks);
    // What is left when each slot pays it once, spread over the slots.
    let saves = ((shards.runner_secs - per_shard * slots.min(f64::from(shards.tasks))) / slots).max(0.0);
    Some(item(
        "runner",
        format!(
            "cut the runner's own overhead — {} of the shards' {} on slots ran outside any test ({} per shard)",
            fmt_secs(shards.runner_secs),
            fmt_secs(shards.slot_secs),
            fmt_secs(per_shard)
        ),
        saves,
        format!(
            "over {} shards the run phase took {} and the tests themselves {}: the rest is the runner starting, \
             bootstrapping, loading its suite and reporting, once per shard; a worker per slot that does it once \
             (as paratest keeps its workers), or fewer, larger shards, would pay it {} times instead of {}",
            shards.tasks,
            fmt_secs(shards.run_secs),
            fmt_secs(shards.test_secs),
            slots,
            shards.tasks
        ),
        "runner",
        Some(&r.run_id),
    ))
}

fn capacity(r: &RunReport) -> Option<Improvement> {
    let e = &r.efficiency;
    let longest = e.longest_unit.as_ref()?.secs;
    if e.bound_by != Some(Bound::Work) || longest <= 0.0 || e.slots == 0 {
        return None;
    }
    let needed = (e.total_test_secs / longest).ceil() as u32;
    if needed <= e.slots {
        return None;
    }
    let after = (e.total_test_secs / f64::from(needed)).max(longest);
    // The job that waited longest for a slot, and the labels its agents need.
    let waiting = r
        .jobs
        .iter()
        .max_by(|a, b| a.queued_max_secs.total_cmp(&b.queued_max_secs));
    let (subject, wait) = match waiting {
        Some(j) if j.queued_max_secs > 0.0 => {
            let labels: Vec<String> = j.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let with = if labels.is_empty() {
                String::new()
            } else {
                format!(" with labels {}", labels.join(","))
            };
            (
                j.name.clone(),
                format!(
                    "; shards of {} waited up to {} (mean {}) for an agent slot{with}",
                    j.name,
                    fmt_secs(j.queued_max_secs),
                    fmt_secs(j.queued_mean_secs)
                ),
            )
        }
        _ => (String::new(), String::new()),
    };
    Some(item(
        "capacity",
        format!(
            "add capacity: {} more slot{} — the run is bound by its work, {} over {} slots{}",
            needed - e.slots,
            if needed - e.slots == 1 { "" } else { "s" },
            fmt_secs(e.total_test_secs),
            e.slots,
            if subject.is_empty() {
                String::new()
            } else {
                format!("; {subject} waits for slots")
            }
        ),
        e.lower_bound_secs - after,
        format!(
            "lower bound now {} (work / slots); at {needed} slots it is {} (the longest unit, {}){wait}",
            fmt_secs(e.lower_bound_secs),
            fmt_secs(after),
            fmt_secs(longest),
        ),
        &subject,
        Some(&r.run_id),
    ))
}

fn tail(r: &RunReport) -> Option<Improvement> {
    let busy: Vec<(&super::run::Lane, f64)> = r
        .lanes
        .iter()
        .filter_map(|l| l.tasks.iter().map(|t| t.end_secs).reduce(f64::max).map(|end| (l, end)))
        .collect();
    let work_end = busy.iter().map(|(_, end)| *end).fold(0.0, f64::max);
    let idle: f64 = busy.iter().map(|(_, end)| work_end - end).sum();
    if busy.len() < 2 || idle <= 0.0 {
        return None;
    }
    let last = r.lane_tasks().max_by(|a, b| a.1.end_secs.total_cmp(&b.1.end_secs))?.1;
    let saves = (idle / busy.len() as f64).min(r.efficiency.overhead_secs);
    let dry: Vec<String> = busy
        .iter()
        .filter(|(_, end)| work_end - end > 0.0)
        .map(|(l, end)| format!("{}/{} at {}", l.agent, l.slot, fmt_secs(*end)))
        .collect();
    Some(item(
        "tail",
        format!(
            "balance the tail — slots sat idle {} while the last shards ran ({} of {} ended last, at {})",
            fmt_secs(idle),
            last.task_id,
            last.job_name,
            fmt_secs(last.end_secs)
        ),
        saves,
        format!(
            "lanes ran out of work before the end ({}); spread evenly over {} busy slots that is {} \
             (capped at the run's distance from its lower bound, {}); smaller final shards \
             (--min-shard) and starting the longest shards first across jobs spread it",
            dry.join(", "),
            busy.len(),
            fmt_secs(idle / busy.len() as f64),
            fmt_secs(r.efficiency.overhead_secs)
        ),
        &last.task_id,
        Some(&r.run_id),
    ))
}

fn discovery(r: &RunReport) -> Option<Improvement> {
    let on_path: Vec<_> = r
        .critical_path
        .segments
        .iter()
        .filter(|s| s.kind == "discover")
        .collect();
    let secs: f64 = on_path.iter().map(|s| s.secs).sum();
    let job = on_path.first()?.job_name.clone().unwrap_or_default();
    Some(item(
        "discovery",
        format!(
            "cache test inventories — discovery of {job} is on the critical path for {}",
            fmt_secs(secs)
        ),
        secs,
        "no shard of a job starts before its discovery ends; with inventories cached by tree \
         (DESIGN.md, step 3) an unchanged tree skips it"
            .into(),
        &job,
        Some(&r.run_id),
    ))
}

fn prepare(r: &RunReport) -> Option<Improvement> {
    let heavy: Vec<_> = r
        .agents
        .iter()
        .filter(|a| a.prepare_share >= PREPARE_SHARE && a.shard_phases.prepare_secs > 0.0)
        .collect();
    if heavy.is_empty() {
        return None;
    }
    let prep: f64 = heavy.iter().map(|a| a.shard_phases.prepare_secs).sum();
    let slot: f64 = heavy.iter().map(|a| a.shard_phases.slot_secs).sum();
    let names: Vec<&str> = heavy.iter().map(|a| a.agent.as_str()).collect();
    Some(item(
        "prepare",
        format!(
            "workspace preparation is {} of shard time on agents {}",
            fmt_pct(super::run::ratio(prep, slot)),
            names.join(" and ")
        ),
        prep / f64::from(r.efficiency.slots.max(1)),
        format!(
            "{} of preparation in {} of shard time; warm workspaces (shards of a job on agents that \
             prepared its tree) give it back, spread over {} slots",
            fmt_secs(prep),
            fmt_secs(slot),
            r.efficiency.slots
        ),
        &names.join(","),
        Some(&r.run_id),
    ))
}

fn regressions(p: &ProfileReport, slots: u32) -> Vec<Improvement> {
    p.trends
        .iter()
        .map(|t| {
            let extra = t.now_secs - t.median_secs;
            let since = t
                .since_run
                .as_deref()
                .map(|r| format!(" since run {r}"))
                .unwrap_or_default();
            item(
                "regression",
                format!(
                    "test {} ({}) is {:.1}× slower{since} ({} → {})",
                    t.test,
                    t.stage,
                    t.ratio,
                    fmt_secs(t.median_secs),
                    fmt_secs(t.now_secs)
                ),
                extra / f64::from(slots),
                format!(
                    "its last {} timings are ≥ {:.1}× the median before them; the extra {} per run, over {} slots",
                    t.slow_samples,
                    p.options.trend_ratio,
                    fmt_secs(extra),
                    slots
                ),
                &t.test,
                t.since_run.as_deref(),
            )
        })
        .collect()
}

fn flaky(p: &ProfileReport) -> Vec<Improvement> {
    let wall = p.run_wall.p50;
    p.flaky
        .iter()
        .map(|f| {
            let rate = f64::from(f.failed) / f64::from(f.runs.max(1));
            item(
                "flaky",
                format!(
                    "flaky test {} ({}) failed {} of {} runs",
                    f.test, f.job, f.failed, f.runs
                ),
                rate * wall,
                format!(
                    "it passed and failed on the same pipeline, directory and environment (failed in {}); \
                     each spurious failure costs a rerun of the run (p50 wall {}): {} × {}",
                    f.failed_runs.join(", "),
                    fmt_secs(wall),
                    fmt_pct(rate),
                    fmt_secs(wall)
                ),
                &f.test,
                f.failed_runs.last().map(String::as_str),
            )
        })
        .collect()
}

#[cfg(test)]
#[path = "improve_tests.rs"]
mod tests;
