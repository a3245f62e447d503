//! What a stage's runner costs besides its tests, and how far the planner's estimates
//! of its shards miss. Folded from every shard; read by the planner to choose how
//! many shards a job is worth (see [`crate::plan`]).

use serde::{Deserialize, Serialize};

use crate::profile::EWMA_ALPHA;

/// What a stage's runner spends outside any test (process start, bootstrap, loading
/// the suite's files, data providers, reporting): the run phase minus the tests' own
/// time. On MediaWiki's core:unit it is about 0.2 s per process plus about a fifth
/// of a millisecond per test, as much as the tests themselves for the smallest ones.
/// The planner adds the per-test part to every estimate, so that shards balance in
/// wall time and not only in test time, and weighs the fixed part against balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunnerProfile {
    /// Per shard, all of it.
    pub ewma_secs: f64,
    /// Per test: the slope of the overhead over the shard's test count.
    #[serde(default)]
    pub per_test_secs: f64,
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

/// Decayed sums for a least-squares line `overhead = fixed + per_test × tests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
struct Fit {
    w: f64,
    x: f64,
    xx: f64,
    y: f64,
    xy: f64,
}

/// Weight kept of the past at each new shard: the fit follows about the last ten.
const FIT_DECAY: f64 = 0.9;

impl Fit {
    fn add(&mut self, x: f64, y: f64) {
        for s in [&mut self.w, &mut self.x, &mut self.xx, &mut self.y, &mut self.xy] {
            *s *= FIT_DECAY;
        }
        self.w += 1.0;
        self.x += x;
        self.xx += x * x;
        self.y += y;
        self.xy += x * y;
    }

    /// (fixed, per test), both at least zero, once the test counts seen differ by
    /// enough to tell the two apart.
    fn solve(&self) -> Option<(f64, f64)> {
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

    /// Folds in one shard's overhead, in seconds, over `tests` tests.
    pub fn record(&mut self, secs: f64, tests: usize) {
        let secs = sane(secs);
        self.ewma_secs = ewma(self.ewma_secs, secs, self.samples == 0);
        self.samples += 1;
        if tests == 0 {
            return;
        }
        self.fit.add(tests as f64, secs);
        match self.fit.solve() {
            Some((fixed, per_test)) => {
                self.fixed_secs = Some(fixed);
                self.per_test_secs = per_test;
            }
            None if tests >= Self::MANY => {
                self.per_test_secs = ewma(self.per_test_secs, secs / tests as f64, self.per_test_secs == 0.0);
            }
            None => {
                self.fixed_secs = Some(ewma(self.fixed_secs.unwrap_or(secs), secs, self.fixed_secs.is_none()));
            }
        }
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
            r.record(0.2 + 0.00025 * tests as f64, tests);
        }
        let fixed = r.fixed_secs.expect("fixed part known");
        assert!((fixed - 0.2).abs() < 1e-6, "{fixed}");
        assert!((r.per_test_secs - 0.00025).abs() < 1e-9, "{}", r.per_test_secs);
        assert_eq!(r.samples, 6);
    }

    #[test]
    fn one_size_alone_falls_back_to_small_and_large_shards() {
        let mut r = RunnerProfile::default();
        r.record(3.6, 14_400);
        assert_eq!(r.per_test_secs, 0.00025);
        assert_eq!(r.fixed_secs, None, "one large shard says nothing of the fixed part");
        r.record(0.26, 1);
        assert!(r.fixed_secs.is_some());
        r.record(-1.0, 5);
        r.record(f64::NAN, 500);
        assert!(r.per_test_secs.is_finite() && r.per_test_secs >= 0.0);
        assert!(r.fixed_secs.is_some_and(|f| f.is_finite() && f >= 0.0));
        assert_eq!(r.samples, 4);
    }

    #[test]
    fn neither_part_goes_negative() {
        let mut r = RunnerProfile::default();
        // Bigger shards measured cheaper: noise, never a negative per-test cost.
        r.record(1.0, 10);
        r.record(0.5, 1000);
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
}
