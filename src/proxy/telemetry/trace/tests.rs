//! Tests of span creation, propagation and OTLP encoding.

use super::*;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[test]
fn valid_traceparents_parse_and_invalid_ones_do_not() {
    let ok = format!("00-{TRACE}-{PARENT}-01");
    let (trace, parent, flags) = parse_traceparent(&ok).unwrap();
    assert_eq!(
        (hex(&trace), hex(&parent), flags),
        (TRACE.into(), PARENT.into(), 1)
    );
    // A later version may carry more fields after a dash.
    assert!(parse_traceparent(&format!("01-{TRACE}-{PARENT}-00-extra")).is_some());
    for bad in [
        format!("00-{TRACE}-{PARENT}-01-extra"),
        format!("ff-{TRACE}-{PARENT}-01"),
        format!("00-{}-{PARENT}-01", "0".repeat(32)),
        format!("00-{TRACE}-{}-01", "0".repeat(16)),
        format!("00-{}-{PARENT}-01", TRACE.to_uppercase()),
        format!("00-{TRACE}-{PARENT}-1"),
        format!("00_{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}x{PARENT}-01"),
        "00-".to_string(),
        String::new(),
    ] {
        assert_eq!(parse_traceparent(&bad), None, "{bad}");
    }
}

fn tracer() -> (Tracer, mpsc::Receiver<Vec<u8>>) {
    let (queue, spans) = mpsc::channel(2);
    let tracer = Tracer {
        queue,
        ids: Ids::default(),
        counters: Arc::default(),
        sample: SampleRate::ALL,
        flush: Arc::default(),
    };
    (tracer, spans)
}

/// `tracer.begin` for a GET of `http://api{path}` carrying `headers` (updated in place).
fn begin(tracer: &Tracer, kind: Kind, path: &str, headers: &mut HeaderMap) -> Option<Span> {
    let mut req = http::Request::get(format!("http://api{path}"))
        .body(())
        .unwrap();
    *req.headers_mut() = std::mem::take(headers);
    let span = tracer.begin(kind, &mut req);
    *headers = std::mem::take(req.headers_mut());
    span
}

fn decode(encoded: Vec<u8>) -> pb::Span {
    prost::Message::decode(encoded.as_slice()).unwrap()
}

fn outcome(status: StatusCode, headers: &HeaderMap) -> Outcome<'_> {
    Outcome {
        status,
        headers,
        peer_id: "spiffe://mesh.local/ns/local/sa/api",
        peer_addr: Some("127.0.0.1:4143".parse().unwrap()),
    }
}

#[test]
fn a_sampled_trace_continues_below_the_callers_span() {
    let (tracer, mut spans) = tracer();
    let mut headers = HeaderMap::new();
    let sent = format!("00-{TRACE}-{PARENT}-01");
    headers.insert(TRACEPARENT, sent.parse().unwrap());
    headers.insert(TRACESTATE, "vendor=x".parse().unwrap());
    let span = begin(&tracer, Kind::Client, "/a", &mut headers).unwrap();
    let forwarded = headers[TRACEPARENT].to_str().unwrap().to_string();
    assert_eq!(headers[TRACESTATE], "vendor=x");
    let mut response = HeaderMap::new();
    response.insert(PROXY_ERROR, "no endpoint".parse().unwrap());
    tracer.end(span, outcome(StatusCode::SERVICE_UNAVAILABLE, &response));
    let span = decode(spans.try_recv().unwrap());
    assert_eq!(hex(&span.trace_id), TRACE);
    assert_eq!(hex(&span.parent_span_id), PARENT);
    assert_eq!(forwarded, format!("00-{TRACE}-{}-01", hex(&span.span_id)));
    assert_eq!(span.trace_state, "vendor=x");
    assert_eq!(span.kind, pb::span::SpanKind::Client as i32);
    assert_eq!(span.flags, 0x301);
    assert_eq!(span.name, "GET");
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    let status = span.status.unwrap();
    assert_eq!(status.code, pb::status::StatusCode::Error as i32);
    assert_eq!(status.message, "no endpoint");
    let attr = |key: &str| {
        let kv = span.attributes.iter().find(|kv| kv.key == key);
        kv.and_then(|kv| kv.value.clone()?.value)
    };
    use pb::any_value::Value;
    assert_eq!(
        attr("http.response.status_code"),
        Some(Value::IntValue(503))
    );
    assert_eq!(attr("url.path"), Some(Value::StringValue("/a".into())));
    assert_eq!(attr("network.peer.port"), Some(Value::IntValue(4143)));
}

#[test]
fn an_unsampled_trace_is_left_alone_and_a_missing_one_starts_a_sampled_root() {
    let (tracer, mut spans) = tracer();
    let mut headers = HeaderMap::new();
    let unsampled = format!("00-{TRACE}-{PARENT}-00");
    headers.insert(TRACEPARENT, unsampled.parse().unwrap());
    assert!(begin(&tracer, Kind::Server, "/", &mut headers).is_none());
    assert_eq!(headers[TRACEPARENT], unsampled.as_str());

    let mut headers = HeaderMap::new();
    headers.insert(TRACEPARENT, "garbage".parse().unwrap());
    headers.insert(TRACESTATE, "of=another".parse().unwrap());
    let span = begin(&tracer, Kind::Server, "/", &mut headers).unwrap();
    assert!(!headers.contains_key(TRACESTATE));
    let forwarded = headers[TRACEPARENT].to_str().unwrap();
    let (trace, parent, flags) = parse_traceparent(forwarded).unwrap();
    tracer.end(span, outcome(StatusCode::NOT_FOUND, &HeaderMap::new()));
    let span = decode(spans.try_recv().unwrap());
    assert_eq!(
        (trace.to_vec(), parent.to_vec(), flags),
        (span.trace_id, span.span_id, 1)
    );
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.flags, 0x101);
    assert_eq!(span.status, None, "a 404 is no error for the server");
}

#[test]
fn new_traces_are_sampled_at_the_configured_rate_and_the_decision_travels() {
    let (mut tracer, _spans) = tracer();
    tracer.sample = "0".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(TRACESTATE, "of=another".parse().unwrap());
    assert!(begin(&tracer, Kind::Client, "/", &mut headers).is_none());
    let forwarded = headers[TRACEPARENT].to_str().unwrap();
    let (_, _, flags) = parse_traceparent(forwarded).unwrap();
    assert_eq!(
        flags, 0,
        "the next hops see the trace unsampled: {forwarded}"
    );
    assert!(!headers.contains_key(TRACESTATE));

    tracer.sample = "25%".parse().unwrap();
    let sampled = (0..10_000)
        .filter(|_| {
            let span = begin(&tracer, Kind::Client, "/", &mut HeaderMap::new());
            span.is_some()
        })
        .count();
    // Binomial(10 000, 0.25): sd ≈ 43; ±5 sd.
    assert!((2_283..=2_717).contains(&sampled), "{sampled}");

    assert_eq!(
        "0.0001".parse::<SampleRate>().unwrap().to_string(),
        "0.0001%"
    );
    assert_eq!(SampleRate::default(), SampleRate::ALL);
    let err = "101".parse::<SampleRate>().unwrap_err();
    assert!(err.contains("`101`"), "{err}");
}

#[test]
fn a_full_queue_drops_and_counts() {
    let (tracer, _spans) = tracer();
    for _ in 0..3 {
        let span = begin(&tracer, Kind::Client, "/", &mut HeaderMap::new());
        tracer.end(span.unwrap(), outcome(StatusCode::OK, &HeaderMap::new()));
    }
    assert_eq!(tracer.counters.queue_full.load(Relaxed), 1);
    let mut text = String::new();
    tracer.counters.render(&mut text);
    assert!(
        text.contains("meshctl_spans_dropped_total{reason=\"queue_full\"} 1\n"),
        "{text}"
    );
}
