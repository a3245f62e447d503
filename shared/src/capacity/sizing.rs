//! Sizing: how many agents each label set needs for a target p90 feedback time at an
//! arrival rate, and the curve of p50/p90 against agent count.
//!
//! One pool per distinct label set of the workload's jobs (a job runs on agents whose
//! labels satisfy its own; pools carry exactly one set). The arrivals are drawn once
//! from the seed, so every agent count sees the same runs. The search:
//!
//! 1. the same count n in every pool: doubling from 1 until p90 ≤ target, then
//!    bisection, for the smallest such n (p90 is taken as monotone in n; the tests
//!    check it on a workload with the planner in the loop);
//! 2. then each pool in turn is lowered while the p90 of the whole run still meets
//!    the target (runs finish when their slowest pool does, so pools are sized
//!    together, not alone);
//! 3. the table: every uniform count evaluated, plus a grid around n.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::rng::poisson_arrivals;
use super::sim::{simulate, PlanCache, Pool, SimConfig};
use crate::matrix::labels_match;

use super::{agent_types, labels_text, percentile, CapacityError, Workload};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingParams {
    pub rate_per_hour: f64,
    /// Hours of arrivals simulated (every run is followed to its verdict).
    pub hours: f64,
    pub seed: u64,
    pub target_secs: f64,
    /// Most agents one pool may have.
    pub agents_max: usize,
    /// Slots per agent.
    pub slots: usize,
    /// The coordinator's `--min-shard`.
    pub min_shard_secs: f64,
}

/// The feedback times at one agent count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Agents per pool, in [`SizingReport::pools`] order.
    pub agents: Vec<usize>,
    pub total_agents: usize,
    pub p50_secs: f64,
    pub p90_secs: f64,
    pub p99_secs: f64,
    pub max_secs: f64,
    /// Busy slot-seconds over all slots × the simulated span.
    pub utilization: f64,
    /// Share of busy slot time that is not test time: per-shard overhead and discovery.
    pub overhead_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingReport {
    pub workload: String,
    pub params: SizingParams,
    /// Runs simulated (arrivals).
    pub runs: usize,
    /// Label set of each pool, e.g. `db=mysql,php=8.3`.
    pub pools: Vec<String>,
    /// Jobs per run that each pool serves.
    pub jobs_per_pool: Vec<usize>,
    /// Serial test time of one run.
    pub run_test_secs: f64,
    /// The table, by total agents.
    pub points: Vec<Point>,
    /// The smallest counts per pool meeting the target; None when even `agents_max`
    /// in every pool does not.
    pub needed: Option<Point>,
}

/// Sizes the pools of `workload` for `params`.
pub fn size(workload: &Workload, params: &SizingParams) -> Result<SizingReport, CapacityError> {
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !(positive(params.rate_per_hour) && positive(params.hours) && positive(params.target_secs)) {
        return Err(CapacityError::Params(
            "rate, hours and target must be greater than zero".into(),
        ));
    }
    if params.agents_max == 0 || params.slots == 0 {
        return Err(CapacityError::Params("agents-max and slots must be at least 1".into()));
    }
    let sets = agent_types(workload);
    let arrivals = poisson_arrivals(params.rate_per_hour, params.hours, params.seed);
    let run_test_secs: f64 = workload
        .jobs
        .iter()
        .map(|j| workload.test_sets[j.tests].total_secs())
        .sum();
    let mut eval = Evaluator {
        workload,
        arrivals: &arrivals,
        run_test_secs,
        sets: &sets,
        slots: params.slots,
        cache: PlanCache::new(Duration::from_secs_f64(params.min_shard_secs.max(0.0))),
        seen: BTreeMap::new(),
    };
    let pools = sets.len();
    let meets = |p: &Point| p.p90_secs <= params.target_secs;
    let max = params.agents_max;

    // 1. The smallest uniform count.
    let mut uniform = None;
    let (mut lo, mut n) = (0, 1);
    loop {
        if meets(&eval.at(&vec![n; pools])) {
            uniform = Some(n);
            break;
        }
        if n >= max {
            break;
        }
        lo = n;
        n = (n * 2).min(max);
    }
    if let Some(mut hi) = uniform {
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if meets(&eval.at(&vec![mid; pools])) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        uniform = Some(hi);
    }

    // 2. Each pool lowered in turn.
    let needed = uniform.map(|n| {
        let mut counts = vec![n; pools];
        if pools > 1 {
            for i in 0..pools {
                let (mut lo, mut hi) = (0, counts[i]);
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2;
                    let mut trial = counts.clone();
                    trial[i] = mid;
                    if meets(&eval.at(&trial)) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                counts[i] = hi;
            }
        }
        eval.at(&counts)
    });

    // 3. The table around the answer.
    let grid: Vec<usize> = match uniform {
        Some(n) => [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0]
            .iter()
            .map(|f| (n as f64 * f).round() as usize)
            .chain([n.saturating_sub(1)])
            .collect(),
        None => (0..8)
            .map(|i| (max as f64).powf(i as f64 / 7.0).round() as usize)
            .collect(),
    };
    for n in grid {
        eval.at(&vec![n.clamp(1, max); pools]);
    }
    let mut points: Vec<Point> = eval
        .seen
        .values()
        .filter(|p| p.agents.iter().all(|&a| a == p.agents[0]))
        .cloned()
        .collect();
    points.sort_by_key(|p| p.total_agents);

    let jobs_per_pool = sets
        .iter()
        .enumerate()
        .map(|(i, _)| {
            // Each job counted once, in the first pool that can run it.
            workload
                .jobs
                .iter()
                .filter(|j| sets.iter().position(|t| labels_match(&j.labels, t)) == Some(i))
                .count()
        })
        .collect();
    Ok(SizingReport {
        workload: workload.name.clone(),
        params: params.clone(),
        runs: arrivals.len(),
        pools: sets.iter().map(labels_text).collect(),
        jobs_per_pool,
        run_test_secs,
        points,
        needed,
    })
}

struct Evaluator<'a> {
    workload: &'a Workload,
    arrivals: &'a [f64],
    run_test_secs: f64,
    sets: &'a [BTreeMap<String, String>],
    slots: usize,
    cache: PlanCache,
    seen: BTreeMap<Vec<usize>, Point>,
}

impl Evaluator<'_> {
    /// The feedback times with `counts` agents per pool (simulated once per counts).
    fn at(&mut self, counts: &[usize]) -> Point {
        if let Some(p) = self.seen.get(counts) {
            return p.clone();
        }
        let config = SimConfig {
            pools: self
                .sets
                .iter()
                .zip(counts)
                .map(|(labels, &agents)| Pool {
                    labels: labels.clone(),
                    agents,
                })
                .collect(),
            slots: self.slots,
            ready_secs: Vec::new(),
            trace: false,
        };
        let result = simulate(self.workload, self.arrivals, &config, &mut self.cache);
        let mut feedback = result.feedback;
        feedback.sort_by(f64::total_cmp);
        let total_agents: usize = counts.iter().sum();
        let capacity = (total_agents * self.slots) as f64 * result.end_secs;
        let busy: f64 = result.busy_secs.iter().sum();
        let tests = self.run_test_secs * self.arrivals.len() as f64;
        let point = Point {
            agents: counts.to_vec(),
            total_agents,
            p50_secs: percentile(&feedback, 0.5),
            p90_secs: percentile(&feedback, 0.9),
            p99_secs: percentile(&feedback, 0.99),
            max_secs: feedback.last().copied().unwrap_or(0.0),
            utilization: if capacity > 0.0 { busy / capacity } else { 0.0 },
            overhead_share: if busy > 0.0 { (1.0 - tests / busy).max(0.0) } else { 0.0 },
        };
        self.seen.insert(counts.to_vec(), point.clone());
        point
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::testing::flat;

    fn params(target_secs: f64) -> SizingParams {
        SizingParams {
            rate_per_hour: 20.0,
            hours: 2.0,
            seed: 3,
            target_secs,
            agents_max: 40,
            slots: 2,
            min_shard_secs: 2.0,
        }
    }

    /// ~20 minutes of tests of uneven length per run, 3 s per-shard overhead.
    fn workload() -> Workload {
        let mut w = flat(400, 1.0, 3.0);
        w.test_sets[0].estimates = (0..400).map(|i| 0.2 + (i * 7 % 13) as f64 * 0.45).collect();
        w
    }

    #[test]
    fn deterministic_for_a_seed() {
        let w = workload();
        let a = size(&w, &params(600.0)).unwrap();
        let b = size(&w, &params(600.0)).unwrap();
        assert_eq!(a, b);
        let mut other = params(600.0);
        other.seed = 4;
        assert_ne!(size(&w, &other).unwrap().points, a.points);
    }

    #[test]
    fn more_agents_never_worsen_p90_on_the_same_arrivals() {
        let w = workload();
        let report = size(&w, &params(300.0)).unwrap();
        let mut eval_points = Vec::new();
        let arrivals = poisson_arrivals(20.0, 2.0, 3);
        let mut cache = PlanCache::new(Duration::from_secs(2));
        for agents in 1..=16 {
            let config = SimConfig {
                pools: vec![Pool {
                    labels: BTreeMap::new(),
                    agents,
                }],
                slots: 2,
                ready_secs: Vec::new(),
                trace: false,
            };
            let mut f = simulate(&w, &arrivals, &config, &mut cache).feedback;
            f.sort_by(f64::total_cmp);
            eval_points.push(percentile(&f, 0.9));
        }
        for (n, pair) in eval_points.windows(2).enumerate() {
            assert!(
                pair[1] <= pair[0] + 1e-9,
                "p90 {} at {} agents > {} at {}",
                pair[1],
                n + 2,
                pair[0],
                n + 1
            );
        }
        for pair in report.points.windows(2) {
            assert!(pair[1].p90_secs <= pair[0].p90_secs + 1e-9, "{:?}", report.points);
        }
    }

    #[test]
    fn the_answer_is_the_smallest_count_meeting_the_target() {
        let w = workload();
        let report = size(&w, &params(300.0)).unwrap();
        let needed = report.needed.clone().expect("reachable");
        assert!(needed.p90_secs <= 300.0);
        let below = report
            .points
            .iter()
            .find(|p| p.total_agents == needed.total_agents - 1)
            .expect("the table holds the count below the answer");
        assert!(below.p90_secs > 300.0, "{below:?}");
        assert!(report.points.len() >= 5);
        assert!(needed.utilization > 0.0 && needed.utilization <= 1.0);
    }

    #[test]
    fn an_unreachable_target_says_so() {
        let mut p = params(5.0);
        p.agents_max = 4;
        let report = size(&workload(), &p).unwrap();
        assert!(report.needed.is_none());
        assert!(report.points.iter().any(|pt| pt.total_agents == 4));
    }

    #[test]
    fn pools_are_sized_per_label_set() {
        // Two label sets, one with three times the work: it needs more agents.
        let mut w = workload();
        let mut heavy = w.jobs[0].clone();
        heavy.labels.insert("php".into(), "8.4".into());
        heavy.name = "heavy".into();
        heavy.tests = 1;
        let mut set = w.test_sets[0].clone();
        set.estimates.iter_mut().for_each(|e| *e *= 3.0);
        w.test_sets.push(set);
        w.jobs[0].labels.insert("php".into(), "8.3".into());
        w.jobs.push(heavy);
        let report = size(&w, &params(400.0)).unwrap();
        assert_eq!(report.pools, vec!["php=8.3", "php=8.4"]);
        let needed = report.needed.expect("reachable");
        assert!(needed.agents[1] > needed.agents[0], "{:?}", needed.agents);
    }
}
