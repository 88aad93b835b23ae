//! Live traffic views of a mesh (local, or a cluster's meshed pods through its controller),
//! computed from the proxies' own windowed statistics (no Prometheus): `meshctl stat`
//! ([`stat`]) and `meshctl edges` ([`edges`]) over one reading of the [`mesh`], and the live
//! request stream of `meshctl tap` ([`tap`]) and the busiest routes of `meshctl top` ([`top`]);
//! what mirroring found (`meshctl canary diff`, [`mirror`]).

pub mod edges;
pub mod explain;
pub mod fetch;
pub mod fleet;
pub mod har;
pub mod latency;
pub mod mesh;
pub mod mirror;
pub mod replay;
pub mod stat;
pub mod tap;
pub mod top;
