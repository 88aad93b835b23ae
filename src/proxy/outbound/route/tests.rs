//! Tests of the weighted split and endpoint choice.

use super::*;

/// Every test endpoint weighs the same (unmeasured): P2C is then a uniform draw.
impl Weighed for &'static str {
    fn load(&self) -> &PeakEwma {
        static IDLE: std::sync::LazyLock<PeakEwma> = std::sync::LazyLock::new(PeakEwma::default);
        &IDLE
    }
}

fn counts(route: &Route<&'static str>, n: usize) -> std::collections::HashMap<&'static str, usize> {
    let mut m = std::collections::HashMap::new();
    for _ in 0..n {
        *m.entry(*route.pick().unwrap().1).or_default() += 1;
    }
    m
}

#[test]
fn split_follows_weights_within_statistical_bounds() {
    let route = Route::new(vec![
        Backend::new("v1", 80, vec!["a"]),
        Backend::new("v2", 20, vec!["b"]),
    ]);
    let n = 20_000;
    let c = counts(&route, n);
    // Binomial(20000, 0.2): sd ≈ 57; 5 sd either side.
    let b = *c.get("b").unwrap_or(&0) as f64;
    assert!((b - 4_000.0).abs() < 5.0 * 56.6, "v2 got {b}");
}

#[test]
fn zero_weight_gets_nothing_and_full_weight_gets_everything() {
    let route = Route::new(vec![
        Backend::new("v1", 100, vec!["a"]),
        Backend::new("v2", 0, vec!["b"]),
    ]);
    assert_eq!(counts(&route, 1_000).get("b"), None);
    let route = Route::new(vec![
        Backend::new("v1", 0, vec!["a"]),
        Backend::new("v2", 100, vec!["b"]),
    ]);
    assert_eq!(counts(&route, 1_000).get("b"), Some(&1_000));
}

#[test]
fn endpoints_rotate_and_empty_backends_are_skipped() {
    let route = Route::new(vec![
        Backend::new("v1", 50, vec![]),
        Backend::new("v2", 50, vec!["x", "y"]),
    ])
    .with_balancer(LoadBalancer::RoundRobin);
    let c = counts(&route, 1_000);
    assert_eq!((c["x"], c["y"]), (500, 500));
    let none: Route<&str> = Route::new(vec![Backend::new("v1", 100, vec![])]);
    assert!(none.pick().is_none());
    assert!(["x", "y"].contains(route.endpoint(Some("v2")).unwrap()));
    assert!(route.endpoint(Some("v1")).is_none());
}

#[test]
fn endpoint_where_skips_what_admit_refuses_and_stays_in_a_pinned_version() {
    let route = Route::new(vec![
        Backend::new("v1", 100, vec!["a", "b", "c"]),
        Backend::new("v2", 0, vec!["d"]),
    ]);
    for _ in 0..10 {
        let e = route.endpoint_where(None, |e| *e != "a").unwrap();
        assert!(["b", "c"].contains(e), "{e}");
    }
    assert_eq!(route.endpoint_where(Some("v2"), |_| true), Some(&"d"));
    assert_eq!(route.endpoint_where(Some("v2"), |e| *e != "d"), None);
    assert_eq!(route.endpoint_where(None, |_| false), None, "all ejected");
}

#[test]
fn a_weighted_version_whose_endpoints_are_all_refused_gives_way_to_the_others() {
    for balancer in [LoadBalancer::PeakEwma, LoadBalancer::RoundRobin] {
        let route = Route::new(vec![
            Backend::new("v1", 99, vec!["a", "b"]),
            Backend::new("v2", 1, vec!["c"]),
            Backend::new("v3", 0, vec!["d"]),
        ])
        .with_balancer(balancer);
        for _ in 0..50 {
            let asked = std::cell::RefCell::new(Vec::new());
            let e = route.endpoint_where(None, |e| {
                asked.borrow_mut().push(*e);
                *e == "c"
            });
            assert_eq!(e, Some(&"c"), "{balancer:?}: never v3 (weight 0)");
            let asked = asked.into_inner();
            let mut unique = asked.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(asked.len(), unique.len(), "each asked once: {asked:?}");
            assert!(!asked.contains(&"d"));
        }
    }
}

#[test]
fn shares_follow_the_weights_and_an_ejected_version_hands_its_share_on() {
    let route = Route::new(vec![
        Backend::new("v1", 80, vec!["a"]),
        Backend::new("v2", 20, vec!["b"]),
        Backend::new("v3", 0, vec!["c"]),
    ]);
    assert_eq!(route.shares(|_| true), [0.8, 0.2, 0.0]);
    // v1's endpoints all ejected: its draw goes to the first other backend taking traffic.
    assert_eq!(route.shares(|e| *e != "a"), [0.0, 1.0, 0.0]);
    // Nothing admitted: every request is answered 503.
    assert_eq!(route.shares(|_| false), [0.0, 0.0, 0.0]);
    // No weighted backend has endpoints: the first with endpoints takes everything, as
    // `endpoint_where` does.
    let route = Route::new(vec![
        Backend::new("v1", 100, vec![]),
        Backend::new("v2", 0, vec!["b"]),
    ]);
    assert_eq!(route.shares(|_| true), [0.0, 1.0]);
    assert_eq!(route.endpoint(None), Some(&"b"));
}
