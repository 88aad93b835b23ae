//! The names dynamic completion offers, from a plan file as `meshctl up` writes it.

use super::*;
use crate::control::plan::ProxyPlan;

fn proxy(service: &str, version: Option<&str>) -> ProxyPlan {
    let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    ProxyPlan {
        name: match version {
            Some(v) => format!("{service}.{v}"),
            None => service.to_string(),
        },
        service: service.into(),
        version: version.map(String::from),
        spiffe_id: format!("spiffe://mesh.local/ns/local/sa/{service}"),
        token_sha256: String::new(),
        inbound: addr,
        app: addr,
        protocol: None,
        admin: addr,
        http_proxy: addr,
        tap: addr,
        upstreams: Vec::new(),
        workers: None,
    }
}

/// A state dir with the demo's plan: web, api v1 and v2 (v2 with two replicas), quotes.
fn demo_state() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let plan = MeshPlan {
        trust_domain: "mesh.local".into(),
        control_socket: dir.path().join("run/control.sock"),
        admin_token_sha256: String::new(),
        proxies: vec![
            proxy("web", None),
            proxy("api", Some("v1")),
            proxy("api", Some("v2")),
            proxy("api", Some("v2")),
            proxy("quotes", None),
        ],
        policies: Default::default(),
    };
    plan.save(dir.path()).unwrap();
    dir
}

fn values(c: &[CompletionCandidate]) -> Vec<String> {
    c.iter()
        .map(|c| c.get_value().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn services_targets_and_versions_come_from_the_plan() {
    let state = demo_state();
    assert_eq!(
        values(&candidates(state.path(), Names::Services, "")),
        ["api", "quotes", "web"]
    );
    assert_eq!(
        values(&candidates(state.path(), Names::Targets, "a")),
        ["api", "api/v1", "api/v2"]
    );
    assert_eq!(
        values(&candidates(state.path(), Names::Versions, "")),
        ["v1", "v2"]
    );
    assert_eq!(
        values(&candidates(state.path(), Names::Targets, "api/v2")),
        ["api/v2"]
    );
    let api = &candidates(state.path(), Names::Services, "ap")[0];
    assert_eq!(
        api.get_help().map(ToString::to_string).as_deref(),
        Some("service (v1, v2)")
    );
}

#[test]
fn without_a_plan_nothing_is_offered() {
    let empty = tempfile::tempdir().unwrap();
    assert!(candidates(empty.path(), Names::Services, "").is_empty());
    std::fs::create_dir_all(empty.path().join("run")).unwrap();
    std::fs::write(empty.path().join("run/plan.json"), "{not json").unwrap();
    assert!(candidates(empty.path(), Names::Targets, "").is_empty());
}
