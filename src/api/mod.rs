//! Wire contracts between meshctl processes (CLI, control plane, proxies): the generated gRPC
//! code, the clients' transport to the control plane, bearer tokens, and the JSON the
//! proxies' admin listeners serve. No logic beyond encoding; imports nothing above it.

pub mod admin_http;
pub mod api_keys;
pub mod explain;
pub mod proto;
pub mod stats;
pub mod tap;
pub mod token;
pub mod transport;
