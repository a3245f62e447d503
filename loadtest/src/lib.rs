//! Load and fault tests of real coordinator and agent processes. [`checker`] judges a
//! recorded history of a faulty run (issue 15's nemesis records it): what clients
//! were told, what the cluster recorded, what each agent ran, and each replica's
//! state after healing; [`nemesis`] makes the faults and records the history.

pub mod agents;
pub mod checker;
pub mod nemesis;
pub mod raft;
pub mod stats;
