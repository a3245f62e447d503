//! Capacity planning: a discrete-event simulation of the farm over recorded profiles.
//! See ../shared/DESIGN.md, "The job" (the capacity planner's question) and
//! "Scheduling" (what is simulated).
//!
//! A [`Workload`] is what one run of a pipeline asks of the farm: its jobs, each with a
//! discovery time, its tests (estimates the planner sees, durations they really take)
//! and a per-shard overhead (prepare + start + upload, cold on an agent that has not
//! prepared the job's tree yet, warm after). Workloads come from a recorded run
//! ([`replay`]) or from MediaWiki's measured test suite ([`mediawiki`]).
//!
//! [`sim::simulate`] plays runs arriving at given times through the coordinator's own
//! rules: every job is discovered on an agent, then cut by [`crate::plan::plan`] with the
//! coordinator's parameters (slots = the matching agents' slots, `min_shard`), and its
//! shards wait in one dynamic queue ordered like the coordinator's (priority class, run
//! age, shard index); agents with free slots take one task each per pass, labels
//! permitting. Feedback time is run accepted → verdict (the last task done).
//!
//! [`sizing::size`] answers "how many agents for a p90 of T at R runs an hour": Poisson
//! arrivals from a seed, one agent pool per distinct label set of the workload's jobs,
//! p50/p90/p99 per agent count, the smallest count meeting the target, and an SVG curve
//! ([`svg::curve`]). Everything is deterministic for a seed.

pub mod mediawiki;
pub mod replay;
pub mod rng;
pub mod sim;
pub mod sizing;
pub mod svg;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Split;
use crate::model::Mode;

/// What one run of a pipeline asks of the farm.
#[derive(Debug, Clone)]
pub struct Workload {
    /// A name for reports, e.g. `quickstart (run r68)`.
    pub name: String,
    /// Priority class of the runs.
    pub mode: Mode,
    /// Test inventories; jobs with the same tests (one stage across PHP versions)
    /// share one, so it is planned once per slot count.
    pub test_sets: Vec<TestSet>,
    pub jobs: Vec<JobModel>,
    pub latency: Latency,
}

/// The tests of a job in discovery order.
#[derive(Debug, Clone)]
pub struct TestSet {
    pub tests: Vec<String>,
    /// What the planner believes each test takes (seconds), parallel to `tests`.
    pub estimates: Vec<f64>,
    /// What each test really takes, parallel to `tests`; None: the estimates are exact.
    pub actual: Option<Vec<f64>>,
}

impl TestSet {
    pub fn total_secs(&self) -> f64 {
        match &self.actual {
            Some(a) => a.iter().sum(),
            None => self.estimates.iter().sum(),
        }
    }
}

/// One job (stage × matrix cell) of the run.
#[derive(Debug, Clone)]
pub struct JobModel {
    /// Display name, e.g. `unit[shell=sh]`.
    pub name: String,
    /// Labels an agent must carry.
    pub labels: BTreeMap<String, String>,
    pub split: Split,
    /// Index into [`Workload::test_sets`].
    pub tests: usize,
    /// Seconds the discovery task takes on top of the task overhead.
    pub discover_secs: f64,
    pub overhead: Overhead,
    /// The runner cost the coordinator planned the job by (balanced shards), if any.
    pub planned_with: Option<crate::plan::RunnerCost>,
}

/// Seconds a task costs beyond its tests: lease delivery, workspace preparation,
/// runner start, report upload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    /// On an agent that has not prepared this job's tree for this run yet.
    pub cold_secs: f64,
    /// On an agent that has (its workspace is warm).
    pub warm_secs: f64,
}

/// The coordinator's own reaction times.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// From a task becoming leasable (queued, a slot free) to its lease: the
    /// scheduler wakes on every apply, then proposes the lease through raft.
    pub dispatch_secs: f64,
    /// From a discovery's result to the job's shards being queued (wake, plan, propose).
    pub plan_secs: f64,
}

impl Default for Latency {
    /// Figures measured on the quickstart (`farm capacity --replay` prints them).
    fn default() -> Self {
        Latency {
            dispatch_secs: 0.002,
            plan_secs: 0.004,
        }
    }
}

/// A workload that cannot be built from its inputs.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CapacityError {
    #[error("{file}:{line}: {message}")]
    Data { file: String, line: usize, message: String },
    #[error("run record: {0}")]
    Record(String),
    #[error("{0}")]
    Params(String),
}

/// The distinct label sets of a workload's jobs, in first-seen order (the queues of
/// the simulation; [`agent_types`] makes the pools from them).
pub fn label_sets(workload: &Workload) -> Vec<BTreeMap<String, String>> {
    let mut sets: Vec<BTreeMap<String, String>> = Vec::new();
    for job in &workload.jobs {
        if !sets.contains(&job.labels) {
            sets.push(job.labels.clone());
        }
    }
    sets
}

/// The kinds of agent a workload needs, one pool each: its jobs' label sets, merged
/// where they do not conflict. An agent that can start MariaDB and PostgreSQL serves
/// jobs asking for either and jobs asking for nothing; `php=8.3` and `php=8.4` stay
/// apart. Larger sets first, so a set without labels joins the first pool.
pub fn agent_types(workload: &Workload) -> Vec<BTreeMap<String, String>> {
    merge_label_sets(label_sets(workload))
}

fn merge_label_sets(mut sets: Vec<BTreeMap<String, String>>) -> Vec<BTreeMap<String, String>> {
    sets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut types: Vec<BTreeMap<String, String>> = Vec::new();
    for set in sets {
        let fits = |t: &BTreeMap<String, String>| set.iter().all(|(k, v)| t.get(k).is_none_or(|tv| tv == v));
        match types.iter_mut().find(|t| fits(t)) {
            Some(t) => t.extend(set),
            None => types.push(set),
        }
    }
    types
}

/// `php=8.3,db=mysql`, or `(any)` for a job that needs no labels.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "(any)".into();
    }
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(",")
}

/// Nearest-rank percentile of sorted values (`q` in 0..=1); 0 for none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `9m12s`, `48.3s`: seconds for people.
pub fn human_secs(secs: f64) -> String {
    if !secs.is_finite() {
        return "∞".into();
    }
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else {
        format!("{m}m{s:02}s")
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Small hand-made workloads for the tests of the submodules.
    use super::*;

    /// One unlabelled job of `n` tests of `secs` each, split by test.
    pub fn flat(n: usize, secs: f64, overhead: f64) -> Workload {
        Workload {
            name: "flat".into(),
            mode: Mode::Gate,
            test_sets: vec![TestSet {
                tests: (0..n).map(|i| format!("t{i:04}")).collect(),
                estimates: vec![secs; n],
                actual: None,
            }],
            jobs: vec![JobModel {
                name: "unit".into(),
                labels: BTreeMap::new(),
                split: Split::Test,
                tests: 0,
                discover_secs: 1.0,
                overhead: Overhead {
                    cold_secs: overhead,
                    warm_secs: overhead,
                },
                planned_with: None,
            }],
            latency: Latency::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&v, 0.99), 10.0);
        assert_eq!(percentile(&[], 0.9), 0.0);
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_sets_that_do_not_conflict_share_a_kind_of_agent() {
        let types = merge_label_sets(vec![
            labels(&[]),
            labels(&[("service.mysql", "yes")]),
            labels(&[("service.postgres", "yes")]),
            labels(&[("php", "8.3"), ("service.mysql", "yes")]),
            labels(&[("php", "8.4")]),
        ]);
        assert_eq!(
            types,
            [
                labels(&[("php", "8.3"), ("service.mysql", "yes"), ("service.postgres", "yes")]),
                labels(&[("php", "8.4")]),
            ]
        );
    }

    #[test]
    fn human_seconds() {
        assert_eq!(human_secs(48.3), "48.3s");
        assert_eq!(human_secs(552.0), "9m12s");
        assert_eq!(human_secs(3720.0), "1h02m");
    }
}
