//! Tests of fault draws, their counts and the answers they inject.

use super::*;

fn fault(status: u32, abort: u32, delay_ms: u64, delay: u32) -> Option<pb::Fault> {
    Some(pb::Fault {
        abort_status: status,
        abort_per_million: abort,
        delay_ms,
        delay_per_million: delay,
        expires_unix_ms: 0,
    })
}

#[test]
fn draws_hit_at_the_configured_share_within_statistical_bounds() {
    let draws = Draws::default();
    let n = 100_000u32;
    for per_million in [1_000u32, 50_000, 200_000, 500_000, 990_000] {
        let hits = (0..n).filter(|_| draws.hit(per_million)).count() as f64;
        let p = f64::from(per_million) / 1e6;
        let (mean, sd) = (f64::from(n) * p, (f64::from(n) * p * (1.0 - p)).sqrt());
        assert!(
            (hits - mean).abs() < 5.0 * sd,
            "{hits} hits at p={p}, expected {mean} ± {}",
            5.0 * sd
        );
    }
    assert!((0..1_000).all(|_| !draws.hit(0)));
    assert!((0..1_000).all(|_| draws.hit(PER_MILLION)));
}

#[test]
fn delay_and_abort_draws_are_independent() {
    let upstream = pb::Upstream {
        fault: fault(503, 500_000, 10, 500_000),
        ..Default::default()
    };
    let faults = Faults::parse(&upstream).unwrap();
    let rule = faults.applicable(SystemTime::now(), || None).unwrap();
    let mut both = [[0u32; 2]; 2];
    let n = 40_000;
    for _ in 0..n {
        let i = faults.draw(rule);
        both[usize::from(i.delay.is_some())][usize::from(i.abort.is_some())] += 1;
    }
    // Each cell of the 2×2 table is Binomial(n, 1/4): sd ≈ 86.6.
    for cell in both.iter().flatten() {
        assert!((f64::from(*cell) - 10_000.0).abs() < 5.0 * 86.6, "{both:?}");
    }
}

#[test]
fn live_beats_route_beats_service_and_expires_on_time() {
    let now = SystemTime::now();
    let later = now + Duration::from_secs(5);
    let mut live = fault(429, PER_MILLION, 0, 0);
    if let Some(f) = live.as_mut() {
        f.expires_unix_ms = later.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    }
    let upstream = pb::Upstream {
        fault: fault(503, PER_MILLION, 0, 0),
        live_fault: live,
        routes: vec![
            pb::HttpRoute {
                fault: fault(404, PER_MILLION, 0, 0),
                ..Default::default()
            },
            pb::HttpRoute::default(),
        ],
        ..Default::default()
    };
    let faults = Faults::parse(&upstream).unwrap();
    let status = |at, matched| {
        faults
            .applicable(at, || matched)
            .and_then(|r| faults.draw(r).abort)
            .map(|s| s.as_u16())
    };
    assert_eq!(status(now, Some(0)), Some(429), "live wins");
    assert_eq!(status(later, Some(0)), Some(404), "expired: the route's");
    assert_eq!(status(later, Some(1)), Some(503), "a route without one");
    assert_eq!(status(later, None), Some(503), "no route matched");
    assert!(!faults.is_empty());
    let none = Faults::parse(&pb::Upstream::default()).unwrap();
    assert!(none.is_empty());
    assert!(
        none.applicable(now, || panic!("no route has a fault"))
            .is_none()
    );
}

#[test]
fn invalid_faults_refuse_the_update() {
    for bad in [
        fault(200, 1, 0, 0),
        fault(0, 1, 0, 0),
        fault(0, 0, 60_001, 1),
    ] {
        let upstream = pb::Upstream {
            fault: bad,
            ..Default::default()
        };
        assert!(Faults::parse(&upstream).is_err());
    }
}

#[test]
fn aborts_answer_http_or_trailers_only_grpc_and_are_marked() {
    let http = abort_response(StatusCode::SERVICE_UNAVAILABLE, false);
    assert_eq!(http.status(), 503);
    assert_eq!(http.headers()[FAULT_HEADER], "abort");
    let grpc = abort_response(StatusCode::SERVICE_UNAVAILABLE, true);
    assert_eq!(grpc.status(), 200);
    assert_eq!(grpc.headers()["grpc-status"], "14");
    assert_eq!(grpc.headers()[FAULT_HEADER], "abort");
    for (http, grpc) in [
        (400, 13),
        (401, 16),
        (403, 7),
        (404, 12),
        (429, 14),
        (504, 4),
        (500, 2),
    ] {
        assert_eq!(grpc_status(StatusCode::from_u16(http).unwrap()), grpc);
    }
    let i = Injection {
        delay: Some(Duration::from_millis(1)),
        abort: None,
    };
    assert_eq!(i.header(false).unwrap(), "delay");
    assert_eq!(i.header(true).unwrap(), "delay, abort");
    assert_eq!(Injection::default().header(false), None);
}

#[test]
fn counters_render_per_service_and_kind() {
    let counters = FaultCounters::default();
    let api = counters.service("api");
    api.aborted();
    api.aborted();
    counters.service("db").delayed();
    assert!(Arc::ptr_eq(&api, &counters.service("api")));
    let mut out = String::new();
    counters.render(&mut out);
    assert!(out.contains("# TYPE meshctl_faults_injected_total counter\n"));
    assert!(out.contains("meshctl_faults_injected_total{service=\"api\",kind=\"abort\"} 2\n"));
    assert!(out.contains("meshctl_faults_injected_total{service=\"db\",kind=\"delay\"} 1\n"));
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}
