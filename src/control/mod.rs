//! The control plane core: identity and config/discovery services over a pluggable backend,
//! and the local mesh's model (mesh.yaml) and plan.

pub mod admin;
pub mod agent;
pub mod backend;
pub mod canary_routes;
pub mod fault;
pub mod launch;
pub mod local;
pub mod meshfile;
pub mod plan;
pub mod server;
pub mod split;
pub mod transport;

#[cfg(test)]
mod tests;
