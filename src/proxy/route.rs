//! A destination's traffic split: weighted backends (versions), each with endpoints, and the
//! choice of one endpoint per request (HTTP) or per connection (TCP).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use http::{HeaderMap, Method};

use super::policy::{RouteRules, Selected};

/// One version of the destination and the share of traffic it gets.
#[derive(Debug)]
pub struct WeightedBackend<T> {
    pub version: String,
    pub weight: u32,
    pub endpoints: Vec<T>,
    /// Round-robin position among `endpoints`.
    next: AtomicUsize,
}

/// The endpoints of a destination grouped by version, with split weights.
#[derive(Debug)]
pub struct Route<T> {
    backends: Vec<WeightedBackend<T>>,
    /// Sum of the weights of backends that have endpoints.
    total: u32,
    /// State of a small, fast PRNG (splitmix64): the split needs uniform spread, not secrecy.
    seed: AtomicU64,
    /// Header routes tried before the split.
    rules: RouteRules,
}

impl<T> Route<T> {
    /// `backends`: (version, weight, endpoints). Backends without endpoints never get traffic;
    /// if every weighted backend is empty, traffic goes to any backend that has endpoints.
    pub fn new(backends: Vec<(String, u32, Vec<T>)>) -> Self {
        let backends: Vec<WeightedBackend<T>> = backends
            .into_iter()
            .map(|(version, weight, endpoints)| WeightedBackend {
                version,
                weight,
                endpoints,
                next: AtomicUsize::new(0),
            })
            .collect();
        let total = backends
            .iter()
            .filter(|b| !b.endpoints.is_empty())
            .map(|b| b.weight)
            .sum();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Route {
            backends,
            total,
            seed: AtomicU64::new(seed),
            rules: RouteRules::default(),
        }
    }

    /// The same split with header routes in front of it.
    pub fn with_rules(self, rules: RouteRules) -> Self {
        Route { rules, ..self }
    }

    /// What the header routes decide for an HTTP request.
    pub fn select(&self, method: &Method, path: &str, headers: &HeaderMap) -> Selected<'_> {
        self.rules.select(method, path, headers)
    }

    pub fn rules(&self) -> &RouteRules {
        &self.rules
    }

    /// An endpoint of `version` (a route pinned it: no endpoint there means none, never one
    /// of another version), or by the split when `None`.
    pub fn endpoint(&self, version: Option<&str>) -> Option<&T> {
        match version {
            Some(v) => self.version(v),
            None => self.pick(),
        }
        .map(|(_, e)| e)
    }

    /// Like [`Route::endpoint`], but only an endpoint `admit` accepts (asked of one endpoint
    /// at a time, in pick order); `None` when no pick in as many tries as there are
    /// endpoints is admitted.
    pub fn endpoint_where(&self, version: Option<&str>, admit: impl Fn(&T) -> bool) -> Option<&T> {
        let candidates = self
            .backends
            .iter()
            .filter(|b| version.is_none_or(|v| b.version == v))
            .map(|b| b.endpoints.len())
            .sum::<usize>();
        (0..candidates.max(1))
            .filter_map(|_| self.endpoint(version))
            .find(|e| admit(e))
    }

    pub fn backends(&self) -> &[WeightedBackend<T>] {
        &self.backends
    }

    /// Picks a backend by weight, then an endpoint in it round-robin. `None` when no backend
    /// has an endpoint (the caller answers 503 at once).
    pub fn pick(&self) -> Option<(&WeightedBackend<T>, &T)> {
        let backend = if self.total == 0 {
            self.backends.iter().find(|b| !b.endpoints.is_empty())?
        } else {
            let mut ticket = (self.random() % u64::from(self.total)) as u32;
            self.backends
                .iter()
                .filter(|b| !b.endpoints.is_empty())
                .find(|b| {
                    if ticket < b.weight {
                        true
                    } else {
                        ticket -= b.weight;
                        false
                    }
                })?
        };
        let i = backend.next.fetch_add(1, Ordering::Relaxed) % backend.endpoints.len();
        Some((backend, &backend.endpoints[i]))
    }

    /// A backend by version name (header routes pin one version whatever the weights).
    pub fn version(&self, version: &str) -> Option<(&WeightedBackend<T>, &T)> {
        let b = self
            .backends
            .iter()
            .find(|b| b.version == version && !b.endpoints.is_empty())?;
        let i = b.next.fetch_add(1, Ordering::Relaxed) % b.endpoints.len();
        Some((b, &b.endpoints[i]))
    }

    fn random(&self) -> u64 {
        let mut z = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(
        route: &Route<&'static str>,
        n: usize,
    ) -> std::collections::HashMap<&'static str, usize> {
        let mut m = std::collections::HashMap::new();
        for _ in 0..n {
            *m.entry(*route.pick().unwrap().1).or_default() += 1;
        }
        m
    }

    #[test]
    fn split_follows_weights_within_statistical_bounds() {
        let route = Route::new(vec![
            ("v1".into(), 80, vec!["a"]),
            ("v2".into(), 20, vec!["b"]),
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
            ("v1".into(), 100, vec!["a"]),
            ("v2".into(), 0, vec!["b"]),
        ]);
        assert_eq!(counts(&route, 1_000).get("b"), None);
        let route = Route::new(vec![
            ("v1".into(), 0, vec!["a"]),
            ("v2".into(), 100, vec!["b"]),
        ]);
        assert_eq!(counts(&route, 1_000).get("b"), Some(&1_000));
    }

    #[test]
    fn endpoints_rotate_and_empty_backends_are_skipped() {
        let route = Route::new(vec![
            ("v1".into(), 50, vec![]),
            ("v2".into(), 50, vec!["x", "y"]),
        ]);
        let c = counts(&route, 1_000);
        assert_eq!((c["x"], c["y"]), (500, 500));
        let none: Route<&str> = Route::new(vec![("v1".into(), 100, vec![])]);
        assert!(none.pick().is_none());
        assert_eq!(
            route.version("v2").map(|(b, _)| b.version.as_str()),
            Some("v2")
        );
        assert!(route.version("v1").is_none());
    }

    #[test]
    fn endpoint_where_skips_what_admit_refuses_and_stays_in_a_pinned_version() {
        let route = Route::new(vec![
            ("v1".into(), 100, vec!["a", "b", "c"]),
            ("v2".into(), 0, vec!["d"]),
        ]);
        for _ in 0..10 {
            let e = route.endpoint_where(None, |e| *e != "a").unwrap();
            assert!(["b", "c"].contains(e), "{e}");
        }
        assert_eq!(route.endpoint_where(Some("v2"), |_| true), Some(&"d"));
        assert_eq!(route.endpoint_where(Some("v2"), |e| *e != "d"), None);
        assert_eq!(route.endpoint_where(None, |_| false), None, "all ejected");
    }
}
