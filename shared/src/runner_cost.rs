//! What a stage's runner costs besides its tests, and how far the planner's estimates
//! of its shards miss. Folded from every shard; read by the planner to choose how
//! many shards a job is worth (see [`crate::plan`]).

use serde::{Deserialize, Serialize};

use crate::profile::EWMA_ALPHA;

/// What a stage's runner spends outside any test (process start, bootstrap, loading
/// the suite's files, data providers, reporting): the run phase minus the tests' own
/// time. It has three parts: per process, per class (a test id's part before `::`:
/// its file loaded, reflected, its data providers and class hooks run) and per test.
/// On MediaWiki's core:unit, measured shard by shard alone: about 0.15 s per process,
/// 1 ms per class and 66 µs per test. A fit on tests alone read 0.2 ms per test, the
/// classes' cost spread over their tests: it charged a shard of 9,000 small tests
/// 0.9 s too much against one of ScopeStructureTest's 1,750 data sets (one class),
/// and the slots ended that far apart. The planner adds the per-test part to every
/// test and the per-class part to each class's first, so that shards balance in
/// wall time and not only in test time, and weighs the fixed part against balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunnerProfile {
    /// Per shard, all of it.
    pub ewma_secs: f64,
    /// Per test: the slope of the overhead over the shard's test count.
    #[serde(default)]
    pub per_test_secs: f64,
    /// Per class: the slope over the shard's class count, once shards whose tests per
    /// class differ have told it apart from the per-test part (else 0).
    #[serde(default)]
    pub per_class_secs: f64,
    /// Per shard whatever its size: the intercept. None until shards of different
    /// sizes (or a small one) have been seen.
    #[serde(default)]
    pub fixed_secs: Option<f64>,
    pub samples: u64,
    /// How far shards' measured test times scatter around the planner's estimates of
    /// them: the coefficient of variation of actual / estimate over shards whose
    /// tests were all timed before. A run that is slower as a whole (a busy machine)
    /// moves the mean, not this: only scatter unbalances slots. None until two such
    /// shards have been seen.
    #[serde(default)]
    pub spread: Option<f64>,
    #[serde(default)]
    ratios: Ratios,
    #[serde(default)]
    fit: Fit,
}

/// Exponentially weighted mean and variance of shards' actual / estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
struct Ratios {
    mean: f64,
    var: f64,
    samples: u64,
}

/// Weight of the newest shard in [`Ratios`].
const RATIO_ALPHA: f64 = 0.3;

/// Decayed sums for a least-squares fit `overhead = fixed + per_test × tests
/// (+ per_class × classes)`: x is the test count, z the class count, y the overhead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
struct Fit {
    w: f64,
    x: f64,
    xx: f64,
    y: f64,
    xy: f64,
    #[serde(default)]
    z: f64,
    #[serde(default)]
    zz: f64,
    #[serde(default)]
    xz: f64,
    #[serde(default)]
    yz: f64,
    /// Decayed weight of the samples that carried a class count (a store written
    /// before classes were counted has none: its sums say nothing of them).
    #[serde(default)]
    wz: f64,
}

/// What a fit tells apart: (fixed, per test, per class), none negative.
type Parts = (f64, f64, f64);

/// Weight kept of the past at each new shard: the fit follows about the last ten.
const FIT_DECAY: f64 = 0.9;

impl Fit {
    fn add(&mut self, x: f64, z: f64, y: f64) {
        for s in [
            &mut self.w,
            &mut self.x,
            &mut self.xx,
            &mut self.y,
            &mut self.xy,
            &mut self.z,
            &mut self.zz,
            &mut self.xz,
            &mut self.yz,
            &mut self.wz,
        ] {
            *s *= FIT_DECAY;
        }
        self.w += 1.0;
        self.wz += 1.0;
        self.x += x;
        self.xx += x * x;
        self.y += y;
        self.xy += x * y;
        self.z += z;
        self.zz += z * z;
        self.xz += x * z;
        self.yz += y * z;
    }

    /// All three parts when the shards seen vary in tests per class enough to tell
    /// the class's part from the test's; else the line over tests alone.
    fn solve(&self) -> Option<Parts> {
        self.solve_with_classes()
            .or_else(|| self.solve_tests().map(|(fixed, per_test)| (fixed, per_test, 0.0)))
    }

    /// (fixed, per test), both at least zero, once the test counts seen differ by
    /// enough to tell the two apart.
    fn solve_tests(&self) -> Option<(f64, f64)> {
        if self.w < 1.5 {
            return None;
        }
        let mean_x = self.x / self.w;
        let var_x = self.xx / self.w - mean_x * mean_x;
        // Counts within a few per cent of each other cannot separate the parts.
        if !(var_x > (0.05 * mean_x).powi(2) && var_x > 0.0) {
            return None;
        }
        let mean_y = self.y / self.w;
        let slope = (self.xy / self.w - mean_x * mean_y) / var_x;
        let intercept = mean_y - slope * mean_x;
        let (fixed, per_test) = if slope < 0.0 {
            (mean_y, 0.0)
        } else if intercept < 0.0 {
            (0.0, self.xy / self.xx)
        } else {
            (intercept, slope)
        };
        (fixed.is_finite() && per_test.is_finite()).then_some((fixed, per_test))
    }

    /// The three-part fit, when every sample counted classes, the counts are not
    /// (nearly) proportional, and no part comes out negative (noise, then: the
    /// two-part line is the safer reading).
    fn solve_with_classes(&self) -> Option<Parts> {
        if self.w < 2.5 || self.wz < self.w * 0.999 {
            return None;
        }
        let n = self.w;
        let (mx, mz, my) = (self.x / n, self.z / n, self.y / n);
        let sxx = self.xx / n - mx * mx;
        let szz = self.zz / n - mz * mz;
        let sxz = self.xz / n - mx * mz;
        let sxy = self.xy / n - mx * my;
        let szy = self.yz / n - mz * my;
        let det = sxx * szz - sxz * sxz;
        // Collinear counts (a class per test, or the same tests per class in every
        // shard) leave the parts inseparable: the correlation must stay below 0.99.
        if !(sxx > 0.0 && szz > 0.0 && det > 0.0199 * sxx * szz) {
            return None;
        }
        let per_test = (sxy * szz - szy * sxz) / det;
        let per_class = (szy * sxx - sxy * sxz) / det;
        let fixed = my - per_test * mx - per_class * mz;
        let parts = (fixed, per_test, per_class);
        (parts.0 >= 0.0
            && parts.1 >= 0.0
            && parts.2 >= 0.0
            && parts.0.is_finite()
            && parts.1.is_finite()
            && parts.2.is_finite())
        .then_some(parts)
    }
}

/// How many classes `ids` hold: the distinct parts before `::` (an id without one is
/// a class of its own), as the planner groups them.
pub fn class_count<'a>(ids: impl IntoIterator<Item = &'a str>) -> usize {
    ids.into_iter()
        .map(|id| id.split_once("::").map_or(id, |(class, _)| class))
        .collect::<std::collections::HashSet<_>>()
        .len()
}

fn ewma(old: f64, sample: f64, first: bool) -> f64 {
    if first {
        sample
    } else {
        EWMA_ALPHA * sample + (1.0 - EWMA_ALPHA) * old
    }
}

fn sane(secs: f64) -> f64 {
    if secs.is_finite() {
        secs.max(0.0)
    } else {
        0.0
    }
}

impl RunnerProfile {
    /// Below this many tests a shard's overhead is mostly the fixed part; from it on
    /// mostly the per-test part (used until the fit can tell them apart).
    pub const MANY: usize = 100;

    /// Folds in one shard's overhead, in seconds, over `tests` tests of `classes`
    /// classes.
    pub fn record(&mut self, secs: f64, tests: usize, classes: usize) {
        let secs = sane(secs);
        self.ewma_secs = ewma(self.ewma_secs, secs, self.samples == 0);
        self.samples += 1;
        if tests == 0 {
            return;
        }
        self.fit.add(tests as f64, classes as f64, secs);
        match self.fit.solve() {
            Some((fixed, per_test, per_class)) => {
                self.fixed_secs = Some(fixed);
                self.per_test_secs = per_test;
                self.per_class_secs = per_class;
            }
            None if tests >= Self::MANY => {
                self.per_test_secs = ewma(self.per_test_secs, secs / tests as f64, self.per_test_secs == 0.0);
            }
            None => {
                self.fixed_secs = Some(ewma(self.fixed_secs.unwrap_or(secs), secs, self.fixed_secs.is_none()));
            }
        }
    }

    /// Each test's estimate with its share of the runner's cost: `own[i]` (the test's
    /// own time) plus the per-test part, and the per-class part on the first test of
    /// each class (a class cut into several shards pays it in each; the planner cuts
    /// only classes far bigger than it).
    pub fn charge(&self, tests: &[String], own: &[f64]) -> Vec<f64> {
        let mut seen = std::collections::HashSet::new();
        tests
            .iter()
            .zip(own)
            .map(|(id, own)| {
                let class = id.split_once("::").map_or(id.as_str(), |(class, _)| class);
                let first = seen.insert(class);
                own + self.per_test_secs + if first { self.per_class_secs } else { 0.0 }
            })
            .collect()
    }

    /// Folds in how a shard's tests, estimated at `estimated` seconds in all, took
    /// `actual`.
    pub fn record_spread(&mut self, estimated: f64, actual: f64) {
        let (estimated, actual) = (sane(estimated), sane(actual));
        if estimated <= 0.0 {
            return;
        }
        let ratio = (actual / estimated).min(10.0);
        let r = &mut self.ratios;
        if r.samples == 0 {
            r.mean = ratio;
            r.var = 0.0;
        } else {
            let diff = ratio - r.mean;
            r.mean += RATIO_ALPHA * diff;
            r.var = (1.0 - RATIO_ALPHA) * (r.var + RATIO_ALPHA * diff * diff);
        }
        r.samples += 1;
        if r.samples >= 2 && r.mean > 0.0 {
            self.spread = Some(r.var.sqrt() / r.mean);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_of_different_sizes_separate_the_fixed_and_the_per_test_part() {
        let mut r = RunnerProfile::default();
        // 0.2 s per process + 0.25 ms per test, as MediaWiki's core:unit.
        for tests in [3215, 2934, 393, 117, 1732, 8139] {
            // Ten tests per class in every shard: the class's part cannot be told
            // from the test's, and the line over tests alone is the answer.
            r.record(0.2 + 0.00025 * tests as f64, tests, tests / 10);
        }
        let fixed = r.fixed_secs.expect("fixed part known");
        assert!((fixed - 0.2).abs() < 1e-6, "{fixed}");
        assert!((r.per_test_secs - 0.00025).abs() < 1e-9, "{}", r.per_test_secs);
        assert_eq!(r.per_class_secs, 0.0);
        assert_eq!(r.samples, 6);
    }

    #[test]
    fn one_size_alone_falls_back_to_small_and_large_shards() {
        let mut r = RunnerProfile::default();
        r.record(3.6, 14_400, 14_400);
        assert_eq!(r.per_test_secs, 0.00025);
        assert_eq!(r.fixed_secs, None, "one large shard says nothing of the fixed part");
        r.record(0.26, 1, 1);
        assert!(r.fixed_secs.is_some());
        r.record(-1.0, 5, 5);
        r.record(f64::NAN, 500, 500);
        assert!(r.per_test_secs.is_finite() && r.per_test_secs >= 0.0);
        assert!(r.fixed_secs.is_some_and(|f| f.is_finite() && f >= 0.0));
        assert_eq!(r.samples, 4);
    }

    #[test]
    fn neither_part_goes_negative() {
        let mut r = RunnerProfile::default();
        // Bigger shards measured cheaper: noise, never a negative per-test cost.
        r.record(1.0, 10, 10);
        r.record(0.5, 1000, 1000);
        assert_eq!(r.per_test_secs, 0.0);
        assert!(r.fixed_secs.unwrap() > 0.0);
    }

    #[test]
    fn spread_is_scatter_not_a_slower_run() {
        let mut r = RunnerProfile::default();
        r.record_spread(4.0, 4.4);
        assert_eq!(r.spread, None, "one shard tells no scatter");
        // Every shard 20% slower, run after run: the estimates scatter by nothing.
        for _ in 0..6 {
            r.record_spread(4.0, 4.8);
            r.record_spread(2.0, 2.4);
        }
        assert!(r.spread.unwrap() < 0.05, "{:?}", r.spread);
        // Shards alternately 30% over and under.
        let mut s = RunnerProfile::default();
        for _ in 0..10 {
            s.record_spread(4.0, 5.2);
            s.record_spread(4.0, 2.8);
        }
        let spread = s.spread.unwrap();
        assert!(spread > 0.2 && spread < 0.4, "{spread}");
        s.record_spread(0.0, 1.0);
        s.record_spread(1.0, f64::INFINITY);
        assert!(s.spread.unwrap().is_finite());
    }

    /// Shards of MediaWiki's core:unit as the planner cut them (tests, classes): two
    /// of ScopeStructureTest's data sets, two of small classes, and others.
    const CORE_UNIT_SHARDS: [(usize, usize); 6] =
        [(6222, 214), (1748, 30), (8947, 213), (1749, 38), (3000, 120), (500, 60)];

    fn core_unit_overhead(tests: usize, classes: usize) -> f64 {
        0.15 + 66e-6 * tests as f64 + 1e-3 * classes as f64
    }

    #[test]
    fn shards_of_different_tests_per_class_separate_all_three_parts() {
        let mut r = RunnerProfile::default();
        for (tests, classes) in CORE_UNIT_SHARDS {
            r.record(core_unit_overhead(tests, classes), tests, classes);
        }
        let fixed = r.fixed_secs.expect("fixed part known");
        assert!((fixed - 0.15).abs() < 1e-6, "{fixed}");
        assert!((r.per_test_secs - 66e-6).abs() < 1e-9, "{}", r.per_test_secs);
        assert!((r.per_class_secs - 1e-3).abs() < 1e-8, "{}", r.per_class_secs);
    }

    #[test]
    fn charged_estimates_balance_wall_time_where_a_per_test_line_would_not() {
        let mut three = RunnerProfile::default();
        let mut line = RunnerProfile::default();
        for (tests, classes) in CORE_UNIT_SHARDS {
            three.record(core_unit_overhead(tests, classes), tests, classes);
            // The same overheads, read without classes.
            line.record(core_unit_overhead(tests, classes), tests, tests);
        }
        // A shard of one class with 1,750 data sets against one of 9,000 tests in 213
        // classes: the overhead each really costs, and what each fit charges.
        let big: Vec<String> = (0..1750)
            .map(|i| format!("ScopeStructureTest::t with data set #{i}"))
            .collect();
        let small: Vec<String> = (0..9000).map(|i| format!("C{}::t{i}", i % 213)).collect();
        let mut small_sorted = small.clone();
        small_sorted.sort();
        let charged = |r: &RunnerProfile, ids: &[String]| -> f64 {
            r.charge(ids, &vec![0.0; ids.len()]).iter().sum::<f64>() + r.fixed_secs.unwrap_or(0.0)
        };
        let worst = |r: &RunnerProfile| {
            [(&big, 1), (&small_sorted, 213)]
                .iter()
                .map(|(ids, classes)| (charged(r, ids) - core_unit_overhead(ids.len(), *classes)).abs())
                .fold(0.0, f64::max)
        };
        assert!(worst(&three) < 0.001, "{}", worst(&three));
        // The per-test line misses by tens of milliseconds even on noiseless shards.
        assert!(worst(&line) > 0.05, "{}", worst(&line));
    }

    #[test]
    fn charge_adds_the_class_part_once_per_class() {
        let r = RunnerProfile {
            per_test_secs: 0.5,
            per_class_secs: 10.0,
            ..RunnerProfile::default()
        };
        let ids: Vec<String> = ["A::x", "A::y", "B::x", "plain"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(r.charge(&ids, &[1.0, 2.0, 3.0, 4.0]), vec![11.5, 2.5, 13.5, 14.5]);
        assert_eq!(class_count(ids.iter().map(String::as_str)), 3);
    }

    #[test]
    fn a_profile_stored_before_classes_were_counted_keeps_the_line_over_tests() {
        let mut old = RunnerProfile::default();
        for tests in [100, 2000, 5000] {
            old.record(0.2 + 1e-4 * tests as f64, tests, tests);
        }
        // As an older coordinator wrote it: no class sums.
        let mut json = serde_json::to_value(&old).unwrap();
        for key in ["z", "zz", "xz", "yz", "wz"] {
            json["fit"].as_object_mut().unwrap().remove(key);
        }
        json.as_object_mut().unwrap().remove("per_class_secs");
        let mut r: RunnerProfile = serde_json::from_value(json).unwrap();
        r.record(0.2 + 1e-4 * 3000.0 + 0.05, 3000, 10);
        assert_eq!(r.per_class_secs, 0.0, "three old samples carry no class count");
        assert!(r.per_test_secs > 0.0);
    }
}
