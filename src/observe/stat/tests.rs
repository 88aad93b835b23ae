//! Stat tests: a split service as a tree with weights and observed shares, and peers selected
//! by --from/--to.

use super::*;
use crate::api::stats::PeerStats;
use crate::control::plan::{MeshPlan, ProxyPlan};

fn plan() -> MeshPlan {
    let proxy = ProxyPlan::for_test;
    MeshPlan {
        trust_domain: "t".into(),
        policies: Default::default(),
        control_socket: "/x".into(),
        admin_token_sha256: String::new(),
        proxies: vec![
            proxy("web", "web", None),
            proxy("api.v1", "api", Some("v1")),
            proxy("api.v2", "api", Some("v2")),
        ],
    }
}

fn inbound(requests: u64, successes: u64, micros: u64) -> StatsSnapshot {
    StatsSnapshot {
        covered_ms: 10_000,
        peers: vec![PeerStats {
            direction: Direction::Inbound,
            peer: "spiffe://t/ns/local/sa/web".into(),
            requests,
            successes,
            latency_us: vec![(micros, requests)],
        }],
        tcp_open_inbound: 1,
        read_bytes: 1000,
        write_bytes: 2000,
    }
}

#[test]
fn a_split_service_is_a_tree_with_weights_and_observed_shares() {
    let snaps = vec![
        None,
        Some(inbound(80, 80, 1000)),
        Some(inbound(20, 10, 3000)),
    ];
    let mut splits = BTreeMap::new();
    splits.insert(
        "api".to_string(),
        SplitWeights([("v1".to_string(), 80), ("v2".to_string(), 20)].into()),
    );
    let rows = rows(
        &Fleet::from_plan(&plan()),
        &snaps,
        &splits,
        &StatQuery::default(),
    );
    let api = &rows[0];
    assert_eq!(api.name, "api");
    assert_eq!(api.requests, 100);
    assert_eq!(api.success_rate, Some(0.9));
    assert_eq!(api.rps, Some(10.0));
    assert_eq!(api.latency_ms_p50, Some(1.0));
    assert_eq!(api.latency_ms_p99, Some(3.0));
    assert_eq!(api.tcp_connections, Some(2));
    assert_eq!(api.read_bytes_per_sec, Some(200.0));
    let v2 = &api.versions[1];
    assert_eq!((v2.weight, v2.observed_share), (Some(20), Some(0.2)));
    let web = &rows[1];
    assert_eq!(
        web.meshed,
        Meshed {
            reporting: 0,
            proxies: 1
        }
    );
    assert_eq!(
        (web.rps, web.success_rate, web.tcp_connections),
        (None, None, None)
    );
}

#[test]
fn from_and_to_select_peers() {
    let snaps = vec![None, Some(inbound(5, 5, 10)), None];
    let from_api = StatQuery {
        from: Some("api".into()),
        ..StatQuery::default()
    };
    assert_eq!(
        rows(
            &Fleet::from_plan(&plan()),
            &snaps,
            &BTreeMap::new(),
            &from_api
        )[0]
        .requests,
        0
    );
    let to_web = StatQuery {
        service: Some("api".into()),
        version: Some("v1".into()),
        to: Some("web".into()),
        ..StatQuery::default()
    };
    let r = rows(
        &Fleet::from_plan(&plan()),
        &snaps,
        &BTreeMap::new(),
        &to_web,
    );
    assert_eq!(
        (r.len(), r[0].name.as_str(), r[0].requests),
        (1, "api/v1", 0)
    );
}
