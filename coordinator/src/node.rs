//! The single-node stand-in for consensus: orders proposals into the state machine,
//! one at a time, and replies only after the command is applied and on disk.
//!
//! The Raft issue replaces the ordering (a replicated log in front of the same
//! [`StateMachine::apply`]); callers keep calling [`Node::propose`].

use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, Notify};

use crate::state::{Applied, Command, StateEvent, StateMachine};
use crate::store::StoreError;

pub struct Node {
    machine: Mutex<StateMachine>,
    events: broadcast::Sender<StateEvent>,
    /// Woken after every apply and whenever an agent's capacity changes.
    pub changed: Notify,
}

impl Node {
    pub fn new(machine: StateMachine) -> Arc<Node> {
        let (events, _) = broadcast::channel(4096);
        Arc::new(Node {
            machine: Mutex::new(machine),
            events,
            changed: Notify::new(),
        })
    }

    /// Appends the command, applies it, and returns what it did once durable.
    pub async fn propose(self: &Arc<Self>, command: Command) -> Result<Applied, StoreError> {
        let node = self.clone();
        let (applied, event) = tokio::task::spawn_blocking(move || {
            let mut machine = node.machine.lock().expect("state machine lock");
            let index = machine.applied() + 1;
            machine.apply(index, command)
        })
        .await
        .expect("apply does not panic")?;
        if let Some(event) = event {
            let _ = self.events.send(event);
        }
        self.changed.notify_waiters();
        Ok(applied)
    }

    /// Reads the state machine. Keep `f` short: proposals wait for it.
    pub fn read<R>(&self, f: impl FnOnce(&StateMachine) -> R) -> R {
        f(&self.machine.lock().expect("state machine lock"))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StateEvent> {
        self.events.subscribe()
    }
}

/// Wall-clock milliseconds since the Unix epoch, the time carried in commands.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
