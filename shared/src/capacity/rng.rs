//! A tiny seeded random source (SplitMix64): enough for Poisson arrivals and for
//! sampling durations, with the same numbers on every platform and build.

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, full period, good mixing.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform index in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) % n as u64) as usize
    }

    /// Exponentially distributed with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        -mean * (1.0 - self.next_f64()).ln()
    }
}

/// Arrival times (seconds from 0) of a Poisson process of `rate_per_hour` over
/// `hours`; at least one arrival (at 0) so that every simulation has a run to time.
pub fn poisson_arrivals(rate_per_hour: f64, hours: f64, seed: u64) -> Vec<f64> {
    let horizon = hours * 3600.0;
    let mut out = Vec::new();
    if rate_per_hour > 0.0 {
        let mean_gap = 3600.0 / rate_per_hour;
        let mut rng = SplitMix64::new(seed);
        let mut t = rng.exponential(mean_gap);
        while t < horizon {
            out.push(t);
            t += rng.exponential(mean_gap);
        }
    }
    if out.is_empty() {
        out.push(0.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let a: Vec<u64> = (0..5).scan(SplitMix64::new(7), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..5).scan(SplitMix64::new(7), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        assert_ne!(a[0], SplitMix64::new(8).next_u64());
    }

    #[test]
    fn poisson_count_is_near_rate_times_hours() {
        let n = poisson_arrivals(40.0, 100.0, 1).len() as f64;
        assert!((n - 4000.0).abs() < 4.0 * 4000f64.sqrt(), "{n} arrivals");
        let a = poisson_arrivals(40.0, 3.0, 1);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(a, poisson_arrivals(40.0, 3.0, 1));
        assert_eq!(poisson_arrivals(0.0, 3.0, 1), vec![0.0]);
    }
}
