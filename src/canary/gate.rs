//! Analysis gates: what one check of a rollout compares the canary's own traffic against, and
//! the verdict it gives (pass, hold for lack of traffic, or fail with the breached gates).

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
    /// Largest share of 5xx answers (and requests the proxy could not complete) allowed.
    pub max_error_rate: Percent,
    /// Largest p99 latency (to the response head) allowed.
    pub max_p99: Duration,
    /// Requests a check needs before it may pass.
    pub min_requests: u64,
}

/// The gates as JSON events and `canary status` show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatesView {
    /// Fraction (0-1).
    pub max_error_rate: f64,
    pub max_p99_ms: f64,
    pub min_requests: u64,
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
    ErrorRate { observed: f64, max: f64 },
    Latency { p99_ms: f64, max_ms: f64 },
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
}

impl Gates {
    pub fn view(&self) -> GatesView {
        GatesView {
            max_error_rate: self.max_error_rate.fraction(),
            max_p99_ms: self.max_p99.as_secs_f64() * 1000.0,
            min_requests: self.min_requests,
        }
    }

    /// Judges one window.
    ///
    /// With at least `min_requests` requests, the check passes when the error rate is at most
    /// the maximum and p99 at most its maximum, and fails otherwise (naming every breach).
    /// With fewer, it holds — unless the errors already seen would breach the error gate even
    /// if every missing request up to `min_requests` succeeded: then it fails at once (a
    /// canary failing most of a trickle of requests is not given more time).
    pub fn evaluate(&self, o: &Observation) -> Verdict {
        let max_rate = self.max_error_rate.fraction();
        if o.requests < self.min_requests {
            let best_case = o.errors as f64 / self.min_requests as f64;
            if best_case > max_rate {
                return Verdict::Fail(vec![Breach::ErrorRate {
                    observed: o.error_rate().unwrap_or(0.0),
                    max: max_rate,
                }]);
            }
            return Verdict::Hold;
        }
        let mut breaches = Vec::new();
        let rate = o.error_rate().unwrap_or(0.0);
        if rate > max_rate {
            breaches.push(Breach::ErrorRate {
                observed: rate,
                max: max_rate,
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

    fn gates() -> Gates {
        Gates {
            max_error_rate: "1%".parse().unwrap(),
            max_p99: Duration::from_millis(500),
            min_requests: 20,
        }
    }

    fn obs(requests: u64, errors: u64, p99_ms: u64) -> Observation {
        Observation {
            requests,
            errors,
            p99_us: (requests > 0).then_some(p99_ms * 1000),
            reporting: 1,
            proxies: 1,
        }
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
            max_error_rate: "10%".parse().unwrap(),
            ..gates()
        };
        // 1 of at least 20 is 5% ≤ 10%: not certain yet.
        assert_eq!(lenient.evaluate(&obs(5, 1, 10)), Verdict::Hold);
    }
}
