//! Injected latency and failures, so the demo's metrics look like real traffic: a few
//! milliseconds with a long tail, and a small error rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Share of requests that take [`TAIL_FACTOR`] times longer than usual.
pub const TAIL_PROBABILITY: f64 = 0.01;
/// How much slower a tail request is than the configured latency.
pub const TAIL_FACTOR: u32 = 10;

/// What a demo server does to each request before answering it.
#[derive(Debug)]
pub struct Faults {
    /// Typical latency; each request waits between half and one and a half times this.
    pub latency: Duration,
    /// Share of requests (0.0–1.0) that fail.
    pub error_rate: f64,
    rng: Rng,
}

/// A small, lock-free pseudo-random generator (splitmix64): enough for jitter and error
/// rates, no cryptography.
#[derive(Debug)]
pub struct Rng {
    state: AtomicU64,
}

/// splitmix64's increment (the golden ratio in 64 bits).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl Faults {
    pub fn new(latency: Duration, error_rate: f64) -> Faults {
        Faults {
            latency,
            error_rate: error_rate.clamp(0.0, 1.0),
            rng: Rng::from_clock(),
        }
    }

    /// How long this request waits: `latency` × U(0.5, 1.5), and × [`TAIL_FACTOR`] for a
    /// [`TAIL_PROBABILITY`] share of requests.
    pub fn sample_delay(&self) -> Duration {
        let jitter = self.latency.mul_f64(0.5 + self.rng.next_f64());
        if self.rng.next_f64() < TAIL_PROBABILITY {
            jitter * TAIL_FACTOR
        } else {
            jitter
        }
    }

    /// Waits for [`Faults::sample_delay`].
    pub async fn delay(&self) {
        let delay = self.sample_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// Whether this request fails (true for an `error_rate` share of calls).
    pub fn should_fail(&self) -> bool {
        self.rng.next_f64() < self.error_rate
    }

    /// The generator, for other demo randomness (prices).
    pub fn rng(&self) -> &Rng {
        &self.rng
    }
}

impl Rng {
    /// Seeded from the clock and the process id: different in every demo process.
    pub fn from_clock() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::seeded(nanos ^ (u64::from(std::process::id()) << 32))
    }

    pub fn seeded(seed: u64) -> Rng {
        Rng {
            state: AtomicU64::new(seed),
        }
    }

    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_jitter_and_tail_bounds() {
        let faults = Faults::new(Duration::from_millis(10), 0.0);
        let delays: Vec<Duration> = (0..10_000).map(|_| faults.sample_delay()).collect();
        let tail = delays
            .iter()
            .filter(|d| **d > Duration::from_millis(15))
            .count();
        assert!(delays.iter().all(|d| *d >= Duration::from_millis(5)));
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(150)));
        // 1% of 10 000 = 100 expected; ±60 is far beyond 5 standard deviations (~10).
        assert!((40..=160).contains(&tail), "tail requests: {tail}");
    }

    #[test]
    fn error_rate_is_respected() {
        let never = Faults::new(Duration::ZERO, 0.0);
        assert!((0..1000).all(|_| !never.should_fail()));
        let always = Faults::new(Duration::ZERO, 1.0);
        assert!((0..1000).all(|_| always.should_fail()));
        let some = Faults::new(Duration::ZERO, 0.2);
        let failed = (0..10_000).filter(|_| some.should_fail()).count();
        // Expected 2000, standard deviation 40.
        assert!((1800..=2200).contains(&failed), "failed: {failed}");
    }

    #[test]
    fn rng_is_uniform_enough() {
        let rng = Rng::seeded(7);
        let mean = (0..10_000).map(|_| rng.next_f64()).sum::<f64>() / 10_000.0;
        assert!((0.48..0.52).contains(&mean), "mean {mean}");
    }
}
