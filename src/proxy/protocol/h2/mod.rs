//! HTTP/2 on `h2` directly: the server (peers' requests inbound, h2c apps outbound) and the
//! body type both directions share (the client side is `outbound::peer::mux`).

pub mod server;
pub mod stream;
