//! Figures the load and fault tests share: the wall clock in unix milliseconds (what
//! the farm's records hold) and nearest-rank quantiles.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Quantiles {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Quantiles {
    /// Nearest-rank p50 and p99 (and the max) of `all`.
    pub fn of(mut all: Vec<Duration>) -> Quantiles {
        all.sort();
        let pick = |q: f64| {
            let i = ((all.len() as f64 * q).ceil() as usize).clamp(1, all.len().max(1)) - 1;
            all.get(i).copied().unwrap_or_default()
        };
        Quantiles {
            count: all.len(),
            p50: pick(0.5),
            p99: pick(0.99),
            max: all.last().copied().unwrap_or_default(),
        }
    }
}

impl fmt::Display for Quantiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.2}s p99 {:.2}s max {:.2}s over {}",
            self.p50.as_secs_f64(),
            self.p99.as_secs_f64(),
            self.max.as_secs_f64(),
            self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let q = Quantiles::of((1..=100).map(Duration::from_millis).collect());
        assert_eq!(
            (q.count, q.p50, q.p99, q.max),
            (
                100,
                Duration::from_millis(50),
                Duration::from_millis(99),
                Duration::from_millis(100)
            )
        );
        assert_eq!(Quantiles::of(Vec::new()).count, 0);
    }
}
