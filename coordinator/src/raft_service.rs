//! The `RaftService` gRPC handlers: raft messages in, forwarded proposals, cluster
//! status and membership changes. They only convert and delegate to the node.

use std::sync::Arc;

use protobuf::Message as _;
use testfarm_proto::raft_service_server::RaftService;
use testfarm_proto::*;
use tonic::{Request, Response, Status};

use crate::node::Node;
use crate::raft::{Mail, Membership, ProposeError};
use crate::state::Command;

pub struct RaftServer {
    pub node: Arc<Node>,
    pub mailbox: tokio::sync::mpsc::Sender<Mail>,
}

fn reply(result: Result<crate::state::Applied, ProposeError>) -> ForwardReply {
    match result {
        Ok(applied) => ForwardReply {
            applied_json: serde_json::to_string(&applied).expect("json"),
            error: false,
        },
        Err(e) => ForwardReply {
            applied_json: serde_json::to_string(&e).expect("json"),
            error: true,
        },
    }
}

#[tonic::async_trait]
impl RaftService for RaftServer {
    async fn send(&self, request: Request<RaftBatch>) -> Result<Response<RaftAck>, Status> {
        for bytes in request.into_inner().messages {
            let message = raft::prelude::Message::parse_from_bytes(&bytes)
                .map_err(|e| Status::invalid_argument(format!("bad raft message: {e}")))?;
            self.mailbox
                .send(Mail::Step(Box::new(message)))
                .await
                .map_err(|_| Status::unavailable("the raft loop has stopped"))?;
        }
        Ok(Response::new(RaftAck {}))
    }

    async fn forward(&self, request: Request<ForwardRequest>) -> Result<Response<ForwardReply>, Status> {
        let command: Command = serde_json::from_str(&request.into_inner().command_json)
            .map_err(|e| Status::invalid_argument(format!("bad command: {e}")))?;
        // Only here: a forwarded proposal is never forwarded again.
        Ok(Response::new(reply(self.node.propose_here(command).await)))
    }

    async fn cluster_status(&self, _: Request<ClusterStatusRequest>) -> Result<Response<ClusterStatusReply>, Status> {
        let json = serde_json::to_string(&self.node.role()).expect("json");
        Ok(Response::new(ClusterStatusReply { json }))
    }

    async fn change_membership(&self, request: Request<MembershipRequest>) -> Result<Response<ForwardReply>, Status> {
        let req = request.into_inner();
        let change = match req.change.as_str() {
            "add" => Membership::Add,
            "remove" => Membership::Remove,
            other => {
                return Err(Status::invalid_argument(format!(
                    "unknown change `{other}` (add or remove)"
                )))
            }
        };
        if req.id == 0 {
            return Err(Status::invalid_argument("node id 0 is reserved"));
        }
        if change == Membership::Add && req.addr.is_empty() {
            return Err(Status::invalid_argument("adding a node needs its address"));
        }
        Ok(Response::new(reply(
            self.node.change_membership(change, req.id, req.addr).await,
        )))
    }
}
