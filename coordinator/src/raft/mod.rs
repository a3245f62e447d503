//! The raft node: one task drives raft-rs's `RawNode` in the documented order — tick,
//! step peer messages, propose; on each Ready persist entries, hard state and snapshot
//! to sled (flushed) before sending the messages that depend on them, apply committed
//! entries to the state machine, advance. Proposals carry an id that maps back to the
//! waiting caller. See ../shared/DESIGN.md, "Raft".
//!
//! Every state change goes through the log, on a single node too (a cluster of one),
//! so there is one code path.

mod logger;
mod proposal;
pub mod storage;
pub mod transport;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::prelude::*;
use raft::{RawNode, StateRole};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::state::{Applied, Command, StateEvent, StateMachine};
use crate::store::Store;
use proposal::{ProposalId, Proposals};
use storage::RaftStorage;

#[derive(Debug, Clone)]
pub struct RaftConfig {
    pub id: u64,
    /// Initial members (id → gRPC address), used only when the log is empty.
    pub peers: BTreeMap<u64, String>,
    /// Start with no members and wait to be added (`farm cluster add`).
    pub join: bool,
    pub tick: Duration,
    pub election_ticks: usize,
    pub heartbeat_ticks: usize,
    /// Compact the log when it holds more than this many applied entries.
    pub snapshot_every: u64,
    /// This node's credentials: peers are then reached over mutual TLS.
    pub tls: Option<testfarm_proto::tls::Tls>,
}

impl From<crate::store::StoreError> for ProposeError {
    fn from(e: crate::store::StoreError) -> Self {
        ProposeError::Storage(e.to_string())
    }
}

impl RaftConfig {
    pub fn single(addr: String) -> RaftConfig {
        RaftConfig {
            id: 1,
            peers: BTreeMap::from([(1, addr)]),
            join: false,
            tick: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            snapshot_every: 10_000,
            tls: None,
        }
    }
}

/// Why a proposal did not apply.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
pub enum ProposeError {
    #[error("this node is not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<String> },
    #[error("the leader changed before the proposal committed; it may or may not have applied")]
    Dropped,
    #[error("no leader elected yet")]
    NoLeader,
    #[error("raft: {0}")]
    Raft(String),
    #[error("storage: {0}")]
    Storage(String),
}

/// What the node knows of the cluster, for routing and `farm cluster status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Role {
    pub id: u64,
    pub leader_id: u64,
    pub leader_addr: Option<String>,
    pub is_leader: bool,
    pub term: u64,
    pub commit: u64,
    pub applied: u64,
    pub log_first: u64,
    pub log_last: u64,
    pub peers: BTreeMap<u64, String>,
    pub voters: Vec<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Membership {
    Add,
    Remove,
}

pub enum Mail {
    Propose {
        command: Box<Command>,
        reply: oneshot::Sender<Result<Applied, ProposeError>>,
    },
    ChangeMembership {
        change: Membership,
        id: u64,
        addr: String,
        reply: oneshot::Sender<Result<Applied, ProposeError>>,
    },
    ReadIndex {
        reply: oneshot::Sender<Result<(), ProposeError>>,
    },
    Step(Box<Message>),
    Unreachable {
        id: u64,
    },
    SnapshotStatus {
        id: u64,
        ok: bool,
    },
}

/// The handle the rest of the coordinator uses.
pub struct RaftHandle {
    pub mailbox: mpsc::Sender<Mail>,
    /// How this node reaches its peers (the IP it leaves from, its credentials).
    pub link: transport::Link,
    pub role: watch::Receiver<Role>,
    /// Cancelled when the raft loop stops on an error (not on shutdown): the process
    /// must not go on serving without it.
    pub died: CancellationToken,
}

const PEERS_KEY: &str = "cluster/peers";

/// Opens the raft node over `db` and starts its driver task.
pub fn start(
    config: RaftConfig,
    db: sled::Db,
    machine: Arc<Mutex<StateMachine>>,
    events: broadcast::Sender<StateEvent>,
    changed: Arc<Notify>,
    shutdown: CancellationToken,
) -> Result<RaftHandle, ProposeError> {
    let storage = RaftStorage::open(db.clone()).map_err(|e| ProposeError::Storage(e.to_string()))?;
    // Members and their addresses live in the replicated state tree, so a node that
    // catches up from a snapshot learns them too.
    let meta = db
        .open_tree("state")
        .map_err(|e| ProposeError::Storage(e.to_string()))?;
    let mut peers: BTreeMap<u64, String> = meta
        .get(PEERS_KEY)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if storage.is_empty().map_err(|e| ProposeError::Storage(e.to_string()))? && !config.join {
        let cs = ConfState {
            voters: config.peers.keys().copied().collect(),
            ..Default::default()
        };
        storage
            .bootstrap(&cs)
            .map_err(|e| ProposeError::Storage(e.to_string()))?;
        peers = config.peers.clone();
    }
    // Addresses given on the command line win for members we know (a node may move).
    for (id, addr) in &config.peers {
        if peers.contains_key(id) || config.join {
            peers.insert(*id, addr.clone());
        }
    }
    meta.insert(PEERS_KEY, serde_json::to_vec(&peers).expect("json"))
        .map_err(|e| ProposeError::Storage(e.to_string()))?;
    // The state machine's writes may reach disk ahead of the hard state's commit
    // index; raft must not start beyond what it knows is committed (entries between
    // are delivered again and skipped by index).
    let commit = storage
        .hard_state()
        .map_err(|e| ProposeError::Storage(e.to_string()))?
        .commit;
    let applied = machine.lock().unwrap_or_else(|e| e.into_inner()).applied().min(commit);
    let raft_config = Config {
        id: config.id,
        election_tick: config.election_ticks,
        heartbeat_tick: config.heartbeat_ticks,
        applied,
        check_quorum: true,
        pre_vote: true,
        max_size_per_msg: 1 << 20,
        max_inflight_msgs: 256,
        ..Default::default()
    };
    raft_config.validate().map_err(|e| ProposeError::Raft(e.to_string()))?;
    let mut node = RawNode::new(&raft_config, storage.clone(), &logger::logger())
        .map_err(|e| ProposeError::Raft(e.to_string()))?;
    // A cluster of one need not wait out an election timeout.
    if node.raft.prs().conf().voters().ids().iter().collect::<Vec<_>>() == vec![config.id] {
        node.campaign().map_err(|e| ProposeError::Raft(e.to_string()))?;
    }
    let (mailbox, inbox) = mpsc::channel(4096);
    let (role_tx, role) = watch::channel(Role {
        id: config.id,
        ..Role::default()
    });
    let local_ip = peers
        .get(&config.id)
        .or(config.peers.get(&config.id))
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified());
    let link = transport::Link {
        local_ip,
        tls: config.tls.clone(),
    };
    let mut transport = transport::Peers::new(mailbox.clone(), link.clone());
    for (id, addr) in &peers {
        if *id != config.id {
            transport.connect(*id, addr.clone());
        }
    }
    let driver = Driver {
        node,
        storage,
        meta,
        machine,
        events,
        changed,
        peers,
        transport,
        pending: HashMap::new(),
        pending_reads: HashMap::new(),
        waiting_reads: Vec::new(),
        proposals: Proposals::new(config.id),
        role: role_tx,
        snapshot_every: config.snapshot_every,
        leader_since: None,
    };
    let died = CancellationToken::new();
    tokio::spawn(driver.run(inbox, config.tick, shutdown, died.clone()));
    Ok(RaftHandle {
        mailbox,
        link,
        role,
        died,
    })
}

type Reply = oneshot::Sender<Result<Applied, ProposeError>>;

struct Driver {
    node: RawNode<RaftStorage>,
    storage: RaftStorage,
    meta: sled::Tree,
    machine: Arc<Mutex<StateMachine>>,
    events: broadcast::Sender<StateEvent>,
    changed: Arc<Notify>,
    peers: BTreeMap<u64, String>,
    transport: transport::Peers,
    pending: HashMap<ProposalId, (u64, Reply)>,
    pending_reads: HashMap<Vec<u8>, oneshot::Sender<Result<(), ProposeError>>>,
    waiting_reads: Vec<(u64, oneshot::Sender<Result<(), ProposeError>>)>,
    proposals: Proposals,
    role: watch::Sender<Role>,
    snapshot_every: u64,
    leader_since: Option<Instant>,
}

fn rejected(index: u64, reason: String) -> Applied {
    tracing::error!(index, "raft: rejected the command at index {index}: {reason}");
    crate::metrics::command_rejected();
    Applied::Rejected(reason)
}

impl Driver {
    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Mail>,
        tick: Duration,
        shutdown: CancellationToken,
        died: CancellationToken,
    ) {
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => { self.node.tick(); }
                mail = inbox.recv() => match mail {
                    Some(mail) => {
                        self.handle(mail);
                        // Take whatever else is waiting, so one Ready covers many.
                        for _ in 0..1024 {
                            match inbox.try_recv() {
                                Ok(mail) => self.handle(mail),
                                Err(_) => break,
                            }
                        }
                    }
                    None => break,
                },
            }
            if let Err(e) = self.on_ready() {
                tracing::error!("raft: {e}; stopping this node's raft loop");
                died.cancel();
                break;
            }
        }
        self.fail_pending(ProposeError::Dropped);
    }

    fn leader_addr(&self) -> Option<String> {
        let leader = self.node.raft.leader_id;
        (leader != 0).then(|| self.peers.get(&leader).cloned()).flatten()
    }

    fn not_leader(&self) -> ProposeError {
        match self.leader_addr() {
            Some(addr) => ProposeError::NotLeader { leader: Some(addr) },
            None => ProposeError::NoLeader,
        }
    }

    fn handle(&mut self, mail: Mail) {
        match mail {
            Mail::Propose { command, reply } => {
                if self.node.raft.state != StateRole::Leader {
                    let _ = reply.send(Err(self.not_leader()));
                    return;
                }
                let id = self.proposals.next_id();
                let data = match crate::codec::encode(&command) {
                    Ok(data) => data,
                    Err(e) => {
                        let _ = reply.send(Err(ProposeError::Raft(format!("cannot encode the command: {e}"))));
                        return;
                    }
                };
                match self.node.propose(id.encode(), data) {
                    Ok(()) => {
                        self.pending.insert(id, (self.node.raft.term, reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(ProposeError::Raft(e.to_string())));
                    }
                }
            }
            Mail::ChangeMembership {
                change,
                id,
                addr,
                reply,
            } => {
                if self.node.raft.state != StateRole::Leader {
                    let _ = reply.send(Err(self.not_leader()));
                    return;
                }
                let mut cc = ConfChange {
                    node_id: id,
                    ..Default::default()
                };
                cc.set_change_type(match change {
                    Membership::Add => ConfChangeType::AddNode,
                    Membership::Remove => ConfChangeType::RemoveNode,
                });
                cc.context = addr.into_bytes().into();
                let pid = self.proposals.next_id();
                match self.node.propose_conf_change(pid.encode(), cc) {
                    Ok(()) => {
                        self.pending.insert(pid, (self.node.raft.term, reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(ProposeError::Raft(e.to_string())));
                    }
                }
            }
            Mail::ReadIndex { reply } => {
                let ctx = self.proposals.next_id().encode();
                self.node.read_index(ctx.clone());
                self.pending_reads.insert(ctx, reply);
            }
            Mail::Step(message) => {
                if let Err(e) = self.node.step(*message) {
                    tracing::debug!("raft step: {e}");
                }
            }
            Mail::Unreachable { id } => self.node.report_unreachable(id),
            Mail::SnapshotStatus { id, ok } => self.node.report_snapshot(
                id,
                if ok {
                    raft::SnapshotStatus::Finish
                } else {
                    raft::SnapshotStatus::Failure
                },
            ),
        }
    }

    fn on_ready(&mut self) -> Result<(), ProposeError> {
        let storage_err = |e: raft::Error| ProposeError::Storage(e.to_string());
        if self.node.has_ready() {
            let mut ready = self.node.ready();
            // A leader may send before it persists (raft thesis 10.2.1).
            self.transport.send(ready.take_messages());
            if !ready.snapshot().is_empty() {
                self.install_snapshot(ready.snapshot().clone())?;
            }
            let committed = ready.take_committed_entries();
            self.apply_entries(committed)?;
            if !ready.entries().is_empty() {
                self.storage.append(ready.entries()).map_err(storage_err)?;
            }
            if let Some(hs) = ready.hs() {
                self.storage.set_hard_state(hs).map_err(storage_err)?;
            }
            self.storage.flush().map_err(storage_err)?;
            self.transport.send(ready.take_persisted_messages());
            for rs in ready.take_read_states() {
                if let Some(reply) = self.pending_reads.remove(&rs.request_ctx) {
                    self.waiting_reads.push((rs.index, reply));
                }
            }
            let mut light = self.node.advance(ready);
            if let Some(commit) = light.commit_index() {
                self.storage.set_commit(commit).map_err(storage_err)?;
            }
            self.transport.send(light.take_messages());
            self.apply_entries(light.take_committed_entries())?;
            self.node.advance_apply();
            self.maybe_compact()?;
        }
        self.update_role();
        Ok(())
    }

    fn apply_entries(&mut self, entries: Vec<Entry>) -> Result<(), ProposeError> {
        for entry in entries {
            let proposal = self.proposals.ours(&entry.context);
            let result = match entry.get_entry_type() {
                EntryType::EntryNormal if entry.data.is_empty() => {
                    // A new leader's empty entry: only the applied index moves.
                    self.machine
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .advance_to(entry.index)
                        .map_err(|e| ProposeError::Storage(e.to_string()))?;
                    continue;
                }
                EntryType::EntryNormal => {
                    let (applied, event) = self.apply_command(&entry)?;
                    if let Some(event) = event {
                        let _ = self.events.send(event);
                    }
                    applied
                }
                EntryType::EntryConfChange => {
                    let cc =
                        ConfChange::parse_from_bytes(&entry.data).map_err(|e| ProposeError::Storage(e.to_string()))?;
                    self.apply_conf_change(&cc)?;
                    self.machine
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .advance_to(entry.index)
                        .map_err(|e| ProposeError::Storage(e.to_string()))?;
                    Applied::Ignored(format!("membership: {:?} {}", cc.get_change_type(), cc.node_id))
                }
                EntryType::EntryConfChangeV2 => continue,
            };
            if let Some((_, reply)) = proposal.and_then(|id| self.pending.remove(&id)) {
                let _ = reply.send(Ok(result));
            }
        }
        self.changed.notify_waiters();
        let applied = self.machine.lock().unwrap_or_else(|e| e.into_inner()).applied();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting_reads)
            .into_iter()
            .partition(|(i, _)| *i <= applied);
        self.waiting_reads = waiting;
        for (_, reply) in ready {
            let _ = reply.send(Ok(()));
        }
        Ok(())
    }

    /// Applies one normal entry. A command that does not decode, that the state
    /// machine rejects, or whose apply panics is rejected the same way on every
    /// replica, logged and counted, and the replica goes on; only the store failing
    /// stops it. After a panic the machine is reloaded from the store, which never saw
    /// the half-done change.
    fn apply_command(&mut self, entry: &Entry) -> Result<(Applied, Option<StateEvent>), ProposeError> {
        let storage = |e: crate::store::StoreError| ProposeError::Storage(e.to_string());
        let mut machine = self.machine.lock().unwrap_or_else(|e| e.into_inner());
        let command: Command = match crate::codec::decode(&entry.data) {
            Ok(command) => command,
            Err(e) => {
                machine.advance_to(entry.index).map_err(storage)?;
                return Ok((rejected(entry.index, format!("not a command: {e}")), None));
            }
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| machine.apply(entry.index, command)));
        match outcome {
            Ok(Ok((Applied::Rejected(reason), event))) => Ok((rejected(entry.index, reason), event)),
            Ok(result) => result.map_err(storage),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into());
                machine.reload().map_err(storage)?;
                machine.advance_to(entry.index).map_err(storage)?;
                Ok((rejected(entry.index, format!("its apply failed: {what}")), None))
            }
        }
    }

    fn apply_conf_change(&mut self, cc: &ConfChange) -> Result<(), ProposeError> {
        let cs = self
            .node
            .apply_conf_change(cc)
            .map_err(|e| ProposeError::Raft(e.to_string()))?;
        self.storage
            .set_conf_state(&cs)
            .map_err(|e| ProposeError::Storage(e.to_string()))?;
        let me = self.node.raft.id;
        match cc.get_change_type() {
            ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                let addr = String::from_utf8_lossy(&cc.context).into_owned();
                if !addr.is_empty() {
                    self.peers.insert(cc.node_id, addr.clone());
                    if cc.node_id != me {
                        self.transport.connect(cc.node_id, addr);
                    }
                }
            }
            ConfChangeType::RemoveNode => {
                self.peers.remove(&cc.node_id);
                self.transport.remove(cc.node_id);
            }
        }
        self.meta
            .insert(PEERS_KEY, serde_json::to_vec(&self.peers).expect("json"))
            .map_err(|e| ProposeError::Storage(e.to_string()))?;
        tracing::info!(node = cc.node_id, change = ?cc.get_change_type(), voters = ?cs.voters, "membership changed");
        Ok(())
    }

    fn install_snapshot(&mut self, snapshot: Snapshot) -> Result<(), ProposeError> {
        let meta = snapshot.get_metadata();
        tracing::info!(
            index = meta.index,
            term = meta.term,
            "installing snapshot from the leader"
        );
        self.storage
            .apply_snapshot(&snapshot)
            .map_err(|e| ProposeError::Storage(e.to_string()))?;
        // Members and their addresses travel in the snapshot's state.
        let peers: BTreeMap<u64, String> = self
            .meta
            .get(PEERS_KEY)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for (id, addr) in &peers {
            if *id != self.node.raft.id && self.peers.get(id) != Some(addr) {
                self.transport.connect(*id, addr.clone());
            }
        }
        self.peers = peers;
        let reopened = Store::from_db(self.storage.db())
            .and_then(StateMachine::open)
            .map_err(|e| ProposeError::Storage(e.to_string()))?;
        *self.machine.lock().unwrap_or_else(|e| e.into_inner()) = reopened;
        self.changed.notify_waiters();
        Ok(())
    }

    fn maybe_compact(&mut self) -> Result<(), ProposeError> {
        let applied = self.machine.lock().unwrap_or_else(|e| e.into_inner()).applied();
        let first = raft::Storage::first_index(&self.storage).map_err(|e| ProposeError::Storage(e.to_string()))?;
        if applied >= first && applied - first + 1 > self.snapshot_every {
            self.storage
                .compact(applied)
                .map_err(|e| ProposeError::Storage(e.to_string()))?;
            tracing::info!(up_to = applied, "compacted the raft log");
        }
        Ok(())
    }

    fn update_role(&mut self) {
        let is_leader = self.node.raft.state == StateRole::Leader;
        let term = self.node.raft.term;
        if is_leader && self.leader_since.is_none() {
            self.leader_since = Some(Instant::now());
        }
        if !is_leader {
            self.leader_since = None;
            // Proposals from an earlier leadership will never be answered here.
            if !self.pending.is_empty() {
                self.fail_pending(ProposeError::Dropped);
            }
        } else {
            let stale: Vec<ProposalId> = self
                .pending
                .iter()
                .filter(|(_, (t, _))| *t != term)
                .map(|(id, _)| *id)
                .collect();
            for id in stale {
                if let Some((_, reply)) = self.pending.remove(&id) {
                    let _ = reply.send(Err(ProposeError::Dropped));
                }
            }
        }
        let raft_log = &self.node.raft.raft_log;
        let role = Role {
            id: self.node.raft.id,
            leader_id: self.node.raft.leader_id,
            leader_addr: self.leader_addr(),
            is_leader,
            term,
            commit: raft_log.committed,
            applied: raft_log.applied,
            log_first: raft::Storage::first_index(&self.storage).unwrap_or(0),
            log_last: raft_log.last_index(),
            peers: self.peers.clone(),
            voters: self.node.raft.prs().conf().voters().ids().iter().collect(),
        };
        if role.leader_id != 0 && self.role.borrow().leader_id != role.leader_id {
            crate::metrics::leader_changed();
        }
        self.role.send_if_modified(|old| {
            let changed = old.leader_id != role.leader_id
                || old.term != role.term
                || old.commit != role.commit
                || old.applied != role.applied
                || old.peers != role.peers
                || old.voters != role.voters
                || old.log_first != role.log_first;
            *old = role;
            changed
        });
    }

    fn fail_pending(&mut self, error: ProposeError) {
        for (_, (_, reply)) in self.pending.drain() {
            let _ = reply.send(Err(error.clone()));
        }
        for (_, reply) in self.pending_reads.drain() {
            let _ = reply.send(Err(error.clone()));
        }
        for (_, reply) in self.waiting_reads.drain(..) {
            let _ = reply.send(Err(error.clone()));
        }
    }
}
