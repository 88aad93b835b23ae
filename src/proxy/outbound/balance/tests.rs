//! Tests of the load balancers: P2C over peak-EWMA, round robin, ejection.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;
use crate::policy::split::Backend;
use crate::proxy::outbound::route::{Route, Weighed};

/// A test endpoint: a name and its load.
#[derive(Debug)]
struct Ep {
    name: &'static str,
    load: PeakEwma,
}

impl Weighed for Ep {
    fn load(&self) -> &PeakEwma {
        &self.load
    }
}

fn eps(names: &[&'static str]) -> Vec<Ep> {
    names
        .iter()
        .map(|name| Ep {
            name,
            load: PeakEwma::default(),
        })
        .collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn approx(actual: f64, expected: Duration) {
    let expected = expected.as_nanos() as f64;
    assert!(
        (actual - expected).abs() <= expected * 0.001 + 1.0,
        "{actual} ns, expected {expected} ns"
    );
}

#[test]
fn the_first_sample_replaces_the_default_and_a_slower_one_replaces_the_estimate_at_once() {
    let t0 = Instant::now();
    let e = PeakEwma::new(t0);
    approx(e.estimate(t0), DEFAULT_RTT);
    e.observe(ms(2), t0);
    approx(e.estimate(t0), ms(2));
    e.observe(ms(100), t0 + ms(1));
    approx(e.estimate(t0 + ms(1)), ms(100));
}

#[test]
fn faster_samples_and_idle_time_pull_the_estimate_down_with_the_time_constant() {
    let t0 = Instant::now();
    let e = PeakEwma::new(t0);
    e.observe(ms(100), t0);
    // One time constant later: decayed to 1/e, and a 10 ms sample weighs 1 - 1/e.
    let later = t0 + DECAY;
    let decayed = 100.0 / std::f64::consts::E;
    approx(e.estimate(later), Duration::from_secs_f64(decayed / 1e3));
    e.observe(ms(10), later);
    let expected = decayed + (10.0 - decayed) * (1.0 - 1.0 / std::f64::consts::E);
    approx(e.estimate(later), Duration::from_secs_f64(expected / 1e3));
    // A fast sample right after a slow one barely moves it: the peak is remembered.
    let p = PeakEwma::new(t0);
    p.observe(ms(100), t0);
    p.observe(ms(1), t0 + ms(10));
    assert!(p.estimate(t0 + ms(10)) > ms(99).as_nanos() as f64);
}

#[test]
fn an_unmeasured_endpoint_is_free_while_idle_and_costs_the_default_per_request_in_flight() {
    let t0 = Instant::now();
    let e = PeakEwma::new(t0);
    assert_eq!(e.cost(t0), 0.0);
    let first = e.start();
    approx(e.cost(t0), DEFAULT_RTT);
    let second = e.start();
    approx(e.cost(t0), DEFAULT_RTT * 2);
    drop((first, second));
    e.observe(ms(4), t0);
    approx(e.cost(t0), ms(4));
}

#[test]
fn requests_in_flight_multiply_the_cost_until_their_guards_drop() {
    let t0 = Instant::now();
    let e = PeakEwma::new(t0);
    e.observe(ms(10), t0);
    approx(e.cost(t0), ms(10));
    let a = e.start();
    let b = e.start();
    assert_eq!(e.in_flight(), 2);
    approx(e.cost(t0), ms(30));
    drop(a);
    drop(b);
    assert_eq!(e.in_flight(), 0);
    approx(e.cost(t0), ms(10));
}

#[test]
fn a_failure_counts_as_slow_and_a_request_given_up_on_as_slow_as_its_wait() {
    let t0 = Instant::now();
    let e = PeakEwma::new(t0);
    e.observe(ms(2), t0);
    let mut g = e.start();
    g.sent(t0);
    g.failed(t0 + ms(1));
    assert!(e.estimate(t0 + ms(1)) >= FAILURE_RTT.as_nanos() as f64 * 0.99);
    assert_eq!(e.in_flight(), 0);

    let e = PeakEwma::default();
    e.observe(ms(1), Instant::now());
    let mut g = e.start();
    g.sent(Instant::now() - ms(500));
    drop(g);
    assert!(e.estimate(Instant::now()) >= ms(499).as_nanos() as f64);
    // Not yet sent (still connecting) when dropped: no sample.
    let e = PeakEwma::default();
    e.observe(ms(1), Instant::now());
    drop(e.start());
    assert!(e.estimate(Instant::now()) < ms(2).as_nanos() as f64);
}

#[test]
fn two_choices_are_distinct_cheaper_first_and_cover_every_pair() {
    assert_eq!(two_choices(1, 12345, |_| 0.0), (0, 0));
    let cost = |i: usize| [3.0, 1.0, 2.0][i];
    let mut pairs = std::collections::HashSet::new();
    for r in 0..600u64 {
        let random = r.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let (a, b) = two_choices(3, random, cost);
        assert_ne!(a, b);
        assert!(cost(a) <= cost(b));
        pairs.insert((a.min(b), a.max(b)));
    }
    assert_eq!(pairs.len(), 3, "{pairs:?}");
    // Ties keep the draw's order: both endpoints come first about as often.
    let firsts = (0..10_000u64)
        .filter(|r| two_choices(2, r.wrapping_mul(0x9e37_79b9_7f4a_7c15), |_| 1.0).0 == 0)
        .count();
    // Binomial(10000, ½): sd = 50; ±5 sd.
    assert!((firsts as i64 - 5_000).abs() < 250, "{firsts}");
}

/// Sends `n` requests one after another, each answered at once with its endpoint's latency.
fn run(route: &Route<Ep>, n: usize, latency: impl Fn(&str) -> Duration) -> HashMap<&str, usize> {
    let mut got = HashMap::new();
    for _ in 0..n {
        let e = route.endpoint(None).unwrap();
        e.load.observe(latency(e.name), Instant::now());
        *got.entry(e.name).or_default() += 1;
    }
    got
}

#[test]
fn a_slow_endpoints_share_drops_under_p2c_but_not_under_round_robin() {
    let slow = |name: &str| if name == "slow" { ms(100) } else { ms(2) };
    let route = Route::new(vec![Backend::new("v1", 100, eps(&["slow", "a", "b"]))]);
    let got = run(&route, 3_000, slow);
    // Once measured, the slow one costs 50× the others: it loses every draw it is in.
    assert!(got.get("slow").copied().unwrap_or(0) <= 3, "{got:?}");
    // The two fast ones split the rest: Binomial(~3000, ½), sd ≈ 27; ±5 sd.
    assert!(
        (got["a"] as i64 - got["b"] as i64).abs() < 2 * 5 * 28,
        "{got:?}"
    );

    let rr = Route::new(vec![Backend::new("v1", 100, eps(&["slow", "a", "b"]))])
        .with_balancer(LoadBalancer::RoundRobin);
    let got = run(&rr, 3_000, slow);
    assert_eq!((got["slow"], got["a"], got["b"]), (1_000, 1_000, 1_000));
}

#[test]
fn equal_endpoints_share_evenly_and_a_busy_one_is_passed_over() {
    let route = Route::new(vec![Backend::new("v1", 100, eps(&["a", "b"]))]);
    let got = run(&route, 4_000, |_| ms(5));
    // Ties are broken by the draw: Binomial(4000, ½), sd ≈ 32; ±5 sd.
    assert!((got["a"] as i64 - 2_000).abs() < 160, "{got:?}");

    // Same latency, but `a` has 3 requests in flight: every request goes to `b`.
    let a = &route.backends()[0].endpoints[0];
    let held: Vec<_> = (0..3).map(|_| a.load.start()).collect();
    for _ in 0..100 {
        assert_eq!(route.endpoint(None).unwrap().name, "b");
    }
    drop(held);
}

#[test]
fn ejected_endpoints_are_skipped_and_admit_is_asked_only_of_what_is_used() {
    let route = Route::new(vec![Backend::new("v1", 100, eps(&["a", "b", "c", "d"]))]);
    run(&route, 200, |name| if name == "a" { ms(1) } else { ms(50) });
    for _ in 0..200 {
        let asked = std::cell::RefCell::new(Vec::new());
        let e = route
            .endpoint_where(None, |e| {
                asked.borrow_mut().push(e.name);
                e.name != "a" && e.name != "b"
            })
            .unwrap();
        assert!(["c", "d"].contains(&e.name), "{}", e.name);
        let asked = asked.into_inner();
        assert_eq!(
            asked.last(),
            Some(&e.name),
            "the accepted one is the last asked"
        );
        let mut unique = asked.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), asked.len(), "nobody asked twice: {asked:?}");
    }
    assert!(route.endpoint_where(None, |_| false).is_none());
}

#[test]
fn balancer_names_parse_and_unknown_ones_are_refused() {
    assert_eq!("".parse::<LoadBalancer>().unwrap(), LoadBalancer::PeakEwma);
    assert_eq!(
        "p2c".parse::<LoadBalancer>().unwrap(),
        LoadBalancer::PeakEwma
    );
    assert_eq!(
        "round_robin".parse::<LoadBalancer>().unwrap(),
        LoadBalancer::RoundRobin
    );
    for name in ["p2c", "round_robin"] {
        assert_eq!(name.parse::<LoadBalancer>().unwrap().name(), name);
    }
    assert!("least_request".parse::<LoadBalancer>().is_err());
}

#[test]
fn exp_neg_matches_the_standard_library() {
    let mut previous = 1.0;
    for i in 0..20_000 {
        let x = f64::from(i) * 0.035; // 0 .. 700
        let (ours, std) = (exp_neg(x), (-x).exp());
        assert!(((ours - std) / std).abs() < 1e-9, "e^-{x}: {ours} vs {std}");
        assert!(ours <= previous, "not decreasing at {x}");
        previous = ours;
    }
    for x in [1e-12, 1e-6, std::f64::consts::LN_2, 1.0, 2.5, 9.999_999] {
        let std = (-x).exp();
        assert!(((exp_neg(x) - std) / std).abs() < 1e-9, "e^-{x}");
    }
    assert_eq!(exp_neg(0.0), 1.0);
    assert_eq!(exp_neg(f64::NAN), 1.0);
    assert_eq!(exp_neg(800.0), 0.0);
}
