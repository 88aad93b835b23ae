//! Top tests: routes counted with latencies and success, a call seen by both proxies as one row.

use super::*;
use crate::control::plan::{MeshPlan, ProxyPlan};

fn plan() -> MeshPlan {
    MeshPlan {
        trust_domain: "t".into(),
        policies: Default::default(),
        control_socket: "/x".into(),
        admin_token_sha256: String::new(),
        proxies: vec![ProxyPlan {
            spiffe_id: "spiffe://t/sa/web".into(),
            ..ProxyPlan::for_test("web", "web", None)
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
