//! The coordinator's handle on replicated state: proposals go through raft (forwarded
//! to the leader when this node follows), reads come from the local state machine,
//! and reads that must be current wait for a read index first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testfarm_proto::raft_service_client::RaftServiceClient;
use testfarm_proto::{ForwardRequest, MembershipRequest};
use tokio::sync::{broadcast, oneshot, Notify};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::raft::{self, Mail, Membership, ProposeError, RaftConfig, RaftHandle, Role};
use crate::state::{Applied, Command, StateEvent, StateMachine};
use crate::store::Store;

pub struct Node {
    machine: Arc<Mutex<StateMachine>>,
    events: broadcast::Sender<StateEvent>,
    /// Woken after every apply and whenever an agent's capacity changes.
    pub changed: Arc<Notify>,
    raft: RaftHandle,
    /// One connection per leader address for forwarded proposals, kept: a follower
    /// forwarding every agent report must not pay a TCP and HTTP/2 handshake each.
    forwarders: Mutex<HashMap<String, RaftServiceClient<Channel>>>,
}

/// How long a proposal waits for a leader to be elected before giving up.
const NO_LEADER_PATIENCE: Duration = Duration::from_secs(15);

impl Node {
    pub fn start(config: RaftConfig, store: Store, shutdown: CancellationToken) -> Result<Arc<Node>, ProposeError> {
        let db = store.db().clone();
        let machine = StateMachine::open(store).map_err(|e| ProposeError::Storage(e.to_string()))?;
        let machine = Arc::new(Mutex::new(machine));
        let (events, _) = broadcast::channel(4096);
        let changed = Arc::new(Notify::new());
        let raft = raft::start(config, db, machine.clone(), events.clone(), changed.clone(), shutdown)?;
        Ok(Arc::new(Node {
            machine,
            events,
            changed,
            raft,
            forwarders: Mutex::new(HashMap::new()),
        }))
    }

    /// Proposes a command and returns what it did once applied, wherever the leader is.
    pub async fn propose(&self, command: Command) -> Result<Applied, ProposeError> {
        let started = std::time::Instant::now();
        let result = self.propose_anywhere(command).await;
        crate::metrics::proposal(started.elapsed().as_secs_f64());
        result
    }

    async fn propose_anywhere(&self, command: Command) -> Result<Applied, ProposeError> {
        let deadline = tokio::time::Instant::now() + NO_LEADER_PATIENCE;
        loop {
            let result = match self.propose_here(command.clone()).await {
                Err(ProposeError::NotLeader { leader: Some(addr) }) => self.forward(&addr, &command).await,
                other => other,
            };
            match result {
                Err(ProposeError::NoLeader) | Err(ProposeError::NotLeader { .. })
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// Proposes on this node only; NotLeader if it is not the leader.
    pub async fn propose_here(&self, command: Command) -> Result<Applied, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.mail(Mail::Propose {
            command: Box::new(command),
            reply,
        })
        .await?;
        rx.await.unwrap_or(Err(ProposeError::Dropped))
    }

    pub async fn change_membership(&self, change: Membership, id: u64, addr: String) -> Result<Applied, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.mail(Mail::ChangeMembership {
            change,
            id,
            addr: addr.clone(),
            reply,
        })
        .await?;
        match rx.await.unwrap_or(Err(ProposeError::Dropped)) {
            Err(ProposeError::NotLeader { leader: Some(leader) }) => {
                self.forward_membership(&leader, change, id, &addr).await
            }
            other => other,
        }
    }

    /// Waits until this node has applied everything committed when it was called
    /// (raft read index): a read after this is linearizable.
    pub async fn linearizable(&self) -> Result<(), ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.mail(Mail::ReadIndex { reply }).await?;
        match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(result)) => result,
            _ => Err(ProposeError::NoLeader),
        }
    }

    async fn mail(&self, mail: Mail) -> Result<(), ProposeError> {
        self.raft
            .mailbox
            .send(mail)
            .await
            .map_err(|_| ProposeError::Raft("the raft loop has stopped".into()))
    }

    /// Cancelled when this node's raft loop stopped on an error.
    pub fn raft_died(&self) -> CancellationToken {
        self.raft.died.clone()
    }

    pub fn mailbox(&self) -> tokio::sync::mpsc::Sender<Mail> {
        self.raft.mailbox.clone()
    }

    pub fn role(&self) -> Role {
        self.raft.role.borrow().clone()
    }

    /// This node's role as it changes (elections, the leader learnt).
    pub fn role_changes(&self) -> tokio::sync::watch::Receiver<Role> {
        self.raft.role.clone()
    }

    pub fn is_leader(&self) -> bool {
        self.raft.role.borrow().is_leader
    }

    /// Reads the state machine. Keep `f` short: applies wait for it.
    pub fn read<R>(&self, f: impl FnOnce(&StateMachine) -> R) -> R {
        f(&self.machine.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StateEvent> {
        self.events.subscribe()
    }
}

fn decode_forward(reply: testfarm_proto::ForwardReply) -> Result<Applied, ProposeError> {
    if reply.error {
        Err(crate::codec::decode(&reply.applied).unwrap_or(ProposeError::Dropped))
    } else {
        crate::codec::decode(&reply.applied).map_err(|e| ProposeError::Raft(format!("bad forward reply: {e}")))
    }
}

impl Node {
    /// The pooled client of the coordinator at `addr` (connected on first use).
    async fn forwarder(&self, addr: &str) -> Result<RaftServiceClient<Channel>, ProposeError> {
        if let Some(c) = self.forwarders.lock().expect("forwarders lock").get(addr) {
            return Ok(c.clone());
        }
        let channel = raft::transport::endpoint(addr, &self.raft.link)
            .map_err(|e| ProposeError::Raft(e.to_string()))?
            .connect()
            .await
            .map_err(|_| ProposeError::NoLeader)?;
        let client = RaftServiceClient::new(channel);
        self.forwarders
            .lock()
            .expect("forwarders lock")
            .insert(addr.to_string(), client.clone());
        Ok(client)
    }

    /// Forgets the connection to `addr` after it failed: the next use connects anew.
    fn drop_forwarder(&self, addr: &str) {
        self.forwarders.lock().expect("forwarders lock").remove(addr);
    }

    async fn forward(&self, leader: &str, command: &Command) -> Result<Applied, ProposeError> {
        let mut c = self.forwarder(leader).await?;
        let request = ForwardRequest {
            command: crate::codec::encode(command).map_err(|e| ProposeError::Raft(e.to_string()))?,
        };
        match c.forward(request).await {
            Ok(reply) => decode_forward(reply.into_inner()),
            Err(_) => {
                self.drop_forwarder(leader);
                Err(ProposeError::NoLeader)
            }
        }
    }

    async fn forward_membership(
        &self,
        leader: &str,
        change: Membership,
        id: u64,
        addr: &str,
    ) -> Result<Applied, ProposeError> {
        let mut c = self.forwarder(leader).await?;
        let change = match change {
            Membership::Add => "add",
            Membership::Remove => "remove",
        };
        let request = MembershipRequest {
            change: change.into(),
            id,
            addr: addr.into(),
        };
        match c.change_membership(request).await {
            Ok(reply) => match reply.into_inner().error {
                error if error.is_empty() => Ok(Applied::Ignored(format!("membership change of node {id} committed"))),
                error => Err(ProposeError::Raft(error)),
            },
            Err(_) => {
                self.drop_forwarder(leader);
                Err(ProposeError::NoLeader)
            }
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch, the time carried in commands.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
