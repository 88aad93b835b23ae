//! meshctl: a service mesh in one binary — the library behind the `meshctl` CLI.
// Denied, not forbidden: one measured exception, `malloc_trim` in `proxy::memory`.
#![deny(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod api;
pub mod canary;
pub mod cli;
pub mod cmd;
pub mod control;
pub mod demo;
pub mod duration;
pub mod exit;
pub mod fsutil;
#[cfg(test)]
mod fuzzing;
pub mod identity;
pub mod kube;
pub mod observe;
pub mod output;
pub mod policy;
pub mod proxy;
pub mod state;
pub mod supervise;
