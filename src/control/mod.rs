//! The control plane core: identity and config/discovery services over a pluggable backend,
//! and the local mesh's model (mesh.yaml) and plan.

pub mod admin;
pub mod backend;
pub mod canary_routes;
pub mod launch;
pub mod local;
pub mod meshfile;
pub mod plan;
pub mod rotation;
pub mod scrape;
pub mod server;
pub mod state_files;
pub mod transport;
