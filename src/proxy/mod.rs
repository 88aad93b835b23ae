//! The sidecar proxy.
