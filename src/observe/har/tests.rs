//! HAR recording tests: records joined by id in request order, bodies and their capture
//! state, requests the tap saw only part of, and the file written whole or not at all.

use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn base(kind: &'static str, id: &str) -> TapRecord {
    TapRecord {
        kind,
        id: id.into(),
        proxy: "api.v1".into(),
        service: "api".into(),
        version: Some("v1".into()),
        direction: "in".into(),
        src: "127.0.0.1:1".into(),
        dst: "127.0.0.1:2".into(),
        tls: true,
        client_id: "spiffe://t/ns/local/sa/web".into(),
        server_id: "spiffe://t/ns/local/sa/api".into(),
        ..TapRecord::default()
    }
}

fn req(id: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> TapRecord {
    TapRecord {
        method: Some(method.into()),
        authority: Some("api".into()),
        path: Some(path.into()),
        headers: Some(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        ),
        ..base("req", id)
    }
}

fn rsp(id: &str, status: u32) -> TapRecord {
    TapRecord {
        status: Some(status),
        latency_us: Some(1500),
        headers: Some([("content-type".to_string(), "application/json".to_string())].into()),
        ..base("rsp", id)
    }
}

fn end(id: &str, body: Option<&str>) -> TapRecord {
    TapRecord {
        duration_us: Some(2500),
        response_bytes: Some(body.map_or(0, |b| b.len() as u64)),
        body: body.map(Into::into),
        ..base("end", id)
    }
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_780_000_000_000 + ms)
}

#[test]
fn records_join_into_entries_in_the_order_requests_began() {
    let mut h = HarRecorder::new(Some(1024));
    let mut get = req("a:1", "GET", "/x", &[]);
    get.query = Some("symbol=MESH&v".into());
    h.push(&get, at(0));
    let mut post = req(
        "a:2",
        "POST",
        "/login",
        &[
            ("content-type", "application/json"),
            ("content-length", "40"),
        ],
    );
    post.body = Some(r#"{"user":"ann","password":"<redacted>"}"#.into());
    h.push(&post, at(1));
    // The second request ends first.
    h.push(&rsp("a:2", 201), at(2));
    h.push(&end("a:2", Some("{}")), at(3));
    h.push(&rsp("a:1", 200), at(4));
    h.push(&end("a:1", Some(r#"{"ok":true}"#)), at(5));
    let (har, recorded) = h.finish();
    assert_eq!(
        recorded,
        Recorded {
            entries: 2,
            incomplete: 0,
            began_before: 0
        }
    );
    let [first, second] = &har.log.entries[..] else {
        panic!("{har:#?}")
    };
    assert_eq!(first.request.url, "http://api/x?symbol=MESH&v");
    assert_eq!(
        first.request.query_string,
        [
            NameValue {
                name: "symbol".into(),
                value: "MESH".into()
            },
            NameValue {
                name: "v".into(),
                value: String::new()
            }
        ]
    );
    assert_eq!(first.request.post_data, None);
    assert_eq!(first.response.status, 200);
    assert_eq!(first.response.status_text, "OK");
    assert_eq!(
        first.response.content.body.text.as_deref(),
        Some(r#"{"ok":true}"#)
    );
    assert_eq!(first.response.content.mime_type, "application/json");
    assert_eq!(first.time, 2.5);
    assert_eq!(first.timings.wait, 1.5);
    assert_eq!(first.timings.receive, 1.0);
    assert_eq!(first.started, "2026-05-28T20:26:40Z");
    assert_eq!(first.server_ip.as_deref(), Some("127.0.0.1"));
    let hop = first.meshctl.as_ref().unwrap();
    assert_eq!(hop.destination(), "api");
    assert_eq!(hop.request_body, BodyCapture::None);

    let post = second.request.post_data.as_ref().unwrap();
    assert_eq!(post.mime_type, "application/json");
    assert_eq!(
        post.body.text.as_deref(),
        Some(r#"{"user":"ann","password":"<redacted>"}"#)
    );
    assert_eq!(second.request.body_size, 38);
    assert_eq!(
        second.meshctl.as_ref().unwrap().request_body,
        BodyCapture::Complete
    );
    assert_eq!(second.response.status_text, "Created");
}

#[test]
fn binary_and_cut_bodies_say_so() {
    let mut h = HarRecorder::new(Some(4));
    let mut r = req("a:1", "PUT", "/blob", &[("content-length", "100")]);
    r.body_base64 = Some("AAECAw==".into());
    r.body_truncated = true;
    h.push(&r, at(0));
    h.push(&rsp("a:1", 200), at(1));
    let mut e = end("a:1", Some("abcd"));
    e.body_truncated = true;
    e.response_bytes = Some(10);
    h.push(&e, at(2));
    let (har, _) = h.finish();
    let entry = &har.log.entries[0];
    let post = entry.request.post_data.as_ref().unwrap();
    assert_eq!(post.body.encoding.as_deref(), Some("base64"));
    assert_eq!(post.body.text.as_deref(), Some("AAECAw=="));
    assert_eq!(
        post.body.comment.as_deref(),
        Some("body cut at the tap's --body 4 bytes")
    );
    assert_eq!(entry.request.body_size, 100);
    assert_eq!(
        entry.meshctl.as_ref().unwrap().request_body,
        BodyCapture::Truncated
    );
    assert_eq!(entry.response.content.size, 10);
    assert!(entry.response.content.body.comment.is_some());
}

#[test]
fn without_body_capture_only_a_declared_empty_body_counts_as_none() {
    let mut h = HarRecorder::new(None);
    h.push(&req("a:1", "GET", "/", &[]), at(0));
    h.push(&req("a:2", "POST", "/", &[("content-length", "0")]), at(1));
    h.push(&req("a:3", "POST", "/", &[("content-length", "5")]), at(2));
    h.push(&req("a:4", "POST", "/", &[]), at(3));
    let (har, recorded) = h.finish();
    let captures: Vec<BodyCapture> = har
        .log
        .entries
        .iter()
        .map(|e| e.meshctl.as_ref().unwrap().request_body)
        .collect();
    assert_eq!(
        captures,
        [
            BodyCapture::None,
            BodyCapture::None,
            BodyCapture::NotCaptured,
            BodyCapture::NotCaptured
        ]
    );
    assert_eq!(recorded.incomplete, 4);
    let post = har.log.entries[2].request.post_data.as_ref().unwrap();
    assert_eq!(
        post.body.comment.as_deref(),
        Some("body not captured (tapped without --body)")
    );
}

#[test]
fn requests_seen_in_part_are_kept_or_counted() {
    let mut h = HarRecorder::new(None);
    // Began before the tap: its rsp and end come without a req.
    h.push(&rsp("a:0", 200), at(0));
    h.push(&end("a:0", None), at(1));
    // Answered, not ended; and not answered.
    h.push(&req("a:1", "GET", "/slow", &[]), at(2));
    h.push(&rsp("a:1", 200), at(3));
    h.push(&req("a:2", "GET", "/hang", &[]), at(4));
    let (har, recorded) = h.finish();
    assert_eq!(
        recorded,
        Recorded {
            entries: 2,
            incomplete: 2,
            began_before: 1
        }
    );
    let [slow, hang] = &har.log.entries[..] else {
        panic!("{har:#?}")
    };
    assert_eq!(slow.response.status, 200);
    assert_eq!(
        slow.comment.as_deref(),
        Some("the tap stopped before the response ended")
    );
    assert_eq!(hang.response.status, 0);
    assert_eq!(
        hang.comment.as_deref(),
        Some("the tap stopped before the response came")
    );
}

#[test]
fn an_outbound_hop_names_its_destination_by_the_server_identity() {
    let mut r = req("web:1", "GET", "/", &[("x-meshctl-orig-proto", "HTTP/1")]);
    r.direction = "out".into();
    r.service = "web".into();
    let mut h = HarRecorder::new(None);
    h.push(&r, at(0));
    let (har, _) = h.finish();
    let entry = &har.log.entries[0];
    assert_eq!(entry.meshctl.as_ref().unwrap().destination(), "api");
    assert_eq!(entry.request.http_version, "HTTP/1.1");
}

#[test]
fn the_file_is_written_whole_and_private_and_an_unwritable_path_fails_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.har");
    check_writable(&path).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let (har, _) = HarRecorder::new(None).finish();
    write(&path, &har).unwrap();
    let back: Har = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(back, har);
    assert_eq!(crate::fsutil::mode_of(&path).unwrap() & 0o777, 0o600);

    let e = check_writable(dir.path()).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
    let e = check_writable(&dir.path().join("no/such/dir/t.har")).unwrap_err();
    assert!(e.to_string().contains("cannot create a file there"), "{e}");
}
