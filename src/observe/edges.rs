//! `meshctl edges`: who talks to whom. Each edge comes from a server proxy's inbound
//! statistics, so both identities are verified ones: the client's from its certificate in the
//! mTLS handshake, the server's from the plan (the certificate the proxy holds). Both ends are
//! named by service (the server's version alongside): replicas of a version are one edge.

use serde::Serialize;

use super::fleet::Fleet;
use crate::api::stats::Direction;
use crate::api::stats::StatsSnapshot;

/// One client → server edge with traffic in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// The client's service (its SPIFFE ID when no instance in the plan holds it).
    pub src: String,
    /// The server's service (`api`), like `src`.
    pub dst: String,
    /// The server's version (`v2`), when its service has versions.
    pub dst_version: Option<String>,
    pub client_id: String,
    pub server_id: String,
    /// Always true today: inbound proxies accept mesh traffic over mTLS only.
    pub mtls: bool,
    pub requests: u64,
}

/// Edges from every proxy that reported (`snapshots[i]` belongs to `fleet.members[i]`),
/// sorted by source then destination.
pub fn edges(fleet: &Fleet, snapshots: &[Option<StatsSnapshot>]) -> Vec<Edge> {
    let mut edges: Vec<Edge> = Vec::new();
    let seen = fleet
        .members
        .iter()
        .zip(snapshots)
        .filter_map(|(p, s)| Some((p, s.as_ref()?)));
    for (p, snap) in seen {
        for s in snap
            .peers
            .iter()
            .filter(|s| s.direction == Direction::Inbound && s.requests > 0)
        {
            let src = fleet
                .holder(&s.peer)
                .map_or_else(|| s.peer.clone(), |c| c.service.clone());
            let same = |e: &&mut Edge| {
                e.src == src
                    && e.dst == p.service
                    && e.dst_version == p.version
                    && e.client_id == s.peer
            };
            match edges.iter_mut().find(same) {
                // Another replica of the same version.
                Some(e) => e.requests += s.requests,
                None => edges.push(Edge {
                    src,
                    dst: p.service.clone(),
                    dst_version: p.version.clone(),
                    client_id: s.peer.clone(),
                    server_id: p.spiffe_id.clone(),
                    mtls: true,
                    requests: s.requests,
                }),
            }
        }
    }
    edges.sort_by(|a, b| (&a.src, &a.dst, &a.dst_version).cmp(&(&b.src, &b.dst, &b.dst_version)));
    edges
}

impl Edge {
    /// `api/v2`, or `api` without versions: how tables show the destination.
    pub fn dst_label(&self) -> String {
        match &self.dst_version {
            Some(v) => format!("{}/{v}", self.dst),
            None => self.dst.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::stats::PeerStats;
    use crate::control::plan::{MeshPlan, ProxyPlan};

    fn proxy(name: &str, service: &str) -> ProxyPlan {
        ProxyPlan {
            name: name.into(),
            service: service.into(),
            version: None,
            spiffe_id: format!("spiffe://t/ns/local/sa/{service}"),
            token_sha256: String::new(),
            inbound: "127.0.0.1:1".parse().unwrap(),
            app: "127.0.0.1:2".parse().unwrap(),
            protocol: None,
            admin: "127.0.0.1:3".parse().unwrap(),
            http_proxy: "127.0.0.1:4".parse().unwrap(),
            tap: "127.0.0.1:5".parse().unwrap(),
            upstreams: vec![],
        }
    }

    #[test]
    fn edges_come_from_inbound_peers_named_by_the_plan() {
        let plan = MeshPlan {
            trust_domain: "t".into(),
            policies: Default::default(),
            control_socket: "/x".into(),
            admin_token_sha256: String::new(),
            proxies: vec![proxy("web", "web"), proxy("api", "api")],
        };
        let peer = |direction, peer: &str| PeerStats {
            direction,
            peer: peer.into(),
            requests: 3,
            successes: 3,
            latency_us: vec![(100, 3)],
        };
        let api = StatsSnapshot {
            peers: vec![
                peer(Direction::Inbound, "spiffe://t/ns/local/sa/web"),
                peer(Direction::Inbound, "spiffe://other/sa/x"),
            ],
            ..StatsSnapshot::default()
        };
        let web = StatsSnapshot {
            peers: vec![peer(Direction::Outbound, "spiffe://t/ns/local/sa/api")],
            ..StatsSnapshot::default()
        };
        let e = edges(&Fleet::from_plan(&plan), &[Some(web), Some(api)]);
        assert_eq!(e.len(), 2);
        assert_eq!((e[1].src.as_str(), e[1].dst.as_str()), ("web", "api"));
        assert_eq!(e[1].server_id, "spiffe://t/ns/local/sa/api");
        assert_eq!(
            e[0].src, "spiffe://other/sa/x",
            "unknown clients keep their ID"
        );
        assert!(e.iter().all(|e| e.mtls && e.requests == 3));
    }

    #[test]
    fn both_ends_are_services_and_replicas_are_one_edge() {
        let versioned = |name: &str, version: &str| ProxyPlan {
            version: Some(version.into()),
            ..proxy(name, "api")
        };
        let plan = MeshPlan {
            trust_domain: "t".into(),
            policies: Default::default(),
            control_socket: "/x".into(),
            admin_token_sha256: String::new(),
            proxies: vec![
                proxy("web", "web"),
                versioned("api.v1.r0", "v1"),
                versioned("api.v1.r1", "v1"),
                versioned("api.v2", "v2"),
            ],
        };
        let from_web = StatsSnapshot {
            peers: vec![PeerStats {
                direction: Direction::Inbound,
                peer: "spiffe://t/ns/local/sa/web".into(),
                requests: 2,
                successes: 2,
                latency_us: vec![(100, 2)],
            }],
            ..StatsSnapshot::default()
        };
        let snaps = [
            None,
            Some(from_web.clone()),
            Some(from_web.clone()),
            Some(from_web),
        ];
        let e = edges(&Fleet::from_plan(&plan), &snaps);
        let seen: Vec<(&str, String, u64)> = e
            .iter()
            .map(|e| (e.src.as_str(), e.dst_label(), e.requests))
            .collect();
        assert_eq!(
            seen,
            [
                ("web", "api/v1".to_string(), 4),
                ("web", "api/v2".to_string(), 2)
            ]
        );
        assert_eq!(e[0].dst, "api");
    }
}
