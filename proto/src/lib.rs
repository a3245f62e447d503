//! The wire format of testfarm, generated from `farm.proto`.
//!
//! Domain code never sees these structs: the coordinator and agent convert at the edge.
//! Structured payloads that the domain owns (a task's spec, its outcome) travel as JSON
//! of the `testfarm-shared` types so that the wire and the domain cannot drift apart.

#![allow(clippy::all)]
tonic::include_proto!("farm.v1");
