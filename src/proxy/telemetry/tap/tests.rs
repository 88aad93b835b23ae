//! Tests of the tap hub: subscriptions, filters, rate limits, events.

use super::*;

fn hop(direction: Direction) -> Hop<'static> {
    Hop {
        direction,
        src: "127.0.0.1:1".parse().unwrap(),
        dst: Some("127.0.0.1:2".parse().unwrap()),
        peer_id: "spiffe://t/sa/api",
    }
}

fn request() -> Request<()> {
    Request::get("http://api/users/1")
        .header("authorization", "Bearer s3cret")
        .header("cookie", "session=s3cret")
        .header("x-trace", "abc")
        .header("x-internal-token", "s3cret")
        .body(())
        .unwrap()
}

#[test]
fn nobody_watching_costs_one_load_and_taps_nothing() {
    let hub = TapHub::new("spiffe://t/sa/web".into(), &[]);
    assert!(
        hub.request(hop(Direction::Inbound), &request(), None)
            .is_none()
    );
}

#[tokio::test]
async fn events_are_redacted_filtered_and_end_after_the_body() {
    let hub = Arc::new(TapHub::new(
        "spiffe://t/sa/web".into(),
        &[HeaderName::from_static("x-internal-token")],
    ));
    let mut all = hub.watch(pb::WatchRequest::default());
    let mut posts = hub.watch(pb::WatchRequest {
        method: "POST".into(),
        ..Default::default()
    });
    let tap = hub.request(hop(Direction::Outbound), &request(), None);
    let body: ProxyBody = Either::Right(crate::proxy::protocol::http::Written::full("hello"));
    let response = Response::new(body);
    let body = observe(tap, response).into_body();
    let collected = http_body_util::BodyExt::collect(body).await.unwrap();
    assert_eq!(collected.to_bytes(), "hello");

    let events: Vec<pb::TapEvent> = (0..3)
        .map(|_| all.rx.try_recv().unwrap().unwrap())
        .collect();
    let text = format!("{events:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(text.matches(REDACTED).count(), 3, "{text}");
    assert!(text.contains("abc"));
    match (&events[0].event, &events[1].event, &events[2].event) {
        (
            Some(pb::tap_event::Event::Request(r)),
            Some(pb::tap_event::Event::Response(s)),
            Some(pb::tap_event::Event::End(e)),
        ) => {
            assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/users/1"));
            assert_eq!(s.status, 200);
            assert_eq!((e.response_bytes, e.error.as_str()), (5, ""));
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert!(posts.rx.try_recv().is_err(), "the POST filter saw a GET");
    drop(all);
    drop(posts);
    assert_eq!(hub.watching.load(Relaxed), 0);
}

fn event(stream: &mut WatchStream) -> pb::tap_event::Event {
    stream.rx.try_recv().unwrap().unwrap().event.unwrap()
}

#[tokio::test]
async fn bodies_are_captured_redacted_and_cut_per_watcher() {
    let hub = Arc::new(TapHub::new("spiffe://t/sa/web".into(), &[]));
    let mut none = hub.watch(pb::WatchRequest::default());
    assert!(
        !hub.wants_bodies(),
        "a watcher without --body buffers nothing"
    );
    let mut small = hub.watch(pb::WatchRequest {
        body_bytes: 16,
        ..Default::default()
    });
    let mut large = hub.watch(pb::WatchRequest {
        body_bytes: 1 << 20,
        ..Default::default()
    });
    assert!(hub.wants_bodies());
    let req = Request::post("http://api/login")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let sent = Bytes::from_static(br#"{"user":"ann","password":"hunter2"}"#);
    let tap = hub.request(hop(Direction::Outbound), &req, Some(&sent));
    let answer = r#"{"token":"abc.def","ok":true}"#;
    let response = Response::builder()
        .header("content-type", "application/json")
        .body(Either::Right(crate::proxy::protocol::http::Written::full(
            answer,
        )))
        .unwrap();
    let body = observe::<ProxyBody>(tap, response).into_body();
    http_body_util::BodyExt::collect(body).await.unwrap();

    let redacted_request = br#"{"user":"ann","password":"<redacted>"}"#;
    match (event(&mut large), event(&mut large), event(&mut large)) {
        (
            pb::tap_event::Event::Request(r),
            pb::tap_event::Event::Response(_),
            pb::tap_event::Event::End(e),
        ) => {
            assert_eq!(r.body, redacted_request);
            assert!(!r.body_truncated);
            assert_eq!(e.response_body, br#"{"token":"<redacted>","ok":true}"#);
            assert_eq!(e.response_bytes, answer.len() as u64);
        }
        other => panic!("unexpected events {other:?}"),
    }
    match event(&mut small) {
        pb::tap_event::Event::Request(r) => {
            assert_eq!(r.body, redacted_request[..16]);
            assert!(r.body_truncated);
        }
        other => panic!("unexpected event {other:?}"),
    }
    match event(&mut none) {
        pb::tap_event::Event::Request(r) => {
            assert!(r.body.is_empty() && !r.body_truncated && r.body_skipped.is_empty());
        }
        other => panic!("unexpected event {other:?}"),
    }

    // A request body that streamed past the proxy is named as such.
    let tap = hub.request(hop(Direction::Outbound), &req, None);
    drop(tap);
    let _ = (event(&mut none), event(&mut small));
    match event(&mut large) {
        pb::tap_event::Event::Request(r) => {
            assert!(r.body.is_empty());
            assert_eq!(r.body_skipped, BODY_STREAMED);
        }
        other => panic!("unexpected event {other:?}"),
    }
    drop((small, large));
    assert!(!hub.wants_bodies());
}

#[test]
fn the_rate_cap_drops_requests_beyond_it() {
    let hub = Arc::new(TapHub::new("spiffe://t/sa/web".into(), &[]));
    let _w = hub.watch(pb::WatchRequest {
        max_rps: 3,
        ..Default::default()
    });
    let taken = (0..10)
        .filter(|_| {
            hub.request(hop(Direction::Inbound), &request(), None)
                .is_some()
        })
        .count();
    assert!((3..=6).contains(&taken), "{taken}");
}

#[test]
fn destination_filter_keeps_outbound_to_those_ids() {
    let hub = Arc::new(TapHub::new("spiffe://t/sa/web".into(), &[]));
    let _w = hub.watch(pb::WatchRequest {
        destination_ids: vec!["spiffe://t/sa/api".into()],
        ..Default::default()
    });
    assert!(
        hub.request(hop(Direction::Inbound), &request(), None)
            .is_none()
    );
    assert!(
        hub.request(hop(Direction::Outbound), &request(), None)
            .is_some()
    );
}
