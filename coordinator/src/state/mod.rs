//! The coordinator's replicated state: records ([`model`]) and the deterministic
//! state machine that applies commands to them over sled ([`machine`]).
//! See ../shared/DESIGN.md, "Data flow of one run" and "Raft".

pub mod machine;

pub use testfarm_shared::model;

pub use machine::StateMachine;
pub use model::*;
