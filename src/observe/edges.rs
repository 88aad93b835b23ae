//! `meshctl edges`: who talks to whom. Each edge comes from a server proxy's inbound
//! statistics, so both identities are verified ones: the client's from its certificate in the
//! mTLS handshake, the server's from the plan (the certificate the proxy holds).

use serde::Serialize;

use super::stat::service_of;
use crate::control::plan::MeshPlan;
use crate::proxy::metrics::Direction;
use crate::proxy::stats::StatsSnapshot;

/// One client → server edge with traffic in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// The client's service (its SPIFFE ID when no instance in the plan holds it).
    pub src: String,
    /// The server instance (`api.v2`).
    pub dst: String,
    pub client_id: String,
    pub server_id: String,
    /// Always true today: inbound proxies accept mesh traffic over mTLS only.
    pub mtls: bool,
    pub requests: u64,
}

/// Edges from every proxy that reported (`snapshots[i]` belongs to `plan.proxies[i]`),
/// sorted by source then destination.
pub fn edges(plan: &MeshPlan, snapshots: &[Option<StatsSnapshot>]) -> Vec<Edge> {
    let mut edges: Vec<Edge> = plan
        .proxies
        .iter()
        .zip(snapshots)
        .filter_map(|(p, s)| Some((p, s.as_ref()?)))
        .flat_map(|(p, snap)| {
            snap.peers
                .iter()
                .filter(|s| s.direction == Direction::Inbound && s.requests > 0)
                .map(move |s| Edge {
                    src: service_of(plan, &s.peer)
                        .map_or_else(|| s.peer.clone(), |c| c.service.clone()),
                    dst: p.name.clone(),
                    client_id: s.peer.clone(),
                    server_id: p.spiffe_id.clone(),
                    mtls: true,
                    requests: s.requests,
                })
        })
        .collect();
    edges.sort_by(|a, b| (&a.src, &a.dst).cmp(&(&b.src, &b.dst)));
    edges
}
