//! `meshctl_gateway_requests_total{route, key, outcome}`: what the gateway did with each
//! external request. `key` is an API key's *name* (never the key); label sets are bounded
//! (routes × key names × outcomes, at most [`MAX_SERIES`], then `key="other"`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::proxy::telemetry::metrics::escape_label;

/// The most label sets kept.
pub const MAX_SERIES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Forwarded,
    NoRoute,
    BadRequest,
    NoKey,
    UnknownKey,
    RevokedKey,
    Limited,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::NoRoute => "no_route",
            Outcome::BadRequest => "bad_request",
            Outcome::NoKey => "missing_key",
            Outcome::UnknownKey => "unknown_key",
            Outcome::RevokedKey => "revoked_key",
            Outcome::Limited => "rate_limited",
        }
    }
}

#[derive(Debug, Default)]
pub struct GatewayCounters {
    /// Set by a proxy that runs a gateway: only then is the family rendered.
    enabled: AtomicBool,
    series: Mutex<BTreeMap<(String, String, Outcome), u64>>,
}

impl GatewayCounters {
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    pub fn count(&self, route: &str, key: &str, outcome: Outcome) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let id = (route.to_string(), key.to_string(), outcome);
        if let Some(n) = series.get_mut(&id) {
            *n += 1;
            return;
        }
        let id = if series.len() >= MAX_SERIES {
            (route.to_string(), "other".to_string(), outcome)
        } else {
            id
        };
        *series.entry(id).or_insert(0) += 1;
    }

    pub fn render(&self, out: &mut String) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        out.push_str(
            "# HELP meshctl_gateway_requests_total External requests the gateway answered or \
             forwarded, by route, API key name and outcome.\n\
             # TYPE meshctl_gateway_requests_total counter\n",
        );
        let Ok(series) = self.series.lock() else {
            return;
        };
        for ((route, key, outcome), n) in series.iter() {
            let _ = writeln!(
                out,
                "meshctl_gateway_requests_total{{route=\"{}\",key=\"{}\",outcome=\"{}\"}} {n}",
                escape_label(route),
                escape_label(key),
                outcome.label()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_counted_by_name_and_bounded() {
        let c = GatewayCounters::default();
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.is_empty(), "not rendered by a proxy without a gateway");
        c.enable();
        c.count("api", "ci", Outcome::Forwarded);
        c.count("api", "ci", Outcome::Forwarded);
        c.count("api", "", Outcome::NoKey);
        for i in 0..MAX_SERIES + 10 {
            c.count("api", &format!("k{i}"), Outcome::Limited);
        }
        c.render(&mut out);
        assert!(out.contains(
            "meshctl_gateway_requests_total{route=\"api\",key=\"ci\",outcome=\"forwarded\"} 2"
        ));
        assert!(out.contains("key=\"\",outcome=\"missing_key\"} 1"));
        assert!(out.contains("key=\"other\",outcome=\"rate_limited\"}"));
        assert!(out.lines().count() <= MAX_SERIES + 3, "bounded");
    }
}
