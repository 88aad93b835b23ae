//! Fault injection as configured: an abort (HTTP status, share of requests) and a delay
//! (duration, share), from mesh.yaml or `meshctl fault inject`, checked once here for the
//! file parser, the CLI, the control plane and the proxy alike.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::api::proto::control as pb;
use crate::duration::HumanDuration;

/// Shares are carried in millionths: 100% = this, 0.0001% = 1.
pub const PER_MILLION: u32 = 1_000_000;
/// Decimal places a percentage may have (one millionth = 0.0001%).
pub const PERCENT_DECIMALS: usize = 4;
/// Lowest status an abort may answer with: an injected fault is an error.
pub const MIN_ABORT_STATUS: u16 = 400;
/// Highest status an abort may answer with.
pub const MAX_ABORT_STATUS: u16 = 599;
/// Longest injected delay: beyond it a request timeout (or the caller) gives up anyway.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Why a fault on a `protocol: tcp` service is refused (mesh.yaml, `meshctl fault inject` and
/// the control plane): opaque TCP has no requests to fail or delay.
pub const TCP_FAULT_REFUSED: &str =
    "faults apply to HTTP and gRPC requests; this service has `protocol: tcp`";
/// File (in the state dir) holding the live faults set with `meshctl fault inject`.
pub const FAULTS_FILE: &str = "faults.json";

/// Answer `status` to `per_million` of the requests without contacting the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    pub status: u16,
    pub per_million: u32,
}

/// Hold `per_million` of the requests for `ms` milliseconds before forwarding them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    pub ms: u64,
    pub per_million: u32,
}

/// The faults of a service or route: an abort, a delay, or both (never neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
}

/// A fault set with `meshctl fault inject`, as the control plane keeps it (`faults.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveFault {
    pub spec: FaultSpec,
    /// When it was set (Unix ms).
    pub set_unix_ms: u64,
    /// When it stops (Unix ms); `None`: until cleared.
    #[serde(default)]
    pub expires_unix_ms: Option<u64>,
}

/// Why a fault is refused; each message says what is wrong and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("status {0} is outside {MIN_ABORT_STATUS}-{MAX_ABORT_STATUS}")]
    Status(u64),
    #[error("percent `{0}` is not a number from 0 to 100 with at most 4 decimals")]
    Percent(String),
    #[error("delay {0}ms is over the maximum of 60s")]
    DelayTooLong(u64),
    #[error("delay `{0}`: {1}")]
    Duration(String, String),
    #[error("`{0}`: expected STATUS@PERCENT, e.g. 503@5%")]
    AbortSyntax(String),
    #[error("`{0}`: expected DURATION@PERCENT, e.g. 200ms@10%")]
    DelaySyntax(String),
    #[error("a fault needs an abort, a delay or both")]
    Empty,
    #[error("an abort needs a status (400-599)")]
    NoStatus,
    #[error("a delay needs a duration")]
    NoDelay,
}

/// Parses a percentage: `5`, `5%`, `0.5`, `12.3456` (at most [`PERCENT_DECIMALS`] decimals),
/// 0 to 100, into millionths. Exact: no floating point.
pub fn parse_percent(text: &str) -> Result<u32, FaultError> {
    let bad = || FaultError::Percent(text.to_string());
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 3 || !digits(int) || !digits(frac) {
        return Err(bad());
    }
    if number.contains('.') && frac.is_empty() || frac.len() > PERCENT_DECIMALS {
        return Err(bad());
    }
    let int: u32 = int.parse().map_err(|_| bad())?;
    let frac: u32 = format!("{frac:0<width$}", width = PERCENT_DECIMALS)
        .parse()
        .map_err(|_| bad())?;
    let per_million = int * 10_000 + frac;
    if per_million > PER_MILLION {
        return Err(bad());
    }
    Ok(per_million)
}

/// Millionths as a percentage, as short as exact: `5%`, `0.5%`, `12.3456%`.
pub fn format_percent(per_million: u32) -> String {
    let (int, frac) = (per_million / 10_000, per_million % 10_000);
    if frac == 0 {
        return format!("{int}%");
    }
    let frac = format!("{frac:04}");
    format!("{int}.{}%", frac.trim_end_matches('0'))
}

/// Checks an abort status.
pub fn abort_status(status: u64) -> Result<u16, FaultError> {
    u16::try_from(status)
        .ok()
        .filter(|s| (MIN_ABORT_STATUS..=MAX_ABORT_STATUS).contains(s))
        .ok_or(FaultError::Status(status))
}

/// Parses and checks a delay duration (`200ms`, `2s`): positive and at most [`MAX_DELAY`].
pub fn parse_delay(text: &str) -> Result<u64, FaultError> {
    let d: HumanDuration = text
        .parse()
        .map_err(|e| FaultError::Duration(text.to_string(), format!("{e}")))?;
    delay_ms(u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX))
}

fn delay_ms(ms: u64) -> Result<u64, FaultError> {
    match ms {
        0 => Err(FaultError::NoDelay),
        ms if ms > MAX_DELAY.as_millis() as u64 => Err(FaultError::DelayTooLong(ms)),
        ms => Ok(ms),
    }
}

/// The current wall-clock time in Unix milliseconds (expiries are absolute, so they survive
/// restarts of the control plane and reach proxies that lost it).
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl FromStr for Abort {
    type Err = FaultError;
    /// `STATUS@PERCENT`: `503@5%`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (status, percent) = s
            .split_once('@')
            .ok_or_else(|| FaultError::AbortSyntax(s.to_string()))?;
        let status: u64 = status
            .trim()
            .parse()
            .map_err(|_| FaultError::AbortSyntax(s.to_string()))?;
        Ok(Abort {
            status: abort_status(status)?,
            per_million: parse_percent(percent)?,
        })
    }
}

impl FromStr for Delay {
    type Err = FaultError;
    /// `DURATION@PERCENT`: `200ms@10%`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (duration, percent) = s
            .split_once('@')
            .ok_or_else(|| FaultError::DelaySyntax(s.to_string()))?;
        Ok(Delay {
            ms: parse_delay(duration.trim())?,
            per_million: parse_percent(percent)?,
        })
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.status, format_percent(self.per_million))
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms@{}", self.ms, format_percent(self.per_million))
    }
}

impl FaultSpec {
    /// The wire form; `expires_unix_ms`: when proxies stop injecting it (`None`: never).
    pub fn to_pb(&self, expires_unix_ms: Option<u64>) -> pb::Fault {
        pb::Fault {
            abort_status: self.abort.map_or(0, |a| u32::from(a.status)),
            abort_per_million: self.abort.map_or(0, |a| a.per_million),
            delay_ms: self.delay.map_or(0, |d| d.ms),
            delay_per_million: self.delay.map_or(0, |d| d.per_million),
            expires_unix_ms: expires_unix_ms.unwrap_or(0),
        }
    }

    /// Checks a fault from the wire (a proxy re-checks what it is sent). A part with a 0
    /// share and 0 status/duration is absent; anything else out of range is an error.
    pub fn from_pb(f: &pb::Fault) -> Result<FaultSpec, FaultError> {
        let share = |n: u32| {
            if n > PER_MILLION {
                Err(FaultError::Percent(format!("{n} per million")))
            } else {
                Ok(n)
            }
        };
        let abort = match (f.abort_status, f.abort_per_million) {
            (0, 0) => None,
            (0, _) => return Err(FaultError::NoStatus),
            (status, n) => Some(Abort {
                status: abort_status(u64::from(status))?,
                per_million: share(n)?,
            }),
        };
        let delay = match (f.delay_ms, f.delay_per_million) {
            (0, 0) => None,
            (0, _) => return Err(FaultError::NoDelay),
            (ms, n) => Some(Delay {
                ms: delay_ms(ms)?,
                per_million: share(n)?,
            }),
        };
        FaultSpec::new(abort, delay)
    }

    /// A fault with at least one part.
    pub fn new(abort: Option<Abort>, delay: Option<Delay>) -> Result<FaultSpec, FaultError> {
        if abort.is_none() && delay.is_none() {
            return Err(FaultError::Empty);
        }
        Ok(FaultSpec { abort, delay })
    }
}

impl LiveFault {
    /// Still in force at `now_ms`.
    pub fn in_force(&self, now_ms: u64) -> bool {
        self.expires_unix_ms.is_none_or(|at| now_ms < at)
    }
}

#[cfg(test)]
mod tests;
