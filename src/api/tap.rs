//! The tap contract beyond its gRPC messages (`proto/tap.proto`): limits both sides know.

/// The most body bytes a watcher gets per request and direction.
pub const MAX_BODY_CAPTURE: usize = 64 * 1024;
