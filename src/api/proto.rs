//! Generated gRPC code for the `.proto` files in `proto/` (built by build.rs, never edited).

/// The demo application's API (`proto/demo.proto`).
#[allow(clippy::all, missing_debug_implementations, rust_2018_idioms)]
pub mod demo {
    tonic::include_proto!("meshctl.demo.v1");
}

/// The control plane's API (`proto/control.proto`): identity, discovery and admin services.
#[allow(clippy::all, missing_debug_implementations, rust_2018_idioms)]
pub mod control {
    tonic::include_proto!("meshctl.control.v1");
}

/// The proxies' tap API (`proto/tap.proto`): live request events for `meshctl tap`.
#[allow(clippy::all, missing_debug_implementations, rust_2018_idioms)]
pub mod tap {
    tonic::include_proto!("meshctl.tap.v1");
}

/// OTLP/gRPC trace export (`proto/otlp_trace.proto`): the wire-compatible subset of
/// OpenTelemetry's protocol the proxies send spans with.
#[allow(clippy::all, missing_debug_implementations, rust_2018_idioms)]
pub mod otlp {
    tonic::include_proto!("opentelemetry.proto.collector.trace.v1");
}
