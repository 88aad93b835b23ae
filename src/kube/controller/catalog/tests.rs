//! The catalog's arithmetic and mapping rules on their own.

use super::*;

fn weights(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(v, w)| (v.to_string(), *w)).collect()
}

#[test]
fn relative_weights_scale_to_the_total_by_largest_remainder() {
    let scaled = |pairs: &[(&str, u64)]| scale(&weights(pairs)).map(|s| s.0);
    let expect = |pairs: &[(&str, u32)]| {
        Some(
            pairs
                .iter()
                .map(|(v, w)| (v.to_string(), *w))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    assert_eq!(
        scaled(&[("v1", 80), ("v2", 20)]),
        expect(&[("v1", 80), ("v2", 20)])
    );
    assert_eq!(
        scaled(&[("v1", 1), ("v2", 1)]),
        expect(&[("v1", 50), ("v2", 50)])
    );
    assert_eq!(
        scaled(&[("a", 1), ("b", 1), ("c", 1)]),
        expect(&[("a", 34), ("b", 33), ("c", 33)])
    );
    assert_eq!(
        scaled(&[("v1", 0), ("v2", 3)]),
        expect(&[("v1", 0), ("v2", 100)])
    );
    assert_eq!(scaled(&[("v1", 0)]), None);
    assert_eq!(scaled(&[]), None);
    // Gateway API weights go up to 1,000,000 each: no overflow, still 100 in all.
    let big = scale(&weights(&[("v1", 999_999), ("v2", 1)])).unwrap();
    assert_eq!(big.0.values().sum::<u32>(), TOTAL_WEIGHT);
}

#[test]
fn versions_come_from_the_labels_in_order() {
    let pod = |labels: serde_json::Value| -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"labels": labels}})).unwrap()
    };
    assert_eq!(
        pod_version(&pod(
            serde_json::json!({"app.kubernetes.io/version": "v2", "version": "x"})
        )),
        "v2"
    );
    assert_eq!(
        pod_version(&pod(serde_json::json!({"version": "v1"}))),
        "v1"
    );
    assert_eq!(pod_version(&pod(serde_json::json!({}))), "");
}

#[test]
fn the_protocol_comes_from_the_first_ports_app_protocol() {
    let svc = |app: Option<&str>| -> Service {
        serde_json::from_value(
            serde_json::json!({"spec": {"ports": [{"port": 80, "appProtocol": app}]}}),
        )
        .unwrap()
    };
    assert_eq!(service_protocol(&svc(Some("kubernetes.io/h2c"))), "grpc");
    assert_eq!(service_protocol(&svc(Some("http"))), "http");
    assert_eq!(service_protocol(&svc(Some("tcp"))), "tcp");
    assert_eq!(service_protocol(&svc(Some("kubernetes.io/ws"))), "");
    assert_eq!(service_protocol(&svc(None)), "");
}
