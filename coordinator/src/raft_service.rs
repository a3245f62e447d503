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
    /// Members only: raft messages and forwarded commands.
    pub peers_only: crate::auth::Gate,
    /// What a client calling cluster status or membership may do.
    pub access: crate::auth::Access,
}

fn reply(result: Result<crate::state::Applied, ProposeError>) -> Result<ForwardReply, Status> {
    let encoded = match &result {
        Ok(applied) => crate::codec::encode(applied),
        Err(e) => crate::codec::encode(e),
    };
    Ok(ForwardReply {
        applied: encoded.map_err(|e| Status::internal(e.to_string()))?,
        error: result.is_err(),
    })
}

/// This node's raft view on the wire.
pub fn role_message(role: &crate::raft::Role) -> ClusterStatusReply {
    ClusterStatusReply {
        id: role.id,
        leader_id: role.leader_id,
        leader_addr: role.leader_addr.clone().unwrap_or_default(),
        is_leader: role.is_leader,
        term: role.term,
        commit: role.commit,
        applied: role.applied,
        log_first: role.log_first,
        log_last: role.log_last,
        peers: role.peers.clone().into_iter().collect(),
        voters: role.voters.clone(),
        state_digest: String::new(),
        digest_applied: 0,
    }
}

#[tonic::async_trait]
impl RaftService for RaftServer {
    async fn send(&self, request: Request<RaftBatch>) -> Result<Response<RaftAck>, Status> {
        self.peers_only.admit(&request)?;
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
        // A forwarded command skips every check of the public calls: members only.
        self.peers_only.admit(&request)?;
        let command: Command = crate::codec::decode(&request.into_inner().command)
            .map_err(|e| Status::invalid_argument(format!("bad command: {e}")))?;
        // Only here: a forwarded proposal is never forwarded again.
        reply(self.node.propose_here(command).await).map(Response::new)
    }

    async fn cluster_status(
        &self,
        request: Request<ClusterStatusRequest>,
    ) -> Result<Response<ClusterStatusReply>, Status> {
        self.access.require(&request, testfarm_shared::access::Grant::Read)?;
        let mut reply = role_message(&self.node.role());
        if request.get_ref().digest {
            let (applied, digest) = self.node.read(|sm| (sm.applied(), sm.store().digest()));
            reply.state_digest = digest.map_err(|e| Status::internal(e.to_string()))?;
            reply.digest_applied = applied;
        }
        Ok(Response::new(reply))
    }

    async fn change_membership(
        &self,
        request: Request<MembershipRequest>,
    ) -> Result<Response<MembershipReply>, Status> {
        self.access.require(&request, testfarm_shared::access::Grant::Admin)?;
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
        let error = match self.node.change_membership(change, req.id, req.addr).await {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        Ok(Response::new(MembershipReply { error }))
    }
}
