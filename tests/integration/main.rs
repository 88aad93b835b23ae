//! One integration-test binary: every test drives the real `meshctl` binary.

mod certs;
mod cli;
mod demo_app;
mod support;
