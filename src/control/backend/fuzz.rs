//! Fuzz target (docs/fuzzing.md): the state files' loaders (`splits.json`, `faults.json`,
//! `canary-routes.json`) on edited and arbitrary content, and their save/load round trip.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::control::canary_routes::CanaryRoute;
use crate::fuzzing::config;
use crate::policy::fault::{Abort, Delay, FaultSpec};
use crate::policy::split::TOTAL_WEIGHT;

/// web (one version), api (v1, v2), db.
pub(super) fn plan(dir: &Path) -> MeshPlan {
    let proxy = |name: &str, service: &str, version: Option<&str>, port: u16| {
        serde_json::json!({
            "name": name, "service": service, "version": version,
            "spiffe_id": format!("spiffe://mesh.local/ns/local/sa/{service}"),
            "token_sha256": format!("{port}"), "inbound": format!("127.0.0.1:{port}"),
            "app": format!("127.0.0.1:{}", port + 1), "protocol": null,
            "admin": format!("127.0.0.1:{}", port + 2), "http_proxy": format!("127.0.0.1:{}", port + 3),
            "tap": format!("127.0.0.1:{}", port + 4), "upstreams": [],
        })
    };
    serde_json::from_value(serde_json::json!({
        "trust_domain": "mesh.local",
        "control_socket": dir.join("control.sock"),
        "admin_token_sha256": "00",
        "proxies": [
            proxy("web", "web", None, 10_000),
            proxy("api.v1", "api", Some("v1"), 11_000),
            proxy("api.v2", "api", Some("v2"), 12_000),
            proxy("db", "db", None, 13_000),
        ],
    }))
    .unwrap()
}

fn service() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["web", "api", "db", "gone", ""]).prop_map(String::from)
}

fn version() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["v1", "v2", "v3", ""]).prop_map(String::from)
}

fn splits() -> impl Strategy<Value = BTreeMap<String, SplitWeights>> {
    let weights =
        prop::collection::btree_map(version(), prop_oneof![0..=TOTAL_WEIGHT, any::<u32>()], 0..3)
            .prop_map(SplitWeights);
    prop::collection::btree_map(service(), weights, 0..4)
}

fn faults() -> impl Strategy<Value = BTreeMap<String, LiveFault>> {
    let spec = (
        prop::option::of((
            prop_oneof![400u16..600, any::<u16>()],
            prop_oneof![0..=1_000_000u32, any::<u32>()],
        )),
        prop::option::of((
            prop_oneof![1..10_000u64, any::<u64>()],
            prop_oneof![0..=1_000_000u32, any::<u32>()],
        )),
    )
        .prop_map(|(abort, delay)| FaultSpec {
            abort: abort.map(|(status, per_million)| Abort {
                status,
                per_million,
            }),
            delay: delay.map(|(ms, per_million)| Delay { ms, per_million }),
        });
    let live = (spec, any::<u64>(), prop::option::of(any::<u64>())).prop_map(
        |(spec, set_unix_ms, expires_unix_ms)| LiveFault {
            spec,
            set_unix_ms,
            expires_unix_ms,
        },
    );
    prop::collection::btree_map(service(), live, 0..3)
}

fn canary_routes() -> impl Strategy<Value = CanaryRoutes> {
    let route = (
        version(),
        prop::sample::select(vec!["x-canary", "X-Canary", "bad name", ""]),
        prop::sample::select(vec!["1", "", "a\u{7f}"]),
    )
        .prop_map(|(version, header, value)| CanaryRoute {
            version,
            header: header.into(),
            value: value.into(),
        });
    prop::collection::btree_map(service(), route, 0..3)
}

/// A file's content: the JSON of a generated value, edited byte by byte, or anything.
fn content<T: serde::Serialize + std::fmt::Debug>(
    value: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (value, prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3)).prop_map(|(v, edits)| {
            let mut bytes = serde_json::to_vec_pretty(&v).unwrap();
            for (at, byte) in edits {
                if !bytes.is_empty() {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            bytes
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(config(128))]

    /// Whatever the files hold, loading never panics and yields only what the mesh can use:
    /// splits that validate for services that have several versions (each of those has one),
    /// faults of services that exist, routes that validate; and `canary shift`, which reads
    /// splits.json as it is, never panics on it.
    #[test]
    fn state_files_load(
        splits_file in content(splits()),
        faults_file in content(faults()),
        routes_file in content(canary_routes()),
        weight in 0..=TOTAL_WEIGHT,
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SPLITS_FILE), &splits_file).unwrap();
        std::fs::write(dir.path().join(FAULTS_FILE), &faults_file).unwrap();
        std::fs::write(canary_routes::path(dir.path()), &routes_file).unwrap();
        let backend = LocalBackend::new(plan(dir.path()), dir.path());
        // A file that does not check out is refused (`Err`, which stops `up`); one that
        // loads yields only usable state.
        if let Ok(splits) = backend.load_splits() {
            prop_assert!(splits.contains_key("api"));
            for (svc, weights) in &splits {
                prop_assert_eq!(weights.validate(svc, &backend.versions(svc)), Ok(()));
            }
        }
        if let Ok(faults) = backend.load_faults() {
            for (svc, fault) in &faults {
                prop_assert!(!backend.versions(svc).is_empty(), "a fault for unknown service {}", svc);
                // What the control plane pushes, every caller's proxy must accept.
                let wire = fault.spec.to_pb(fault.expires_unix_ms);
                prop_assert!(FaultSpec::from_pb(&wire).is_ok(), "{:?} would be refused by the proxies", fault);
            }
        }
        if let Ok(routes) = backend.load_canary_routes() {
            for (svc, route) in &routes {
                prop_assert!(route.validate(svc, &backend.versions(svc)).is_ok());
            }
        }
        let versions = backend.versions("api");
        if let Some(raw) = read_splits(dir.path()).ok().and_then(|mut s| s.remove("api")) {
            let _ = raw.shift("api", &versions, "v2", weight);
        }
    }

}

proptest! {
    // Each case writes three files atomically (fsync): few cases by default.
    #![proptest_config(config(24))]

    /// Saved state loads back as it was saved (for services and versions that exist).
    #[test]
    fn state_files_round_trip(splits in splits(), faults in faults(), routes in canary_routes()) {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(plan(dir.path()), dir.path());
        let valid_splits: BTreeMap<String, SplitWeights> = splits
            .into_iter()
            .filter(|(svc, w)| w.validate(svc, &backend.versions(svc)).is_ok())
            .collect();
        backend.save_splits(&valid_splits).unwrap();
        let loaded = backend.load_splits().unwrap();
        for (svc, w) in &valid_splits {
            prop_assert_eq!(loaded.get(svc), Some(w));
        }
        let known_faults: BTreeMap<String, LiveFault> = faults
            .into_iter()
            .filter(|(svc, f)| {
                !backend.versions(svc).is_empty()
                    && FaultSpec::from_pb(&f.spec.to_pb(f.expires_unix_ms)).is_ok()
            })
            .collect();
        backend.save_faults(&known_faults).unwrap();
        prop_assert_eq!(backend.load_faults().unwrap(), known_faults);
        let valid_routes: CanaryRoutes = routes
            .into_iter()
            .filter(|(svc, r)| r.validate(svc, &backend.versions(svc)).is_ok())
            .collect();
        backend.save_canary_routes(&valid_routes).unwrap();
        prop_assert_eq!(backend.load_canary_routes().unwrap(), valid_routes);
    }
}
