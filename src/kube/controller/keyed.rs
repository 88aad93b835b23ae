//! Per-service settings kept in a ConfigMap of a fixed name in each namespace, one key per
//! service (`meshctl-policy`, `meshctl-faults`). Each value is decoded on its own; an invalid
//! one is never applied — the last good value of that service stays in force — and is
//! reported once per distinct text. A key (or the ConfigMap) that goes away takes its
//! service's value with it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;

use super::catalog::{Key, Problem};

/// Which ConfigMap, and how its refusals read.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub configmap: &'static str,
    /// The Event reason (`InvalidPolicy`).
    pub reason: &'static str,
    /// Appended to a refusal when a last good value stays in force.
    pub kept: &'static str,
    /// Appended to a refusal when there is none.
    pub none: &'static str,
}

/// The values read, the last good one of each service, and what was refused.
#[derive(Debug)]
pub struct Keyed<T> {
    /// The text each value was last decoded from (good or not).
    texts: HashMap<Key, String>,
    /// The last good value of each service.
    pub good: HashMap<Key, T>,
    /// Services whose current text is invalid, with the error (the last good one stays).
    pub errors: HashMap<Key, String>,
}

impl<T> Default for Keyed<T> {
    fn default() -> Self {
        Keyed {
            texts: HashMap::new(),
            good: HashMap::new(),
            errors: HashMap::new(),
        }
    }
}

impl<T> Keyed<T> {
    /// Re-reads every `kind.configmap` among `maps`; returns the problems that are new (a text
    /// refused before is not reported again). `decode(key, source, text)`: the value, or one
    /// line naming `source` (`configmap NS/NAME key SERVICE`) and what is wrong; only called
    /// for keys that are service names.
    pub fn read(
        &mut self,
        maps: &[Arc<ConfigMap>],
        kind: &Kind,
        mut decode: impl FnMut(&Key, &str, &str) -> Result<T, String>,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut seen: HashSet<Key> = HashSet::new();
        for map in maps {
            if map.metadata.name.as_deref() != Some(kind.configmap) {
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
                let source = format!("configmap {namespace}/{} key {service}", kind.configmap);
                let decoded = if crate::identity::spiffe::is_dns_label(service) {
                    decode(&key, &source, text)
                } else {
                    Err(format!(
                        "{source}: `{service}` is not a service name (a DNS label)"
                    ))
                };
                match decoded {
                    Ok(value) => {
                        self.errors.remove(&key);
                        self.good.insert(key, value);
                    }
                    Err(message) => {
                        let kept = if self.good.contains_key(&key) {
                            kind.kept
                        } else {
                            kind.none
                        };
                        problems.push(Problem {
                            kind: "ConfigMap",
                            namespace: namespace.clone(),
                            name: kind.configmap.to_string(),
                            reason: kind.reason,
                            message: format!("{message}{kept}"),
                        });
                        self.errors.insert(key, message);
                    }
                }
            }
        }
        self.texts.retain(|k, _| seen.contains(k));
        self.good.retain(|k, _| seen.contains(k));
        self.errors.retain(|k, _| seen.contains(k));
        problems
    }
}
