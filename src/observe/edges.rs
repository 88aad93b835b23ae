//! `meshctl edges`: who talks to whom. Each edge comes from a server proxy's inbound
//! statistics, so both identities are verified ones: the client's from its certificate in the
//! mTLS handshake, the server's from the plan (the certificate the proxy holds). Both ends are
//! named by service (the server's version alongside): replicas of a version are one edge.

use serde::Serialize;

use super::fleet::Fleet;
use crate::api::stats::Direction;
use crate::api::stats::StatsSnapshot;

/// One client → server edge with traffic in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// The client's service (its SPIFFE ID when no instance in the plan holds it).
    pub src: String,
    /// The server's service (`api`), like `src`.
    pub dst: String,
    /// The server's version (`v2`), when its service has versions.
    pub dst_version: Option<String>,
    pub client_id: String,
    pub server_id: String,
    /// Always true today: inbound proxies accept mesh traffic over mTLS only.
    pub mtls: bool,
    pub requests: u64,
}

/// Edges from every proxy that reported (`snapshots[i]` belongs to `fleet.members[i]`),
/// sorted by source then destination.
pub fn edges(fleet: &Fleet, snapshots: &[Option<StatsSnapshot>]) -> Vec<Edge> {
    let mut edges: Vec<Edge> = Vec::new();
    let seen = fleet
        .members
        .iter()
        .zip(snapshots)
        .filter_map(|(p, s)| Some((p, s.as_ref()?)));
    for (p, snap) in seen {
        for s in snap
            .peers
            .iter()
            .filter(|s| s.direction == Direction::Inbound && s.requests > 0)
        {
            let src = fleet
                .holder(&s.peer)
                .map_or_else(|| s.peer.clone(), |c| c.service.clone());
            let same = |e: &&mut Edge| {
                e.src == src
                    && e.dst == p.service
                    && e.dst_version == p.version
                    && e.client_id == s.peer
            };
            match edges.iter_mut().find(same) {
                // Another replica of the same version.
                Some(e) => e.requests += s.requests,
                None => edges.push(Edge {
                    src,
                    dst: p.service.clone(),
                    dst_version: p.version.clone(),
                    client_id: s.peer.clone(),
                    server_id: p.spiffe_id.clone(),
                    mtls: true,
                    requests: s.requests,
                }),
            }
        }
    }
    edges.sort_by(|a, b| (&a.src, &a.dst, &a.dst_version).cmp(&(&b.src, &b.dst, &b.dst_version)));
    edges
}

impl Edge {
    /// `api/v2`, or `api` without versions: how tables show the destination.
    pub fn dst_label(&self) -> String {
        match &self.dst_version {
            Some(v) => format!("{}/{v}", self.dst),
            None => self.dst.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
