//! Circuit breaking per endpoint: after N consecutive failures the endpoint is ejected for a
//! penalty (1 s, doubling up to 60 s, jittered); then one probe request decides — success
//! closes the circuit, failure ejects it again for twice as long.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::policy::traffic::DEFAULT_FAILURES;
/// The first ejection's penalty.
pub const FIRST_PENALTY: Duration = Duration::from_secs(1);
/// The longest penalty, however often the endpoint fails its probe.
pub const MAX_PENALTY: Duration = Duration::from_secs(60);
/// A probe whose outcome never came back (its caller gave up) stops blocking a new probe after
/// this long.
pub const PROBE_GRACE: Duration = Duration::from_secs(10);

/// One endpoint's circuit.
#[derive(Debug, Default)]
pub struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Taking traffic; `failures` in a row so far.
    Closed { failures: u32 },
    /// Ejected until `until`; `penalty` is what it served.
    Open { until: Instant, penalty: Duration },
    /// One probe is in flight since `since`.
    Probing { since: Instant, penalty: Duration },
}

impl Default for State {
    fn default() -> Self {
        State::Closed { failures: 0 }
    }
}

/// An endpoint's circuit as the admin `/config` shows it.
#[derive(Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CircuitView {
    /// Taking traffic; `failures` in a row so far.
    Closed { failures: u32 },
    /// Ejected; the next request after `probe_in_ms` is the probe.
    Open { probe_in_ms: u64, penalty_ms: u64 },
    /// One probe request is deciding whether it comes back.
    Probing { penalty_ms: u64 },
}

impl Breaker {
    pub fn view(&self, now: Instant) -> CircuitView {
        let state = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ms = |d: Duration| d.as_millis() as u64;
        match state {
            State::Closed { failures } => CircuitView::Closed { failures },
            State::Open { until, penalty } => CircuitView::Open {
                probe_in_ms: ms(until.saturating_duration_since(now)),
                penalty_ms: ms(penalty),
            },
            State::Probing { penalty, .. } => CircuitView::Probing {
                penalty_ms: ms(penalty),
            },
        }
    }

    /// Whether the endpoint may take a request now. After the penalty, the first caller gets
    /// `true` and its request is the probe; the others get `false` until it is decided.
    pub fn admit(&self, now: Instant) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        let (admitted, next) = decide(*state, now);
        *state = next;
        admitted
    }

    /// What [`Breaker::admit`] would answer now, without taking the probe (`meshctl explain`).
    pub fn would_admit(&self, now: Instant) -> bool {
        self.state
            .lock()
            .map_or(true, |state| decide(*state, now).0)
    }

    /// A request to the endpoint succeeded: the circuit closes.
    pub fn success(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = State::Closed { failures: 0 };
        }
    }

    /// A request failed; `jitter` in [0, 1) spreads the penalty over ±25%. Returns whether
    /// this failure ejected the endpoint.
    pub fn failure(&self, now: Instant, threshold: u32, jitter: f64) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let penalty = match *state {
            State::Closed { failures } if failures + 1 >= threshold => FIRST_PENALTY,
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                return false;
            }
            State::Probing { penalty, .. } => penalty.saturating_mul(2).min(MAX_PENALTY),
            // A request admitted before the ejection failed too: the penalty stands.
            State::Open { .. } => return false,
        };
        *state = State::Open {
            until: now + penalty.mul_f64(0.75 + jitter / 2.0),
            penalty,
        };
        true
    }
}

/// Whether a circuit in `state` admits a request at `now`, and its state after admitting it.
fn decide(state: State, now: Instant) -> (bool, State) {
    match state {
        State::Closed { .. } => (true, state),
        State::Open { until, penalty } if now >= until => (
            true,
            State::Probing {
                since: now,
                penalty,
            },
        ),
        State::Probing { since, penalty } if now.saturating_duration_since(since) > PROBE_GRACE => {
            (
                true,
                State::Probing {
                    since: now,
                    penalty,
                },
            )
        }
        State::Open { .. } | State::Probing { .. } => (false, state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_dump_shows_each_circuit_state() {
        let b = Breaker::default();
        let t0 = Instant::now();
        assert!(!b.failure(t0, 2, 0.5));
        assert_eq!(b.view(t0), CircuitView::Closed { failures: 1 });
        assert!(b.failure(t0, 2, 0.5));
        let open = |probe_in_ms| CircuitView::Open {
            probe_in_ms,
            penalty_ms: FIRST_PENALTY.as_millis() as u64,
        };
        assert_eq!(b.view(t0 + Duration::from_millis(400)), open(600));
        assert_eq!(b.view(t0 + FIRST_PENALTY * 2), open(0));
        assert!(b.admit(t0 + FIRST_PENALTY));
        let penalty_ms = FIRST_PENALTY.as_millis() as u64;
        assert_eq!(b.view(t0), CircuitView::Probing { penalty_ms });
    }

    #[test]
    fn seven_failures_eject_then_one_probe_decides() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(!b.failure(t0, DEFAULT_FAILURES, 0.5));
            assert!(b.admit(t0));
        }
        assert!(b.failure(t0, DEFAULT_FAILURES, 0.5), "the 7th ejects");
        assert!(!b.admit(t0 + Duration::from_millis(999)));
        let after = t0 + FIRST_PENALTY;
        assert!(b.admit(after), "one probe");
        assert!(!b.admit(after), "only one");
        // The probe fails: ejected for twice as long.
        assert!(b.failure(after, DEFAULT_FAILURES, 0.5));
        assert!(!b.admit(after + Duration::from_millis(1_999)));
        let later = after + Duration::from_secs(2);
        assert!(b.admit(later));
        b.success();
        assert!(b.admit(later) && b.admit(later), "closed again");
    }

    #[test]
    fn a_success_resets_the_count_and_penalties_are_capped_and_jittered() {
        let b = Breaker::default();
        let t = Instant::now();
        for _ in 0..6 {
            b.failure(t, 7, 0.5);
        }
        b.success();
        assert!(!b.failure(t, 7, 0.5), "the count started over");

        let b = Breaker::default();
        let mut now = Instant::now();
        b.failure(now, 1, 0.5);
        for _ in 0..10 {
            now += MAX_PENALTY;
            assert!(b.admit(now));
            b.failure(now, 1, 0.0);
        }
        // At the cap with the lowest jitter: 45 s.
        assert!(!b.admit(now + Duration::from_secs(44)));
        assert!(b.admit(now + Duration::from_secs(45)));
    }

    #[test]
    fn a_lost_probe_does_not_block_forever() {
        let b = Breaker::default();
        let t = Instant::now();
        b.failure(t, 1, 0.5);
        assert!(b.admit(t + FIRST_PENALTY));
        assert!(!b.admit(t + FIRST_PENALTY + PROBE_GRACE));
        assert!(b.admit(t + FIRST_PENALTY + PROBE_GRACE + Duration::from_millis(1)));
    }
}
