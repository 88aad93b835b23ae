//! Latency distributions merged from several proxies' HDR histograms, and their percentiles.
//!
//! Each proxy reports (bucket upper edge µs, count) pairs from histograms with 2 significant
//! digits. Buckets with the same edge are summed (histograms merge exactly; averaging
//! per-proxy percentiles would not be correct), then the q-th percentile is the upper edge of
//! the bucket holding the request of rank ⌈q·n⌉: never below the exact value, at most 1%
//! (one bucket width) above it.

use std::collections::BTreeMap;

/// A merged latency histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyDistribution {
    buckets: BTreeMap<u64, u64>,
    count: u64,
}

impl LatencyDistribution {
    /// Adds one proxy's histogram: (bucket upper edge µs, count) pairs.
    pub fn add(&mut self, buckets: &[(u64, u64)]) {
        for &(edge, n) in buckets {
            *self.buckets.entry(edge).or_default() += n;
            self.count += n;
        }
    }

    /// The `q`-quantile (0 < q ≤ 1) in µs; `None` without data.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        self.buckets.iter().find_map(|(&edge, &n)| {
            seen += n;
            (seen >= rank).then_some(edge)
        })
    }
}

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;

    use super::*;
    use crate::api::stats::LATENCY_SIGNIFICANT_DIGITS;

    fn buckets(values: &[u64]) -> Vec<(u64, u64)> {
        let mut h = Histogram::<u32>::new(LATENCY_SIGNIFICANT_DIGITS).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), u64::from(v.count_at_value())))
            .collect()
    }

    fn exact(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    /// Percentiles of histograms merged from two "proxies" against the exact order statistic
    /// of all their values: never below, at most 1% above.
    #[test]
    fn merged_percentiles_are_within_one_percent_of_exact() {
        // A skewed mix: mostly ~1-5 ms, a slow tail to ~800 ms (deterministic LCG).
        let mut seed: u64 = 42;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let a: Vec<u64> = (0..5000).map(|_| 1000 + next() % 4000).collect();
        let b: Vec<u64> = (0..500).map(|_| 1000 + next() % 800_000).collect();
        let mut merged = LatencyDistribution::default();
        merged.add(&buckets(&a));
        merged.add(&buckets(&b));
        let mut all: Vec<u64> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let got = merged.quantile(q).unwrap();
            let want = exact(&all, q);
            assert!(
                got >= want && (got - want) as f64 <= want as f64 * 0.01 + 1.0,
                "p{q}: {got} vs exact {want}"
            );
        }
    }

    #[test]
    fn no_data_means_no_percentile() {
        assert_eq!(LatencyDistribution::default().quantile(0.5), None);
    }
}
