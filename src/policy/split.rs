//! Weighted traffic splits across a service's versions: the canary knob, pure and tested.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Weights always sum to this.
pub const TOTAL_WEIGHT: u32 = 100;

/// One version of a service, the share of its traffic that version gets, and what serves it
/// (`T`: each endpoint's address and identity as the control plane sends them; a peer
/// connection in the proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend<T> {
    pub version: String,
    /// 0–[`TOTAL_WEIGHT`]; the weights of a service's backends sum to it.
    pub weight: u32,
    pub endpoints: Vec<T>,
}

impl<T> Backend<T> {
    pub fn new(version: impl Into<String>, weight: u32, endpoints: Vec<T>) -> Self {
        Backend {
            version: version.into(),
            weight,
            endpoints,
        }
    }

    /// The same version and weight served by `f` of each endpoint.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Backend<U> {
        Backend {
            version: self.version,
            weight: self.weight,
            endpoints: self.endpoints.into_iter().map(f).collect(),
        }
    }
}

/// version → weight (0–100) for one service; the weights sum to 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SplitWeights(pub BTreeMap<String, u32>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("weight {0} is out of range (0-100)")]
    OutOfRange(u32),
    #[error("service `{service}` has no version `{version}` (versions: {known})")]
    UnknownVersion {
        service: String,
        version: String,
        known: String,
    },
    #[error("service `{0}` has a single version: there is nothing to split")]
    SingleVersion(String),
    #[error("weights sum to {0}, not 100")]
    BadSum(u32),
}

impl SplitWeights {
    /// The default split: everything on the first version (in name order: `v1` before `v2`).
    pub fn initial(versions: &[String]) -> Self {
        let mut sorted: Vec<&String> = versions.iter().collect();
        sorted.sort();
        SplitWeights(
            sorted
                .iter()
                .enumerate()
                .map(|(i, v)| ((*v).clone(), if i == 0 { TOTAL_WEIGHT } else { 0 }))
                .collect(),
        )
    }

    /// Validates a complete set of weights for `versions`.
    pub fn validate(&self, service: &str, versions: &[String]) -> Result<(), SplitError> {
        for (v, w) in &self.0 {
            if !versions.contains(v) {
                return Err(unknown(service, v, versions));
            }
            if *w > TOTAL_WEIGHT {
                return Err(SplitError::OutOfRange(*w));
            }
        }
        let sum: u32 = self.0.values().sum();
        if sum != TOTAL_WEIGHT {
            return Err(SplitError::BadSum(sum));
        }
        Ok(())
    }

    /// Gives `to` exactly `weight` and spreads the rest over the other versions in proportion
    /// to their current weights (evenly when they all have 0); rounding leftovers go to the
    /// other versions in name order, so the sum is always exactly 100.
    pub fn shift(
        &self,
        service: &str,
        versions: &[String],
        to: &str,
        weight: u32,
    ) -> Result<Self, SplitError> {
        if weight > TOTAL_WEIGHT {
            return Err(SplitError::OutOfRange(weight));
        }
        if !versions.iter().any(|v| v == to) {
            return Err(unknown(service, to, versions));
        }
        let mut others: Vec<&String> = versions.iter().filter(|v| v.as_str() != to).collect();
        if others.is_empty() {
            return Err(SplitError::SingleVersion(service.to_string()));
        }
        others.sort();
        let rest = TOTAL_WEIGHT - weight;
        // Stored weights come from a file (`splits.json`); one above 100 counts as 100, so the
        // arithmetic below cannot overflow whatever the file holds.
        let current: Vec<u32> = others
            .iter()
            .map(|v| self.0.get(*v).copied().unwrap_or(0).min(TOTAL_WEIGHT))
            .collect();
        let basis: u32 = current.iter().sum();
        let mut out = BTreeMap::new();
        out.insert(to.to_string(), weight);
        let mut given = 0;
        for (v, cur) in others.iter().zip(&current) {
            let share = (rest * cur)
                .checked_div(basis)
                .unwrap_or(rest / others.len() as u32);
            given += share;
            out.insert((*v).clone(), share);
        }
        // Hand out what integer division left, one point at a time, in name order.
        let mut leftover = rest - given;
        for v in others.iter().cycle() {
            if leftover == 0 {
                break;
            }
            let eligible = basis == 0 || self.0.get(*v).copied().unwrap_or(0) > 0;
            if eligible {
                *out.entry((*v).clone()).or_default() += 1;
                leftover -= 1;
            }
        }
        Ok(SplitWeights(out))
    }

    pub fn weight(&self, version: &str) -> u32 {
        self.0.get(version).copied().unwrap_or(0)
    }
}

fn unknown(service: &str, version: &str, versions: &[String]) -> SplitError {
    let mut known = versions.to_vec();
    known.sort();
    SplitError::UnknownVersion {
        service: service.to_string(),
        version: version.to_string(),
        known: known.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn initial_split_sends_everything_to_the_first_version() {
        let s = SplitWeights::initial(&vs(&["v2", "v1"]));
        assert_eq!((s.weight("v1"), s.weight("v2")), (100, 0));
    }

    #[test]
    fn shift_gives_the_rest_to_the_other_versions() {
        let versions = vs(&["v1", "v2"]);
        let s = SplitWeights::initial(&versions)
            .shift("api", &versions, "v2", 20)
            .unwrap();
        assert_eq!((s.weight("v1"), s.weight("v2")), (80, 20));
        let s = s.shift("api", &versions, "v2", 100).unwrap();
        assert_eq!((s.weight("v1"), s.weight("v2")), (0, 100));
        // Everything was on v2: v1 (the only other) gets the rest again.
        let s = s.shift("api", &versions, "v2", 0).unwrap();
        assert_eq!((s.weight("v1"), s.weight("v2")), (100, 0));
    }

    #[test]
    fn shift_spreads_proportionally_and_sums_to_100() {
        let versions = vs(&["v1", "v2", "v3"]);
        let start = SplitWeights([("v1".into(), 60), ("v2".into(), 40), ("v3".into(), 0)].into());
        let s = start.shift("api", &versions, "v3", 33).unwrap();
        assert_eq!(s.0.values().sum::<u32>(), 100);
        assert_eq!(s.weight("v3"), 33);
        assert!(s.weight("v1") > s.weight("v2"));
        let even = SplitWeights([("v1".into(), 0), ("v2".into(), 0), ("v3".into(), 100)].into());
        let s = even.shift("api", &versions, "v3", 1).unwrap();
        assert_eq!(
            (s.weight("v1"), s.weight("v2"), s.weight("v3")),
            (50, 49, 1)
        );
    }

    /// Found by the `split_shift` fuzz target: `canary shift` shifts the weights read from
    /// `splits.json` as they are, and a weight of 153391690 there overflowed `rest * cur`
    /// (a panic in a debug build, wrong weights and a near-endless loop in a release one).
    #[test]
    fn stored_weights_above_100_cannot_overflow_a_shift() {
        let versions = vs(&["v0", "v1", "v2"]);
        let stored = SplitWeights(
            [
                ("v1".to_string(), 153_391_690),
                ("v2".to_string(), u32::MAX),
            ]
            .into(),
        );
        let s = stored.shift("api", &versions, "v0", 20).unwrap();
        assert_eq!(s.validate("api", &versions), Ok(()));
        assert_eq!(
            (s.weight("v0"), s.weight("v1"), s.weight("v2")),
            (20, 40, 40)
        );
    }

    #[test]
    fn bad_shifts_are_rejected() {
        let versions = vs(&["v1", "v2"]);
        let s = SplitWeights::initial(&versions);
        assert_eq!(
            s.shift("api", &versions, "v2", 101),
            Err(SplitError::OutOfRange(101))
        );
        assert!(matches!(
            s.shift("api", &versions, "v9", 10),
            Err(SplitError::UnknownVersion { .. })
        ));
        assert_eq!(
            SplitWeights::initial(&vs(&["v1"])).shift("web", &vs(&["v1"]), "v1", 50),
            Err(SplitError::SingleVersion("web".into()))
        );
        let bad = SplitWeights([("v1".into(), 50), ("v2".into(), 20)].into());
        assert_eq!(bad.validate("api", &versions), Err(SplitError::BadSum(70)));
    }
}
