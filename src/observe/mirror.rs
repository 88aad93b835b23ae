//! What mirroring a service found so far (`meshctl canary diff`, `canary start
//! --gate-mirror`): every calling proxy's per-route mirror counts, read from its `/config`
//! (`outbound[].policy.mirror`) and summed, with the mismatch rate over compared copies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::admin_http::AdminClient;
use crate::control::plan::MeshPlan;
use crate::policy::mirror::mismatch_percent;

/// Outcomes of mirrored requests (one route, or all): the proxies' `/config` field names.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorCounts {
    /// The copy's answer agreed with the real one.
    #[serde(rename = "match", default)]
    pub matched: u64,
    /// It differed: status class, gRPC status or (with compare_body) the body's hash.
    #[serde(rename = "mismatch", default)]
    pub mismatched: u64,
    /// Not sent: too many copies in flight on the caller's proxy.
    #[serde(default)]
    pub dropped: u64,
    /// Not copied: a request body of unknown length or over 64 KiB.
    #[serde(default)]
    pub skipped: u64,
    /// Sent, but no comparable answer (no endpoint, failure, timeout, real answer cut off).
    #[serde(rename = "error", default)]
    pub errors: u64,
}

/// One route's counts (`route` empty: requests no named route matched).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteDiff {
    pub route: String,
    #[serde(flatten)]
    pub counts: MirrorCounts,
    /// Mismatches over compared copies (match + mismatch), in percent.
    pub mismatch_percent: f64,
}

/// Mirroring of one service as its callers' proxies saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MirrorDiff {
    pub service: String,
    /// The mirror the callers run now (`null`: none), e.g. `{ version, percent, source }`.
    pub mirror: Option<MirrorInForce>,
    pub routes: Vec<RouteDiff>,
    pub total: MirrorCounts,
    /// Compared copies (match + mismatch).
    pub compared: u64,
    pub mismatch_percent: f64,
    /// Calling proxies read / not answering (their instance names).
    pub proxies_read: usize,
    pub proxies_unreachable: Vec<String>,
}

/// The mirror a calling proxy runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorInForce {
    pub version: String,
    pub percent: f64,
    pub compare_body: bool,
    /// Unix ms; `None`: no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_unix_ms: Option<u64>,
    /// `live` (`meshctl canary mirror`) or `policy.mirror` (mesh.yaml).
    #[serde(default)]
    pub source: String,
}

/// `outbound[].policy.mirror` of a proxy's `/config`.
#[derive(Debug, Deserialize)]
struct MirrorSection {
    #[serde(default)]
    service: Option<MirrorInForce>,
    #[serde(default)]
    live: Option<MirrorInForce>,
    #[serde(default)]
    counts: Vec<RouteCounts>,
}

#[derive(Debug, Deserialize)]
struct RouteCounts {
    route: String,
    #[serde(flatten)]
    counts: MirrorCounts,
}

impl MirrorCounts {
    fn add(&mut self, o: &MirrorCounts) {
        self.matched += o.matched;
        self.mismatched += o.mismatched;
        self.dropped += o.dropped;
        self.skipped += o.skipped;
        self.errors += o.errors;
    }

    pub fn compared(&self) -> u64 {
        self.matched + self.mismatched
    }

    pub fn mismatch_percent(&self) -> f64 {
        mismatch_percent(self.matched, self.mismatched)
    }
}

/// Reads every local proxy that calls `service` and sums its mirror counts.
pub async fn read(plan: &MeshPlan, service: &str) -> MirrorDiff {
    let callers: Vec<_> = plan
        .proxies
        .iter()
        .filter(|p| p.upstreams.iter().any(|u| u.service == service))
        .collect();
    let fetches = callers.iter().map(|p| async move {
        let client = AdminClient::local().ok()?;
        let base = AdminClient::local_base(p.admin).ok()?;
        client.config(&base).await.ok()
    });
    let configs = futures_util::future::join_all(fetches).await;
    let mut unreachable = Vec::new();
    let mut read = Vec::new();
    for (p, config) in callers.iter().zip(configs) {
        match config {
            Some(c) => read.push(c),
            None => unreachable.push(p.name.clone()),
        }
    }
    summarize(service, &read, unreachable)
}

/// Sums the mirror counts of `service` over the `/config` documents of its callers.
pub fn summarize(
    service: &str,
    configs: &[serde_json::Value],
    proxies_unreachable: Vec<String>,
) -> MirrorDiff {
    let mut routes: BTreeMap<String, MirrorCounts> = BTreeMap::new();
    let mut mirror = None;
    for config in configs {
        let outbound = config["outbound"].as_array().into_iter().flatten();
        for o in outbound.filter(|o| o["service"] == service) {
            let Ok(section) = MirrorSection::deserialize(&o["policy"]["mirror"]) else {
                continue;
            };
            for r in &section.counts {
                routes.entry(r.route.clone()).or_default().add(&r.counts);
            }
            let running = match (section.live, section.service) {
                (Some(live), _) => Some((live, "live")),
                (None, Some(own)) => Some((own, "policy.mirror")),
                (None, None) => None,
            };
            if mirror.is_none() {
                mirror = running.map(|(m, source)| MirrorInForce {
                    source: source.to_string(),
                    ..m
                });
            }
        }
    }
    let mut total = MirrorCounts::default();
    for counts in routes.values() {
        total.add(counts);
    }
    MirrorDiff {
        service: service.to_string(),
        mirror,
        routes: routes
            .into_iter()
            .map(|(route, counts)| RouteDiff {
                route,
                mismatch_percent: counts.mismatch_percent(),
                counts,
            })
            .collect(),
        compared: total.compared(),
        mismatch_percent: total.mismatch_percent(),
        total,
        proxies_read: configs.len(),
        proxies_unreachable,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(service: &str, counts: serde_json::Value, live: bool) -> serde_json::Value {
        let mirror = json!({ "version": "v2", "percent": 10.0, "compare_body": false });
        let section = if live {
            json!({ "live": mirror, "counts": counts })
        } else {
            json!({ "service": mirror, "counts": counts })
        };
        json!({ "outbound": [
            { "service": "other", "policy": { "mirror": { "counts": [{ "route": "", "match": 100 }] } } },
            { "service": service, "policy": { "mirror": section } },
        ] })
    }

    #[test]
    fn counts_are_summed_per_route_over_callers_and_the_rate_is_over_compared_copies() {
        let a = config(
            "api",
            json!([{ "route": "", "match": 6, "mismatch": 1, "dropped": 2, "skipped": 0, "error": 1 }]),
            true,
        );
        let b = config(
            "api",
            json!([
                { "route": "", "match": 2, "mismatch": 1, "dropped": 0, "skipped": 3, "error": 0 },
                { "route": "canary", "match": 0, "mismatch": 0, "dropped": 0, "skipped": 0, "error": 4 },
            ]),
            false,
        );
        let diff = summarize("api", &[a, b], vec!["load".into()]);
        assert_eq!(diff.routes.len(), 2);
        assert_eq!(diff.routes[0].route, "");
        assert_eq!(diff.routes[0].counts.matched, 8);
        assert_eq!(diff.routes[0].counts.mismatched, 2);
        assert_eq!(diff.routes[0].mismatch_percent, 20.0);
        assert_eq!(diff.routes[1].counts.errors, 4);
        assert_eq!(diff.routes[1].mismatch_percent, 0.0);
        assert_eq!(diff.total.dropped, 2);
        assert_eq!(diff.total.skipped, 3);
        assert_eq!(diff.total.errors, 5);
        assert_eq!(diff.compared, 10);
        assert_eq!(diff.mismatch_percent, 20.0);
        assert_eq!(diff.proxies_read, 2);
        assert_eq!(diff.proxies_unreachable, ["load"]);
        let mirror = diff.mirror.unwrap();
        assert_eq!(
            (mirror.version.as_str(), mirror.source.as_str()),
            ("v2", "live")
        );
    }

    #[test]
    fn a_service_nobody_mirrors_has_no_counts_and_no_mirror() {
        let diff = summarize("api", &[json!({ "outbound": [] }), json!({})], vec![]);
        assert!(diff.routes.is_empty());
        assert_eq!(diff.compared, 0);
        assert_eq!(diff.mismatch_percent, 0.0);
        assert!(diff.mirror.is_none());
    }
}
