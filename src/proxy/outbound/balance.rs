//! Load balancing across one version's endpoints: power of two choices over peak-EWMA
//! latency (the default), or round-robin.
//!
//! Each endpoint keeps a [`PeakEwma`]: an estimate of its response latency and the requests
//! in flight to it, both in atomics so choosing costs no lock. Its cost is
//! `estimate × (in flight + 1)`; P2C draws two distinct endpoints at random and takes the
//! cheaper one, so a slow or busy endpoint gets little traffic without the herding that
//! "always the least loaded" causes when every caller sees the same numbers.
//!
//! The estimate is peak-sensitive: a sample slower than it replaces it at once, a faster one
//! only pulls it down with weight `1 - e^(-Δt/τ)` (τ = [`DECAY`], Δt the time since the last
//! sample), and between samples it decays towards zero at that rate — so an endpoint that was
//! slow is avoided at once and tried again gradually. (The model is Finagle's and tower's
//! `PeakEwma`, as linkerd2-proxy uses it.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

pub use crate::policy::traffic::{LoadBalancer, UnknownLoadBalancer};

/// Latency assumed, per request in flight, for an endpoint that has not answered yet.
pub const DEFAULT_RTT: Duration = Duration::from_millis(30);
/// Time constant of the estimate's decay towards faster samples and towards zero.
pub const DECAY: Duration = Duration::from_secs(10);
/// A request that got no response (connect, TLS or HTTP/2 failure) counts as a sample at
/// least this slow, so an endpoint that fails fast does not attract traffic by looking fast.
pub const FAILURE_RTT: Duration = Duration::from_secs(1);

/// One endpoint's latency estimate and requests in flight (lock-free).
#[derive(Debug)]
pub struct PeakEwma {
    /// When this endpoint was first seen: `stamp_ns` counts from here.
    born: Instant,
    /// The estimate in nanoseconds, as `f64` bits.
    estimate: AtomicU64,
    /// When `estimate` was last set, in nanoseconds since `born`.
    stamp_ns: AtomicU64,
    /// Whether a real sample replaced the default yet.
    measured: AtomicBool,
    in_flight: AtomicU64,
}

/// A request (or TCP connection) in flight to an endpoint; counted until dropped. A request
/// dropped after it was sent but before [`InFlight::responded`] (cancelled, timed out)
/// counts as a sample as slow as the time it waited.
#[derive(Debug)]
#[must_use = "the request counts as in flight only while this lives"]
pub struct InFlight<'a> {
    load: &'a PeakEwma,
    sent: Option<Instant>,
}

impl Default for PeakEwma {
    fn default() -> Self {
        PeakEwma::new(Instant::now())
    }
}

impl PeakEwma {
    pub fn new(now: Instant) -> Self {
        PeakEwma {
            born: now,
            estimate: AtomicU64::new((DEFAULT_RTT.as_nanos() as f64).to_bits()),
            stamp_ns: AtomicU64::new(0),
            measured: AtomicBool::new(false),
            in_flight: AtomicU64::new(0),
        }
    }

    /// Counts one more request in flight until the guard drops.
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight {
            load: self,
            sent: None,
        }
    }

    /// The decayed estimate in milliseconds; `None` before the first answer.
    pub fn latency_ms(&self, now: Instant) -> Option<f64> {
        self.measured
            .load(Relaxed)
            .then(|| self.estimate(now) / 1e6)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    /// The estimate decayed to `now`, in nanoseconds.
    pub fn estimate(&self, now: Instant) -> f64 {
        let estimate = f64::from_bits(self.estimate.load(Relaxed));
        estimate * self.decay(now)
    }

    /// What P2C compares: the estimate × (requests in flight + 1). An endpoint that has
    /// not answered yet costs [`DEFAULT_RTT`] per request in flight: nothing while idle, so a
    /// new endpoint is tried at once, but not flooded before its first answer.
    pub fn cost(&self, now: Instant) -> f64 {
        let in_flight = self.in_flight() as f64;
        if self.measured.load(Relaxed) {
            self.estimate(now) * (in_flight + 1.0)
        } else {
            DEFAULT_RTT.as_nanos() as f64 * in_flight
        }
    }

    /// Feeds one latency sample taken at `now`. Two samples landing at the same instant may
    /// race and one be lost: harmless for an estimate, and it keeps the hot path lock-free.
    pub fn observe(&self, rtt: Duration, now: Instant) {
        let rtt = rtt.as_nanos() as f64;
        let next = if !self.measured.swap(true, Relaxed) {
            // The first real sample replaces the default outright.
            rtt
        } else {
            let decay = self.decay(now);
            let current = f64::from_bits(self.estimate.load(Relaxed)) * decay;
            if rtt > current {
                rtt
            } else {
                current + (rtt - current) * (1.0 - decay)
            }
        };
        self.estimate.store(next.to_bits(), Relaxed);
        self.stamp_ns.store(self.since_born(now), Relaxed);
    }

    /// `e^(-Δt/τ)` for the time since the estimate was set.
    fn decay(&self, now: Instant) -> f64 {
        let elapsed = self
            .since_born(now)
            .saturating_sub(self.stamp_ns.load(Relaxed));
        exp_neg(elapsed as f64 / DECAY.as_nanos() as f64)
    }

    fn since_born(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.born).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl InFlight<'_> {
    /// The request left for the endpoint (its connection was ready): latency counts from now.
    pub fn sent(&mut self, now: Instant) {
        self.sent = Some(now);
    }

    /// The response head arrived: one sample.
    pub fn responded(mut self, now: Instant) {
        if let Some(sent) = self.sent.take() {
            self.load.observe(now.saturating_duration_since(sent), now);
        }
    }

    /// No response (the connection or the request failed): a sample of at least
    /// [`FAILURE_RTT`].
    pub fn failed(mut self, now: Instant) {
        let waited = self
            .sent
            .take()
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        self.load.observe(waited.max(FAILURE_RTT), now);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.load.in_flight.fetch_sub(1, Relaxed);
        if let Some(sent) = self.sent {
            // Given up on (timeout, cancelled caller): it was at least this slow.
            let now = Instant::now();
            self.load.observe(now.saturating_duration_since(sent), now);
        }
    }
}

/// Power of two choices among `n` endpoints: two distinct indices drawn from `random`, the
/// cheaper first (ties keep the draw's order, itself random). `n == 1`: that one twice.
pub fn two_choices(n: usize, random: u64, cost: impl Fn(usize) -> f64) -> (usize, usize) {
    debug_assert!(n > 0);
    if n < 2 {
        return (0, 0);
    }
    // Two draws from one 64-bit random number: the high half picks the first endpoint, the
    // low half one of the n - 1 others.
    let a = ((random >> 32) % n as u64) as usize;
    let b = (a + 1 + ((random & 0xffff_ffff) % (n as u64 - 1)) as usize) % n;
    if cost(b) < cost(a) { (b, a) } else { (a, b) }
}

/// `e^(-x)` for `x >= 0`, within 1e-9 relative error, without libm: `f64::exp` is a call into
/// libm on every request of the outbound proxy, and the pages it touches there stayed
/// resident (~170 KiB of the outbound's RSS against the inbound's, which never calls it).
/// `e^(-x) = 2^(-k) · e^(-t)` with `k` whole and `t = (x·log2(e) - k)·ln 2` in `[0, ln 2)`,
/// where a degree-10 Taylor polynomial is exact to ~5e-10.
fn exp_neg(x: f64) -> f64 {
    // Also the answer for NaN: no decay.
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    if x > 700.0 {
        return 0.0;
    }
    let y = x * std::f64::consts::LOG2_E;
    // y is in (0, 1010]: truncation is the floor, with no libm `floor` on baseline x86-64.
    let k = y as u64;
    let t = (y - k as f64) * std::f64::consts::LN_2;
    let mut sum = 1.0;
    for n in (1..=10).rev() {
        sum = 1.0 - t * sum / f64::from(n);
    }
    // 2^(-k) built from its exponent bits; k <= 1010 keeps it a normal number.
    sum * f64::from_bits((1023 - k) << 52)
}

#[cfg(test)]
mod tests;
