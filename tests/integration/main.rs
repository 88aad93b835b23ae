//! One integration-test binary: every test drives the real `meshctl` binary over real
//! sockets and TLS.

#[macro_use]
mod apps;
mod authz;
mod canary;
mod certs;
mod check;
mod cli;
mod demo_app;
mod external_issuer;
mod fault;
mod kube_e2e;
mod kube_install;
mod lb;
mod mesh;
mod observe;
mod policy;
mod proxy;
mod proxy_support;
mod support;
mod tracing;
