//! The `load` role: a rate-limited HTTP load generator, bounded by a rate cap, an in-flight
//! cap, and optionally a duration and a request count; it only ever targets loopback.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::Uri;
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};

use super::http::{self as demo_http, UPSTREAM_TIMEOUT};

/// Request rate unless configured.
pub const DEFAULT_RPS: u32 = 10;
/// Highest request rate accepted.
pub const MAX_RPS: u32 = 1_000;
/// Requests allowed in flight at once; a tick that finds them all busy is skipped, so a slow
/// target gets less load instead of a growing backlog.
pub const MAX_IN_FLIGHT: usize = 64;
/// How often `run` reports progress while it runs.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// What to load and for how long.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// An `http://` URL on a loopback address (see [`parse_target`]).
    pub target: Uri,
    /// Requests per second, 1 to [`MAX_RPS`].
    pub rps: u32,
    /// Stop after this long; `None`: until the shutdown future completes.
    pub duration: Option<Duration>,
    /// Stop after sending this many requests; `None`: no count limit.
    pub requests: Option<u64>,
}

/// Counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Requests sent.
    pub sent: u64,
    /// Answered with a 1xx–3xx status.
    pub ok: u64,
    /// Answered with 4xx/5xx, or not answered (connection error, timeout).
    pub failed: u64,
    /// Ticks skipped because [`MAX_IN_FLIGHT`] requests were still open.
    pub skipped: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

/// Why a `--url` is refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a URL: {1}")]
    Parse(String, #[source] http::uri::InvalidUri),
    #[error("`{0}`: {1}")]
    Refused(String, &'static str),
}

#[derive(Debug, Default)]
struct Outcomes {
    ok: AtomicU64,
    failed: AtomicU64,
}

/// Parses a load target: `http://127.0.0.1:PORT/path` (or `localhost`, `[::1]`). Anything
/// that is not loopback is refused: the demo must never send traffic off the machine.
pub fn parse_target(text: &str) -> Result<Uri, TargetError> {
    let uri: Uri = text
        .parse()
        .map_err(|e| TargetError::Parse(text.to_string(), e))?;
    let refuse = |why| Err(TargetError::Refused(text.to_string(), why));
    if uri.scheme_str() != Some("http") {
        return refuse("only http:// targets are supported");
    }
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return refuse(
            "the demo load generator only targets loopback (127.0.0.1, localhost, [::1])",
        );
    }
    Ok(uri)
}

impl LoadPlan {
    /// Sends GETs to `target` at `rps` until the duration, the request count or `shutdown`
    /// ends it, calling `report` every [`SUMMARY_INTERVAL`]; then waits for open requests
    /// (each has [`UPSTREAM_TIMEOUT`]) and returns the final counts.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()>,
        mut report: impl FnMut(&LoadStats),
    ) -> LoadStats {
        let client = demo_http::client();
        let target = self.target.to_string();
        let outcomes = Arc::new(Outcomes::default());
        let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let start = Instant::now();
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / self.rps.clamp(1, MAX_RPS));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let end = async {
            match self.duration {
                Some(d) => tokio::time::sleep_until(start + d).await,
                None => std::future::pending().await,
            }
        };
        let (mut shutdown, mut end) = (std::pin::pin!(shutdown), std::pin::pin!(end));
        let (mut sent, mut skipped) = (0u64, 0u64);
        let mut next_report = start + SUMMARY_INTERVAL;
        let stats = |sent, skipped| LoadStats {
            sent,
            ok: outcomes.ok.load(Ordering::Relaxed),
            failed: outcomes.failed.load(Ordering::Relaxed),
            skipped,
            elapsed: start.elapsed(),
        };
        while self.requests.is_none_or(|n| sent < n) {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = &mut end => break,
                _ = ticks.tick() => {}
            }
            match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    sent += 1;
                    let (client, target, outcomes) =
                        (client.clone(), target.clone(), outcomes.clone());
                    tokio::spawn(async move {
                        let ok = demo_http::get(&client, &target)
                            .await
                            .is_ok_and(|(status, _)| status.as_u16() < 400);
                        let counter = if ok { &outcomes.ok } else { &outcomes.failed };
                        counter.fetch_add(1, Ordering::Relaxed);
                        drop(slot);
                    });
                }
                Err(_) => skipped += 1,
            }
            if Instant::now() >= next_report {
                report(&stats(sent, skipped));
                next_report += SUMMARY_INTERVAL;
            }
        }
        // Every request has its own timeout, so this wait is bounded too.
        let all = MAX_IN_FLIGHT as u32;
        let _ = tokio::time::timeout(UPSTREAM_TIMEOUT, slots.acquire_many(all)).await;
        stats(sent, skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_targets() {
        for ok in [
            "http://127.0.0.1:8080/",
            "http://localhost:1/x",
            "http://[::1]:80/",
            "http://127.0.0.2:9/",
        ] {
            assert!(parse_target(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8080/",
            "https://127.0.0.1/",
            "http://example.com/",
            "127.0.0.1:8080",
            "not a url",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
