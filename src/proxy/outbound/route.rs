//! A destination's traffic split: weighted backends (versions), each with endpoints, and the
//! choice of one endpoint per request (HTTP) or per connection (TCP): a backend by weight,
//! then an endpoint in it by the destination's load balancer (`balance.rs`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use http::{HeaderMap, Method};

use crate::policy::split::Backend;
use crate::proxy::outbound::balance::{self, LoadBalancer, PeakEwma};
use crate::proxy::outbound::rules::{RouteRules, Selected};
use crate::proxy::telemetry::policy_metrics::PolicyCounters;

/// An endpoint the balancer can weigh: it keeps its own latency estimate and load.
pub trait Weighed {
    fn load(&self) -> &PeakEwma;
}

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
    /// State of a small, fast PRNG (splitmix64): the split and P2C need uniform spread, not
    /// secrecy.
    seed: AtomicU64,
    /// Header routes tried before the split.
    rules: RouteRules,
    /// How an endpoint is chosen within a backend.
    balancer: LoadBalancer,
    /// What traffic policy did for this destination (`meshctl_retries_total{service=…}`…).
    counters: std::sync::Arc<PolicyCounters>,
}

impl<T: Weighed> Route<T> {
    /// Backends without endpoints never get traffic; if every weighted backend is empty,
    /// traffic goes to any backend that has endpoints.
    pub fn new(backends: Vec<Backend<T>>) -> Self {
        let backends: Vec<WeightedBackend<T>> = backends
            .into_iter()
            .map(|b| WeightedBackend {
                version: b.version,
                weight: b.weight,
                endpoints: b.endpoints,
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
            balancer: LoadBalancer::default(),
            counters: Default::default(),
        }
    }

    /// The same split with header routes in front of it.
    pub fn with_rules(self, rules: RouteRules) -> Self {
        Route { rules, ..self }
    }

    /// The same split with another load balancer within each backend.
    pub fn with_balancer(self, balancer: LoadBalancer) -> Self {
        Route { balancer, ..self }
    }

    /// The same split counting its policy actions into `counters` (the destination's).
    pub fn with_counters(self, counters: std::sync::Arc<PolicyCounters>) -> Self {
        Route { counters, ..self }
    }

    /// What the header routes decide for an HTTP request.
    pub fn select(&self, method: &Method, path: &str, headers: &HeaderMap) -> Selected<'_> {
        self.rules.select(method, path, headers)
    }

    pub fn rules(&self) -> &RouteRules {
        &self.rules
    }

    pub fn balancer(&self) -> LoadBalancer {
        self.balancer
    }

    pub fn counters(&self) -> &PolicyCounters {
        &self.counters
    }

    /// An endpoint of `version` (a route pinned it: no endpoint there means none, never one
    /// of another version), or by the split when `None`.
    pub fn endpoint(&self, version: Option<&str>) -> Option<&T> {
        self.endpoint_where(version, |_| true)
    }

    /// Like [`Route::endpoint`], but only an endpoint `admit` accepts. `admit` is asked only
    /// of an endpoint about to be used, one at a time in preference order (asking may
    /// consume a circuit breaker's probe), and the first accepted is returned. Under the
    /// split, a backend chosen by weight whose endpoints are all refused gives way to the
    /// other weighted backends in order; `None` when every endpoint is refused.
    pub fn endpoint_where(&self, version: Option<&str>, admit: impl Fn(&T) -> bool) -> Option<&T> {
        match version {
            Some(v) => {
                let b = self
                    .backends
                    .iter()
                    .find(|b| b.version == v && !b.endpoints.is_empty())?;
                self.choose(b, &admit)
            }
            None => {
                let first = self.weighted()?;
                self.choose(&self.backends[first], &admit).or_else(|| {
                    self.backends
                        .iter()
                        .enumerate()
                        .filter(|(i, b)| *i != first && self.takes_traffic(b))
                        .find_map(|(_, b)| self.choose(b, &admit))
                })
            }
        }
    }

    /// The chance of each backend (in order) serving a request under the split, with
    /// [`Route::endpoint_where`]'s rules: a draw by weight over backends with endpoints, and a
    /// backend none of whose endpoints `admit` accepts giving its draw to the first other
    /// backend that takes traffic and has one. The rest (all zero) is a request answered 503.
    pub fn shares(&self, admit: impl Fn(&T) -> bool) -> Vec<f64> {
        let mut share = vec![0.0; self.backends.len()];
        let open: Vec<bool> = (self.backends.iter())
            .map(|b| b.endpoints.iter().any(&admit))
            .collect();
        let draws: Vec<(usize, f64)> = if self.total == 0 {
            self.backends
                .iter()
                .position(|b| !b.endpoints.is_empty())
                .map(|first| (first, 1.0))
                .into_iter()
                .collect()
        } else {
            (self.backends.iter().enumerate())
                .filter(|(_, b)| !b.endpoints.is_empty() && b.weight > 0)
                .map(|(i, b)| (i, f64::from(b.weight) / f64::from(self.total)))
                .collect()
        };
        for (first, chance) in draws {
            let serving = if open[first] {
                Some(first)
            } else {
                (0..self.backends.len())
                    .find(|i| *i != first && self.takes_traffic(&self.backends[*i]) && open[*i])
            };
            if let Some(i) = serving {
                share[i] += chance;
            }
        }
        share
    }

    pub fn backends(&self) -> &[WeightedBackend<T>] {
        &self.backends
    }

    /// Picks a backend by weight, then an endpoint in it by the balancer. `None` when no
    /// backend has an endpoint (the caller answers 503 at once).
    pub fn pick(&self) -> Option<(&WeightedBackend<T>, &T)> {
        let backend = &self.backends[self.weighted()?];
        Some((backend, self.choose(backend, &|_| true)?))
    }

    /// Whether the split may send traffic to `b`.
    fn takes_traffic(&self, b: &WeightedBackend<T>) -> bool {
        !b.endpoints.is_empty() && (self.total == 0 || b.weight > 0)
    }

    /// The index of a backend drawn by weight (the first with endpoints when no weighted
    /// backend has any).
    fn weighted(&self) -> Option<usize> {
        if self.total == 0 {
            return self.backends.iter().position(|b| !b.endpoints.is_empty());
        }
        let mut ticket = (self.random() % u64::from(self.total)) as u32;
        self.backends.iter().position(|b| {
            if b.endpoints.is_empty() {
                false
            } else if ticket < b.weight {
                true
            } else {
                ticket -= b.weight;
                false
            }
        })
    }

    /// An endpoint of `b` that `admit` accepts, in the balancer's order of preference.
    fn choose<'a>(&self, b: &'a WeightedBackend<T>, admit: &impl Fn(&T) -> bool) -> Option<&'a T> {
        let n = b.endpoints.len();
        if n == 0 {
            return None;
        }
        let (start, tried) = match self.balancer {
            LoadBalancer::RoundRobin => (b.next.fetch_add(1, Ordering::Relaxed) % n, None),
            LoadBalancer::PeakEwma => {
                let now = Instant::now();
                let cost = |i: usize| b.endpoints[i].load().cost(now);
                let (best, other) = balance::two_choices(n, self.random(), cost);
                if admit(&b.endpoints[best]) {
                    return Some(&b.endpoints[best]);
                }
                if other != best && admit(&b.endpoints[other]) {
                    return Some(&b.endpoints[other]);
                }
                // Both refused (ejected): any other endpoint, from the first choice on.
                (best, Some((best, other)))
            }
        };
        (0..n)
            .map(|k| (start + k) % n)
            .filter(|i| tried.is_none_or(|(x, y)| *i != x && *i != y))
            .map(|i| &b.endpoints[i])
            .find(|e| admit(e))
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
mod tests;
