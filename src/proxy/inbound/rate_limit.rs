//! The service's own rate limits (mesh.yaml `policy.rate_limit`), enforced by its proxies on
//! the requests they accept, after authorization: a caller with a rate of its own (first
//! matching `callers` pattern) or else the `per_caller` rate draws from a bucket per verified
//! identity; then every caller together draws from the `overall` bucket. Over a limit: 429
//! with `Retry-After` (gRPC: trailers-only RESOURCE_EXHAUSTED), counted by reason. Buckets
//! are per proxy (per instance), kept across configuration updates that do not change the
//! policy.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use arc_swap::ArcSwapOption;
use http::header::HeaderName;
use http::{HeaderValue, Response, StatusCode};

use crate::api::proto::control as pb;
use crate::policy::authz::IdPattern;
use crate::policy::rate_limit::{KeyedBuckets, Rate, Verdict, check_rate};
use crate::proxy::protocol::http::{ProxyBody, error_response, grpc_error};

/// gRPC's RESOURCE_EXHAUSTED.
const GRPC_RESOURCE_EXHAUSTED: &str = "8";
const RATE_LIMITED: &str = "rate limited";
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");
/// The overall bucket's key (one bucket).
const ALL: &str = "";

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Overall,
    PerCaller,
    Caller,
}

impl Reason {
    fn label(self) -> &'static str {
        match self {
            Reason::Overall => "overall",
            Reason::PerCaller => "per_caller",
            Reason::Caller => "caller",
        }
    }
}

/// A policy in force.
#[derive(Debug)]
pub struct InboundLimits {
    wire: pb::RateLimitPolicy,
    overall: Option<KeyedBuckets>,
    per_caller: Option<KeyedBuckets>,
    callers: Vec<(IdPattern, KeyedBuckets)>,
}

fn rate(r: Option<&pb::Rate>, at: &str) -> Result<Option<Rate>, String> {
    r.map(|r| check_rate(r.rps, Some(r.burst)).map_err(|m| format!("rate_limit.{at}: {m}")))
        .transpose()
}

impl InboundLimits {
    pub fn from_proto(wire: &pb::RateLimitPolicy) -> Result<InboundLimits, String> {
        let overall = rate(wire.overall.as_ref(), "overall")?.map(KeyedBuckets::new);
        let per_caller = rate(wire.per_caller.as_ref(), "per_caller")?.map(KeyedBuckets::new);
        let mut callers = Vec::with_capacity(wire.callers.len());
        for (i, c) in wire.callers.iter().enumerate() {
            let at = format!("callers[{i}]");
            let pattern: IdPattern = c
                .from
                .parse()
                .map_err(|e| format!("rate_limit.{at}.from: {e}"))?;
            let Some(r) = rate(c.rate.as_ref(), &at)? else {
                return Err(format!("rate_limit.{at}: no rate"));
            };
            callers.push((pattern, KeyedBuckets::new(r)));
        }
        Ok(InboundLimits {
            wire: wire.clone(),
            overall,
            per_caller,
            callers,
        })
    }

    /// `Err`: refused by this limit, a token due in that many seconds.
    pub fn check(&self, peer: &str, now: f64) -> Result<(), (Reason, f64)> {
        let own = match self.callers.iter().find(|(p, _)| p.matches(peer)) {
            Some((_, buckets)) => Some((Reason::Caller, buckets)),
            None => self.per_caller.as_ref().map(|b| (Reason::PerCaller, b)),
        };
        if let Some((reason, buckets)) = own
            && let Verdict::Refuse { retry_after } = buckets.take(peer, now)
        {
            return Err((reason, retry_after));
        }
        if let Some(all) = &self.overall
            && let Verdict::Refuse { retry_after } = all.take(ALL, now)
        {
            return Err((Reason::Overall, retry_after));
        }
        Ok(())
    }
}

/// Parses a configuration's limits (`None`: none) before anything of it is applied.
pub fn parse(wire: Option<&pb::RateLimitPolicy>) -> Result<Option<InboundLimits>, String> {
    wire.map(InboundLimits::from_proto).transpose()
}

/// The limits in force in this proxy, if any: one relaxed load per request when there are
/// none.
#[derive(Debug, Default)]
pub struct LimitCell {
    on: AtomicBool,
    limits: ArcSwapOption<InboundLimits>,
}

impl LimitCell {
    /// Installs `new`, keeping the current buckets when the policy did not change.
    pub fn install(&self, new: Option<InboundLimits>) {
        let unchanged = match (&*self.limits.load(), &new) {
            (Some(current), Some(new)) => current.wire == new.wire,
            (None, None) => true,
            _ => false,
        };
        if !unchanged {
            self.on.store(new.is_some(), Relaxed);
            self.limits.store(new.map(std::sync::Arc::new));
        }
    }

    /// `Err`: refused (which limit, seconds until a token is due).
    #[inline]
    pub fn check(&self, peer: &str) -> Result<(), (Reason, f64)> {
        if !self.on.load(Relaxed) {
            return Ok(());
        }
        match &*self.limits.load() {
            Some(limits) => limits.check(peer, crate::proxy::limits::bucket_clock()),
            None => Ok(()),
        }
    }
}

/// The answer to a refused request.
pub fn refusal(retry_after: f64, grpc: bool) -> Response<ProxyBody> {
    let mut response = if grpc {
        grpc_error(
            HeaderValue::from_static(GRPC_RESOURCE_EXHAUSTED),
            RATE_LIMITED,
        )
    } else {
        error_response(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED)
    };
    let secs = retry_after.ceil().max(1.0) as u64;
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// `meshctl_inbound_rate_limited_total{reason}`.
#[derive(Debug, Default)]
pub struct LimitedCounters {
    counts: [AtomicU64; 3],
}

impl LimitedCounters {
    pub fn count(&self, reason: Reason) {
        self.counts[reason as usize].fetch_add(1, Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP meshctl_inbound_rate_limited_total Requests this proxy refused because a rate \
             limit of its service (policy.rate_limit) was reached, by which limit.\n\
             # TYPE meshctl_inbound_rate_limited_total counter\n",
        );
        for reason in [Reason::Overall, Reason::PerCaller, Reason::Caller] {
            let n = self.counts[reason as usize].load(Relaxed);
            let _ = writeln!(
                out,
                "meshctl_inbound_rate_limited_total{{reason=\"{}\"}} {n}",
                reason.label()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(
        overall: Option<(f64, u32)>,
        per: Option<(f64, u32)>,
        callers: &[(&str, f64, u32)],
    ) -> pb::RateLimitPolicy {
        let r = |(rps, burst): (f64, u32)| pb::Rate { rps, burst };
        pb::RateLimitPolicy {
            overall: overall.map(r),
            per_caller: per.map(r),
            callers: callers
                .iter()
                .map(|(from, rps, burst)| pb::CallerRate {
                    from: from.to_string(),
                    rate: Some(pb::Rate {
                        rps: *rps,
                        burst: *burst,
                    }),
                })
                .collect(),
        }
    }

    const WEB: &str = "spiffe://mesh.local/ns/local/sa/web";
    const BATCH: &str = "spiffe://mesh.local/ns/local/sa/batch";

    #[test]
    fn each_caller_has_its_bucket_a_named_caller_its_own_rate_and_all_share_the_overall() {
        let l =
            InboundLimits::from_proto(&wire(Some((100.0, 5)), Some((1.0, 2)), &[(WEB, 1.0, 3)]))
                .unwrap();
        // web: its own rate, burst 3.
        assert!((0..3).all(|_| l.check(WEB, 0.0).is_ok()));
        assert_eq!(l.check(WEB, 0.0).unwrap_err().0, Reason::Caller);
        // batch: per caller, burst 2; its bucket is not web's.
        assert!((0..2).all(|_| l.check(BATCH, 0.0).is_ok()));
        let (reason, retry) = l.check(BATCH, 0.0).unwrap_err();
        assert_eq!(reason, Reason::PerCaller);
        assert!((retry - 1.0).abs() < 1e-9);
        // Five allowed so far: the overall burst is spent for a third caller.
        let other = "spiffe://mesh.local/ns/local/sa/other";
        assert_eq!(l.check(other, 0.0).unwrap_err().0, Reason::Overall);
    }

    #[test]
    fn a_bad_policy_is_refused_and_an_unchanged_one_keeps_its_buckets() {
        assert!(
            InboundLimits::from_proto(&wire(Some((0.0, 1)), None, &[]))
                .unwrap_err()
                .contains("rate_limit.overall")
        );
        assert!(
            InboundLimits::from_proto(&wire(None, None, &[("web", 1.0, 1)]))
                .unwrap_err()
                .contains("callers[0].from")
        );
        let cell = LimitCell::default();
        assert!(cell.check(WEB).is_ok());
        let policy = wire(None, Some((0.001, 1)), &[]);
        cell.install(parse(Some(&policy)).unwrap());
        assert!(cell.check(WEB).is_ok());
        cell.install(parse(Some(&policy)).unwrap());
        assert!(
            cell.check(WEB).is_err(),
            "the same buckets: the token is spent"
        );
        cell.install(None);
        assert!(cell.check(WEB).is_ok());
        let r = refusal(0.2, false);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "1");
        let g = refusal(2.5, true);
        assert_eq!(g.headers()["grpc-status"], "8");
        assert_eq!(g.headers()["retry-after"], "3");
    }
}
