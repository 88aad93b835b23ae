//! The proxies a view reads, named the way the views need them: instance, service, version
//! and the identity peers' statistics call them by. Built from the local mesh's plan or from
//! the cluster's meshed pods, so `stat`, `edges` and `top` have one implementation for both.

use crate::control::plan::MeshPlan;

/// One proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `api.v2` locally, `namespace/pod` on Kubernetes.
    pub instance: String,
    pub service: String,
    pub version: Option<String>,
    pub spiffe_id: String,
}

/// Every proxy of the mesh a view covers, in a fixed order the snapshots follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    pub members: Vec<Member>,
}

impl Fleet {
    pub fn from_plan(plan: &MeshPlan) -> Fleet {
        Fleet {
            members: plan
                .proxies
                .iter()
                .map(|p| Member {
                    instance: p.name.clone(),
                    service: p.service.clone(),
                    version: p.version.clone(),
                    spiffe_id: p.spiffe_id.clone(),
                })
                .collect(),
        }
    }

    /// Service names, sorted, once each.
    pub fn services(&self) -> Vec<String> {
        let mut s: Vec<String> = self.members.iter().map(|m| m.service.clone()).collect();
        s.sort();
        s.dedup();
        s
    }

    /// A service's versions, sorted (`""` for unversioned instances); empty: no such service.
    pub fn versions(&self, service: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.service == service)
            .map(|m| m.version.clone().unwrap_or_default())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The proxy holding an identity (for naming a peer by its service).
    pub fn holder(&self, spiffe_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.spiffe_id == spiffe_id)
    }
}
