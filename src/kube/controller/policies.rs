//! Traffic policy from the `meshctl-policy` ConfigMaps: one key per service, the schema of a
//! mesh.yaml service's `policy:`, parsed with the same code. An invalid value is never
//! applied — the last good policy of that service stays in force — and is reported once per
//! distinct text.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;

use super::catalog::{Key, Problem};
use super::keyed::{Keyed, Kind};
use crate::control::meshfile::{MeshFile, ServicePolicy};

/// The policies in force (`good`) and what was refused (`errors`).
pub type Policies = Keyed<ServicePolicy>;

const POLICY: Kind = Kind {
    configmap: super::super::POLICY_CONFIGMAP,
    reason: "InvalidPolicy",
    kept: "; the last valid policy stays in force",
    none: "; the service runs without a policy until it is fixed",
};

impl Keyed<ServicePolicy> {
    /// Re-reads every policy ConfigMap; returns the problems that are new (a text that was
    /// refused before is not reported again). `is_tcp`: whether a service is declared opaque
    /// TCP (faults cannot act on it).
    pub fn update(
        &mut self,
        trust_domain: &str,
        maps: &[Arc<ConfigMap>],
        is_tcp: impl Fn(&Key) -> bool,
    ) -> Vec<Problem> {
        self.read(maps, &POLICY, |key, source, text| {
            MeshFile::parse_service_policy(text, source, trust_domain, is_tcp(key))
                .map_err(|e| e.to_string())
        })
    }
}
