//! Outgoing raft messages: one task per peer keeps a gRPC client to it, reconnecting
//! with backoff, and sends messages in batches. Failures are reported back to the
//! driver (`report_unreachable`, snapshot status) rather than retried here: raft
//! itself resends what matters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use testfarm_proto::raft_service_client::RaftServiceClient;
use testfarm_proto::RaftBatch;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use super::Mail;

pub struct Peers {
    senders: HashMap<u64, mpsc::Sender<Message>>,
    mailbox: mpsc::Sender<Mail>,
    /// Outgoing connections leave from this node's own address, so that traffic
    /// between two coordinators is identified by their two addresses (and a test
    /// can cut exactly that with a firewall rule).
    link: Link,
}

impl Peers {
    pub fn new(mailbox: mpsc::Sender<Mail>, link: Link) -> Peers {
        Peers {
            senders: HashMap::new(),
            mailbox,
            link,
        }
    }

    /// Starts (or restarts, on an address change) the sender of one peer.
    pub fn connect(&mut self, id: u64, addr: String) {
        let (tx, rx) = mpsc::channel(1024);
        self.senders.insert(id, tx);
        tokio::spawn(peer_loop(id, addr, self.link.clone(), rx, self.mailbox.clone()));
    }

    pub fn remove(&mut self, id: u64) {
        self.senders.remove(&id);
    }

    pub fn send(&self, messages: Vec<Message>) {
        for m in messages {
            match self.senders.get(&m.to) {
                // A full queue means the peer is not keeping up: drop, raft resends.
                Some(tx) => {
                    let _ = tx.try_send(m);
                }
                None => tracing::debug!(to = m.to, "no address for raft peer"),
            }
        }
    }
}

/// How this node connects to its peers.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// The IP its connections leave from (its own member address), when known.
    pub local_ip: Option<IpAddr>,
    /// Its credentials: peers are then reached over mutual TLS.
    pub tls: Option<testfarm_proto::tls::Tls>,
}

/// A channel to a peer coordinator at `addr`, the way `link` says.
pub fn endpoint(addr: &str, link: &Link) -> Result<tonic::transport::Endpoint, testfarm_proto::tls::EndpointError> {
    Ok(testfarm_proto::tls::endpoint(addr, link.tls.as_ref())?
        .local_address(link.local_ip)
        .connect_timeout(Duration::from_millis(500)))
}

async fn peer_loop(id: u64, addr: String, link: Link, mut rx: mpsc::Receiver<Message>, mailbox: mpsc::Sender<Mail>) {
    let mut client: Option<RaftServiceClient<Channel>> = None;
    let mut backoff = Duration::from_millis(50);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        if client.is_none() {
            let channel = match endpoint(&addr, &link) {
                Ok(endpoint) => endpoint.connect().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match channel {
                Ok(channel) => {
                    client = Some(RaftServiceClient::new(channel).max_decoding_message_size(256 << 20));
                    backoff = Duration::from_millis(50);
                }
                Err(e) => {
                    tracing::debug!(peer = id, %addr, "cannot connect: {e}");
                    fail(&mailbox, id, &batch).await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            }
        }
        let messages: Vec<Vec<u8>> = batch
            .iter()
            .map(|m| m.write_to_bytes().expect("raft messages encode"))
            .collect();
        let c = client.as_mut().expect("connected above");
        let sent = tokio::time::timeout(Duration::from_secs(5), c.send(RaftBatch { messages })).await;
        if !matches!(sent, Ok(Ok(_))) {
            client = None;
            fail(&mailbox, id, &batch).await;
        } else if batch.iter().any(|m| m.get_msg_type() == MessageType::MsgSnapshot) {
            let _ = mailbox.send(Mail::SnapshotStatus { id, ok: true }).await;
        }
    }
}

async fn fail(mailbox: &mpsc::Sender<Mail>, id: u64, batch: &[Message]) {
    let _ = mailbox.send(Mail::Unreachable { id }).await;
    if batch.iter().any(|m| m.get_msg_type() == MessageType::MsgSnapshot) {
        let _ = mailbox.send(Mail::SnapshotStatus { id, ok: false }).await;
    }
}
