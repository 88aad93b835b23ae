//! Spans over OTLP: a real proxy pair (`--otlp-endpoint`) exporting to an OTLP/gRPC receiver
//! served by this test over loopback with tonic — the collector's role, decoded with the
//! proxy's own wire types (`proto/otlp_trace.proto`, field numbers from OpenTelemetry's).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use meshctl::api::proto::otlp::any_value::Value;
use meshctl::api::proto::otlp::trace_service_server::{TraceService, TraceServiceServer};
use meshctl::api::proto::otlp::{ExportTraceServiceRequest, ExportTraceServiceResponse, Span};

use crate::proxy_support::*;

/// What the receiver got: (service.name of the resource, span).
type Received = Arc<Mutex<Vec<(String, Span)>>>;

#[derive(Clone, Default)]
struct Collector(Received);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let resource = rs.resource.unwrap_or_default();
            let service = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.clone()?.value? {
                    Value::StringValue(s) => Some(s),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in rs.scope_spans {
                assert_eq!(scope.scope.unwrap().name, "meshctl-proxy");
                received.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Serves a collector on a free loopback port.
async fn collector() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = Collector::default();
    let received = collector.0.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (addr, received)
}

/// Waits (bounded) until `received` holds `n` spans, then returns them.
async fn spans(received: &Received, n: usize) -> Vec<(String, Span)> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = received.lock().unwrap().clone();
        if got.len() >= n || Instant::now() > deadline {
            assert_eq!(got.len(), n, "spans received: {got:#?}");
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr(span: &Span, key: &str) -> Option<Value> {
    let kv = span.attributes.iter().find(|kv| kv.key == key)?;
    kv.value.clone()?.value
}

fn otlp_flags(endpoint: String) -> Vec<String> {
    vec!["--otlp-endpoint".into(), endpoint]
}

async fn get_with(pair: &Pair, path: &str, headers: &[(&str, &str)]) -> http::HeaderMap {
    let mut conn = http1_conn(pair.entry).await;
    let mut req = Request::get(path).header("host", "api.test");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(full_body(Bytes::new())).unwrap();
    let (status, headers, _) = collect(send(&mut conn, req).await).await;
    assert!(status == StatusCode::OK || status == StatusCode::NOT_FOUND);
    headers
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_proxies_record_a_span_below_the_callers_and_the_app_sees_the_last_one() {
    let (endpoint, received) = collector().await;
    let app = http_app().await;
    let pair = Pair::start_with(
        &app.addr.to_string(),
        &otlp_flags(format!("http://{endpoint}")),
    );

    // A sampled trace from the app: both spans continue it.
    let traceparent = format!("00-{TRACE}-{CALLER_SPAN}-01");
    let seen = get_with(
        &pair,
        "/traced?secret=1",
        &[("traceparent", &traceparent), ("tracestate", "app=1")],
    )
    .await;
    let got = spans(&received, 2).await;
    let (client_service, client) = got.iter().find(|(_, s)| s.kind == 3).unwrap();
    let (server_service, server) = got.iter().find(|(_, s)| s.kind == 2).unwrap();
    assert_eq!(
        (client_service.as_str(), server_service.as_str()),
        ("web", "api")
    );
    for span in [client, server] {
        assert_eq!(hex(&span.trace_id), TRACE);
        assert_eq!(span.name, "GET");
        assert_eq!(span.trace_state, "app=1");
        assert_eq!(span.flags, 0x301, "sampled, parent remote");
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert_eq!(
            attr(span, "http.response.status_code"),
            Some(Value::IntValue(200))
        );
        assert_eq!(
            attr(span, "url.path"),
            Some(Value::StringValue("/traced".into()))
        );
        assert_eq!(span.status, None);
    }
    assert_eq!(hex(&client.parent_span_id), CALLER_SPAN);
    assert_eq!(
        server.parent_span_id, client.span_id,
        "the inbound span hangs below"
    );
    assert_eq!(
        attr(client, "meshctl.peer.identity"),
        Some(Value::StringValue(API_ID.into()))
    );
    assert_eq!(
        attr(server, "meshctl.peer.identity"),
        Some(Value::StringValue(WEB_ID.into()))
    );
    assert_eq!(
        header(&seen, "x-seen-traceparent"),
        format!("00-{TRACE}-{}-01", hex(&server.span_id)),
        "the app's parent is the inbound proxy's span"
    );
    assert_eq!(header(&seen, "x-seen-tracestate"), "app=1");

    // No traceparent: a new sampled trace, rooted at the outbound proxy; a 404 is an error
    // for the client span only.
    let seen = get_with(&pair, "/missing", &[]).await;
    let got = spans(&received, 4).await;
    let new: Vec<&Span> = got[2..].iter().map(|(_, s)| s).collect();
    let client = new.iter().find(|s| s.kind == 3).unwrap();
    let server = new.iter().find(|s| s.kind == 2).unwrap();
    assert_ne!(hex(&client.trace_id), TRACE);
    assert_eq!(client.trace_id, server.trace_id);
    assert!(client.parent_span_id.is_empty(), "a root span");
    assert_eq!(server.parent_span_id, client.span_id);
    assert_eq!(client.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(server.status, None);
    let expected = format!("00-{}-{}-01", hex(&client.trace_id), hex(&server.span_id));
    assert_eq!(header(&seen, "x-seen-traceparent"), expected);

    // Not sampled by the caller: no span, the header passes untouched.
    let unsampled = format!("00-{TRACE}-{CALLER_SPAN}-00");
    let seen = get_with(&pair, "/quiet", &[("traceparent", &unsampled)]).await;
    assert_eq!(header(&seen, "x-seen-traceparent"), unsampled);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(received.lock().unwrap().len(), 4);

    for proxy in [&pair.client, &pair.server] {
        let text = proxy.metrics().await;
        assert_eq!(sample(&text, "meshctl_spans_exported_total"), 2.0, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_sample_rate_records_no_new_trace_but_follows_a_sampled_caller() {
    let (endpoint, received) = collector().await;
    let app = http_app().await;
    let mut flags = otlp_flags(format!("http://{endpoint}"));
    flags.extend(["--trace-sample".to_string(), "0".to_string()]);
    let pair = Pair::start_with(&app.addr.to_string(), &flags);

    let seen = get_with(&pair, "/new", &[]).await;
    let forwarded = header(&seen, "x-seen-traceparent");
    assert!(
        forwarded.ends_with("-00"),
        "unsampled all the way: {forwarded}"
    );

    let traceparent = format!("00-{TRACE}-{CALLER_SPAN}-01");
    get_with(&pair, "/followed", &[("traceparent", &traceparent)]).await;
    let got = spans(&received, 2).await;
    assert!(
        got.iter().all(|(_, s)| hex(&s.trace_id) == TRACE),
        "{got:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_still_queued_at_sigterm_are_sent_before_the_proxies_exit() {
    let (endpoint, received) = collector().await;
    let app = http_app().await;
    let mut pair = Pair::start_with(
        &app.addr.to_string(),
        &otlp_flags(format!("http://{endpoint}")),
    );
    get_with(&pair, "/last", &[]).await;
    // Well inside the 500 ms a batch waits to fill: without the flush both spans die here.
    pair.client.sigterm();
    pair.server.sigterm();
    for proxy in [&mut pair.client, &mut pair.server] {
        assert!(proxy.wait_exit().success(), "{}", proxy.log());
    }
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collector_requests_still_flow_and_the_lost_spans_are_counted() {
    // A port nothing listens on (held, so nothing else takes it).
    let nobody = free_addr();
    let app = http_app().await;
    let pair = Pair::start_with(
        &app.addr.to_string(),
        &otlp_flags(format!("http://{nobody}")),
    );
    for _ in 0..3 {
        get_with(&pair, "/ok", &[]).await;
    }
    let series = "meshctl_spans_dropped_total{reason=\"export_failed\"}";
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = pair.client.metrics().await;
        if sample(&text, series) == 3.0 {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pair.client.log().contains("OTLP export failed"));
}

#[test]
fn a_bad_otlp_endpoint_or_sample_rate_is_a_usage_error_naming_it() {
    let mesh = Mesh::new();
    let api = mesh.issue(API_ID, "api");
    let ok = "http://127.0.0.1:4317";
    for (flags, needle, why) in [
        (
            &["--otlp-endpoint", "https://127.0.0.1:4317"][..],
            "https://127.0.0.1:4317",
            "https needs a CA file",
        ),
        (
            &["--otlp-endpoint", "http://127.0.0.1"],
            "http://127.0.0.1",
            "name the port",
        ),
        (
            &["--otlp-endpoint", ok, "--trace-sample", "150"],
            "`150`",
            "0 to 100",
        ),
        (&["--trace-sample", "10"], "--otlp-endpoint", "required"),
    ] {
        let out = crate::support::meshctl()
            .arg("proxy")
            .args(identity(&api))
            .args(inbound(free_addr(), "127.0.0.1:9"))
            .args(flags)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle) && stderr.contains(why), "{stderr}");
    }
}

#[test]
fn every_proxy_of_a_local_mesh_exports_to_the_mesh_yaml_endpoint() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (endpoint, received) = runtime.block_on(collector());
    let yaml = format!(
        "otlp_endpoint: http://{endpoint}\n{}",
        crate::mesh::three_services()
    );
    let up = crate::mesh::Up::start(&yaml);
    let api = up.upstream("front", "api");
    let traceparent = format!("traceparent: 00-{TRACE}-{CALLER_SPAN}-01");
    crate::mesh::curl(&[format!("http://{api}/hello")], &["-H", &traceparent]);
    let got = runtime.block_on(spans(&received, 2));
    let (front, client) = got.iter().find(|(_, s)| s.kind == 3).unwrap();
    let (api, server) = got.iter().find(|(_, s)| s.kind == 2).unwrap();
    assert_eq!((front.as_str(), api.as_str()), ("front", "api"));
    assert_eq!(hex(&client.trace_id), TRACE);
    assert_eq!(hex(&client.parent_span_id), CALLER_SPAN);
    assert_eq!(server.parent_span_id, client.span_id);
    assert_eq!(
        attr(client, "server.address"),
        Some(Value::StringValue("127.0.0.1".into())),
        "the authority curl sent"
    );
}
