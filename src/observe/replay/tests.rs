//! Replay tests: targets, the caller chosen from the plan, and which entries are sent (with
//! what) or skipped (and why).

use super::*;
use crate::control::plan::{ProxyPlan, UpstreamPlan};
use crate::observe::har::{
    BodyText, Content, Creator, Log, MeshHop, NameValue, PostData, Request, Response,
};

fn plan() -> MeshPlan {
    let with = |mut p: ProxyPlan, ups: &[(&str, u16)]| {
        p.upstreams = ups
            .iter()
            .map(|(s, port)| UpstreamPlan {
                service: s.to_string(),
                listen: SocketAddr::from(([127, 0, 0, 1], *port)),
            })
            .collect();
        p
    };
    let mut tcp = ProxyPlan::for_test("db", "db", None);
    tcp.protocol = Some("tcp".into());
    MeshPlan {
        trust_domain: "t".into(),
        control_socket: "/x".into(),
        admin_token_sha256: String::new(),
        proxies: vec![
            with(
                ProxyPlan::for_test("web", "web", None),
                &[("api", 7001), ("quotes", 7006)],
            ),
            with(
                ProxyPlan::for_test("api.v1", "api", Some("v1")),
                &[("quotes", 7002)],
            ),
            with(
                ProxyPlan::for_test("api.v2", "api", Some("v2")),
                &[("quotes", 7003)],
            ),
            with(ProxyPlan::for_test("quotes", "quotes", None), &[]),
            with(
                ProxyPlan::for_test("load", "load", None),
                &[("web", 7004), ("db", 7005)],
            ),
            tcp,
        ],
        policies: Default::default(),
    }
}

#[test]
fn targets_parse_and_are_checked_against_the_plan() {
    let t: Target = "api/v2".parse().unwrap();
    assert_eq!(t.to_string(), "api/v2");
    assert!("api/".parse::<Target>().is_err());
    assert!("/v1".parse::<Target>().is_err());
    let p = plan();
    check_target(&p, &"api/v1".parse().unwrap(), "--to").unwrap();
    let e = check_target(&p, &"api/v9".parse().unwrap(), "--diff").unwrap_err();
    assert_eq!(
        e.to_string(),
        "--diff api/v9: service `api` has no version `v9` (versions: v1, v2)"
    );
    assert!(e.is_usage());
    let e = check_target(&p, &"nope".parse().unwrap(), "--to").unwrap_err();
    assert!(
        e.to_string()
            .contains("(services: api, db, load, quotes, web)"),
        "{e}"
    );
    let e = check_target(&p, &"quotes/v1".parse().unwrap(), "--to").unwrap_err();
    assert!(e.to_string().contains("(it has no versions)"), "{e}");
    let e = check_target(&p, &"db".parse().unwrap(), "--to").unwrap_err();
    assert!(e.to_string().contains("protocol: tcp"), "{e}");
}

#[test]
fn the_caller_is_the_one_service_calling_the_target_or_named() {
    let p = plan();
    let c = caller(&p, "api", None).unwrap();
    assert_eq!(c.instance, "web");
    assert_eq!(c.listen.port(), 7001);
    let e = caller(&p, "quotes", None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`quotes` has several callers (api, web): choose one with --from"
    );
    // A service with two instances: its first, unless --from names one.
    assert_eq!(
        caller(&p, "quotes", Some("api")).unwrap().instance,
        "api.v1"
    );
    assert_eq!(
        caller(&p, "quotes", Some("api.v2")).unwrap().listen.port(),
        7003
    );
    let e = caller(&p, "load", None).unwrap_err();
    assert!(e.to_string().starts_with("no service calls `load`"), "{e}");
    let e = caller(&p, "api", Some("quotes")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--from quotes: not a caller of `api` (its callers: web)"
    );
}

fn entry(method: &str, url: &str, headers: &[(&str, &str)]) -> Entry {
    Entry {
        started: "2026-01-01T00:00:00Z".into(),
        time: 1.0,
        request: Request {
            method: method.into(),
            url: url.into(),
            http_version: "HTTP/1.1".into(),
            cookies: vec![],
            headers: headers
                .iter()
                .map(|(n, v)| NameValue {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            query_string: vec![],
            post_data: None,
            headers_size: -1,
            body_size: 0,
        },
        response: Response {
            status: 200,
            status_text: "OK".into(),
            http_version: "HTTP/1.1".into(),
            cookies: vec![],
            headers: vec![],
            content: Content {
                size: 0,
                mime_type: "x-unknown".into(),
                body: BodyText::default(),
            },
            redirect_url: String::new(),
            headers_size: -1,
            body_size: 0,
            comment: None,
        },
        cache: Default::default(),
        timings: Default::default(),
        server_ip: None,
        comment: None,
        meshctl: None,
    }
}

fn hop(direction: &str, service: &str, server: &str, body: BodyCapture) -> Option<MeshHop> {
    Some(MeshHop {
        proxy: service.into(),
        direction: direction.into(),
        service: service.into(),
        version: None,
        src: String::new(),
        dst: String::new(),
        tls: true,
        client_id: String::new(),
        server_id: format!("spiffe://t/ns/local/sa/{server}"),
        grpc_status: None,
        error: None,
        request_body: body,
    })
}

fn har(entries: Vec<Entry>) -> Har {
    Har {
        log: Log {
            version: "1.2".into(),
            creator: Creator {
                name: "t".into(),
                version: "1".into(),
            },
            entries,
            comment: None,
        },
    }
}

#[test]
fn requests_keep_their_own_headers_and_lose_the_meshs_and_redacted_ones() {
    let e = entry(
        "GET",
        "http://api:8080/api/quote?symbol=MESH",
        &[
            (":authority", "api"),
            ("Host", "api"),
            ("accept", "application/json"),
            ("authorization", "<redacted>"),
            ("x-meshctl-client-id", "spiffe://t/ns/local/sa/web"),
            ("x-meshctl-orig-proto", "HTTP/1"),
            ("traceparent", "00-1-2-01"),
            ("x-canary", "1"),
        ],
    );
    let (send, skipped) = select(&har(vec![e]), "api");
    assert_eq!(skipped, []);
    let r = &send[0];
    assert_eq!((r.entry, r.method.as_str()), (1, "GET"));
    assert_eq!(r.authority, "api:8080");
    assert_eq!(r.path, "/api/quote?symbol=MESH");
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["accept", "x-canary"]);
    assert_eq!(r.redacted, ["authorization"]);
}

#[test]
fn entries_without_a_whole_body_or_for_another_service_are_skipped_with_why() {
    let mut in_api = entry(
        "POST",
        "http://api/a",
        &[("content-type", "application/json")],
    );
    in_api.meshctl = hop("in", "api", "api", BodyCapture::Complete);
    in_api.request.post_data = Some(PostData {
        mime_type: "application/json".into(),
        body: BodyText {
            text: Some(r#"{"password":"<redacted>"}"#.into()),
            ..BodyText::default()
        },
    });
    let mut binary = entry("PUT", "http://api/b", &[]);
    binary.request.post_data = Some(PostData {
        mime_type: String::new(),
        body: BodyText {
            text: Some("AAEC".into()),
            encoding: Some("base64".into()),
            comment: None,
        },
    });
    let mut cut = entry("POST", "http://api/c", &[]);
    cut.meshctl = hop("in", "api", "api", BodyCapture::Truncated);
    let mut uncaptured = entry("POST", "http://api/d", &[]);
    uncaptured.meshctl = hop("in", "api", "api", BodyCapture::NotCaptured);
    let mut to_quotes = entry("POST", "http://quotes/q", &[]);
    to_quotes.meshctl = hop("out", "api", "quotes", BodyCapture::None);
    let grpc = entry(
        "POST",
        "http://api/pkg.Svc/Call",
        &[("content-type", "application/grpc")],
    );
    let mut missing = entry("POST", "http://api/e", &[]);
    missing.request.body_size = 12;
    let har = har(vec![
        in_api, binary, cut, uncaptured, to_quotes, grpc, missing,
    ]);
    let (send, skipped) = select(&har, "api");
    assert_eq!(send.len(), 2);
    assert_eq!(send[0].body, Bytes::from(r#"{"password":"<redacted>"}"#));
    assert_eq!(send[1].body, Bytes::from(vec![0u8, 1, 2]));
    let why: Vec<(usize, &str)> = skipped
        .iter()
        .map(|s| (s.entry, s.reason.as_str()))
        .collect();
    assert_eq!(
        why,
        [
            (3, "request body cut at the tap's --body size"),
            (
                4,
                "request body not captured (tap with --body, at most 64KiB per body)"
            ),
            (5, "sent to quotes, not api"),
            (6, "gRPC is not replayed"),
            (7, "request body not in the file (no postData)"),
        ]
    );
}

#[test]
fn files_that_are_not_har_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.har");
    std::fs::write(&path, "{\"log\": 1}").unwrap();
    let e = load(&path).unwrap_err();
    assert!(e.is_usage());
    assert!(
        e.to_string()
            .starts_with(&format!("{}: not a HAR file", path.display())),
        "{e}"
    );
    std::fs::write(&path, serde_json::to_vec(&har(vec![])).unwrap()).unwrap();
    assert_eq!(load(&path).unwrap().log.entries.len(), 0);
    let mut two = har(vec![]);
    two.log.version = "2.0".into();
    std::fs::write(&path, serde_json::to_vec(&two).unwrap()).unwrap();
    assert!(
        load(&path)
            .unwrap_err()
            .to_string()
            .contains("HAR version `2.0`")
    );
    let e = load(&dir.path().join("missing.har")).unwrap_err();
    assert!(e.is_usage(), "{e}");
}

#[test]
fn a_browsers_har_with_only_the_required_fields_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chrome.har");
    let text = r#"{"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
      "pages": [{"startedDateTime": "2026-01-01T00:00:00.000Z", "id": "page_1", "title": "x", "pageTimings": {}}],
      "entries": [{"pageref": "page_1", "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 3.2,
        "request": {"method": "POST", "url": "https://api.example.com/v1/items?q=1", "httpVersion": "h2",
          "headers": [{"name": ":authority", "value": "api.example.com"}, {"name": "content-type", "value": "application/json"}],
          "queryString": [{"name": "q", "value": "1"}], "cookies": [{"name": "sid", "value": "x"}],
          "headersSize": -1, "bodySize": 9, "postData": {"mimeType": "application/json", "text": "{\"a\": 1}"}},
        "response": {"status": 201, "statusText": "", "httpVersion": "h2", "headers": [], "cookies": [],
          "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1, "bodySize": 0,
          "_transferSize": 120},
        "cache": {}, "timings": {"send": 0.1, "wait": 3, "receive": 0.1}, "_priority": "High"}]}}"#;
    std::fs::write(&path, text).unwrap();
    let har = load(&path).unwrap();
    let (send, skipped) = select(&har, "api");
    assert_eq!(skipped, []);
    let r = &send[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.authority, "api.example.com");
    assert_eq!(r.path, "/v1/items?q=1");
    assert_eq!(r.body, Bytes::from("{\"a\": 1}"));
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["content-type"]);
}
