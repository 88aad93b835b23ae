//! The sidecar proxy.
pub mod route;
