//! One integration-test binary: drives the real `meshctl` binary over real sockets and TLS.

mod proxy;
mod support;
