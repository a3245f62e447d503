//! Cutting a job whose tests are all timed and whose runner's cost is measured: into
//! the number of equal shards that the cost model says ends the job first.
//!
//! Guided self-scheduling (the parent module) cuts many shards, shrinking toward the
//! tail, because it cannot trust its estimates. When it can, every extra shard is one
//! more runner start and nothing else: MediaWiki's core:unit on 2 slots, 0.2 s per
//! PHPUnit process, ran 14 shards in 9.9 s where 2 balanced ones take about 5.5. The
//! model for `n` equal shards on `k` slots, with the runner's fixed cost `o` and the
//! estimates' relative miss `r`:
//!
//! ```text
//! makespan(n) ≈ ⌈n/k⌉ · (T/n + o) + r · T/n
//! ```
//!
//! the waves of shards each slot runs, plus the miss of the last shard, which a
//! dynamic queue cannot make up for. Few shards when estimates hold; more when they
//! miss. The shards are filled longest unit first into the emptiest (LPT), so they
//! come out equal to within the smallest unit.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use super::{shard, split_big_classes, units, PlanParams, PlannedShard, Unit};
use crate::config::Split;

/// The stage's runner as measured, for [`super::plan`]. Kept with the planned job, so
/// that a replay plans it as the coordinator did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunnerCost {
    /// Seconds each shard costs whatever its size (process start, bootstrap).
    pub overhead_secs: f64,
    /// Relative miss of a shard's estimate, |actual − estimate| / estimate.
    pub spread: f64,
}

/// The count of equal shards that minimises the modelled makespan: at most one shard
/// per `min_shard` of work and `max_shards`, ties to fewer.
pub fn shard_count(total: f64, params: &PlanParams, cost: RunnerCost) -> usize {
    let slots = params.slots.max(1);
    let floor = params.min_shard.as_secs_f64();
    let by_floor = if floor > 0.0 {
        (total / floor).floor() as usize
    } else {
        usize::MAX
    };
    let most = by_floor.min(params.max_shards).clamp(1, 64 * slots);
    let overhead = cost.overhead_secs.max(0.0);
    let spread = if cost.spread.is_finite() {
        cost.spread.max(0.0)
    } else {
        1.0
    };
    let makespan = |n: usize| {
        let each = total / n as f64;
        n.div_ceil(slots) as f64 * (each + overhead) + spread * each
    };
    (1..=most)
        .min_by(|&a, &b| makespan(a).total_cmp(&makespan(b)).then(a.cmp(&b)))
        .unwrap_or(1)
}

/// Cuts `tests` into [`shard_count`] shards of equal estimated time. Tests flagged in
/// `first` (those that failed last time) go into the first shard, ahead of its
/// others, so a failure that is still there shows first without a runner start of
/// its own.
pub fn plan(
    tests: &[String],
    estimates: &[f64],
    split: Split,
    params: &PlanParams,
    cost: RunnerCost,
    first: &[bool],
) -> Vec<PlannedShard> {
    let total: f64 = estimates.iter().sum();
    if tests.is_empty() {
        return Vec::new();
    }
    let n = shard_count(total, params, cost);
    let is_first = |i: usize| first.get(i).copied().unwrap_or(false);
    // The flagged tests are units of their own, placed before the rest.
    let (flagged, rest): (Vec<usize>, Vec<usize>) = (0..tests.len()).partition(|&i| is_first(i));
    // Copied only when some tests are set apart (a job of 100k tests has no failures
    // most runs).
    let (rest_tests, rest_estimates): (Cow<[String]>, Cow<[f64]>) = if flagged.is_empty() {
        (Cow::Borrowed(tests), Cow::Borrowed(estimates))
    } else {
        (
            Cow::Owned(rest.iter().map(|&i| tests[i].clone()).collect()),
            Cow::Owned(rest.iter().map(|&i| estimates[i]).collect()),
        )
    };
    let (mut rest_units, members) = match split {
        Split::Auto => split_big_classes(
            units(&rest_tests, &rest_estimates, Split::Class),
            &rest_estimates,
            total / n as f64,
        ),
        _ => units(&rest_tests, &rest_estimates, split),
    };
    rest_units.sort_unstable_by(|a, b| b.secs.total_cmp(&a.secs).then(a.first.cmp(&b.first)));
    let members_of = |unit: &Unit| -> Vec<usize> {
        match &members {
            None => vec![rest[unit.first]],
            Some(groups) => groups[&unit.first].iter().map(|&i| rest[i]).collect(),
        }
    };

    let mut bins: Vec<(Vec<usize>, f64)> = vec![(Vec::new(), 0.0); n];
    bins[0].0.extend(&flagged);
    bins[0].1 = flagged.iter().map(|&i| estimates[i]).sum();
    // Emptiest bin first; ties to the lowest index.
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = bins
        .iter()
        .enumerate()
        .map(|(i, (_, secs))| Reverse((load_key(*secs), i)))
        .collect();
    for unit in &rest_units {
        let Some(Reverse((_, at))) = heap.pop() else { break };
        bins[at].0.extend(members_of(unit));
        bins[at].1 += unit.secs;
        heap.push(Reverse((load_key(bins[at].1), at)));
    }

    let mut shards: Vec<(bool, PlannedShard)> = bins
        .into_iter()
        .filter(|(members, _)| !members.is_empty())
        .map(|(mut members, secs)| {
            // Flagged tests lead; the rest keep discovery order, a class's tests together.
            members.sort_unstable_by_key(|&i| (!is_first(i), i));
            let leads = members.first().is_some_and(|&i| is_first(i));
            (leads, shard(tests, estimates, members, secs))
        })
        .collect();
    shards.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.estimate_secs.total_cmp(&a.1.estimate_secs)));
    shards.into_iter().map(|(_, s)| s).collect()
}

/// A bin's load as a heap key: positive finite floats order as their bits do; zero,
/// -0.0 (an empty sum) and anything not a positive number count as empty.
fn load_key(secs: f64) -> u64 {
    if secs > 0.0 && secs.is_finite() {
        secs.to_bits()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{one_big_class_and_small_ones, params};
    use super::*;

    const TIGHT: RunnerCost = RunnerCost {
        overhead_secs: 0.2,
        spread: 0.05,
    };

    #[test]
    fn trusted_estimates_and_a_costly_runner_give_one_shard_per_slot() {
        assert_eq!(shard_count(9.5, &params(2), TIGHT), 2);
        assert_eq!(shard_count(20.0, &params(4), TIGHT), 4);
    }

    #[test]
    fn estimates_that_miss_buy_more_shards() {
        let loose = RunnerCost {
            overhead_secs: 0.2,
            spread: 0.5,
        };
        let n = shard_count(100.0, &params(2), loose);
        assert!(n > 2 && n.is_multiple_of(2), "{n}");
        let free = RunnerCost {
            overhead_secs: 0.0,
            spread: 0.5,
        };
        assert!(
            shard_count(100.0, &params(2), free) > n,
            "a free runner start is worth many"
        );
    }

    #[test]
    fn small_work_is_not_cut_below_min_shard() {
        assert_eq!(shard_count(0.8, &params(4), TIGHT), 1);
        let mut p = params(4);
        p.max_shards = 3;
        assert_eq!(shard_count(1000.0, &p, TIGHT), 3);
    }

    #[test]
    fn a_big_class_is_cut_so_that_two_shards_come_out_equal() {
        // MediaWiki's core:unit in miniature: one method with 3,000 data sets of
        // 1.8 ms (5.4 s), and 300 small classes of 10 tests of 1 ms (3 s).
        let (tests, est) = one_big_class_and_small_ones(
            ("Scope::testAutoload with data set #", 3000, 0.0018),
            ("C", 300, 10, 0.001),
        );
        assert_eq!(shard_count(est.iter().sum(), &params(2), TIGHT), 2);
        let shards = plan(&tests, &est, Split::Auto, &params(2), TIGHT, &[]);
        assert_eq!(shards.len(), 2);
        let (a, b) = (shards[0].estimate_secs, shards[1].estimate_secs);
        assert!((a - b).abs() < 0.01, "{a} against {b}");
        let mut all: Vec<&String> = shards.iter().flat_map(|s| &s.tests).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), tests.len(), "every test once");
        for s in &shards {
            for c in 0..300 {
                let prefix = format!("C{c}::");
                let here = s.tests.iter().filter(|t| t.starts_with(&prefix)).count();
                assert!(here == 0 || here == 10, "class C{c} stays whole");
            }
            let positions: Vec<usize> = tests
                .iter()
                .enumerate()
                .filter(|(_, t)| s.tests.contains(t))
                .map(|(i, _)| i)
                .collect();
            let order: Vec<usize> = s
                .tests
                .iter()
                .map(|t| tests.iter().position(|x| x == t).unwrap())
                .collect();
            assert_eq!(order, positions, "discovery order within a shard");
        }
    }

    #[test]
    fn failed_tests_lead_the_first_shard() {
        let tests: Vec<String> = (0..40).map(|i| format!("t{i:02}")).collect();
        let est = vec![0.5; 40];
        let mut failed = vec![false; 40];
        failed[31] = true;
        failed[7] = true;
        let sure = RunnerCost {
            overhead_secs: 0.2,
            spread: 0.02,
        };
        let shards = plan(&tests, &est, Split::Test, &params(2), sure, &failed);
        assert_eq!(shards.len(), 2);
        assert_eq!(&shards[0].tests[..2], ["t07", "t31"]);
        assert_eq!(shards[0].tests.len() + shards[1].tests.len(), 40);
        assert!((shards[0].estimate_secs - shards[1].estimate_secs).abs() < 1e-9);
    }
}
