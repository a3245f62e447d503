//! A tiny seeded random number generator (xorshift64*) for fault tests, so that a
//! failing sequence of faults can be replayed from its printed seed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct Rng(u64);

impl Rng {
    /// The seed from `FARM_IT_SEED` if set (to replay a failure), else from the clock.
    pub fn seed_from_env() -> u64 {
        match std::env::var("FARM_IT_SEED") {
            Ok(s) => s
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("FARM_IT_SEED={s:?} is not a number")),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos() as u64,
        }
    }

    pub fn new(seed: u64) -> Rng {
        // xorshift must not start at 0; mix the seed so that close seeds differ at once.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// A duration uniform in `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}
