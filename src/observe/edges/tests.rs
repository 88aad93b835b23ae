//! Edge tests: calls between services from scripted snapshots — inbound peers named by the
//! plan, both ends services, replicas one edge.

use super::*;
use crate::api::stats::PeerStats;
use crate::control::plan::{MeshPlan, ProxyPlan};

fn proxy(name: &str, service: &str) -> ProxyPlan {
    ProxyPlan::for_test(name, service, None)
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
