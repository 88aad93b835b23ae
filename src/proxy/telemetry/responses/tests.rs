//! Tests of the labelled response series: labels, classification, bounds, and gRPC
//! statuses counted from trailers.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::*;
use crate::proxy::telemetry::stats::Labels;

const API: &str = "spiffe://mesh.local/ns/local/sa/api";

fn grpc(code: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("grpc-status", HeaderValue::from_str(code).unwrap());
    h
}

fn labelled(version: &str, grpc: GrpcStatus) -> Option<Labels<'_>> {
    Some(Labels {
        version,
        route: "",
        grpc,
    })
}

fn lines(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn grpc_statuses_parse_and_stay_within_the_seventeen_codes() {
    assert_eq!(GrpcStatus::parse(&grpc("0")), Some(GrpcStatus::Code(0)));
    assert_eq!(GrpcStatus::parse(&grpc("14")), Some(GrpcStatus::Code(14)));
    // Outside 0–16, or not a number: UNKNOWN, as a gRPC client reads it.
    for odd in ["17", "255", "99999", "-1", "x"] {
        assert_eq!(
            GrpcStatus::parse(&grpc(odd)),
            Some(GrpcStatus::Code(2)),
            "{odd}"
        );
    }
    assert_eq!(GrpcStatus::parse(&HeaderMap::new()), None);
}

#[test]
fn classification_fails_5xx_and_grpc_errors_and_passes_4xx() {
    assert_eq!(classification(200, GrpcStatus::NotGrpc), "success");
    assert_eq!(classification(404, GrpcStatus::NotGrpc), "success");
    assert_eq!(classification(503, GrpcStatus::NotGrpc), "failure");
    assert_eq!(classification(200, GrpcStatus::Code(0)), "success");
    assert_eq!(classification(200, GrpcStatus::Code(14)), "failure");
    assert_eq!(classification(200, GrpcStatus::Missing), "failure");
}

#[test]
fn identity_labels_come_from_the_spiffe_id_only() {
    assert_eq!(identity_labels(API), ("local", "api"));
    assert_eq!(
        identity_labels("spiffe://cluster.local/ns/shop/sa/web"),
        ("shop", "web")
    );
    assert_eq!(identity_labels(""), ("", ""));
    assert_eq!(identity_labels("spiffe://td/other/shape"), ("", ""));
}

#[test]
fn responses_render_per_peer_version_status_and_grpc_status() {
    let m = Metrics::default();
    let ms = Duration::from_millis(3);
    m.request(
        Direction::Outbound,
        API,
        StatusCode::OK,
        ms,
        labelled("v1", GrpcStatus::NotGrpc),
    );
    m.request(
        Direction::Outbound,
        API,
        StatusCode::OK,
        ms,
        labelled("v1", GrpcStatus::NotGrpc),
    );
    let v2 = labelled("v2", GrpcStatus::NotGrpc);
    m.request(Direction::Outbound, API, StatusCode::BAD_GATEWAY, ms, v2);
    let web = "spiffe://mesh.local/ns/local/sa/web";
    let unavailable = labelled("", GrpcStatus::Code(14));
    m.request(Direction::Inbound, web, StatusCode::OK, ms, unavailable);
    let text = m.render();
    let counts = lines(&text, "meshctl_responses_total{");
    assert_eq!(
        counts,
        [
            "meshctl_responses_total{direction=\"inbound\",peer_namespace=\"local\",peer_service=\"web\",peer_version=\"\",route=\"\",status_code=\"200\",grpc_status=\"14\",classification=\"failure\"} 1",
            "meshctl_responses_total{direction=\"outbound\",peer_namespace=\"local\",peer_service=\"api\",peer_version=\"v1\",route=\"\",status_code=\"200\",grpc_status=\"\",classification=\"success\"} 2",
            "meshctl_responses_total{direction=\"outbound\",peer_namespace=\"local\",peer_service=\"api\",peer_version=\"v2\",route=\"\",status_code=\"502\",grpc_status=\"\",classification=\"failure\"} 1",
        ]
    );
    assert!(text.contains(
        "meshctl_response_duration_seconds_bucket{direction=\"outbound\",peer_namespace=\"local\",peer_service=\"api\",peer_version=\"v1\",route=\"\",status_code=\"200\",grpc_status=\"\",classification=\"success\",le=\"0.005\"} 2"
    ));
    assert!(text.contains(
        "meshctl_response_duration_seconds_count{direction=\"outbound\",peer_namespace=\"local\",peer_service=\"api\",peer_version=\"v2\",route=\"\",status_code=\"502\",grpc_status=\"\",classification=\"failure\"} 1"
    ));
    // One HELP/TYPE per family, even with no series.
    assert_eq!(
        text.matches("# TYPE meshctl_responses_total counter")
            .count(),
        1
    );
    let empty = Metrics::default().render();
    assert_eq!(
        empty
            .matches("# TYPE meshctl_response_duration_seconds histogram")
            .count(),
        1
    );
}

#[test]
fn a_peer_past_its_series_bound_is_counted_under_other() {
    let mut series = PeerSeries::default();
    for code in 0..MAX_SERIES_PER_PEER as u16 + 40 {
        let labels = Labels {
            version: "v1",
            route: "",
            grpc: GrpcStatus::NotGrpc,
        };
        series.record(labels, 100 + code, Duration::from_millis(1));
    }
    assert_eq!(series.0.len(), MAX_SERIES_PER_PEER + 1);
    let (mut counts, mut histograms) = (String::new(), String::new());
    series.render(Direction::Inbound, API, &mut counts, &mut histograms);
    let other: Vec<&str> = counts
        .lines()
        .filter(|l| l.contains("status_code=\"other\""))
        .collect();
    assert_eq!(other.len(), 1);
    assert!(other[0].ends_with(" 40"), "{}", other[0]);
}

#[tokio::test]
async fn a_grpc_status_in_trailers_is_counted_when_they_arrive() {
    let metrics = Arc::new(Metrics::default());
    let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
        Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\0"))),
        Ok(Frame::trailers(grpc("5"))),
    ];
    let pending = |metrics: &Arc<Metrics>| Pending {
        metrics: metrics.clone(),
        direction: Direction::Outbound,
        peer: API.to_string(),
        version: Arc::from("v2"),
        route: Arc::from("canary"),
        status: StatusCode::OK,
        latency: Duration::from_millis(2),
    };
    let body = Counted::at_trailers(
        StreamBody::new(futures_util::stream::iter(frames)),
        pending(&metrics),
    );
    assert!(
        lines(&metrics.render(), "meshctl_responses_total{").is_empty(),
        "not before the trailers"
    );
    let collected = body.collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "5");
    let counted = lines(&metrics.render(), "meshctl_responses_total{");
    assert_eq!(counted.len(), 1);
    assert!(counted[0].contains("peer_version=\"v2\",route=\"canary\",status_code=\"200\",grpc_status=\"5\",classification=\"failure\"} 1"), "{}", counted[0]);

    // Dropped before its trailers (the caller went away): a failure without a status, once.
    let cut: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
        vec![Ok(Frame::data(Bytes::from_static(b"x")))];
    let mut body = Counted::at_trailers(
        StreamBody::new(futures_util::stream::iter(cut)),
        pending(&metrics),
    );
    let _first = body.frame().await;
    drop(body);
    let counted = lines(&metrics.render(), "meshctl_responses_total{");
    assert_eq!(counted.len(), 2, "{counted:?}");
    assert!(
        counted
            .iter()
            .any(|l| l.contains("grpc_status=\"\",classification=\"failure\"} 1"))
    );
}
