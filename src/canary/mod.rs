//! Progressive canary rollouts (`meshctl canary start|promote|abort|status`): the gates a
//! check applies, the validated rollout, the state machine that runs it and its state on
//! disk. Pure of the CLI: `cmd/canary/` renders; `live.rs` runs it on a local mesh, where
//! `control` applies weights and routes.

pub mod engine;
pub mod gate;
pub mod live;
pub mod spec;
pub mod store;
