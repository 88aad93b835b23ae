//! What `canary start` was asked to do, checked before anything changes: the weight steps,
//! the analysis interval, the gates and the optional tester header.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::gate::Gates;

/// The shortest analysis interval: the proxies' statistics have one-second slices.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest analysis interval: its window (interval + one slice) must fit in the five
/// minutes of history a proxy keeps.
pub const MAX_INTERVAL: Duration = Duration::from_secs(240);

/// The longest window a check may read: the five minutes of history a proxy keeps.
pub const MAX_WINDOW: Duration = Duration::from_secs(300);

/// What `--timeout` running out does to the canary's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnTimeout {
    /// Leave the weight where it is (phase Paused; exit 4): resume with `start`, or end it
    /// with `canary promote|abort`.
    #[default]
    Pause,
    /// Send the canary back to 0% (a `rolled-back` event by `timeout`; exit 3).
    Rollback,
}

impl OnTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Pause => "pause",
            OnTimeout::Rollback => "rollback",
        }
    }
}

/// A validated rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutSpec {
    pub service: String,
    /// The canary version.
    pub to: String,
    /// Canary weights, strictly increasing, each 1-100.
    pub steps: Steps,
    pub interval: Duration,
    pub gates: Gates,
    /// Failed checks (over the whole rollout) that trigger the rollback.
    pub failure_threshold: u32,
    /// The whole rollout's time budget.
    pub timeout: Duration,
    /// What the timeout does to the weight.
    pub on_timeout: OnTimeout,
    /// Requests carrying this header go to the canary at every step.
    pub match_header: Option<HeaderMatch>,
    /// `--gate-mirror`: before the first step, copies of the service's requests mirrored to
    /// the canary must compare clean.
    pub mirror_gate: Option<MirrorGate>,
}

/// The mirror phase's gate: at least `min_compared` compared copies (`--min-requests`)
/// since the rollout began (since its last failed check, after one), and a mismatch share
/// of at most `max_mismatch` (0-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MirrorGate {
    pub max_mismatch: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("--steps `{0}`: expected comma-separated weights like 5,25,50,100")]
    StepSyntax(String),
    #[error("--steps: weight {0} is outside 1-100")]
    StepRange(u32),
    #[error("--steps: weights must increase ({0} after {1})")]
    StepOrder(u32, u32),
    #[error("--interval {0:?} is outside {MIN_INTERVAL:?}-{MAX_INTERVAL:?}")]
    Interval(Duration),
    #[error("--timeout {timeout:?} is shorter than --interval {interval:?}: no check could run")]
    Timeout {
        timeout: Duration,
        interval: Duration,
    },
    #[error(
        "--match-header `{0}`: expected NAME=VALUE with a valid header name and value (e.g. x-canary=1)"
    )]
    Header(String),
}

/// `--steps 5,25,50,100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steps(pub Vec<u32>);

impl FromStr for Steps {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut steps = Vec::new();
        for part in s.split(',') {
            let part = part.trim().strip_suffix('%').unwrap_or(part.trim());
            let w: u32 = part
                .parse()
                .map_err(|_| SpecError::StepSyntax(s.to_string()))?;
            if !(1..=100).contains(&w) {
                return Err(SpecError::StepRange(w));
            }
            if let Some(&last) = steps.last()
                && w <= last
            {
                return Err(SpecError::StepOrder(w, last));
            }
            steps.push(w);
        }
        Ok(Steps(steps))
    }
}

impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// `--match-header name=value`: name lower-cased (header names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    pub name: String,
    pub value: String,
}

impl FromStr for HeaderMatch {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SpecError::Header(s.to_string());
        let (name, value) = s.split_once('=').ok_or_else(bad)?;
        let name = http::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
        if value.is_empty() || http::HeaderValue::from_str(value).is_err() {
            return Err(bad());
        }
        Ok(HeaderMatch {
            name: name.as_str().to_string(),
            value: value.to_string(),
        })
    }
}

impl fmt::Display for HeaderMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

impl RolloutSpec {
    /// Checks what the flags cannot check one by one.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&self.interval) {
            return Err(SpecError::Interval(self.interval));
        }
        if self.timeout < self.interval {
            return Err(SpecError::Timeout {
                timeout: self.timeout,
                interval: self.interval,
            });
        }
        Ok(())
    }

    /// The stats window one check reads: the interval rounded up to whole seconds, plus the
    /// one-second slice in progress when it began (a proxy's window is whole slices ending
    /// now, so this covers at least the whole interval, and at most one second more).
    pub fn window(&self) -> Duration {
        window_for(self.interval)
    }
}

/// The stats window covering the last `elapsed`: whole seconds rounded up, plus the slice in
/// progress, at most [`MAX_WINDOW`].
pub fn window_for(elapsed: Duration) -> Duration {
    let secs = elapsed.as_millis().div_ceil(1000) as u64;
    Duration::from_secs(secs + 1).min(MAX_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_must_increase_within_1_to_100() {
        assert_eq!("5,25,50,100".parse::<Steps>().unwrap().0, [5, 25, 50, 100]);
        assert_eq!("10%, 100%".parse::<Steps>().unwrap().0, [10, 100]);
        assert_eq!("50".parse::<Steps>().unwrap().0, [50]);
        assert_eq!("0,50".parse::<Steps>(), Err(SpecError::StepRange(0)));
        assert_eq!("50,101".parse::<Steps>(), Err(SpecError::StepRange(101)));
        assert_eq!("50,25".parse::<Steps>(), Err(SpecError::StepOrder(25, 50)));
        assert_eq!("50,50".parse::<Steps>(), Err(SpecError::StepOrder(50, 50)));
        for bad in ["", "a,b", "5,,10", "-5,10", "5;10", "1.5"] {
            assert!(
                matches!(bad.parse::<Steps>(), Err(SpecError::StepSyntax(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn header_matches_need_a_name_and_a_value() {
        let h: HeaderMatch = "X-Canary=1".parse().unwrap();
        assert_eq!((h.name.as_str(), h.value.as_str()), ("x-canary", "1"));
        assert_eq!(h.to_string(), "x-canary=1");
        let h: HeaderMatch = "x-user=a=b".parse().unwrap();
        assert_eq!(h.value, "a=b");
        for bad in ["x-canary", "=1", "x-canary=", "bad name=1", "x=\u{7}"] {
            assert!(bad.parse::<HeaderMatch>().is_err(), "{bad}");
        }
    }

    fn spec(interval: u64, timeout: u64) -> RolloutSpec {
        RolloutSpec {
            service: "api".into(),
            to: "v2".into(),
            steps: Steps(vec![50, 100]),
            interval: Duration::from_millis(interval),
            gates: Gates {
                max_error_rate: None,
                max_error_rate_increase: "1%".parse().unwrap(),
                max_p99: Duration::from_millis(500),
                min_requests: 20,
            },
            failure_threshold: 2,
            timeout: Duration::from_millis(timeout),
            on_timeout: OnTimeout::Pause,
            match_header: None,
            mirror_gate: None,
        }
    }

    #[test]
    fn interval_and_timeout_are_checked_together() {
        assert!(spec(1000, 10_000).validate().is_ok());
        assert_eq!(
            spec(500, 10_000).validate(),
            Err(SpecError::Interval(Duration::from_millis(500)))
        );
        assert!(spec(241_000, 600_000).validate().is_err());
        assert!(matches!(
            spec(30_000, 10_000).validate(),
            Err(SpecError::Timeout { .. })
        ));
    }

    #[test]
    fn the_window_covers_the_interval_in_whole_slices() {
        assert_eq!(spec(1000, 10_000).window(), Duration::from_secs(2));
        assert_eq!(spec(1500, 10_000).window(), Duration::from_secs(3));
        assert_eq!(spec(30_000, 60_000).window(), Duration::from_secs(31));
        // A step's accumulated window stops at the proxies' five minutes of history.
        assert_eq!(window_for(Duration::from_secs(900)), MAX_WINDOW);
    }
}
