//! Analysis gates: what one check of a rollout compares the canary's own traffic against (the
//! stable versions' error rate over the same window, optional absolute limits, p99), and the
//! verdict it gives (pass, hold for lack of traffic, or fail with the breached gates).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `--max-error-rate`: a percentage written with its `%` (`1%`, `0.5%`, `0%`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(f64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a percentage: write it with `%`, between 0% and 100% (e.g. 1%, 0.5%)")]
pub struct PercentError(String);

impl Percent {
    /// The share as a fraction (0-1).
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

impl FromStr for Percent {
    type Err = PercentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PercentError(s.to_string());
        let number = s.trim().strip_suffix('%').ok_or_else(bad)?;
        // Plain decimal digits only: no signs, exponents, `inf` or `nan`.
        if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&value) {
            return Err(bad());
        }
        Ok(Percent(value))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// The thresholds every check applies to the canary version's own traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gates {
    /// Largest share of 5xx answers (and requests the proxy could not complete) allowed,
    /// whatever the baseline does; `None`: no absolute limit (the default).
    pub max_error_rate: Option<Percent>,
    /// How far (in percentage points) the canary's error rate may exceed the stable
    /// versions' over the same window (the default gate, 1%).
    pub max_error_rate_increase: Percent,
    /// Largest p99 latency (to the response head) allowed.
    pub max_p99: Duration,
    /// Requests a check needs before it may pass (counted over the step so far).
    pub min_requests: u64,
}

/// The gates as JSON events and `canary status` show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatesView {
    /// Fraction (0-1); 1 when no absolute limit is set.
    pub max_error_rate: f64,
    pub max_p99_ms: f64,
    pub min_requests: u64,
    /// Fraction (0-1) the canary's error rate may exceed the baseline's by; absent in states
    /// recorded before the gate existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate_increase: Option<f64>,
}

/// The canary's traffic over one analysis window, summed over its proxies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub requests: u64,
    /// Answers of 500 and above.
    pub errors: u64,
    /// p99 latency in µs (merged histograms); `None` without requests.
    pub p99_us: Option<u64>,
    /// Canary proxies that answered / canary proxies.
    pub reporting: usize,
    pub proxies: usize,
    /// The stable versions' requests and errors over the same window (the baseline).
    pub baseline_requests: u64,
    pub baseline_errors: u64,
}

/// What one check decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Enough requests and every gate held: the rollout may advance.
    Pass,
    /// Too few requests to judge (and not enough errors to fail anyway): check again.
    Hold,
    /// At least one gate was breached.
    Fail(Vec<Breach>),
}

/// A breached gate with what was observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Breach {
    ErrorRate {
        observed: f64,
        max: f64,
    },
    /// The canary's error rate exceeds the baseline's by more than the allowed increase.
    ErrorRateIncrease {
        observed: f64,
        baseline: f64,
        max_increase: f64,
    },
    Latency {
        p99_ms: f64,
        max_ms: f64,
    },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::ErrorRate { observed, max } => write!(
                f,
                "error rate {} over the {} gate",
                pct(*observed),
                pct(*max)
            ),
            Breach::ErrorRateIncrease {
                observed,
                baseline,
                max_increase,
            } => write!(
                f,
                "error rate {} vs the stable versions' {}: more than the {} --max-error-rate-increase above it",
                pct(*observed),
                pct(*baseline),
                pct(*max_increase)
            ),
            Breach::Latency { p99_ms, max_ms } => {
                write!(f, "p99 {p99_ms}ms over the {max_ms}ms gate")
            }
        }
    }
}

/// A fraction as a short percentage (`2.5%`).
pub fn pct(fraction: f64) -> String {
    let v = (fraction * 1000.0).round() / 10.0;
    format!("{v}%")
}

impl Observation {
    /// Errors ÷ requests; `None` without requests.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    pub fn p99_ms(&self) -> Option<f64> {
        self.p99_us.map(|us| us as f64 / 1000.0)
    }

    /// The baseline's errors ÷ requests; `None` without requests.
    pub fn baseline_error_rate(&self) -> Option<f64> {
        (self.baseline_requests > 0)
            .then(|| self.baseline_errors as f64 / self.baseline_requests as f64)
    }
}

/// One-sided z for 95% confidence.
const Z_95_ONE_SIDED: f64 = 1.645;

/// Whether, with 95% confidence, the canary's error rate exceeds the baseline's by more than
/// `increase`: `(canary - baseline - increase) / se > 1.645`, the standard error from both
/// rates smoothed by one error in two more requests (Agresti–Caffo), so that a baseline or
/// canary with no errors yet does not count as certain. A canary failing a third of 22
/// requests against a 5% baseline fails; two unlucky errors in 25 against a clean baseline
/// of 75 do not. (Comparing the ends of two separate intervals, as before, let the first
/// through at low traffic.)
fn worse_than_baseline(o: &Observation, increase: f64) -> bool {
    if o.requests == 0 {
        return false;
    }
    let rate = |errors: u64, requests: u64| errors.min(requests) as f64 / requests as f64;
    let smoothed_variance = |errors: u64, requests: u64| {
        let p = (errors.min(requests) as f64 + 1.0) / (requests as f64 + 2.0);
        p * (1.0 - p) / requests as f64
    };
    let canary = rate(o.errors, o.requests);
    let mut variance = smoothed_variance(o.errors, o.requests);
    let baseline = if o.baseline_requests > 0 {
        variance += smoothed_variance(o.baseline_errors, o.baseline_requests);
        rate(o.baseline_errors, o.baseline_requests)
    } else {
        0.0
    };
    (canary - baseline - increase) > Z_95_ONE_SIDED * variance.sqrt()
}

impl Gates {
    pub fn view(&self) -> GatesView {
        GatesView {
            max_error_rate: self.max_error_rate.map_or(1.0, Percent::fraction),
            max_p99_ms: self.max_p99.as_secs_f64() * 1000.0,
            min_requests: self.min_requests,
            max_error_rate_increase: Some(self.max_error_rate_increase.fraction()),
        }
    }

    /// Judges one window.
    ///
    /// With at least `min_requests` requests, the check passes when every gate holds, and
    /// fails otherwise (naming every breach):
    /// - the baseline-relative gate fails when, with 95% confidence, the canary's error rate
    ///   exceeds the baseline's by more than `max_error_rate_increase` (a one-sided test on
    ///   the difference of the two rates, see [`worse_than_baseline`]; without baseline
    ///   requests the baseline counts as 0%);
    /// - the absolute gate, when set, fails when the error rate is above `max_error_rate`;
    /// - the latency gate fails when p99 is above `max_p99`.
    ///
    /// With fewer requests it holds — unless an absolute gate is set and the errors already
    /// seen would breach it even if every missing request up to `min_requests` succeeded:
    /// then it fails at once (a canary failing most of a trickle of requests is not given
    /// more time).
    pub fn evaluate(&self, o: &Observation) -> Verdict {
        if o.requests < self.min_requests {
            if let Some(max) = self.max_error_rate {
                let best_case = o.errors as f64 / self.min_requests as f64;
                if best_case > max.fraction() {
                    return Verdict::Fail(vec![Breach::ErrorRate {
                        observed: o.error_rate().unwrap_or(0.0),
                        max: max.fraction(),
                    }]);
                }
            }
            return Verdict::Hold;
        }
        let mut breaches = Vec::new();
        let rate = o.error_rate().unwrap_or(0.0);
        let increase = self.max_error_rate_increase.fraction();
        if worse_than_baseline(o, increase) {
            breaches.push(Breach::ErrorRateIncrease {
                observed: rate,
                baseline: o.baseline_error_rate().unwrap_or(0.0),
                max_increase: increase,
            });
        }
        if let Some(max) = self.max_error_rate
            && rate > max.fraction()
        {
            breaches.push(Breach::ErrorRate {
                observed: rate,
                max: max.fraction(),
            });
        }
        if let Some(p99) = o.p99_us
            && u128::from(p99) > self.max_p99.as_micros()
        {
            breaches.push(Breach::Latency {
                p99_ms: p99 as f64 / 1000.0,
                max_ms: self.max_p99.as_secs_f64() * 1000.0,
            });
        }
        if breaches.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(breaches)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The absolute gate alone (the relative one at 100% never fails).
    fn gates() -> Gates {
        Gates {
            max_error_rate: Some("1%".parse().unwrap()),
            max_error_rate_increase: "100%".parse().unwrap(),
            max_p99: Duration::from_millis(500),
            min_requests: 20,
        }
    }

    /// The defaults of `canary start`: baseline-relative 1%, no absolute limit.
    fn relative() -> Gates {
        Gates {
            max_error_rate: None,
            max_error_rate_increase: "1%".parse().unwrap(),
            ..gates()
        }
    }

    fn with_baseline(o: Observation, requests: u64, errors: u64) -> Observation {
        Observation {
            baseline_requests: requests,
            baseline_errors: errors,
            ..o
        }
    }

    fn obs(requests: u64, errors: u64, p99_ms: u64) -> Observation {
        Observation {
            requests,
            errors,
            p99_us: (requests > 0).then_some(p99_ms * 1000),
            reporting: 1,
            proxies: 1,
            ..Observation::default()
        }
    }

    #[test]
    fn a_canary_failing_like_its_baseline_passes_the_default_gate() {
        // The demo: both versions fail 2% by design; the old absolute 1% gate failed it.
        let o = with_baseline(obs(100, 2, 10), 400, 8);
        assert!(matches!(gates().evaluate(&o), Verdict::Fail(_)));
        assert_eq!(relative().evaluate(&o), Verdict::Pass);
        // One unlucky error in a trickle is not proof of a worse canary.
        let o = with_baseline(obs(25, 2, 10), 75, 0);
        assert_eq!(relative().evaluate(&o), Verdict::Pass);
    }

    /// Seen on a busy machine (7 requests/s): v2 failing 40% passed both checks, because
    /// the two separate intervals overlapped at this volume.
    #[test]
    fn a_broken_canary_at_low_traffic_fails_the_default_gate() {
        let o = with_baseline(obs(22, 8, 10), 20, 1);
        assert!(matches!(relative().evaluate(&o), Verdict::Fail(_)));
        let o = with_baseline(obs(41, 15, 10), 4, 0);
        assert!(matches!(relative().evaluate(&o), Verdict::Fail(_)));
        // While a healthy one at the same volume passes.
        let o = with_baseline(obs(22, 1, 10), 20, 1);
        assert_eq!(relative().evaluate(&o), Verdict::Pass);
    }

    #[test]
    fn a_canary_clearly_worse_than_its_baseline_fails_the_default_gate() {
        let o = with_baseline(obs(25, 7, 10), 75, 1);
        match relative().evaluate(&o) {
            Verdict::Fail(b) => {
                assert_eq!(b.len(), 1);
                assert_eq!(
                    b[0].to_string(),
                    "error rate 28% vs the stable versions' 1.3%: more than the 1% --max-error-rate-increase above it"
                );
            }
            other => panic!("{other:?}"),
        }
        // At volume the comparison is close to the plain rates: 4% vs 2% + 1%.
        let o = with_baseline(obs(20_000, 800, 10), 20_000, 400);
        assert!(matches!(relative().evaluate(&o), Verdict::Fail(_)));
        let o = with_baseline(obs(20_000, 500, 10), 20_000, 400);
        assert_eq!(relative().evaluate(&o), Verdict::Pass);
        // Without baseline traffic (the canary has 100%) the baseline counts as 0%.
        assert!(matches!(
            relative().evaluate(&obs(1000, 100, 10)),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn without_an_absolute_gate_too_few_requests_only_hold() {
        assert_eq!(relative().evaluate(&obs(5, 5, 10)), Verdict::Hold);
    }

    #[test]
    fn percentages_need_their_sign_and_a_range() {
        assert_eq!("1%".parse::<Percent>().unwrap().fraction(), 0.01);
        assert_eq!("0.5%".parse::<Percent>().unwrap().fraction(), 0.005);
        assert_eq!("0%".parse::<Percent>().unwrap().fraction(), 0.0);
        assert_eq!("100%".parse::<Percent>().unwrap().fraction(), 1.0);
        for bad in [
            "0.01", "1", "%", "-1%", "101%", "1e1%", "inf%", "nan%", "1 %", "1%%", "",
        ] {
            assert!(bad.parse::<Percent>().is_err(), "{bad} accepted");
        }
        assert_eq!(
            "0.01".parse::<Percent>().unwrap_err().to_string(),
            "`0.01` is not a percentage: write it with `%`, between 0% and 100% (e.g. 1%, 0.5%)"
        );
    }

    #[test]
    fn enough_healthy_requests_pass() {
        assert_eq!(gates().evaluate(&obs(20, 0, 100)), Verdict::Pass);
        // The maximum itself is allowed: 1 error in 100 is exactly 1%.
        assert_eq!(gates().evaluate(&obs(100, 1, 500)), Verdict::Pass);
    }

    #[test]
    fn errors_over_the_gate_fail() {
        let v = gates().evaluate(&obs(100, 2, 100));
        assert_eq!(
            v,
            Verdict::Fail(vec![Breach::ErrorRate {
                observed: 0.02,
                max: 0.01
            }])
        );
    }

    #[test]
    fn slow_p99_fails_for_latency_alone() {
        match gates().evaluate(&obs(50, 0, 800)) {
            Verdict::Fail(b) => {
                assert_eq!(b.len(), 1);
                assert!(matches!(b[0], Breach::Latency { .. }));
                assert_eq!(b[0].to_string(), "p99 800ms over the 500ms gate");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_breaches_are_named() {
        match gates().evaluate(&obs(50, 25, 800)) {
            Verdict::Fail(b) => assert_eq!(b.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn too_few_requests_hold_even_when_slow_or_empty() {
        assert_eq!(gates().evaluate(&obs(0, 0, 0)), Verdict::Hold);
        assert_eq!(gates().evaluate(&obs(19, 0, 900)), Verdict::Hold);
    }

    #[test]
    fn too_few_requests_with_certain_breach_fail() {
        // 1 error of at least 20 requests is 5% > 1% whatever the rest do.
        assert!(matches!(gates().evaluate(&obs(5, 1, 10)), Verdict::Fail(_)));
        let lenient = Gates {
            max_error_rate: Some("10%".parse().unwrap()),
            ..gates()
        };
        // 1 of at least 20 is 5% ≤ 10%: not certain yet.
        assert_eq!(lenient.evaluate(&obs(5, 1, 10)), Verdict::Hold);
    }
}
