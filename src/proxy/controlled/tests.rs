//! Tests of applying control-plane configs: all-or-nothing updates, trust bundles, listeners, `/config`.

use super::*;
use crate::identity::ca;

fn upstream(weights: &[(&str, u32, &str, &str)]) -> pb::Upstream {
    pb::Upstream {
        service: "api".into(),
        listen: "127.0.0.1:9000".into(),
        protocol: "http".into(),
        backends: weights
            .iter()
            .map(|(v, w, addr, id)| pb::Backend {
                version: v.to_string(),
                weight: *w,
                endpoints: vec![pb::Endpoint {
                    address: addr.to_string(),
                    spiffe_id: id.to_string(),
                }],
            })
            .collect(),
        ..Default::default()
    }
}

const ID: &str = "spiffe://mesh.local/ns/local/sa/api";

fn with_authz(from: &str) -> pb::ProxyConfig {
    pb::ProxyConfig {
        authorization: Some(pb::AuthzPolicy {
            allow: vec![pb::AuthzRule {
                from: vec![from.to_string()],
                ..Default::default()
            }],
            exempt: vec![],
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_invalid_update_leaves_the_last_good_policy_in_force() {
    let cell = AuthzCell::new(InboundAuthz::Pending);
    let web = "spiffe://mesh.local/ns/local/sa/web";
    apply_with_authz(&with_authz(web), &cell, |_| Ok(())).unwrap();
    let good = cell.current().await;
    assert_eq!(
        good.check_tcp(web),
        crate::proxy::inbound::authz::Verdict::Allow
    );

    // A bad pattern: rejected before the rest of the update is even looked at.
    let mut rest_ran = false;
    let err = apply_with_authz(&with_authz("spiffe://mesh.local/sa/we*"), &cell, |_| {
        rest_ran = true;
        Ok(())
    })
    .unwrap_err();
    assert!(err.message.contains("allow[0].from[0]"), "{err}");
    assert!(!err.retry, "an invalid policy is never retried");
    assert!(!rest_ran);
    assert_eq!(cell.current().await, good);

    // A valid policy in an update whose other parts fail is not installed either.
    let other = "spiffe://mesh.local/ns/local/sa/batch";
    let busy = Refused {
        message: "busy port".into(),
        retry: true,
    };
    let err = apply_with_authz(&with_authz(other), &cell, |_| Err(busy.clone()));
    assert_eq!(err.unwrap_err(), busy);
    assert_eq!(cell.current().await, good);

    // No policy in a good update: open again.
    apply_with_authz(&pb::ProxyConfig::default(), &cell, |_| Ok(())).unwrap();
    assert_eq!(*cell.current().await, InboundAuthz::Open);
}

/// Upstreams of a proxy whose TLS store trusts a fresh CA; that CA's bundle PEM.
async fn upstreams() -> (Upstreams, String) {
    let id: SpiffeId = ID.parse().unwrap();
    let (tls, bundle_pem) = crate::proxy::tls::testing::store(&id);
    let limits = Limits::default();
    let hub = tap::start(None, "spiffe://mesh.local/ns/local/sa/front".into())
        .await
        .unwrap();
    let shared = Shared::new(&limits, Arc::new(Metrics::default()), hub, tls, None);
    let (drain, _watch) = Drain::new();
    let upstreams = Upstreams {
        assembly: Assembly {
            shared,
            dump: ConfigDump::new(Mode::ControlPlane, Limits::default()),
            bound: Vec::new(),
        },
        table: Arc::new(ArcSwap::from_pointee(HashMap::new())),
        drain: drain.source(),
        listeners: HashMap::new(),
        peers: HashMap::new(),
        pinned: HashMap::new(),
        skipped: HashSet::new(),
    };
    (upstreams, bundle_pem)
}

fn fingerprints(u: &Upstreams) -> Vec<String> {
    u.assembly
        .shared
        .tls
        .current()
        .identity()
        .bundle
        .fingerprints()
}

#[tokio::test]
async fn an_update_refused_for_its_upstreams_does_not_install_its_trust_bundle() {
    let (mut upstreams, bundle_pem) = upstreams().await;
    let before = fingerprints(&upstreams);
    // A bundle the proxy's leaf still chains to, with a second anchor (a CA rotation).
    let extra = ca::new_anchor("mesh.local", ca::DEFAULT_ANCHOR_LIFETIME).unwrap();
    let rotated = format!("{bundle_pem}{}", extra.cert_pem);
    let mut bad = upstream(&[("v1", 80, "127.0.0.1:1", ID)]);
    bad.listen = "127.0.0.1:0".into();
    let cfg = pb::ProxyConfig {
        version: 7,
        trust_bundle_pem: rotated.clone(),
        upstreams: vec![bad],
        ..Default::default()
    };
    let err = upstreams.apply(&cfg).unwrap_err();
    assert!(err.message.contains("sum to 80") && !err.retry, "{err}");
    assert_eq!(
        fingerprints(&upstreams),
        before,
        "the bundle was not installed"
    );
    assert!(upstreams.table.load().is_empty());

    // The same bundle in a valid update is installed, with the upstream.
    let mut good = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    good.listen = "127.0.0.1:0".into();
    let cfg = pb::ProxyConfig {
        version: 8,
        trust_bundle_pem: rotated,
        upstreams: vec![good],
        ..Default::default()
    };
    upstreams.apply(&cfg).unwrap();
    assert_eq!(fingerprints(&upstreams).len(), before.len() + 1);
    assert!(upstreams.table.load().contains_key("api"));
}

#[tokio::test]
async fn the_config_dump_shows_the_applied_split_routes_and_policy_and_not_a_refused_one() {
    let (mut upstreams, _) = upstreams().await;
    let mut u = upstream(&[("v1", 80, "127.0.0.1:1", ID), ("v2", 20, "127.0.0.1:2", ID)]);
    u.listen = "127.0.0.1:0".into();
    u.request_timeout_ms = 1500;
    u.retry = Some(pb::RetryPolicy {
        attempts: 3,
        on: vec!["gateway-error".into(), "unavailable".into()],
        backoff_ms: 25,
    });
    u.routes.push(pb::HttpRoute {
        path: Some(pb::http_route::Path::PathPrefix("/beta/".into())),
        headers: vec![pb::HeaderMatch {
            name: "X-Canary".into(),
            value: "1".into(),
        }],
        version: "v2".into(),
        ..Default::default()
    });
    let cfg = |version, upstream: pb::Upstream| pb::ProxyConfig {
        version,
        upstreams: vec![upstream],
        ..Default::default()
    };
    upstreams.apply(&cfg(3, u.clone())).unwrap();
    let view = serde_json::to_value(upstreams.assembly.dump.view()).unwrap();
    assert_eq!(view["mode"], "control_plane");
    assert_eq!(view["config_version"], 3);
    let out = &view["outbound"][0];
    assert_eq!(out["service"], "api");
    assert_ne!(out["listen"], "127.0.0.1:0", "the bound port is shown");
    assert_eq!(out["protocol"], "http");
    assert_eq!(out["load_balancer"], "p2c");
    let backends = out["backends"].as_array().unwrap();
    assert_eq!(
        (
            backends[0]["version"].as_str(),
            backends[0]["weight"].as_u64()
        ),
        (Some("v1"), Some(80))
    );
    assert_eq!(
        (
            backends[1]["version"].as_str(),
            backends[1]["weight"].as_u64()
        ),
        (Some("v2"), Some(20))
    );
    let endpoint = &backends[1]["endpoints"][0];
    assert_eq!(endpoint["address"], "127.0.0.1:2");
    assert_eq!(endpoint["identity"], ID);
    assert_eq!(endpoint["circuit"]["state"], "closed");
    assert_eq!(endpoint["latency_ewma_ms"], serde_json::Value::Null);
    let policy = &out["policy"];
    assert_eq!(policy["timeout_ms"], 1500);
    assert_eq!(
        policy["retry"]["on"],
        serde_json::json!(["gateway-error", "unavailable"])
    );
    let route = &policy["routes"][0];
    assert_eq!(route["path_prefix"], "/beta/");
    assert_eq!(route["headers"], serde_json::json!([["x-canary", "1"]]));
    assert_eq!(route["version"], "v2");

    // A shift swaps the split behind the same listener.
    u.backends[0].weight = 0;
    u.backends[1].weight = 100;
    upstreams.apply(&cfg(4, u.clone())).unwrap();
    let view = serde_json::to_value(upstreams.assembly.dump.view()).unwrap();
    assert_eq!(view["config_version"], 4);
    assert_eq!(view["outbound"].as_array().unwrap().len(), 1);
    assert_eq!(view["outbound"][0]["backends"][1]["weight"], 100);

    // A refused update changes nothing that is shown.
    u.backends[0].weight = 50;
    assert!(upstreams.apply(&cfg(5, u)).is_err());
    let view = serde_json::to_value(upstreams.assembly.dump.view()).unwrap();
    assert_eq!(view["config_version"], 4);
    assert_eq!(view["outbound"][0]["backends"][0]["weight"], 0);
}

#[tokio::test]
async fn a_port_another_process_holds_refuses_the_update_for_a_retry_that_succeeds_later() {
    let (mut upstreams, _) = upstreams().await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap();
    let mut u = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    u.listen = port.to_string();
    let cfg = pb::ProxyConfig {
        version: 3,
        upstreams: vec![u],
        ..Default::default()
    };
    let err = upstreams.apply(&cfg).unwrap_err();
    assert!(err.retry, "{err}");
    assert!(err.message.contains(&port.to_string()), "{err}");
    assert!(upstreams.table.load().is_empty());

    drop(holder);
    upstreams.apply(&cfg).unwrap();
    assert!(upstreams.listeners.contains_key(&port));
    assert!(upstreams.table.load().contains_key("api"));
}

#[tokio::test]
async fn a_bad_trust_bundle_refuses_the_update_before_any_listener_is_bound() {
    let (mut upstreams, _) = upstreams().await;
    // A port that is free now: the refused update must not have bound it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut u = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    u.listen = port.to_string();
    let cfg = pb::ProxyConfig {
        trust_bundle_pem: "-----BEGIN CERTIFICATE-----\nnot base64\n".into(),
        upstreams: vec![u],
        ..Default::default()
    };
    let err = upstreams.apply(&cfg).unwrap_err();
    assert!(
        err.message.starts_with("trust bundle") && !err.retry,
        "{err}"
    );
    assert!(upstreams.listeners.is_empty());
    std::net::TcpListener::bind(port).expect("the port is still free");
}

#[tokio::test]
async fn a_pinned_upstream_binds_its_own_listener_and_one_without_a_listener_is_skipped() {
    let (mut upstreams, _) = upstreams().await;
    let pinned = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    upstreams.pinned.insert("api".into(), pinned);
    // Sent with another listener: bound where the flag says.
    let api = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    // Sent without a listener and not pinned: skipped, the rest applied.
    let mut db = upstream(&[("v1", 100, "127.0.0.1:2", ID)]);
    db.service = "db".into();
    db.listen = String::new();
    let cfg = pb::ProxyConfig {
        version: 3,
        upstreams: vec![api, db],
        ..Default::default()
    };
    upstreams.apply(&cfg).unwrap();
    assert_eq!(
        upstreams.listeners.keys().copied().collect::<Vec<_>>(),
        vec![pinned]
    );
    assert!(upstreams.table.load().contains_key("api"));
    assert!(!upstreams.table.load().contains_key("db"));
    assert!(upstreams.skipped.contains("db"));
    // The same again: still accepted, nothing new bound.
    upstreams.apply(&cfg).unwrap();
    assert_eq!(upstreams.listeners.len(), 1);
}

#[test]
fn an_upstream_service_flag_is_a_listener_and_a_dns_label() {
    let p: PinnedUpstream = "127.0.0.1:4150=api".parse().unwrap();
    assert_eq!(p.listen.port(), 4150);
    assert_eq!(p.service, "api");
    for bad in [
        "127.0.0.1:4150",
        "localhost:1=api",
        "127.0.0.1:1=Api",
        "127.0.0.1:1=a.b",
    ] {
        let err = bad.parse::<PinnedUpstream>().unwrap_err();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn a_valid_upstream_parses() {
    let u = parse_upstream(&upstream(&[
        ("v1", 80, "127.0.0.1:1", ID),
        ("v2", 20, "127.0.0.1:2", ID),
    ]))
    .unwrap();
    assert_eq!(u.backends.len(), 2);
    assert_eq!(u.protocol, UpstreamProtocol::Http);
}

#[test]
fn invalid_updates_are_rejected_with_a_reason() {
    let cases = [
        (upstream(&[("v1", 80, "127.0.0.1:1", ID)]), "sum to 80"),
        (upstream(&[("v1", 101, "127.0.0.1:1", ID)]), "over 100"),
        (
            upstream(&[("v1", 100, "not-an-address", ID)]),
            "not-an-address",
        ),
        (
            upstream(&[("v1", 100, "127.0.0.1:1", "https://x/y")]),
            "SPIFFE",
        ),
    ];
    for (u, needle) in cases {
        let err = parse_upstream(&u).err().unwrap();
        assert!(err.contains(needle), "expected `{needle}` in {err}");
    }
    let mut bad_listen = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    bad_listen.listen = "nowhere".into();
    assert!(parse_upstream(&bad_listen).is_err());
    let mut bad_route = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    bad_route.routes.push(pb::HttpRoute {
        version: "v2".into(),
        ..Default::default()
    });
    assert!(
        parse_upstream(&bad_route)
            .unwrap_err()
            .contains("unknown version `v2`")
    );
    let mut bad_fault = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    bad_fault.live_fault = Some(pb::Fault {
        abort_status: 503,
        abort_per_million: 1_000_001,
        ..Default::default()
    });
    assert!(
        parse_upstream(&bad_fault)
            .unwrap_err()
            .contains("fault: percent")
    );
    let mut bad_proto = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    bad_proto.protocol = "smtp".into();
    assert!(parse_upstream(&bad_proto).unwrap_err().contains("smtp"));
    let mut bad_lb = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    bad_lb.load_balancer = "random".into();
    assert!(
        parse_upstream(&bad_lb)
            .unwrap_err()
            .contains("unknown load balancer `random`")
    );
}

#[test]
fn the_balancer_and_connect_timeout_default_unless_set() {
    let mut u = upstream(&[("v1", 100, "127.0.0.1:1", ID)]);
    let parsed = parse_upstream(&u).unwrap();
    assert_eq!(parsed.balancer, LoadBalancer::PeakEwma);
    assert_eq!(parsed.connect_timeout, None);
    u.load_balancer = "round_robin".into();
    u.connect_timeout_ms = 250;
    let parsed = parse_upstream(&u).unwrap();
    assert_eq!(parsed.balancer, LoadBalancer::RoundRobin);
    assert_eq!(parsed.connect_timeout, Some(Duration::from_millis(250)));
}
