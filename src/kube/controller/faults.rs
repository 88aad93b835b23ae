//! Live faults from the `meshctl-faults` ConfigMaps (what `meshctl fault inject` writes): one
//! key per service, a live fault as JSON with absolute RFC 3339 times, decoded with the
//! CLI's own code. As with policies, an invalid value is never applied — the last good fault
//! of that service stays in force — and is reported once per distinct text; an expired one
//! is simply not in force (the control plane's timer ends it on time).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;

use super::super::FAULTS_CONFIGMAP;
use super::super::faults::decode;
use super::catalog::{Key, Problem};
use crate::policy::fault::{LiveFault, TCP_FAULT_REFUSED};

/// The live faults read and what was refused.
#[derive(Debug, Default)]
pub struct Faults {
    /// The text each fault was last read from (good or not).
    texts: HashMap<Key, String>,
    /// The last good fault of each service (in force or not).
    pub good: HashMap<Key, LiveFault>,
    /// Services whose current text is invalid, with the error (the last good one stays).
    pub errors: HashMap<Key, String>,
}

/// The control plane's key of a service's live fault: `namespace/service`.
pub fn fault_key(namespace: &str, service: &str) -> String {
    format!("{namespace}/{service}")
}

impl Faults {
    /// Re-reads every faults ConfigMap; returns the problems that are new. `is_tcp`:
    /// whether a service is declared opaque TCP (faults cannot act on it).
    pub fn update(
        &mut self,
        maps: &[Arc<ConfigMap>],
        is_tcp: impl Fn(&Key) -> bool,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut seen: HashSet<Key> = HashSet::new();
        for map in maps {
            if map.metadata.name.as_deref() != Some(FAULTS_CONFIGMAP) {
                continue;
            }
            let namespace = map.metadata.namespace.clone().unwrap_or_default();
            for (service, text) in map.data.iter().flatten() {
                let key = (namespace.clone(), service.clone());
                seen.insert(key.clone());
                if self.texts.get(&key) == Some(text) {
                    continue;
                }
                self.texts.insert(key.clone(), text.clone());
                let source = format!("configmap {namespace}/{FAULTS_CONFIGMAP} key {service}");
                let decoded = if !crate::identity::spiffe::is_dns_label(service) {
                    Err(format!("`{service}` is not a service name (a DNS label)"))
                } else if is_tcp(&key) {
                    Err(format!("service `{service}`: {TCP_FAULT_REFUSED}"))
                } else {
                    decode(text)
                };
                match decoded {
                    Ok(fault) => {
                        self.errors.remove(&key);
                        self.good.insert(key, fault);
                    }
                    Err(message) => {
                        let kept = if self.good.contains_key(&key) {
                            "; the last valid fault stays in force"
                        } else {
                            "; no live fault for this service until it is fixed"
                        };
                        problems.push(Problem {
                            kind: "ConfigMap",
                            namespace: namespace.clone(),
                            name: FAULTS_CONFIGMAP.to_string(),
                            reason: "InvalidFault",
                            message: format!("{source}: {message}{kept}"),
                        });
                        self.errors.insert(key, format!("{source}: {message}"));
                    }
                }
            }
        }
        // A key (or the ConfigMap) removed: that service's live fault is cleared.
        self.texts.retain(|k, _| seen.contains(k));
        self.good.retain(|k, _| seen.contains(k));
        self.errors.retain(|k, _| seen.contains(k));
        problems
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
