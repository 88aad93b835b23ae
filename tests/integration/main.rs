//! One integration-test binary: the tests drive the real `meshctl` binary over real sockets
//! and TLS (`control_plane`: the control plane's gRPC services and the proxies' agent, in
//! process, over a real Unix socket).
// Helpers here are test code too (clippy's test allowance covers only #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod apps;
mod authz;
mod canary;
mod certs;
mod check;
mod cli;
mod cluster;
mod control_plane;
mod demo_app;
mod ecosystem;
mod explain;
mod external_issuer;
mod fault;
mod gateway;
mod har;
mod inject;
mod kube_e2e;
mod kube_install;
mod kube_mesh_e2e;
mod lb;
mod limits;
mod mesh;
mod mirror;
mod netns;
mod observe;
mod otlp_export;
mod policy;
mod proxy;
mod proxy_support;
mod state_files;
mod support;
mod tracing;
