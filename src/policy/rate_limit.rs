//! Rate limits: the token bucket both the gateway (per route) and a service's own proxy
//! (mesh.yaml `policy.rate_limit`, per caller identity) run, a bounded table of buckets by
//! key, and the in-mesh policy's schema and wire form.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::authz::PeerSpec;
use crate::api::proto::control as pb;

/// The most requests per second or burst a limit may allow.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The most keys (clients, identities) tracked per table. Beyond it, buckets that are full
/// again (idle clients) are forgotten; if none are, new keys share one bucket, so a flood of
/// distinct clients cannot grow memory without bound.
pub const MAX_BUCKETS: usize = 100_000;
const OVERFLOW: &str = "\u{0}overflow";

/// A token bucket's state: tokens now and when they were counted (seconds, any origin).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub at: f64,
}

/// What a bucket said about one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Allowed; `remaining` whole tokens are left.
    Allow { remaining: u32 },
    /// Refused; a token is available again after `retry_after` seconds.
    Refuse { retry_after: f64 },
}

impl Bucket {
    pub fn full(burst: u32, now: f64) -> Bucket {
        Bucket {
            tokens: f64::from(burst),
            at: now,
        }
    }

    /// Refills for the time since the last call (never above `burst`), then takes one token
    /// if there is one.
    pub fn take(&mut self, rps: f64, burst: u32, now: f64) -> Verdict {
        let elapsed = (now - self.at).max(0.0);
        self.tokens = (self.tokens + elapsed * rps).min(f64::from(burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Verdict::Allow {
                remaining: self.tokens.floor() as u32,
            }
        } else {
            Verdict::Refuse {
                retry_after: (1.0 - self.tokens) / rps,
            }
        }
    }

    /// Whether the bucket is full again at `now` (an idle client's bucket can be forgotten).
    pub fn is_full(&self, rps: f64, burst: u32, now: f64) -> bool {
        self.tokens + (now - self.at).max(0.0) * rps >= f64::from(burst)
    }
}

/// A rate: `rps` tokens a second, at most `burst` stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub rps: f64,
    pub burst: u32,
}

/// One bucket per key, bounded by [`MAX_BUCKETS`].
#[derive(Debug)]
pub struct KeyedBuckets {
    pub rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl KeyedBuckets {
    pub fn new(rate: Rate) -> KeyedBuckets {
        KeyedBuckets {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `key`'s bucket at `now` (seconds on any monotonic clock).
    pub fn take(&self, key: &str, now: f64) -> Verdict {
        let Rate { rps, burst } = self.rate;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bucket) = buckets.get_mut(key) {
            return bucket.take(rps, burst, now);
        }
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| !b.is_full(rps, burst, now));
        }
        let key = if buckets.len() >= MAX_BUCKETS {
            OVERFLOW
        } else {
            key
        };
        let bucket = buckets
            .entry(key.to_string())
            .or_insert_with(|| Bucket::full(burst, now));
        bucket.take(rps, burst, now)
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `rps` and `burst` as written: `burst` defaults to `rps` rounded up (at least 1).
pub fn check_rate(rps: f64, burst: Option<u32>) -> Result<Rate, String> {
    if !(rps.is_finite() && rps > 0.0 && rps <= MAX_RATE) {
        return Err(format!(
            "rps must be above 0 and at most {MAX_RATE} (got {rps})"
        ));
    }
    let burst = burst.unwrap_or_else(|| (rps.ceil() as u32).max(1));
    if burst == 0 || f64::from(burst) > MAX_RATE {
        return Err(format!("burst must be 1 to {MAX_RATE} (got {burst})"));
    }
    Ok(Rate { rps, burst })
}

/// `{ rps: 10, burst: 20 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSpec {
    pub rps: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// `{ from: <caller>, rps: …, burst: … }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerRateSpec {
    pub from: PeerSpec,
    pub rps: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// A service's `policy.rate_limit`: enforced by its own proxies on what they accept.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Every caller together (per proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Each caller identity its own bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_caller: Option<RateSpec>,
    /// Callers with a rate of their own (the first that matches decides).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callers: Vec<CallerRateSpec>,
}

// Rates are never NaN in a checked spec (refused), so equality is reflexive.
impl Eq for RateLimitSpec {}

impl RateLimitSpec {
    /// Checks every rate: `Err((field, message))`, the field below `rate_limit`.
    pub fn check(&self) -> Result<(), (String, String)> {
        match (self.rps, self.burst) {
            (Some(rps), burst) => {
                check_rate(rps, burst).map_err(|m| ("rps".to_string(), m))?;
            }
            (None, Some(_)) => return Err(("burst".into(), "`burst` needs `rps`".into())),
            (None, None) => {}
        }
        if let Some(r) = &self.per_caller {
            check_rate(r.rps, r.burst).map_err(|m| ("per_caller".to_string(), m))?;
        }
        for (i, c) in self.callers.iter().enumerate() {
            check_rate(c.rps, c.burst).map_err(|m| (format!("callers[{i}]"), m))?;
        }
        if self.rps.is_none() && self.per_caller.is_none() && self.callers.is_empty() {
            return Err((
                String::new(),
                "limits nothing: give `rps`, `per_caller` or `callers`".into(),
            ));
        }
        Ok(())
    }

    /// The wire form; `{service: NAME}` is the identity of NAME in `namespace`.
    pub fn to_proto_in(&self, trust_domain: &str, namespace: &str) -> pb::RateLimitPolicy {
        let rate = |rps: f64, burst: Option<u32>| {
            check_rate(rps, burst).ok().map(|r| pb::Rate {
                rps: r.rps,
                burst: r.burst,
            })
        };
        pb::RateLimitPolicy {
            overall: self.rps.and_then(|rps| rate(rps, self.burst)),
            per_caller: self.per_caller.as_ref().and_then(|r| rate(r.rps, r.burst)),
            callers: self
                .callers
                .iter()
                .map(|c| pb::CallerRate {
                    from: c.from.pattern_in(trust_domain, namespace),
                    rate: rate(c.rps, c.burst),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_buckets_are_bounded_and_forget_idle_keys_first() {
        let b = KeyedBuckets::new(Rate { rps: 1.0, burst: 1 });
        for i in 0..MAX_BUCKETS {
            assert!(matches!(b.take(&i.to_string(), 0.0), Verdict::Allow { .. }));
        }
        assert!(matches!(b.take("new-1", 0.0), Verdict::Allow { .. }));
        assert!(
            matches!(b.take("new-2", 0.0), Verdict::Refuse { .. }),
            "shared overflow"
        );
        assert!(matches!(b.take("new-3", 5.0), Verdict::Allow { .. }));
        assert!(b.len() < 10);
    }

    #[test]
    fn a_spec_names_the_bad_rate_and_converts_services_to_identities() {
        let spec: RateLimitSpec = serde_yaml::from_str(
            "{ rps: 100, per_caller: { rps: 10 }, callers: [{ from: { service: web }, rps: 50, burst: 80 }] }",
        )
        .unwrap();
        assert!(spec.check().is_ok());
        let wire = spec.to_proto_in("mesh.local", "local");
        assert_eq!(
            wire.overall,
            Some(pb::Rate {
                rps: 100.0,
                burst: 100
            })
        );
        assert_eq!(
            wire.per_caller,
            Some(pb::Rate {
                rps: 10.0,
                burst: 10
            })
        );
        assert_eq!(wire.callers[0].from, "spiffe://mesh.local/ns/local/sa/web");
        assert_eq!(
            wire.callers[0].rate,
            Some(pb::Rate {
                rps: 50.0,
                burst: 80
            })
        );
        let bad: RateLimitSpec = serde_yaml::from_str("{ per_caller: { rps: 0 } }").unwrap();
        assert_eq!(bad.check().unwrap_err().0, "per_caller");
        let empty = RateLimitSpec::default();
        assert!(empty.check().unwrap_err().1.contains("limits nothing"));
        let burst_only: RateLimitSpec = serde_yaml::from_str("{ burst: 3 }").unwrap();
        assert_eq!(burst_only.check().unwrap_err().0, "burst");
    }
}
