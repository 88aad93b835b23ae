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
mod tests;
