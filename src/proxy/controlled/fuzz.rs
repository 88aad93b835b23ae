//! Fuzz target (docs/fuzzing.md): a `ProxyConfig` from the control plane, decoded from
//! mutated protobuf bytes, is accepted or refused by the checks `apply` runs before it
//! changes anything, never with a panic; what is accepted keeps the documented rules.

use http::{HeaderMap, Method};
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::fuzzing::config;

const ID: &str = "spiffe://mesh.local/ns/local/sa/api";

fn one_of(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(pool).prop_map(String::from)
}

fn fault() -> impl Strategy<Value = Option<pb::Fault>> {
    prop::option::of(
        (
            prop_oneof![
                Just(0u32),
                Just(503),
                Just(200),
                Just(99),
                Just(600),
                any::<u32>()
            ],
            prop_oneof![
                Just(0u32),
                Just(50_000),
                Just(1_000_000),
                Just(1_000_001),
                any::<u32>()
            ],
            prop_oneof![Just(0u64), Just(200), Just(3_600_000), any::<u64>()],
            prop_oneof![Just(0u32), Just(100_000), any::<u32>()],
            any::<u64>(),
        )
            .prop_map(
                |(
                    abort_status,
                    abort_per_million,
                    delay_ms,
                    delay_per_million,
                    expires_unix_ms,
                )| pb::Fault {
                    abort_status,
                    abort_per_million,
                    delay_ms,
                    delay_per_million,
                    expires_unix_ms,
                },
            ),
    )
}

fn route() -> impl Strategy<Value = pb::HttpRoute> {
    (
        prop::option::of(prop_oneof![
            one_of(&["/", "/api", "/api/", "rel", "/a/../b"])
                .prop_map(pb::http_route::Path::PathExact),
            one_of(&["/", "/api", "/api/", "rel"]).prop_map(pb::http_route::Path::PathPrefix),
        ]),
        one_of(&["", "GET", "POST", "get", "BAD METHOD"]),
        prop::collection::vec(
            (
                one_of(&["x-canary", "X-Canary", "bad name", ""]),
                one_of(&["1", "", "a\u{7f}"]),
            )
                .prop_map(|(name, value)| pb::HeaderMatch { name, value }),
            0..2,
        ),
        one_of(&["", "v1", "v2", "v9"]),
        prop_oneof![Just(0u64), Just(1), any::<u64>()],
        any::<bool>(),
        fault(),
        one_of(&["", "canary", "Not A Label"]),
    )
        .prop_map(
            |(path, method, headers, version, timeout_ms, retryable, fault, name)| pb::HttpRoute {
                path,
                method,
                headers,
                version,
                timeout_ms,
                retryable,
                fault,
                name,
            },
        )
}

fn upstream() -> impl Strategy<Value = pb::Upstream> {
    let endpoint = (
        one_of(&["127.0.0.1:4143", "[::1]:4143", "localhost:1", ""]),
        one_of(&[
            ID,
            "spiffe://evil.example/ns/local/sa/api",
            "spiffe://mesh.local/",
            "api",
        ]),
    )
        .prop_map(|(address, spiffe_id)| pb::Endpoint { address, spiffe_id });
    let backend = (
        one_of(&["v1", "v2", ""]),
        prop_oneof![Just(0u32), Just(50), Just(100), Just(101), any::<u32>()],
        prop::collection::vec(endpoint, 0..3),
    )
        .prop_map(|(version, weight, endpoints)| pb::Backend {
            version,
            weight,
            endpoints,
        });
    let retry = prop::option::of(
        (
            prop_oneof![Just(0u32), Just(3), any::<u32>()],
            prop::collection::vec(
                one_of(&["gateway-error", "connect-failure", "5xx", "bogus"]),
                0..3,
            ),
            prop_oneof![Just(0u64), Just(25), any::<u64>()],
        )
            .prop_map(|(attempts, on, backoff_ms)| pb::RetryPolicy {
                attempts,
                on,
                backoff_ms,
            }),
    );
    (
        (
            one_of(&["api", "", "a b"]),
            one_of(&["127.0.0.1:0", "127.0.0.1:9000", "[::1]:9000", "nowhere"]),
            one_of(&["", "http", "grpc", "tcp", "udp"]),
            prop::collection::vec(backend, 0..3),
            prop::collection::vec(route(), 0..3),
        ),
        (
            prop_oneof![Just(0u64), any::<u64>()],
            retry,
            any::<u32>(),
            fault(),
            fault(),
            one_of(&["", "p2c", "round_robin", "random"]),
            prop_oneof![Just(0u64), any::<u64>()],
            mirror(),
            mirror(),
        ),
    )
        .prop_map(
            |(
                (service, listen, protocol, backends, routes),
                (
                    request_timeout_ms,
                    retry,
                    breaker_failures,
                    fault,
                    live_fault,
                    load_balancer,
                    connect_timeout_ms,
                    mirror,
                    live_mirror,
                ),
            )| pb::Upstream {
                service,
                listen,
                protocol,
                backends,
                routes,
                request_timeout_ms,
                retry,
                breaker_failures,
                fault,
                live_fault,
                mirror,
                live_mirror,
                load_balancer,
                connect_timeout_ms,
            },
        )
}

/// Mirrors as a control plane might send them: to a version or none, any share and expiry.
fn mirror() -> impl Strategy<Value = Option<pb::Mirror>> {
    prop::option::of(
        (
            one_of(&["", "v1", "v2", "nosuch"]),
            prop_oneof![Just(0u32), Just(1_000_000u32), any::<u32>()],
            any::<bool>(),
            prop_oneof![Just(0u64), any::<u64>()],
        )
            .prop_map(
                |(version, per_million, compare_body, expires_unix_ms)| pb::Mirror {
                    version,
                    per_million,
                    compare_body,
                    expires_unix_ms,
                },
            ),
    )
}

fn proxy_config() -> impl Strategy<Value = pb::ProxyConfig> {
    (
        any::<u64>(),
        prop::collection::vec(upstream(), 0..3),
        one_of(&[
            "",
            "not a pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ]),
        any::<bool>(),
    )
        .prop_map(
            |(version, upstreams, trust_bundle_pem, authz)| pb::ProxyConfig {
                version,
                spiffe_id: ID.into(),
                service: "api".into(),
                upstreams,
                trust_bundle_pem,
                authorization: authz.then(|| pb::AuthzPolicy {
                    allow: vec![pb::AuthzRule {
                        from: vec!["spiffe://mesh.local/ns/local/sa/*".into()],
                        ..Default::default()
                    }],
                    exempt: vec![],
                }),
                ..Default::default()
            },
        )
}

/// The checks `Upstreams::apply` and `apply_with_authz` make before changing anything (the
/// rest binds sockets and installs state); on acceptance, what the accepted parts promise.
fn check(cfg: &pb::ProxyConfig) -> Result<(), TestCaseError> {
    let _ = InboundAuthz::from_proto(cfg.authorization.as_ref());
    let _ = parse_trust(cfg);
    for u in &cfg.upstreams {
        let Ok(parsed) = parse_upstream(u) else {
            continue;
        };
        if !u.backends.is_empty() {
            let sum: u64 = parsed.backends.iter().map(|b| u64::from(b.weight)).sum();
            prop_assert_eq!(sum, 100);
        }
        let versions: Vec<&str> = parsed.backends.iter().map(|b| b.version.as_str()).collect();
        for method in [Method::GET, Method::POST] {
            for path in ["/", "/api", "/api/x"] {
                let mut headers = HeaderMap::new();
                headers.insert("x-canary", http::HeaderValue::from_static("1"));
                let selected = parsed.routes.select(&method, path, &headers);
                if let Some(v) = selected.version {
                    prop_assert!(versions.contains(&v), "route to unknown version {}", v);
                }
                let _ = parsed.routes.fault(&method, path, &headers);
            }
        }
        prop_assert!(serde_json::to_string(&parsed.routes.view()).is_ok());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    /// Generated configs, encoded, edited as bytes, decoded: whatever decodes is checked
    /// without a panic.
    #[test]
    fn proxy_config_from_protobuf(
        cfg in proxy_config(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        check(&cfg)?;
        let mut bytes = cfg.encode_to_vec();
        for (at, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if let Ok(decoded) = pb::ProxyConfig::decode(&bytes[..]) {
            check(&decoded)?;
        }
    }

    /// Any bytes that happen to decode.
    #[test]
    fn proxy_config_any_protobuf(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(decoded) = pb::ProxyConfig::decode(&bytes[..]) {
            check(&decoded)?;
        }
    }
}
