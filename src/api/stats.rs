//! What a proxy's admin listener serves at `GET /stats?window=SECS` (JSON), as `meshctl stat`,
//! `edges` and the canary gates read it.

use serde::{Deserialize, Serialize};

/// Significant decimal digits of the latency histograms: a recorded value is reported as the
/// upper edge of its bucket, at most 1% above the true value.
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 2;

/// Which side of the proxy a request or connection is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From a peer proxy (mTLS) to the local app.
    Inbound,
    /// From the local app to a peer proxy (mTLS).
    Outbound,
}

impl Direction {
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::Inbound => 0,
            Direction::Outbound => 1,
        }
    }

    /// The Prometheus label value and JSON name.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// One proxy's view of a window: the JSON body of `GET /stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// How much time the window covers (less than asked when the proxy is younger).
    pub covered_ms: u64,
    pub peers: Vec<PeerStats>,
    /// Inbound connections open now.
    pub tcp_open_inbound: i64,
    /// Bytes read from / written to accepted connections during the window.
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// Requests to or from one peer during the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerStats {
    pub direction: Direction,
    /// The peer's verified SPIFFE ID; empty for requests the proxy answered itself.
    pub peer: String,
    pub requests: u64,
    /// Responses below 500.
    pub successes: u64,
    /// The latency histogram: (bucket upper edge in µs, count), ascending.
    pub latency_us: Vec<(u64, u64)>,
}
