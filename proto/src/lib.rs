//! The wire format of testfarm, generated from `farm.proto`.
//!
//! Domain code never sees these structs: the coordinator and agent convert at the edge.
//! Structured payloads that the domain owns (a task's spec, its outcome) travel as JSON
//! of the `testfarm-shared` types so that the wire and the domain cannot drift apart.

#![allow(clippy::all)]
tonic::include_proto!("farm.v1");

/// The largest gRPC message a farm service or client takes or sends: a run record of
/// a MediaWiki gate (tens of thousands of results) is past tonic's 4 MiB default.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
