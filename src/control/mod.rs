//! The control plane core: identity and config/discovery services over a pluggable backend.

pub mod admin;
pub mod agent;
pub mod backend;
pub mod plan;
pub mod server;
pub mod split;
pub mod transport;

#[cfg(test)]
mod tests;
