//! Live traffic views of a local mesh, computed from the proxies' own windowed statistics
//! (no Prometheus): `meshctl stat` ([`stat`]) and `meshctl edges` ([`edges`]), and the live
//! request stream of `meshctl tap` ([`tap`]) and the busiest routes of `meshctl top` ([`top`]).

pub mod edges;
pub mod fetch;
pub mod fleet;
pub mod latency;
pub mod stat;
pub mod tap;
pub mod top;
