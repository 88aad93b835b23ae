//! Live faults from the `meshctl-faults` ConfigMaps (what `meshctl fault inject` writes): one
//! key per service, a live fault as JSON with absolute RFC 3339 times, decoded with the
//! CLI's own code. As with policies, an invalid value is never applied — the last good fault
//! of that service stays in force — and is reported once per distinct text; an expired one
//! is simply not in force (the control plane's timer ends it on time).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;

use super::super::FAULTS_CONFIGMAP;
use super::super::faults::decode;
use super::catalog::{Key, Problem};
use super::keyed::{Keyed, Kind};
use crate::policy::fault::{LiveFault, TCP_FAULT_REFUSED};

/// The live faults read (`good`: the last good fault of each service, in force or not) and
/// what was refused (`errors`).
pub type Faults = Keyed<LiveFault>;

const FAULT: Kind = Kind {
    configmap: FAULTS_CONFIGMAP,
    reason: "InvalidFault",
    kept: "; the last valid fault stays in force",
    none: "; no live fault for this service until it is fixed",
};

/// The control plane's key of a service's live fault: `namespace/service`.
pub fn fault_key(namespace: &str, service: &str) -> String {
    format!("{namespace}/{service}")
}

impl Keyed<LiveFault> {
    /// Re-reads every faults ConfigMap; returns the problems that are new. `is_tcp`:
    /// whether a service is declared opaque TCP (faults cannot act on it).
    pub fn update(
        &mut self,
        maps: &[Arc<ConfigMap>],
        is_tcp: impl Fn(&Key) -> bool,
    ) -> Vec<Problem> {
        self.read(maps, &FAULT, |key, source, text| {
            if is_tcp(key) {
                Err(format!(
                    "{source}: service `{}`: {TCP_FAULT_REFUSED}",
                    key.1
                ))
            } else {
                decode(text).map_err(|m| format!("{source}: {m}"))
            }
        })
    }

    /// The faults in force at `now_ms`, by [`fault_key`].
    pub fn in_force(&self, now_ms: u64) -> BTreeMap<String, LiveFault> {
        self.good
            .iter()
            .filter(|(_, f)| f.in_force(now_ms))
            .map(|((ns, svc), f)| (fault_key(ns, svc), *f))
            .collect()
    }
}
