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
mod tests {
    use super::*;
    use crate::control::plan::{MeshPlan, ProxyPlan};

    fn plan() -> MeshPlan {
        MeshPlan {
            trust_domain: "t".into(),
            policies: Default::default(),
            control_socket: "/x".into(),
            admin_token_sha256: String::new(),
            proxies: vec![ProxyPlan {
                name: "web".into(),
                service: "web".into(),
                version: None,
                spiffe_id: "spiffe://t/sa/web".into(),
                token_sha256: String::new(),
                inbound: "127.0.0.1:1".parse().unwrap(),
                app: "127.0.0.1:2".parse().unwrap(),
                protocol: None,
                admin: "127.0.0.1:3".parse().unwrap(),
                http_proxy: "127.0.0.1:4".parse().unwrap(),
                tap: "127.0.0.1:5".parse().unwrap(),
                upstreams: vec![],
            }],
        }
    }

    fn record(kind: &'static str, id: &str, path: &str, status: u32, us: u64) -> TapRecord {
        TapRecord {
            kind,
            id: id.into(),
            proxy: "api.v1".into(),
            service: "api".into(),
            version: Some("v1".into()),
            direction: "in".into(),
            src: "127.0.0.1:9".into(),
            dst: "127.0.0.1:8".into(),
            tls: true,
            client_id: "spiffe://t/sa/web".into(),
            server_id: "spiffe://t/sa/api".into(),
            method: Some("GET".into()),
            authority: Some("api".into()),
            path: Some(path.into()),
            status: (kind == "rsp").then_some(status),
            latency_us: (kind == "rsp").then_some(us),
            ..TapRecord::default()
        }
    }

    #[test]
    fn routes_count_latencies_and_success() {
        let plan = plan();
        let mut t = TopTable::default();
        for (i, (path, status, us)) in [
            ("/a", 200, 900),
            ("/a", 500, 3000),
            ("/a", 200, 1200),
            ("/b", 200, 50),
        ]
        .into_iter()
        .enumerate()
        {
            let id = i.to_string();
            t.add(&Fleet::from_plan(&plan), &record("req", &id, path, 0, 0));
            t.add(
                &Fleet::from_plan(&plan),
                &record("rsp", &id, path, status, us),
            );
        }
        let top = t.top(10);
        assert_eq!(top.len(), 2);
        let a = &top[0];
        assert_eq!(
            (a.source.as_str(), a.destination.as_str(), a.path.as_str()),
            ("web", "api/v1", "/a")
        );
        assert_eq!(
            (a.count, a.best_us, a.worst_us, a.last_us),
            (3, 900, 3000, 1200)
        );
        assert!((a.success_rate() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(t.top(1).len(), 1);
    }

    /// The same call as web's proxy reports it (outbound to api).
    fn outbound(kind: &'static str, id: &str, status: u32) -> TapRecord {
        TapRecord {
            proxy: "web".into(),
            service: "web".into(),
            version: None,
            direction: "out".into(),
            ..record(kind, id, "/a", status, 700)
        }
    }

    #[test]
    fn a_call_seen_by_both_proxies_is_one_row() {
        let mut plan = plan();
        plan.proxies.push(ProxyPlan {
            name: "api.v1".into(),
            service: "api".into(),
            version: Some("v1".into()),
            spiffe_id: "spiffe://t/sa/api".into(),
            ..plan.proxies[0].clone()
        });
        let mut t = TopTable::watching(["web", "api"]);
        for (kind, status) in [("req", 0), ("rsp", 200)] {
            t.add(&Fleet::from_plan(&plan), &outbound(kind, "web:1", status));
            t.add(
                &Fleet::from_plan(&plan),
                &record(kind, "api.v1:1", "/a", status, 600),
            );
        }
        let top = t.top(10);
        assert_eq!(top.len(), 1, "{top:?}");
        assert_eq!(
            (
                top[0].source.as_str(),
                top[0].destination.as_str(),
                top[0].count
            ),
            ("web", "api/v1", 1)
        );
        // Watching web alone, its outbound record is the only one and counts the call.
        let mut t = TopTable::watching(["web"]);
        t.add(&Fleet::from_plan(&plan), &outbound("req", "web:1", 0));
        t.add(&Fleet::from_plan(&plan), &outbound("rsp", "web:1", 200));
        let top = t.top(10);
        assert_eq!(
            (
                top[0].source.as_str(),
                top[0].destination.as_str(),
                top[0].count
            ),
            ("web", "api", 1)
        );
    }
}
