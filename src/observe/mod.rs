//! Live traffic views of a local mesh, computed from the proxies' own windowed statistics
//! (no Prometheus): `meshctl stat` ([`stat`]) and `meshctl edges` ([`edges`]).

pub mod edges;
pub mod fetch;
pub mod latency;
pub mod stat;
