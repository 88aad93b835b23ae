//! `meshctl stat`'s rows: golden metrics per service (and per version under a split), summed
//! from every proxy's windowed statistics.
//!
//! By default a row is what the service's proxies received (inbound; `--from` keeps requests
//! from one client service). With `--to`, a row is what the service's proxies sent to that
//! service (outbound). RPS sums each proxy's requests over the time its window covered;
//! percentiles come from the merged histograms (see [`super::latency`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::fleet::Fleet;
use super::latency::LatencyDistribution;
use crate::api::stats::Direction;
use crate::api::stats::StatsSnapshot;
use crate::policy::split::SplitWeights;

/// What `meshctl stat` asked for.
#[derive(Debug, Clone, Default)]
pub struct StatQuery {
    pub service: Option<String>,
    pub version: Option<String>,
    /// Only requests from this client service (inbound).
    pub from: Option<String>,
    /// Requests the selected services sent to this service (outbound) instead of inbound.
    pub to: Option<String>,
}

/// One row: a service, or one of its versions (then in `versions` of its service's row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatRow {
    /// `api`, or `api/v2` for a version.
    pub name: String,
    /// Proxies that reported / proxies of the row.
    pub meshed: Meshed,
    pub requests: u64,
    /// Share of responses below 500 (0-1); `None` without requests.
    pub success_rate: Option<f64>,
    pub rps: Option<f64>,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    pub latency_ms_p99: Option<f64>,
    /// Inbound connections open now; `None` when no proxy reported.
    pub tcp_connections: Option<i64>,
    pub read_bytes_per_sec: Option<f64>,
    pub write_bytes_per_sec: Option<f64>,
    /// Configured split weight (versions under a split only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Observed share of the service's requests (0-1; versions under a split only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_share: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<StatRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Meshed {
    pub reporting: usize,
    pub proxies: usize,
}

/// Sums over a set of proxies.
#[derive(Debug, Default)]
struct Totals {
    meshed: Option<Meshed>,
    requests: u64,
    successes: u64,
    rps: f64,
    latency: LatencyDistribution,
    tcp_open: Option<i64>,
    read_per_sec: f64,
    write_per_sec: f64,
}

/// Builds the rows; `snapshots[i]` is the answer of `fleet.members[i]` (`None`: no answer).
/// `splits`: configured weights per service.
pub fn rows(
    fleet: &Fleet,
    snapshots: &[Option<StatsSnapshot>],
    splits: &BTreeMap<String, SplitWeights>,
    query: &StatQuery,
) -> Vec<StatRow> {
    let filter = PeerFilter::new(fleet, query);
    let mut rows = Vec::new();
    for service in fleet.services() {
        if query.service.as_ref().is_some_and(|s| *s != service) {
            continue;
        }
        let versions = fleet.versions(&service);
        let of = |version: Option<&str>| {
            let mut t = Totals::default();
            for (p, snap) in fleet.members.iter().zip(snapshots) {
                if p.service == service && version.is_none_or(|v| p.version.as_deref() == Some(v)) {
                    t.add(snap.as_ref(), &filter);
                }
            }
            t
        };
        if let Some(version) = &query.version {
            rows.push(of(Some(version)).row(format!("{service}/{version}")));
            continue;
        }
        let total = of(None);
        let mut row = total.row(service.clone());
        if versions.len() > 1 {
            let weights = splits
                .get(&service)
                .cloned()
                .unwrap_or_else(|| SplitWeights::initial(&versions));
            for v in &versions {
                let t = of(Some(v));
                let share = (total.requests > 0).then(|| t.requests as f64 / total.requests as f64);
                let mut child = t.row(format!("{service}/{v}"));
                child.weight = Some(weights.weight(v));
                child.observed_share = share;
                row.versions.push(child);
            }
        }
        rows.push(row);
    }
    rows
}

/// Which peer records count: a direction and, optionally, a set of peer identities.
struct PeerFilter {
    direction: Direction,
    peers: Option<BTreeSet<String>>,
}

impl PeerFilter {
    fn new(fleet: &Fleet, query: &StatQuery) -> Self {
        let ids = |service: &str| -> BTreeSet<String> {
            fleet
                .members
                .iter()
                .filter(|p| p.service == service)
                .map(|p| p.spiffe_id.clone())
                .collect()
        };
        match (&query.to, &query.from) {
            (Some(to), _) => PeerFilter {
                direction: Direction::Outbound,
                peers: Some(ids(to)),
            },
            (None, from) => PeerFilter {
                direction: Direction::Inbound,
                peers: from.as_deref().map(ids),
            },
        }
    }
}

impl Totals {
    fn add(&mut self, snap: Option<&StatsSnapshot>, filter: &PeerFilter) {
        let meshed = self.meshed.get_or_insert(Meshed {
            reporting: 0,
            proxies: 0,
        });
        meshed.proxies += 1;
        let Some(snap) = snap else {
            return;
        };
        meshed.reporting += 1;
        let secs = (snap.covered_ms as f64 / 1000.0).max(f64::EPSILON);
        for p in snap.peers.iter().filter(|p| {
            p.direction == filter.direction
                && filter.peers.as_ref().is_none_or(|s| s.contains(&p.peer))
        }) {
            self.requests += p.requests;
            self.successes += p.successes;
            self.rps += p.requests as f64 / secs;
            self.latency.add(&p.latency_us);
        }
        *self.tcp_open.get_or_insert(0) += snap.tcp_open_inbound;
        self.read_per_sec += snap.read_bytes as f64 / secs;
        self.write_per_sec += snap.write_bytes as f64 / secs;
    }

    fn row(&self, name: String) -> StatRow {
        let has = self.requests > 0;
        let ms = |q: f64| self.latency.quantile(q).map(|us| us as f64 / 1000.0);
        let reported = self.tcp_open.is_some();
        StatRow {
            name,
            meshed: self.meshed.unwrap_or(Meshed {
                reporting: 0,
                proxies: 0,
            }),
            requests: self.requests,
            success_rate: has.then(|| self.successes as f64 / self.requests as f64),
            rps: has.then_some(self.rps),
            latency_ms_p50: ms(0.5),
            latency_ms_p95: ms(0.95),
            latency_ms_p99: ms(0.99),
            tcp_connections: self.tcp_open,
            read_bytes_per_sec: reported.then_some(self.read_per_sec),
            write_bytes_per_sec: reported.then_some(self.write_per_sec),
            weight: None,
            observed_share: None,
            versions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
