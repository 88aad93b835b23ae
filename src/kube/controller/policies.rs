//! Traffic policy from the `meshctl-policy` ConfigMaps: one key per service, the schema of a
//! mesh.yaml service's `policy:`, parsed with the same code. An invalid value is never
//! applied — the last good policy of that service stays in force — and is reported once per
//! distinct text.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::ConfigMap;

use super::catalog::{Key, Problem};
use crate::control::meshfile::{MeshFile, ServicePolicy};

/// The policies in force and what was refused.
#[derive(Debug, Default)]
pub struct Policies {
    /// The text each policy was last parsed from (good or not).
    texts: HashMap<Key, String>,
    /// What the proxies get: the last good policy of each service.
    pub good: HashMap<Key, ServicePolicy>,
    /// Services whose current text is invalid, with the error (the last good one stays).
    pub errors: HashMap<Key, String>,
}

impl Policies {
    /// Re-reads every policy ConfigMap; returns the problems that are new (a text that was
    /// refused before is not reported again). `is_tcp`: whether a service is declared opaque
    /// TCP (faults cannot act on it).
    pub fn update(
        &mut self,
        trust_domain: &str,
        maps: &[std::sync::Arc<ConfigMap>],
        is_tcp: impl Fn(&Key) -> bool,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut seen: HashSet<Key> = HashSet::new();
        for map in maps {
            if map.metadata.name.as_deref() != Some(super::super::POLICY_CONFIGMAP) {
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
                let source = format!(
                    "configmap {namespace}/{} key {service}",
                    super::super::POLICY_CONFIGMAP
                );
                let parsed = if crate::identity::spiffe::is_dns_label(service) {
                    MeshFile::parse_service_policy(text, &source, trust_domain, is_tcp(&key))
                        .map_err(|e| e.to_string())
                } else {
                    Err(format!(
                        "{source}: `{service}` is not a service name (a DNS label)"
                    ))
                };
                match parsed {
                    Ok(policy) => {
                        self.errors.remove(&key);
                        self.good.insert(key, policy);
                    }
                    Err(message) => {
                        let kept = if self.good.contains_key(&key) {
                            "; the last valid policy stays in force"
                        } else {
                            "; the service runs without a policy until it is fixed"
                        };
                        problems.push(Problem {
                            kind: "ConfigMap",
                            namespace: namespace.clone(),
                            name: super::super::POLICY_CONFIGMAP.to_string(),
                            reason: "InvalidPolicy",
                            message: format!("{message}{kept}"),
                        });
                        self.errors.insert(key, message);
                    }
                }
            }
        }
        // A key (or the ConfigMap) removed: that service has no policy any more.
        self.texts.retain(|k, _| seen.contains(k));
        self.good.retain(|k, _| seen.contains(k));
        self.errors.retain(|k, _| seen.contains(k));
        problems
    }
}
