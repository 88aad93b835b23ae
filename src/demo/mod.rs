//! The built-in demo application that `meshctl up --demo` runs: `web` (HTTP) calls `api`
//! (HTTP JSON, versions v1 and v2), which calls `quotes` (gRPC); `load` sends steady traffic.
//!
//! Each role is a real server on 127.0.0.1 with some latency and a small error rate, so
//! `stat`, `tap` and canaries have live traffic to show. Roles find their upstreams in
//! `MESH_UPSTREAM_<NAME>` (host:port), as `meshctl up` sets them.

pub mod api;
pub mod faults;
pub mod gateway;
pub mod http;
pub mod load;
pub mod mesh;
pub mod quotes;
pub mod web;
