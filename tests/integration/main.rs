//! One integration-test binary: every test drives the real `meshctl` binary over real
//! sockets and TLS.

mod certs;
mod cli;
mod proxy;
mod proxy_support;
mod support;
