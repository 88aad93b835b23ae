//! The mesh's vocabulary, spoken alike by mesh.yaml, the control plane and the proxy:
//! authorization rules and path normalisation, faults, mirroring, weighted splits, retry /
//! load-balancer / circuit-breaker knobs and tracing settings. Pure types, validation and their wire
//! (protobuf) forms: no I/O, and nothing from `control` or `proxy`.

pub mod authz;
pub mod fault;
#[cfg(test)]
mod fuzz;
pub mod gateway;
pub mod mirror;
pub mod normalize;
pub mod rate_limit;
pub mod split;
pub mod tracing;
pub mod traffic;
