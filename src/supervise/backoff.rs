//! Restart delays: exponential from `initial` to `max`, back to `initial` after a run that
//! lasted `stable_after`.

use std::time::Duration;

/// Delay before the first restart of a crashed process.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between two restarts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A run at least this long counts as healthy: the next crash restarts after `initial` again.
pub const STABLE_UPTIME: Duration = Duration::from_secs(10);

/// How restarts are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub stable_after: Duration,
}

/// The restart delay of one process, doubling with each quick crash.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    quick_crashes: u32,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: INITIAL_BACKOFF,
            max: MAX_BACKOFF,
            stable_after: STABLE_UPTIME,
        }
    }
}

impl Backoff {
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff {
            policy,
            quick_crashes: 0,
        }
    }

    /// The delay before restarting a process that ran for `uptime` (zero when it could not
    /// even be started).
    pub fn next_delay(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.policy.stable_after {
            self.quick_crashes = 0;
        }
        let doublings = self.quick_crashes.min(u32::BITS - 1);
        self.quick_crashes = self.quick_crashes.saturating_add(1);
        self.policy
            .initial
            .checked_mul(1 << doublings)
            .map_or(self.policy.max, |d| d.min(self.policy.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::new(BackoffPolicy::default());
        let delays: Vec<u128> = (0..10)
            .map(|_| b.next_delay(Duration::ZERO).as_millis())
            .collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        for _ in 0..100 {
            assert_eq!(b.next_delay(Duration::ZERO), MAX_BACKOFF, "no overflow");
        }
    }

    #[test]
    fn a_stable_run_resets_the_delay() {
        let mut b = Backoff::new(BackoffPolicy::default());
        b.next_delay(Duration::ZERO);
        b.next_delay(Duration::from_secs(1));
        assert_eq!(
            b.next_delay(Duration::from_secs(9)),
            Duration::from_millis(400)
        );
        assert_eq!(b.next_delay(STABLE_UPTIME), INITIAL_BACKOFF);
        assert_eq!(b.next_delay(Duration::ZERO), Duration::from_millis(200));
    }
}
