//! Mesh-agnostic wire handling, shared by both sides: accepting and draining listeners,
//! metered I/O, protocol detection, opaque TCP, HTTP helpers, write coalescing (cork), and
//! our own HTTP/1.1 server and client and HTTP/2 server on `h2` (the measurements that earned
//! them are in bench/RESULTS.md and docs/proxy.md).

pub mod cork;
pub mod detect;
pub mod drain;
pub mod h1;
pub mod h2;
pub mod http;
pub mod io;
pub mod listen;
pub mod replay;
pub mod tcp;
