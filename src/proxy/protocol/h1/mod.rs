//! HTTP/1.1: the outbound's server (requests from the local app) and the inbound's client
//! (requests to the local app, over a pool of kept-alive connections in `inbound::app`).

pub mod client;
pub mod server;
