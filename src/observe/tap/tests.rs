//! Tap tests: the status filter and gate, body sizes and bodies (text or base64, gRPC always
//! base64), and the text lines.

use super::*;

fn rec(kind: &'static str, id: &str, status: Option<u32>) -> TapRecord {
    TapRecord {
        kind,
        id: id.into(),
        proxy: "web".into(),
        service: "web".into(),
        version: None,
        direction: "out".into(),
        src: "127.0.0.1:1".into(),
        dst: "127.0.0.1:2".into(),
        tls: true,
        client_id: "spiffe://t/sa/web".into(),
        server_id: "spiffe://t/sa/api".into(),
        status,
        latency_us: status.map(|_| 1830),
        ..TapRecord::default()
    }
}

#[test]
fn status_filters_parse() {
    assert_eq!(
        "5xx".parse::<StatusFilter>().unwrap(),
        StatusFilter::Class(5)
    );
    assert_eq!(
        "404".parse::<StatusFilter>().unwrap(),
        StatusFilter::Code(404)
    );
    for bad in ["6xx", "99", "abc", "5x"] {
        assert!(bad.parse::<StatusFilter>().is_err(), "{bad}");
    }
}

#[test]
fn the_gate_lets_whole_requests_through_by_their_status() {
    let mut gate = StatusGate::new(Some(StatusFilter::Class(5)));
    assert!(gate.push(rec("req", "a", None)).is_empty());
    assert!(gate.push(rec("req", "b", None)).is_empty());
    assert!(gate.push(rec("rsp", "a", Some(200))).is_empty());
    let b = gate.push(rec("rsp", "b", Some(503)));
    assert_eq!(b.iter().map(|r| r.kind).collect::<Vec<_>>(), ["req", "rsp"]);
    assert!(gate.push(rec("end", "a", None)).is_empty());
    assert_eq!(gate.push(rec("end", "b", None)).len(), 1);
}

#[test]
fn body_sizes_parse_within_the_cap() {
    assert_eq!("512".parse::<BodySize>().unwrap(), BodySize(512));
    assert_eq!("512B".parse::<BodySize>().unwrap(), BodySize(512));
    assert_eq!("1KiB".parse::<BodySize>().unwrap(), BodySize(1024));
    assert_eq!("64kib".parse::<BodySize>().unwrap(), BodySize(65536));
    for bad in ["0", "65KiB", "1MiB", "1KB", "KiB", "-1", "1.5KiB", ""] {
        assert!(bad.parse::<BodySize>().is_err(), "{bad}");
    }
}

#[test]
fn bodies_print_as_text_or_base64() {
    let mut r = rec("req", "web:7", None);
    r.set_body(b"{\"a\":\"b\"}".to_vec(), true, false);
    let line = text(&r, false);
    assert!(
        line.ends_with(r#" body="{\"a\":\"b\"}" body-truncated=true"#),
        "{line}"
    );
    let mut r = rec("end", "web:7", None);
    r.set_body(vec![0, 0xff, 7], false, false);
    assert_eq!(r.body_base64.as_deref(), Some("AP8H"));
    assert!(text(&r, false).ends_with(" body-base64=AP8H"));
}

#[test]
fn grpc_bodies_are_base64_even_when_they_are_utf8() {
    // One message `\n\x03ACM` (a protobuf string field): valid UTF-8, still not text.
    let frame = b"\0\0\0\0\x05\n\x03ACM".to_vec();
    let mut r = rec("end", "api:1", None);
    r.set_body(frame.clone(), false, false);
    assert_eq!(
        (r.body.as_deref(), r.body_base64.as_deref()),
        (None, Some("AAAAAAUKA0FDTQ=="))
    );
    // Said by the content type (or grpc-status) though the bytes do not frame.
    let mut r = rec("req", "api:1", None);
    r.set_body(b"hello".to_vec(), false, true);
    assert_eq!(r.body_base64.as_deref(), Some("aGVsbG8="));
    // A frame cut by --body, and two frames.
    assert!(grpc_frames(&frame[..7], true));
    assert!(!grpc_frames(&frame[..7], false));
    assert!(grpc_frames(&[frame.clone(), frame.clone()].concat(), false));
    // Text is not framed.
    for text in [&b"hello world"[..], b"{\"a\":1}", b"\0\0"] {
        assert!(!grpc_frames(text, false), "{text:?}");
    }
}

#[test]
fn grpc_events_carry_base64_bodies() {
    let source = TapSource {
        name: "quotes".into(),
        service: "quotes".into(),
        version: None,
        tap: "127.0.0.1:1".parse().unwrap(),
    };
    let req = pb::TapEvent {
        id: 1,
        event: Some(Event::Request(pb::RequestInit {
            method: "POST".into(),
            headers: vec![pb::Header {
                name: "content-type".into(),
                value: "application/grpc".into(),
            }],
            body: b"\0\0\0\0\x02hi".to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let r = record(&source, req).unwrap();
    assert_eq!(r.body, None);
    assert_eq!(r.body_base64.as_deref(), Some("AAAAAAJoaQ=="));
}

#[test]
fn text_lines_follow_the_spec() {
    let r = rec("rsp", "web:7", Some(200));
    assert_eq!(
        text(&r, false),
        "rsp id=web:7 proxy=out src=127.0.0.1:1 dst=127.0.0.1:2 tls=true :status=200 latency=1830µs"
    );
    assert!(text(&r, true).contains("client_id=spiffe://t/sa/web server_id=spiffe://t/sa/api"));
}
