//! Timing profiles: what the farm has learned about each test, per (project, stage,
//! test id). Folded from every completed shard; read by the planner.
//! See ../shared/DESIGN.md, "Storage" and "Data flow of one run", step 7.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How many recent durations a profile keeps.
pub const RECENT: usize = 10;
/// Weight of the newest sample in the moving average: recent runs matter more, and a
/// single outlier moves the estimate by at most this fraction.
pub const EWMA_ALPHA: f64 = 0.5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TestProfile {
    /// Exponentially weighted moving average of the duration, seconds.
    pub ewma_secs: f64,
    /// The last [`RECENT`] durations, oldest first, seconds.
    pub recent_secs: Vec<f64>,
    /// Number of results folded in.
    pub samples: u64,
    /// Pass/fail history of the last 64 results, newest in bit 0 (1 = failed).
    pub fail_bits: u64,
    pub failures: u64,
}

impl TestProfile {
    /// Its recent record, for test selection.
    pub fn history(&self) -> crate::select::History {
        let runs = self.samples.min(64) as u32;
        let window = if runs >= 64 { u64::MAX } else { (1u64 << runs) - 1 };
        crate::select::History {
            failures: (self.fail_bits & window).count_ones(),
            runs,
            failed_last: self.fail_bits & 1 == 1,
        }
    }

    /// Folds one result in. Tests killed by a limit or timeout did not finish, so their
    /// duration says nothing about the test: callers pass `duration = None`.
    pub fn record(&mut self, duration: Option<Duration>, failed: bool) {
        if let Some(d) = duration {
            let secs = d.as_secs_f64();
            self.ewma_secs = if self.recent_secs.is_empty() {
                secs
            } else {
                EWMA_ALPHA * secs + (1.0 - EWMA_ALPHA) * self.ewma_secs
            };
            self.recent_secs.push(secs);
            if self.recent_secs.len() > RECENT {
                self.recent_secs.remove(0);
            }
        }
        self.samples += 1;
        self.fail_bits = (self.fail_bits << 1) | u64::from(failed);
        if failed {
            self.failures += 1;
        }
    }

    /// The estimate for the next run, if any duration was ever measured.
    pub fn estimate(&self) -> Option<Duration> {
        (!self.recent_secs.is_empty()).then(|| Duration::from_secs_f64(self.ewma_secs))
    }

    /// Whether the last result was a failure.
    pub fn failed_last(&self) -> bool {
        self.samples > 0 && self.fail_bits & 1 == 1
    }
}

/// Median of measured estimates, the stand-in for tests never seen before.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Estimates for a job's tests: the measured estimate (seconds) where one exists, else
/// the median of the stage's known tests, else the stage's default.
pub fn estimate_tests(tests: &[String], known: impl Fn(&str) -> Option<f64>, default: Duration) -> Vec<f64> {
    fill_estimates(tests.iter().map(|t| known(t)).collect(), default)
}

/// [`estimate_tests`] from the measured estimates, parallel to the tests.
pub fn fill_estimates(measured: Vec<Option<f64>>, default: Duration) -> Vec<f64> {
    let fallback = median(measured.iter().flatten().copied().collect()).unwrap_or(default.as_secs_f64());
    measured.into_iter().map(|m| m.unwrap_or(fallback)).collect()
}

pub use crate::runner_cost::RunnerProfile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_sets_the_estimate_then_it_moves() {
        let mut p = TestProfile::default();
        assert_eq!(p.estimate(), None);
        p.record(Some(Duration::from_secs(2)), false);
        assert_eq!(p.estimate(), Some(Duration::from_secs(2)));
        p.record(Some(Duration::from_secs(4)), false);
        assert_eq!(p.estimate(), Some(Duration::from_secs(3)));
        assert_eq!(p.samples, 2);
    }

    #[test]
    fn history_keeps_failures_and_bounds_recent() {
        let mut p = TestProfile::default();
        for i in 0..15 {
            p.record(Some(Duration::from_millis(i)), i % 5 == 0);
        }
        assert_eq!(p.recent_secs.len(), RECENT);
        assert_eq!(p.failures, 3);
        assert!(!p.failed_last());
        p.record(None, true);
        assert!(p.failed_last());
        assert_eq!(p.recent_secs.len(), RECENT);
    }

    #[test]
    fn unknown_tests_get_the_stage_median_else_the_default() {
        let tests: Vec<String> = ["a", "b", "c", "new"].iter().map(|s| s.to_string()).collect();
        let known = |t: &str| match t {
            "a" => Some(1.0),
            "b" => Some(2.0),
            "c" => Some(9.0),
            _ => None,
        };
        assert_eq!(
            estimate_tests(&tests, known, Duration::from_secs(7)),
            vec![1.0, 2.0, 9.0, 2.0]
        );
        assert_eq!(estimate_tests(&tests, |_| None, Duration::from_secs(7)), vec![7.0; 4]);
    }
}
