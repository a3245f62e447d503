//! The wire format of testfarm, generated from `farm.proto`, and its conversion to
//! and from the domain types of testfarm-shared ([`convert`]).
//!
//! Domain code never sees these structs: the coordinator, agent and CLI convert at
//! the edge. Every message is typed protobuf, so that a client in any language reads
//! runs, tasks and reports without the farm's Rust types.

#[allow(clippy::all)]
mod generated {
    tonic::include_proto!("farm.v1");
}
pub use generated::*;

pub mod convert;
pub mod tls;

/// The file descriptor set of farm.proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("farm_descriptor");

/// The largest gRPC message a farm service or client takes or sends: a run record of
/// a MediaWiki gate (tens of thousands of results) is past tonic's 4 MiB default.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
