//! Windowed traffic statistics per (direction, peer identity): what `meshctl stat` and
//! `meshctl edges` read from every proxy's admin listener (`GET /stats?window=SECS`).
//!
//! Time is cut into one-second slices; each slice holds a request count, a success count and
//! an HDR histogram of latencies (2 significant digits, so a bucket is at most 1% wide). A
//! window is the sum of its slices, so any window from 1 s to [`MAX_WINDOW`] is exact to the
//! request, and histograms from many proxies merge without losing accuracy (percentiles of
//! percentiles would be wrong). A peer is a verified SPIFFE ID (inbound: the client; outbound:
//! the server the request went to), so the key set is bounded by the mesh's identities, never
//! by request data.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::StatusCode;

pub use crate::api::stats::{LATENCY_SIGNIFICANT_DIGITS, PeerStats, StatsSnapshot};

use crate::proxy::telemetry::metrics::Direction;
use crate::proxy::telemetry::responses::{GrpcStatus, PeerSeries};

/// A response's labels beyond direction and peer (see
/// [`crate::proxy::telemetry::responses`]).
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// The peer's version (outbound); empty when unknown.
    pub version: &'a str,
    /// The name of the route the request matched (outbound); empty for none or unnamed.
    pub route: &'a str,
    pub grpc: GrpcStatus,
}

/// Longest window a proxy keeps (and the memory bound: one slice per second per active peer).
pub const MAX_WINDOW: Duration = Duration::from_secs(300);

/// The peer recorded for an outbound request that never reached a peer (no route, no
/// endpoints): the proxy answered it itself.
pub const NO_PEER: &str = "";

const SLICE_SECS: u64 = 1;
const MAX_SLICES: u64 = MAX_WINDOW.as_secs() / SLICE_SECS;

/// Every peer's slices for both directions.
#[derive(Debug)]
pub struct TrafficStats {
    started: Instant,
    peers: [Mutex<HashMap<Arc<str>, PeerEntry>>; 2],
    /// (slice, bytes read, bytes written) totals of accepted connections, one per slice.
    bytes: Mutex<VecDeque<(u64, u64, u64)>>,
}

/// One peer's windowed slices and its labelled response series (which are never pruned:
/// Prometheus counters only grow; their number is bounded by the mesh's identities).
#[derive(Debug, Default)]
struct PeerEntry {
    slices: Slices,
    responses: PeerSeries,
}

#[derive(Debug, Default)]
struct Slices(VecDeque<Slice>);

#[derive(Debug)]
struct Slice {
    index: u64,
    requests: u64,
    successes: u64,
    /// Microseconds. `None` only if the histogram parameters were invalid (a unit test
    /// pins that they are not).
    latency: Option<Latency>,
}

/// A slice's latency histogram: recording while its second runs, then only what it holds.
#[derive(Debug)]
enum Latency {
    Live(Histogram<u32>),
    /// The non-empty buckets (upper edge in µs, count), ascending: a small fraction of a
    /// histogram's counts array (kilobytes per slice, 300 slices per peer and direction).
    Sealed(Box<[(u64, u32)]>),
}

impl Latency {
    fn seal(&mut self) {
        if let Latency::Live(h) = self {
            let buckets = h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect();
            *self = Latency::Sealed(buckets);
        }
    }

    fn buckets(&self) -> Box<dyn Iterator<Item = (u64, u32)> + '_> {
        match self {
            Latency::Live(h) => Box::new(
                h.iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value())),
            ),
            Latency::Sealed(b) => Box::new(b.iter().copied()),
        }
    }
}

impl Default for TrafficStats {
    fn default() -> Self {
        TrafficStats {
            started: Instant::now(),
            peers: Default::default(),
            bytes: Mutex::default(),
        }
    }
}

impl TrafficStats {
    /// Records one answered request, and its labelled response series unless `labels` is
    /// `None` (counted later by [`TrafficStats::record_response`]). Success means a status
    /// below 500 (a 4xx is the client's doing, not the service failing).
    pub fn record(
        &self,
        direction: Direction,
        peer: &str,
        status: StatusCode,
        latency: Duration,
        labels: Option<Labels<'_>>,
    ) {
        let index = self.slice_now();
        let Ok(mut peers) = self.peers[direction.index()].lock() else {
            return;
        };
        let entry = match peers.get_mut(peer) {
            Some(entry) => entry,
            None => peers.entry(Arc::from(peer)).or_default(),
        };
        if let Some(l) = labels {
            (entry.responses).record(l, status.as_u16(), latency);
        }
        let slice = entry.slices.current(index);
        slice.requests += 1;
        if status.as_u16() < 500 {
            slice.successes += 1;
        }
        if let Some(Latency::Live(h)) = &mut slice.latency {
            let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            // `record`, not `saturating_record`: the latter clamps to the current range
            // instead of growing the histogram.
            let _ = h.record(micros.max(1));
        }
    }

    /// Counts a response in its labelled series only (its windowed slice was recorded when
    /// its head was answered).
    pub fn record_response(
        &self,
        direction: Direction,
        peer: &str,
        labels: Labels<'_>,
        status: StatusCode,
        latency: Duration,
    ) {
        let Ok(mut peers) = self.peers[direction.index()].lock() else {
            return;
        };
        let entry = match peers.get_mut(peer) {
            Some(entry) => entry,
            None => peers.entry(Arc::from(peer)).or_default(),
        };
        (entry.responses).record(labels, status.as_u16(), latency);
    }

    /// Appends the labelled response families (see [`crate::proxy::telemetry::responses`]).
    pub fn render_responses(&self, out: &mut String) {
        let mut counts = String::new();
        let mut histograms = String::new();
        for direction in [Direction::Inbound, Direction::Outbound] {
            let Ok(map) = self.peers[direction.index()].lock() else {
                continue;
            };
            let mut peers: Vec<_> = map.iter().collect();
            peers.sort_by(|a, b| a.0.cmp(b.0));
            for (peer, entry) in peers {
                (entry.responses).render(direction, peer, &mut counts, &mut histograms);
            }
        }
        let _ = writeln!(
            out,
            "# HELP meshctl_responses_total HTTP responses by direction, peer (namespace, \
             service; version: outbound only), status code, gRPC status and classification.\n\
             # TYPE meshctl_responses_total counter"
        );
        out.push_str(&counts);
        let _ = writeln!(
            out,
            "# HELP meshctl_response_duration_seconds Time from a request's arrival to its \
             response head, labelled like meshctl_responses_total.\n\
             # TYPE meshctl_response_duration_seconds histogram"
        );
        out.push_str(&histograms);
    }

    /// Notes the byte totals of accepted connections; called once a slice by the admin
    /// listener's sampler, so the hot path never touches this.
    pub fn sample_bytes(&self, read_total: u64, write_total: u64) {
        let index = self.slice_now();
        if let Ok(mut samples) = self.bytes.lock() {
            if samples.back().is_some_and(|s| s.0 == index) {
                samples.pop_back();
            }
            samples.push_back((index, read_total, write_total));
            while samples
                .front()
                .is_some_and(|s| s.0 + MAX_SLICES + 1 < index)
            {
                samples.pop_front();
            }
        }
    }

    /// The last `window` (clamped to 1 s ..= [`MAX_WINDOW`]), up to now. `read_total` and
    /// `write_total` are the byte counters now; peers idle for the whole window are left out
    /// (and forgotten once idle longer than [`MAX_WINDOW`]).
    pub fn snapshot(
        &self,
        window: Duration,
        tcp_open_inbound: i64,
        read_total: u64,
        write_total: u64,
    ) -> StatsSnapshot {
        let now = self.started.elapsed();
        let current = now.as_secs() / SLICE_SECS;
        let slices = (window.as_secs() / SLICE_SECS).clamp(1, MAX_SLICES);
        let first = (current + 1).saturating_sub(slices);
        let covered = now.saturating_sub(Duration::from_secs(first * SLICE_SECS));
        let mut peers = Vec::new();
        for direction in [Direction::Inbound, Direction::Outbound] {
            let Ok(mut map) = self.peers[direction.index()].lock() else {
                continue;
            };
            map.retain(|_, e| e.slices.prune(current) || !e.responses.is_empty());
            for (peer, e) in map.iter() {
                if let Some(stats) = e.slices.sum(first, direction, peer) {
                    peers.push(stats);
                }
            }
        }
        peers.sort_by(|a, b| (a.direction, &a.peer).cmp(&(b.direction, &b.peer)));
        let (read_bytes, write_bytes) = self.bytes_since(first, read_total, write_total);
        StatsSnapshot {
            covered_ms: u64::try_from(covered.as_millis()).unwrap_or(u64::MAX),
            peers,
            tcp_open_inbound,
            read_bytes,
            write_bytes,
        }
    }

    fn slice_now(&self) -> u64 {
        self.started.elapsed().as_secs() / SLICE_SECS
    }

    /// Bytes moved since the start of slice `first`: the totals now minus the oldest sample
    /// taken at or after it (zero totals before the first sample).
    fn bytes_since(&self, first: u64, read_total: u64, write_total: u64) -> (u64, u64) {
        let Ok(samples) = self.bytes.lock() else {
            return (0, 0);
        };
        let base = if first == 0 {
            (0, 0)
        } else {
            samples
                .iter()
                .find(|s| s.0 >= first)
                .map_or((read_total, write_total), |s| (s.1, s.2))
        };
        (
            read_total.saturating_sub(base.0),
            write_total.saturating_sub(base.1),
        )
    }
}

impl Slices {
    fn current(&mut self, index: u64) -> &mut Slice {
        if self.0.back().is_none_or(|s| s.index != index) {
            if let Some(latency) = self.0.back_mut().and_then(|s| s.latency.as_mut()) {
                latency.seal();
            }
            self.prune(index);
            self.0.push_back(Slice {
                index,
                requests: 0,
                successes: 0,
                latency: Histogram::new(LATENCY_SIGNIFICANT_DIGITS)
                    .ok()
                    .map(Latency::Live),
            });
        }
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    /// Drops slices older than the longest window; `false` when nothing is left.
    fn prune(&mut self, current: u64) -> bool {
        while self
            .0
            .front()
            .is_some_and(|s| s.index + MAX_SLICES <= current)
        {
            self.0.pop_front();
        }
        !self.0.is_empty()
    }

    fn sum(&self, first: u64, direction: Direction, peer: &str) -> Option<PeerStats> {
        let mut requests = 0;
        let mut successes = 0;
        let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
        for s in self.0.iter().filter(|s| s.index >= first) {
            requests += s.requests;
            successes += s.successes;
            for (edge, count) in s.latency.iter().flat_map(Latency::buckets) {
                *buckets.entry(edge).or_default() += u64::from(count);
            }
        }
        (requests > 0).then(|| PeerStats {
            direction,
            peer: peer.to_string(),
            requests,
            successes,
            latency_us: buckets.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_parameters_are_valid() {
        assert!(Histogram::<u32>::new(LATENCY_SIGNIFICANT_DIGITS).is_ok());
    }

    #[test]
    fn a_sealed_slice_keeps_exactly_the_buckets_it_recorded() {
        let mut h = Histogram::<u32>::new(LATENCY_SIGNIFICANT_DIGITS).unwrap();
        for v in [1, 7, 7, 950, 1_003, 12_345, 2_000_000] {
            h.record(v).unwrap();
        }
        let mut latency = Latency::Live(h);
        let live: Vec<(u64, u32)> = latency.buckets().collect();
        latency.seal();
        assert!(matches!(latency, Latency::Sealed(_)));
        assert_eq!(latency.buckets().collect::<Vec<_>>(), live);
        assert_eq!(live.iter().map(|b| b.1).sum::<u32>(), 7);
    }

    #[test]
    fn a_window_counts_requests_successes_and_latencies_per_peer() {
        let stats = TrafficStats::default();
        for i in 0..10u64 {
            let status = if i == 0 {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            };
            stats.record(
                Direction::Inbound,
                "spiffe://t/ns/local/sa/web",
                status,
                Duration::from_micros(1000 + i),
                None,
            );
        }
        stats.record(
            Direction::Outbound,
            NO_PEER,
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_micros(5),
            None,
        );
        let snap = stats.snapshot(Duration::from_secs(10), 3, 100, 50);
        assert_eq!(snap.peers.len(), 2);
        let web = &snap.peers[0];
        assert_eq!(web.direction, Direction::Inbound);
        assert_eq!((web.requests, web.successes), (10, 9));
        assert_eq!(web.latency_us.iter().map(|b| b.1).sum::<u64>(), 10);
        let (low, high) = (web.latency_us[0].0, web.latency_us.last().unwrap().0);
        assert!(
            (1000..=1010).contains(&low) && (1009..=1020).contains(&high),
            "{low} {high}"
        );
        assert_eq!(snap.peers[1].peer, NO_PEER);
        assert_eq!((snap.tcp_open_inbound, snap.read_bytes), (3, 100));
        assert!(
            snap.covered_ms < 1000,
            "a new proxy covers its own age only"
        );
    }

    #[test]
    fn json_shape_is_stable() {
        let snap = StatsSnapshot {
            covered_ms: 10_000,
            peers: vec![PeerStats {
                direction: Direction::Outbound,
                peer: "spiffe://t/ns/local/sa/api".into(),
                requests: 2,
                successes: 1,
                latency_us: vec![(1003, 1), (2007, 1)],
            }],
            tcp_open_inbound: 1,
            read_bytes: 10,
            write_bytes: 20,
        };
        let json = serde_json::to_string(&snap).unwrap();
        assert_eq!(
            json,
            r#"{"covered_ms":10000,"peers":[{"direction":"outbound","peer":"spiffe://t/ns/local/sa/api","requests":2,"successes":1,"latency_us":[[1003,1],[2007,1]]}],"tcp_open_inbound":1,"read_bytes":10,"write_bytes":20}"#
        );
        assert_eq!(serde_json::from_str::<StatsSnapshot>(&json).unwrap(), snap);
    }
}
