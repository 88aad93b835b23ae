//! Human durations as users type them (`30s`, `24h`, `90d`, `1h30m`) and as tables show them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A strictly positive duration parsed from `<number><unit>` groups.
///
/// Units: `ms`, `s`, `m`, `h`, `d`. Zero, negative and unit-less values are rejected: every
/// place meshctl takes a duration (lifetimes, timeouts, windows) needs a positive one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DurationError {
    #[error("empty duration (expected e.g. 30s, 24h, 90d)")]
    Empty,
    #[error("negative duration `{0}` (durations must be positive)")]
    Negative(String),
    #[error(
        "invalid duration `{0}` (expected <number><unit> with unit ms, s, m, h or d, e.g. 30s, 24h, 90d)"
    )]
    Invalid(String),
    #[error("duration `{0}` is zero (durations must be positive)")]
    Zero(String),
    #[error("duration `{0}` is too large")]
    Overflow(String),
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(DurationError::Empty);
        }
        if text.starts_with('-') {
            return Err(DurationError::Negative(text.to_string()));
        }
        let invalid = || DurationError::Invalid(text.to_string());
        let mut total: u128 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(invalid)?;
            if digits == 0 {
                return Err(invalid());
            }
            let value: u128 = rest[..digits].parse().map_err(|_| invalid())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let millis_per_unit: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(invalid()),
            };
            rest = &rest[unit_len..];
            total = value
                .checked_mul(millis_per_unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| DurationError::Overflow(text.to_string()))?;
        }
        if total == 0 {
            return Err(DurationError::Zero(text.to_string()));
        }
        // 100 years is far beyond any lifetime or timeout meshctl accepts.
        if total > 100 * 365 * 86_400_000 {
            return Err(DurationError::Overflow(text.to_string()));
        }
        let millis = u64::try_from(total).map_err(|_| DurationError::Overflow(text.to_string()))?;
        Ok(HumanDuration(Duration::from_millis(millis)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_compact(self.0.as_secs() as i64))
    }
}

/// Renders a number of seconds the way `kubectl` ages read: `89d`, `23h59m`, `4m10s`, `-2d`.
pub fn format_compact(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60, s % 60);
    let body = if d >= 2 {
        format!("{d}d")
    } else if d == 1 {
        format!("1d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Duration, DurationError> {
        s.parse::<HumanDuration>().map(|d| d.0)
    }

    #[test]
    fn parses_units_and_groups() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        assert_eq!(parse("0s"), Err(DurationError::Zero("0s".into())));
        assert_eq!(parse("-1d"), Err(DurationError::Negative("-1d".into())));
        assert!(matches!(parse("abc"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("10"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("10y"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("s"), Err(DurationError::Invalid(_))));
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert!(matches!(
            parse("99999999999999999999d"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_compact(90 * 86_400), "90d");
        assert_eq!(format_compact(86_400 + 3_600), "1d1h");
        assert_eq!(format_compact(3_600 + 120), "1h2m");
        assert_eq!(format_compact(59), "59s");
        assert_eq!(format_compact(-3 * 86_400), "-3d");
    }
}
