//! Sharding: a job's tests, with estimated durations, cut into shards for a dynamic
//! queue. See ../shared/DESIGN.md, "Scheduling".
//!
//! Two ways. When the job's tests are all timed and the runner's start is measured,
//! [`balanced`]: the count of equal shards a cost model says ends the job first.
//! Otherwise guided self-scheduling by time: units (tests, or whole classes where the runner
//! cannot filter finer) are taken longest-first, and each shard is filled up to a
//! target of `remaining work / (2 × slots)`, never below `min_shard`. Early shards are
//! big and carry the long tests; the tail shrinks, so agents that finish early always
//! find small work and the run ends close to `max(total / slots, longest unit)`.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Split;

mod balanced;
pub use balanced::{shard_count, RunnerCost};

#[derive(Debug, Clone, PartialEq)]
pub struct PlanParams {
    /// Agent slots expected to work on the job (at least 1).
    pub slots: usize,
    /// Smallest shard worth its start overhead.
    pub min_shard: Duration,
    /// Upper bound on the number of shards of one job.
    pub max_shards: usize,
    /// The stage's runner, when its cost is measured and the job's tests are all
    /// timed: the job is then cut into the count of equal shards that ends it first
    /// ([`balanced`]) instead of shrinking guided self-scheduling.
    pub runner: Option<RunnerCost>,
}

impl Default for PlanParams {
    fn default() -> Self {
        PlanParams {
            slots: 1,
            min_shard: Duration::from_secs(2),
            max_shards: 500,
            runner: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedShard {
    pub tests: Vec<String>,
    /// Estimated seconds per test, parallel to `tests`.
    pub estimates: Vec<f64>,
    pub estimate_secs: f64,
}

/// A group of tests that must stay together: one test, or a whole class.
struct Unit {
    /// Index of the unit's first test; ties in duration keep discovery order.
    first: usize,
    secs: f64,
}

/// A shard is kept at least this many times the runner's fixed overhead per shard, so
/// that it stays under about a sixteenth of its slot time. (MediaWiki's core:unit on 2
/// slots, 0.26 s per process: 8× cut 11 shards and ran 10.2 s, 16× cut fewer.)
pub const RUNNER_OVERHEAD_FACTOR: f64 = 16.0;

/// The smallest shard worth cutting: the configured one, or more when the stage's
/// runner is measured to spend `overhead_secs` per shard outside any test (MediaWiki's
/// PHPUnit bootstrap: about half a second).
pub fn min_shard_for(configured: Duration, overhead_secs: Option<f64>) -> Duration {
    let floor = overhead_secs.map_or(0.0, |o| o.max(0.0) * RUNNER_OVERHEAD_FACTOR);
    configured.max(Duration::from_secs_f64(floor.min(3600.0)))
}

/// Share of a job's estimated time that must come from tests timed before for the
/// planner to trust its estimates and cut [`balanced`] shards.
pub const TRUSTED_SHARE: f64 = 0.95;
/// The estimates' relative miss assumed until one has been measured.
pub const DEFAULT_SPREAD: f64 = 0.25;

impl PlanParams {
    /// The parameters for a job of a stage whose runner is profiled as `runner`, on
    /// `slots`, with `timed_share` of its estimated time from tests timed before.
    pub fn for_stage(
        slots: usize,
        min_shard: Duration,
        runner: &crate::runner_cost::RunnerProfile,
        timed_share: f64,
    ) -> PlanParams {
        let cost = match runner.fixed_secs {
            Some(overhead_secs) if timed_share >= TRUSTED_SHARE => Some(RunnerCost {
                overhead_secs,
                spread: runner.spread.unwrap_or(DEFAULT_SPREAD),
            }),
            _ => None,
        };
        PlanParams {
            slots: slots.max(1),
            // Guided self-scheduling knows no cost model: a floor keeps its shards
            // large against the runner's start.
            min_shard: if cost.is_some() {
                min_shard
            } else {
                min_shard_for(min_shard, runner.fixed_secs)
            },
            runner: cost,
            ..PlanParams::default()
        }
    }
}

/// Cuts `tests` (with `estimates` in seconds, parallel) into shards, longest first.
pub fn plan(tests: &[String], estimates: &[f64], split: Split, params: &PlanParams) -> Vec<PlannedShard> {
    assert_eq!(tests.len(), estimates.len(), "one estimate per test");
    if let Some(cost) = params.runner {
        return balanced::plan(tests, estimates, split, params, cost, &[]);
    }
    let total: f64 = estimates.iter().sum();
    let slots = params.slots.max(1) as f64;
    let floor = params
        .min_shard
        .as_secs_f64()
        .max(total / params.max_shards.max(1) as f64);
    let target_for = |remaining: f64| (remaining / (2.0 * slots)).max(floor);
    let (mut units, members) = match split {
        Split::Auto => split_big_classes(units(tests, estimates, Split::Class), estimates, target_for(total)),
        _ => units(tests, estimates, split),
    };
    units.sort_unstable_by(|a, b| b.secs.total_cmp(&a.secs).then(a.first.cmp(&b.first)));
    let mut remaining = total;
    let mut target = target_for(remaining);
    let mut shards = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_secs = 0.0;
    for unit in &units {
        if !current.is_empty() && current_secs + unit.secs > target {
            remaining -= current_secs;
            shards.push(shard(tests, estimates, std::mem::take(&mut current), current_secs));
            current_secs = 0.0;
            target = target_for(remaining);
        }
        match &members {
            None => current.push(unit.first),
            Some(groups) => current.extend_from_slice(&groups[&unit.first]),
        }
        current_secs += unit.secs;
        if current_secs >= target {
            remaining -= current_secs;
            shards.push(shard(tests, estimates, std::mem::take(&mut current), current_secs));
            current_secs = 0.0;
            target = target_for(remaining);
        }
    }
    if !current.is_empty() {
        shards.push(shard(tests, estimates, current, current_secs));
    }
    shards
}

/// [`plan`], with the tests that failed in their last run in a shard of their own at
/// the front of the queue, so that a failure that is still there shows first. Not for
/// [`Split::Class`], whose runner cannot run a class's tests apart.
pub fn plan_failed_first(
    tests: &[String],
    estimates: &[f64],
    failed_last: &[bool],
    split: Split,
    params: &PlanParams,
) -> Vec<PlannedShard> {
    if split == Split::Class || !failed_last.iter().any(|&f| f) {
        return plan(tests, estimates, split, params);
    }
    if let Some(cost) = params.runner {
        return balanced::plan(tests, estimates, split, params, cost, failed_last);
    }
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for (i, &failed) in failed_last.iter().enumerate() {
        if failed {
            first.push(i)
        } else {
            rest.push(i)
        }
    }
    let pick = |idx: &[usize]| -> (Vec<String>, Vec<f64>) {
        (
            idx.iter().map(|&i| tests[i].clone()).collect(),
            idx.iter().map(|&i| estimates[i]).collect(),
        )
    };
    let (rest_tests, rest_estimates) = pick(&rest);
    let (first_tests, first_estimates) = pick(&first);
    let mut shards = vec![PlannedShard {
        estimate_secs: first_estimates.iter().sum(),
        tests: first_tests,
        estimates: first_estimates,
    }];
    if !rest_tests.is_empty() {
        shards.extend(plan(&rest_tests, &rest_estimates, split, params));
    }
    shards
}

/// Which of an agent's eligible queued tasks to lease, given in queue order as
/// (priority class, whether the agent has the task's workspace warm): the first one,
/// unless a warm one of the same priority class follows within `window` candidates —
/// then that one, so a tree is built on as few agents as possible without letting a
/// lower class overtake.
pub fn choose_warm(candidates: &[(u8, bool)], window: usize) -> Option<usize> {
    let (first_class, first_warm) = *candidates.first()?;
    if first_warm {
        return Some(0);
    }
    candidates
        .iter()
        .take(window)
        .position(|&(class, warm)| class == first_class && warm)
        .or(Some(0))
}

/// The units to place, and for class split the tests of each unit (by first index).
fn units(tests: &[String], estimates: &[f64], split: Split) -> (Vec<Unit>, Option<HashMap<usize, Vec<usize>>>) {
    match split {
        Split::Test => {
            let units = estimates
                .iter()
                .enumerate()
                .map(|(first, &secs)| Unit { first, secs })
                .collect();
            (units, None)
        }
        Split::Class | Split::Auto => {
            let mut by_class: HashMap<&str, usize> = HashMap::new();
            let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
            let mut units: Vec<Unit> = Vec::new();
            for (i, test) in tests.iter().enumerate() {
                let class = test.split_once("::").map_or(test.as_str(), |(c, _)| c);
                let at = *by_class.entry(class).or_insert_with(|| {
                    units.push(Unit { first: i, secs: 0.0 });
                    units.len() - 1
                });
                units[at].secs += estimates[i];
                groups.entry(units[at].first).or_default().push(i);
            }
            (units, Some(groups))
        }
    }
}

/// A class estimated above `limit` (the first shard's target) would bound the job by
/// itself: it is cut into the fewest runs of consecutive tests (in discovery order, so
/// a method's data sets stay together where they can) that are each within `limit`.
/// Each run pays the class's set-up and data providers once, so fewer, fuller pieces
/// beat one unit per test.
fn split_big_classes(
    (units, members): (Vec<Unit>, Option<HashMap<usize, Vec<usize>>>),
    estimates: &[f64],
    limit: f64,
) -> (Vec<Unit>, Option<HashMap<usize, Vec<usize>>>) {
    let mut members = members.expect("class units have members");
    let mut out = Vec::with_capacity(units.len());
    for unit in units {
        if unit.secs <= limit || members[&unit.first].len() < 2 {
            out.push(unit);
            continue;
        }
        let tests = members.remove(&unit.first).expect("members of a unit");
        let pieces = (unit.secs / limit).ceil().max(1.0);
        let piece_target = unit.secs / pieces;
        let mut piece: Vec<usize> = Vec::new();
        let mut piece_secs = 0.0;
        for i in tests {
            if !piece.is_empty() && piece_secs + estimates[i] / 2.0 > piece_target {
                out.push(Unit {
                    first: piece[0],
                    secs: piece_secs,
                });
                members.insert(piece[0], std::mem::take(&mut piece));
                piece_secs = 0.0;
            }
            piece.push(i);
            piece_secs += estimates[i];
        }
        if !piece.is_empty() {
            out.push(Unit {
                first: piece[0],
                secs: piece_secs,
            });
            members.insert(piece[0], piece);
        }
    }
    (out, Some(members))
}

fn shard(tests: &[String], estimates: &[f64], members: Vec<usize>, secs: f64) -> PlannedShard {
    PlannedShard {
        tests: members.iter().map(|&i| tests[i].clone()).collect(),
        estimates: members.iter().map(|&i| estimates[i]).collect(),
        estimate_secs: secs,
    }
}

/// Lower bound of a job's wall time on `slots` slots: max(total / slots, longest unit).
pub fn lower_bound(estimates: &[f64], slots: usize) -> f64 {
    let total: f64 = estimates.iter().sum();
    let longest = estimates.iter().copied().fold(0.0, f64::max);
    (total / slots.max(1) as f64).max(longest)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i:03}")).collect()
    }

    /// Tests `{big}{i}` (count, secs each), then classes `{small}{c}` with methods
    /// `m{m}` (classes, methods each, secs each).
    pub(super) fn one_big_class_and_small_ones(
        (big, big_tests, big_secs): (&str, usize, f64),
        (small, classes, methods, small_secs): (&str, usize, usize, f64),
    ) -> (Vec<String>, Vec<f64>) {
        let mut tests: Vec<String> = (0..big_tests).map(|i| format!("{big}{i}")).collect();
        let mut est = vec![big_secs; big_tests];
        for c in 0..classes {
            for m in 0..methods {
                tests.push(format!("{small}{c}::m{m}"));
                est.push(small_secs);
            }
        }
        (tests, est)
    }

    pub(super) fn params(slots: usize) -> PlanParams {
        PlanParams {
            slots,
            min_shard: Duration::from_millis(500),
            max_shards: 500,
            runner: None,
        }
    }

    #[test]
    fn every_test_lands_in_exactly_one_shard() {
        let tests = names(200);
        let est: Vec<f64> = (0..200).map(|i| 0.01 + (i % 17) as f64 * 0.1).collect();
        let shards = plan(&tests, &est, Split::Test, &params(4));
        let mut seen: Vec<String> = shards.iter().flat_map(|s| s.tests.clone()).collect();
        seen.sort();
        assert_eq!(seen, tests);
        let sum: f64 = shards.iter().map(|s| s.estimate_secs).sum();
        assert!((sum - est.iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn shards_shrink_toward_the_tail() {
        let tests = names(400);
        let est = vec![0.1; 400];
        let shards = plan(&tests, &est, Split::Test, &params(4));
        assert!(shards.len() >= 8, "{} shards", shards.len());
        assert!(shards.first().unwrap().estimate_secs > 2.0 * shards.last().unwrap().estimate_secs);
        for pair in shards.windows(2) {
            assert!(pair[0].estimate_secs + 1e-9 >= pair[1].estimate_secs - 0.1);
        }
    }

    #[test]
    fn the_longest_test_is_alone_and_first() {
        let tests = names(30);
        let mut est = vec![0.5; 30];
        est[17] = 20.0;
        let shards = plan(&tests, &est, Split::Test, &params(4));
        assert_eq!(shards[0].tests, vec!["t017".to_string()]);
    }

    #[test]
    fn class_split_keeps_classes_whole() {
        let tests: Vec<String> = (0..60).map(|i| format!("C{}::m{i}", i % 6)).collect();
        let est = vec![0.3; 60];
        let shards = plan(&tests, &est, Split::Class, &params(3));
        for shard in &shards {
            for class in shard.tests.iter().map(|t| t.split("::").next().unwrap()) {
                let owners = shards
                    .iter()
                    .filter(|s| s.tests.iter().any(|t| t.starts_with(&format!("{class}::"))))
                    .count();
                assert_eq!(owners, 1, "class {class} split across shards");
            }
        }
        // With test granularity the same input is cut finer than by class.
        assert!(plan(&tests, &est, Split::Test, &params(3)).len() >= shards.len());
    }

    #[test]
    fn min_shard_bounds_the_count() {
        let tests = names(1000);
        let est = vec![0.001; 1000];
        let shards = plan(&tests, &est, Split::Test, &params(100));
        assert!(
            shards.len() <= 3,
            "one second of work is not worth {} shards",
            shards.len()
        );
    }

    #[test]
    fn planning_is_deterministic() {
        let tests = names(100);
        let est: Vec<f64> = (0..100).map(|i| ((i * 37) % 11) as f64 * 0.2).collect();
        assert_eq!(
            plan(&tests, &est, Split::Test, &params(3)),
            plan(&tests, &est, Split::Test, &params(3))
        );
    }

    #[test]
    fn a_measured_runner_overhead_raises_the_smallest_shard() {
        let two = Duration::from_secs(2);
        assert_eq!(min_shard_for(two, None), two);
        assert_eq!(min_shard_for(two, Some(0.1)), two, "small overhead: the setting holds");
        assert_eq!(min_shard_for(two, Some(0.5)), Duration::from_secs(8));
        assert_eq!(min_shard_for(two, Some(f64::NAN)), two);
    }

    #[test]
    fn lower_bound_is_work_or_longest() {
        assert_eq!(lower_bound(&[1.0, 1.0, 1.0, 1.0], 2), 2.0);
        assert_eq!(lower_bound(&[10.0, 1.0], 4), 10.0);
    }

    #[test]
    fn auto_keeps_classes_together_unless_one_would_bound_the_job() {
        // Class Big: 10 × 1 s; classes S0..S9: 2 × 0.5 s each. 20 s in all, 2 slots.
        let (tests, est) = one_big_class_and_small_ones(("Big::m", 10, 1.0), ("S", 10, 2, 0.5));
        let shards = plan(&tests, &est, Split::Auto, &params(2));
        let holding = |prefix: &str| {
            shards
                .iter()
                .filter(|s| s.tests.iter().any(|t| t.starts_with(prefix)))
                .count()
        };
        assert!(holding("Big::") >= 2, "the big class is cut by method: {shards:?}");
        assert!(holding("Big::") <= 4, "into few pieces, not one per test: {shards:?}");
        for s in &shards {
            let big: Vec<usize> = s
                .tests
                .iter()
                .filter_map(|t| t.strip_prefix("Big::m"))
                .map(|m| m.parse().unwrap())
                .collect();
            assert!(
                big.windows(2).all(|w| w[1] == w[0] + 1),
                "each piece is a run of consecutive tests: {big:?}"
            );
        }
        for c in 0..10 {
            assert_eq!(holding(&format!("S{c}::")), 1, "small class S{c} stays whole");
        }
        // With Class, Big stays whole and bounds the job at 10 s.
        let whole = plan(&tests, &est, Split::Class, &params(2));
        assert_eq!(
            whole
                .iter()
                .filter(|s| s.tests.iter().any(|t| t.starts_with("Big::")))
                .count(),
            1
        );
    }

    #[test]
    fn tests_that_failed_last_time_go_first_in_a_shard_of_their_own() {
        let tests = names(20);
        let est = vec![1.0; 20];
        let mut failed = vec![false; 20];
        failed[7] = true;
        failed[13] = true;
        let shards = plan_failed_first(&tests, &est, &failed, Split::Test, &params(2));
        assert_eq!(shards[0].tests, ["t007", "t013"]);
        let rest: usize = shards[1..].iter().map(|s| s.tests.len()).sum();
        assert_eq!(rest, 18);
        assert!(!shards[1..].iter().any(|s| s.tests.contains(&"t007".to_string())));
        // A class runner keeps its classes whole: no reordering.
        assert_eq!(
            plan_failed_first(&tests, &est, &failed, Split::Class, &params(2)),
            plan(&tests, &est, Split::Class, &params(2))
        );
    }

    #[test]
    fn a_warm_task_of_the_same_class_goes_before_a_cold_one() {
        assert_eq!(choose_warm(&[], 8), None);
        assert_eq!(choose_warm(&[(0, false), (0, false), (0, true)], 8), Some(2));
        assert_eq!(
            choose_warm(&[(0, false), (1, true)], 8),
            Some(0),
            "never past its class"
        );
        assert_eq!(
            choose_warm(&[(0, false), (0, false), (0, true)], 2),
            Some(0),
            "only within the window"
        );
        assert_eq!(choose_warm(&[(0, true), (0, true)], 8), Some(0));
    }
}
