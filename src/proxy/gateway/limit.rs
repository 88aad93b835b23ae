//! A route's rate limit: one token bucket per API key name, client address or header value,
//! local to this gateway process. Answers carry the IETF `RateLimit-Policy` and `RateLimit`
//! fields (draft-ietf-httpapi-ratelimit-headers: `"name";q=…;w=…` and `"name";r=…;t=…`);
//! a refusal also `Retry-After` in whole seconds.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{RATELIMIT, RATELIMIT_POLICY, RETRY_AFTER};
use crate::policy::gateway::{LimitBy, RateLimit};
use crate::policy::rate_limit::{KeyedBuckets, Rate, Verdict};

/// Header fields for an answer.
pub type Fields = Vec<(HeaderName, HeaderValue)>;

#[derive(Debug)]
pub struct Limiter {
    rps: f64,
    burst: u32,
    by: LimitBy,
    policy: HeaderValue,
    name: String,
    buckets: KeyedBuckets,
}

fn now() -> f64 {
    crate::proxy::limits::bucket_clock()
}

impl Limiter {
    pub fn new(route: &str, limit: &RateLimit, has_key: bool) -> Limiter {
        let burst = limit.burst();
        let by = limit.by.clone().unwrap_or(if has_key {
            LimitBy::ApiKey
        } else {
            LimitBy::ClientIp
        });
        // The window: how long an empty bucket takes to fill.
        let window = (f64::from(burst) / limit.rps).ceil().max(1.0) as u64;
        let policy = HeaderValue::from_str(&format!("\"{route}\";q={burst};w={window}"))
            .unwrap_or_else(|_| HeaderValue::from_static("\"default\""));
        Limiter {
            rps: limit.rps,
            burst,
            by,
            policy,
            name: route.to_string(),
            buckets: KeyedBuckets::new(Rate {
                rps: limit.rps,
                burst,
            }),
        }
    }

    /// Which bucket a request draws from.
    pub fn bucket_key(
        &self,
        key_name: Option<&str>,
        client: IpAddr,
        headers: &HeaderMap,
    ) -> String {
        match &self.by {
            LimitBy::ApiKey => key_name.map_or_else(|| client.to_string(), str::to_string),
            LimitBy::ClientIp => client.to_string(),
            LimitBy::Header(h) => headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| client.to_string(), |v| format!("h:{v}")),
        }
    }

    /// `Ok`: allowed, with the headers for the answer; `Err`: refused, with the 429's.
    pub fn check(&self, key: &str) -> Result<Fields, Fields> {
        self.check_at(key, now())
    }

    fn check_at(&self, key: &str, now: f64) -> Result<Fields, Fields> {
        let verdict = self.buckets.take(key, now);
        let value = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("0"));
        let name = &self.name;
        match verdict {
            Verdict::Allow { remaining } => {
                // Seconds until the bucket is full again.
                let reset = (f64::from(self.burst - remaining.min(self.burst)) / self.rps).ceil();
                Ok(vec![
                    (RATELIMIT_POLICY, self.policy.clone()),
                    (
                        RATELIMIT,
                        value(format!("\"{name}\";r={remaining};t={reset}")),
                    ),
                ])
            }
            Verdict::Refuse { retry_after } => {
                let secs = retry_after.ceil().max(1.0) as u64;
                Err(vec![
                    (RATELIMIT_POLICY, self.policy.clone()),
                    (RATELIMIT, value(format!("\"{name}\";r=0;t={secs}"))),
                    (RETRY_AFTER, value(secs.to_string())),
                ])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rps: f64, burst: u32) -> Limiter {
        let spec = RateLimit {
            rps,
            burst: Some(burst),
            by: None,
        };
        Limiter::new("api", &spec, false)
    }

    fn allowed(l: &Limiter, key: &str, at: f64) -> bool {
        l.check_at(key, at).is_ok()
    }

    #[test]
    fn a_burst_is_allowed_then_the_rate_and_each_client_has_its_own_bucket() {
        let l = limiter(2.0, 3);
        assert!((0..3).all(|_| allowed(&l, "a", 0.0)));
        let refused = l.check_at("a", 0.0).unwrap_err();
        let get = |name: &str| {
            refused
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_str().unwrap().to_string())
        };
        assert_eq!(get("retry-after").as_deref(), Some("1"));
        assert_eq!(get("ratelimit-policy").as_deref(), Some("\"api\";q=3;w=2"));
        assert_eq!(get("ratelimit").as_deref(), Some("\"api\";r=0;t=1"));
        // Another client is not affected.
        assert!(allowed(&l, "b", 0.0));
        // Half a second at 2 rps is one token.
        assert!(allowed(&l, "a", 0.5));
        assert!(!allowed(&l, "a", 0.5));
        // 100 requests spread evenly over 10 s at 2 rps: the 3 of the burst plus 2/s.
        let l = limiter(2.0, 3);
        let ok = (0..100)
            .filter(|i| allowed(&l, "c", f64::from(*i) * 0.1))
            .count();
        assert_eq!(ok, 3 + 20 - 1, "burst 3, then one per 0.5 s over 9.9 s");
    }

    #[test]
    fn the_bucket_key_follows_by() {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", HeaderValue::from_static("alice"));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let by = |by| {
            let spec = RateLimit {
                rps: 1.0,
                burst: None,
                by: Some(by),
            };
            Limiter::new("r", &spec, true)
        };
        assert_eq!(
            by(LimitBy::ApiKey).bucket_key(Some("ci"), ip, &headers),
            "ci"
        );
        assert_eq!(
            by(LimitBy::ClientIp).bucket_key(Some("ci"), ip, &headers),
            "10.0.0.1"
        );
        let header = by(LimitBy::Header("x-user".into()));
        assert_eq!(header.bucket_key(None, ip, &headers), "h:alice");
        assert_eq!(header.bucket_key(None, ip, &HeaderMap::new()), "10.0.0.1");
    }
}
