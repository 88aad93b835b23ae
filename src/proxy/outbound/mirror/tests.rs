use http_body_util::Full;

use super::*;

fn upstream(mirror: Option<pb::Mirror>, live: Option<pb::Mirror>) -> pb::Upstream {
    pb::Upstream {
        service: "api".into(),
        mirror,
        live_mirror: live,
        ..Default::default()
    }
}

fn spec(version: &str, per_million: u32, expires_unix_ms: u64) -> pb::Mirror {
    pb::Mirror {
        version: version.into(),
        per_million,
        compare_body: false,
        expires_unix_ms,
    }
}

fn summary(class: u16, grpc: Option<u16>, body: Option<[u8; 32]>) -> Summary {
    Summary { class, grpc, body }
}

#[test]
fn without_a_mirror_nothing_is_drawn_and_with_one_at_100_percent_every_request_is() {
    let none = Mirrors::parse(&upstream(None, None)).unwrap();
    assert!(none.rules.is_none());
    assert!(none.draw().is_none());
    let all = Mirrors::parse(&upstream(Some(spec("v2", PER_MILLION, 0)), None)).unwrap();
    assert!((0..100).all(|_| all.draw().is_some()));
    let rule = all.draw().unwrap();
    assert_eq!(&*rule.version, "v2");
}

#[test]
fn a_live_mirror_replaces_the_services_until_it_expires() {
    let future = crate::policy::fault::now_unix_ms() + 3_600_000;
    let live = Mirrors::parse(&upstream(
        Some(spec("v1", PER_MILLION, 0)),
        Some(spec("v2", PER_MILLION, future)),
    ))
    .unwrap();
    assert_eq!(&*live.draw().unwrap().version, "v2");
    // Expired (1 ms after the epoch): the mesh.yaml mirror applies again…
    let expired = Mirrors::parse(&upstream(
        Some(spec("v1", PER_MILLION, 0)),
        Some(spec("v2", PER_MILLION, 1)),
    ))
    .unwrap();
    assert_eq!(&*expired.draw().unwrap().version, "v1");
    assert!(expired.view().live.is_none());
    // …and without one, nothing is mirrored.
    let ended = Mirrors::parse(&upstream(None, Some(spec("v2", PER_MILLION, 1)))).unwrap();
    assert!(ended.draw().is_none());
}

#[test]
fn a_mirror_the_proxy_cannot_run_is_refused() {
    assert_eq!(
        Mirrors::parse(&upstream(Some(spec("", 10, 0)), None)).unwrap_err(),
        MirrorError::NoVersion
    );
    assert_eq!(
        Mirrors::parse(&upstream(None, Some(spec("v2", 0, 0)))).unwrap_err(),
        MirrorError::ZeroPercent
    );
}

#[test]
fn answers_match_on_status_class_and_grpc_status_and_bodies_only_when_compared() {
    let (a, b) = (Some([1u8; 32]), Some([2u8; 32]));
    assert_eq!(
        compare(&summary(2, None, None), &summary(2, None, None), false),
        Outcome::Match
    );
    // 200 and 204 are one class.
    assert_eq!(
        compare(&summary(2, None, a), &summary(2, None, b), false),
        Outcome::Match
    );
    assert_eq!(
        compare(&summary(2, None, a), &summary(2, None, b), true),
        Outcome::Mismatch
    );
    assert_eq!(
        compare(&summary(2, None, a), &summary(2, None, a), true),
        Outcome::Match
    );
    // A body too large to hash compares by status only.
    assert_eq!(
        compare(&summary(2, None, a), &summary(2, None, None), true),
        Outcome::Match
    );
    assert_eq!(
        compare(&summary(2, None, None), &summary(5, None, None), false),
        Outcome::Mismatch
    );
    assert_eq!(
        compare(
            &summary(2, Some(0), None),
            &summary(2, Some(14), None),
            false
        ),
        Outcome::Mismatch
    );
    assert_eq!(
        compare(&summary(2, Some(0), None), &summary(2, None, None), false),
        Outcome::Mismatch
    );
}

#[test]
fn a_body_is_hashed_up_to_the_limit_and_not_past_it() {
    let mut small = BodyHash::new(true);
    small.update(&Bytes::from_static(b"hello"));
    let expected = ring::digest::digest(&ring::digest::SHA256, b"hello");
    assert_eq!(small.finish().unwrap().as_slice(), expected.as_ref());
    let mut large = BodyHash::new(true);
    large.update(&Bytes::from(vec![0u8; MAX_MIRROR_BODY as usize]));
    large.update(&Bytes::from_static(b"x"));
    assert_eq!(large.finish(), None);
    assert_eq!(BodyHash::new(false).finish(), None);
}

#[test]
fn copies_in_flight_are_bounded_and_a_freed_slot_is_reused() {
    let count = Arc::new(AtomicUsize::new(0));
    let slots: Vec<InFlight> = (0..MAX_MIRROR_IN_FLIGHT)
        .map(|_| InFlight::take(&count).unwrap())
        .collect();
    assert!(InFlight::take(&count).is_none());
    assert_eq!(count.load(Relaxed), MAX_MIRROR_IN_FLIGHT);
    drop(slots);
    assert_eq!(count.load(Relaxed), 0);
    assert!(InFlight::take(&count).is_some());
}

#[tokio::test]
async fn the_real_body_passes_unchanged_and_its_end_gives_the_grpc_trailer_and_hash() {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("5"));
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(Bytes::from_static(b"ab"))),
        Ok(Frame::data(Bytes::from_static(b"c"))),
        Ok(Frame::trailers(trailers)),
    ];
    let inner = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let (tx, rx) = oneshot::channel();
    let observer = Observer::new(inner, summary(2, None, None), true, tx);
    let collected = observer.collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "5");
    assert_eq!(collected.to_bytes(), Bytes::from_static(b"abc"));
    let seen = rx.await.unwrap();
    let expected = ring::digest::digest(&ring::digest::SHA256, b"abc");
    assert_eq!(seen.grpc, Some(5));
    assert_eq!(seen.body.unwrap().as_slice(), expected.as_ref());
}

#[tokio::test]
async fn a_real_body_dropped_before_its_end_sends_nothing_to_compare() {
    let (tx, rx) = oneshot::channel();
    let observer = Observer::new(
        Full::new(Bytes::from_static(b"x")),
        summary(2, None, None),
        false,
        tx,
    );
    drop(observer);
    assert!(rx.await.is_err());
}

#[test]
fn outcomes_are_counted_per_route_and_rendered_with_bounded_labels() {
    let counters = MirrorCounters::default();
    let api = counters.service("api");
    let unnamed: Arc<str> = Arc::from("");
    let canary: Arc<str> = Arc::from("canary");
    api.record(&unnamed, Outcome::Match);
    api.record(&unnamed, Outcome::Match);
    api.record(&unnamed, Outcome::Mismatch);
    api.record(&canary, Outcome::Dropped);
    api.record(&canary, Outcome::Skipped);
    api.record(&canary, Outcome::Error);
    assert!(Arc::ptr_eq(&api, &counters.service("api")));
    let mut out = String::new();
    counters.render(&mut out);
    for line in [
        "meshctl_mirror_requests_total{service=\"api\",route=\"\",outcome=\"match\"} 2",
        "meshctl_mirror_requests_total{service=\"api\",route=\"\",outcome=\"mismatch\"} 1",
        "meshctl_mirror_requests_total{service=\"api\",route=\"canary\",outcome=\"dropped\"} 1",
        "meshctl_mirror_requests_total{service=\"api\",route=\"canary\",outcome=\"skipped\"} 1",
        "meshctl_mirror_requests_total{service=\"api\",route=\"canary\",outcome=\"error\"} 1",
        "meshctl_mirror_in_flight 0",
    ] {
        assert!(out.contains(line), "{line} missing from\n{out}");
    }
    let view = serde_json::to_value(Mirrors::default().count_in(api).view()).unwrap();
    assert_eq!(view["counts"][0]["route"], "");
    assert_eq!(view["counts"][0]["match"], 2);
    assert_eq!(view["counts"][0]["mismatch"], 1);
    assert_eq!(view["counts"][1]["error"], 1);
}
