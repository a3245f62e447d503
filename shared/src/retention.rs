//! Bounded state: which finished runs compact to their summary. A compacted run
//! keeps its record (verdict, message, counts, jobs) and loses its tasks, results and
//! test lists, which are most of its bytes; timing profiles are kept apart and stay.

use std::time::Duration;

/// How much of the past the coordinator keeps whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The newest finished runs kept whole, whatever their age.
    pub keep_runs: usize,
    /// Finished runs younger than this are kept whole, whatever their number.
    pub keep_for: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_runs: 1000,
            keep_for: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// The most runs one compaction command names (one raft entry stays small).
pub const BATCH: usize = 200;

/// Of the finished, not yet compacted runs (id, finished at, unix ms), those to
/// compact at `now_ms`: beyond the newest `keep_runs` and older than `keep_for`,
/// oldest first, at most [`BATCH`].
pub fn to_compact(mut finished: Vec<(String, u64)>, now_ms: u64, retention: &Retention) -> Vec<String> {
    // Newest first; ties by id so that every leader picks the same.
    finished.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let cutoff = now_ms.saturating_sub(retention.keep_for.as_millis().min(u128::from(u64::MAX)) as u64);
    let mut out: Vec<String> = finished
        .into_iter()
        .skip(retention.keep_runs)
        .filter(|(_, at)| *at < cutoff)
        .map(|(id, _)| id)
        .collect();
    out.reverse();
    out.truncate(BATCH);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(n: u64) -> Vec<(String, u64)> {
        (1..=n).map(|i| (format!("r{i}"), i * 1000)).collect()
    }

    #[test]
    fn runs_past_both_the_count_and_the_age_compact_oldest_first() {
        let keep = |keep_runs, secs| Retention {
            keep_runs,
            keep_for: Duration::from_secs(secs),
        };
        // 10 runs finished at 1..10 s; now 10 s.
        assert_eq!(to_compact(runs(10), 10_000, &keep(7, 0)), ["r1", "r2", "r3"]);
        assert_eq!(
            to_compact(runs(10), 10_000, &keep(2, 5)),
            ["r1", "r2", "r3", "r4"],
            "younger than 5 s stay"
        );
        assert!(to_compact(runs(10), 10_000, &keep(10, 0)).is_empty());
        assert!(to_compact(Vec::new(), 10_000, &keep(0, 0)).is_empty());
        assert_eq!(to_compact(runs(500), 1_000_000, &keep(0, 0)).len(), BATCH);
        assert_eq!(to_compact(runs(500), 1_000_000, &keep(0, 0))[0], "r1");
    }
}
