//! `meshctl top`'s table: tap records folded into the busiest (source, destination, method,
//! path) routes with count, best/worst/last latency and success rate. A call between two
//! watched proxies is seen twice (the caller's outbound, the callee's inbound): only the
//! inbound record counts it, so each call is one row, `web → api/v1`.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::fleet::Fleet;
use super::tap::TapRecord;

/// Requests still waiting for their response, at most (older ones are forgotten).
const MAX_PENDING: usize = 10_000;

/// One route's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopRow {
    pub source: String,
    pub destination: String,
    pub method: String,
    pub path: String,
    pub count: u64,
    /// Responses below 500.
    pub successes: u64,
    pub best_us: u64,
    pub worst_us: u64,
    pub last_us: u64,
}

/// The routes seen so far.
#[derive(Debug, Default)]
pub struct TopTable {
    rows: HashMap<(String, String, String, String), TopRow>,
    pending: HashMap<String, (String, String, String, String)>,
    /// Services with a watched proxy: their inbound records count calls to them, so the
    /// callers' outbound records of those calls are skipped.
    watched: HashSet<String>,
}

impl TopRow {
    /// Share of responses below 500 (0-1).
    pub fn success_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.successes as f64 / self.count as f64
        }
    }
}

/// `service/version`, or the service alone when it has no version.
fn service_version(service: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{service}/{v}"),
        None => service.to_string(),
    }
}

impl TopTable {
    /// A table over the tap streams of proxies of these services.
    pub fn watching<'a>(services: impl IntoIterator<Item = &'a str>) -> Self {
        TopTable {
            watched: services.into_iter().map(str::to_string).collect(),
            ..TopTable::default()
        }
    }

    /// Folds in one record: a `req` names the route, its `rsp` counts it.
    pub fn add(&mut self, fleet: &Fleet, r: &TapRecord) {
        match r.kind {
            "req" => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.clear();
                }
                let name = |id: &str, fallback: &str| {
                    fleet
                        .holder(id)
                        .map_or_else(|| fallback.to_string(), |p| p.service.clone())
                };
                let (source, destination) = if r.direction == "in" {
                    (
                        name(&r.client_id, &r.src),
                        service_version(&r.service, r.version.as_deref()),
                    )
                } else {
                    let destination = name(&r.server_id, &r.dst);
                    if self.watched.contains(&destination) {
                        // The callee's proxy reports this call inbound, with its version.
                        return;
                    }
                    (r.service.clone(), destination)
                };
                let key = (
                    source,
                    destination,
                    r.method.clone().unwrap_or_default(),
                    r.path.clone().unwrap_or_default(),
                );
                self.pending.insert(r.id.clone(), key);
            }
            "rsp" => {
                let (Some(key), Some(status), Some(latency)) =
                    (self.pending.remove(&r.id), r.status, r.latency_us)
                else {
                    return;
                };
                let row = self.rows.entry(key.clone()).or_insert_with(|| TopRow {
                    source: key.0,
                    destination: key.1,
                    method: key.2,
                    path: key.3,
                    count: 0,
                    successes: 0,
                    best_us: latency,
                    worst_us: latency,
                    last_us: latency,
                });
                row.count += 1;
                if status < 500 {
                    row.successes += 1;
                }
                row.best_us = row.best_us.min(latency);
                row.worst_us = row.worst_us.max(latency);
                row.last_us = latency;
            }
            _ => {}
        }
    }

    /// The busiest `limit` routes, busiest first.
    pub fn top(&self, limit: usize) -> Vec<TopRow> {
        let mut rows: Vec<TopRow> = self.rows.values().cloned().collect();
        rows.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| {
                (&a.source, &a.destination, &a.path).cmp(&(&b.source, &b.destination, &b.path))
            })
        });
        rows.truncate(limit);
        rows
    }
}

#[cfg(test)]
mod tests;
