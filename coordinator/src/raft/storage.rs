//! raft-rs `Storage` over sled: the replicated log, hard state, conf state and the
//! metadata of the last compaction, in their own sled tree beside the state machine's.
//!
//! Keys: `hs` (HardState), `cs` (ConfState), `snap` (SnapshotMetadata of the last
//! compaction: entries up to its index are gone), `e` + big-endian index (Entry).
//! Every write is flushed before the driver sends the messages that depend on it.
//!
//! Snapshots are the state machine itself: [`export_state`] reads the state tree
//! (whose `meta/applied` says which index it reflects) and [`install_state`] replaces it.

use protobuf::Message as _;
use raft::prelude::*;
use raft::{GetEntriesContext, RaftState, StorageError};

const HARD_STATE: &[u8] = b"hs";
const CONF_STATE: &[u8] = b"cs";
const SNAP_META: &[u8] = b"snap";
const ENTRY_PREFIX: u8 = b'e';

fn entry_key(index: u64) -> [u8; 9] {
    let mut key = [ENTRY_PREFIX; 9];
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

fn storage_error(e: impl std::fmt::Display) -> raft::Error {
    raft::Error::Store(StorageError::Other(e.to_string().into()))
}

#[derive(Clone)]
pub struct RaftStorage {
    db: sled::Db,
    log: sled::Tree,
    /// The state machine's tree, exported as snapshot data.
    state: sled::Tree,
}

impl RaftStorage {
    pub fn open(db: sled::Db) -> Result<RaftStorage, sled::Error> {
        let log = db.open_tree("raft")?;
        let state = db.open_tree("state")?;
        Ok(RaftStorage { db, log, state })
    }

    pub fn db(&self) -> sled::Db {
        self.db.clone()
    }

    /// Whether this node has never been part of a cluster (no conf state yet).
    pub fn is_empty(&self) -> raft::Result<bool> {
        Ok(self.log.get(CONF_STATE).map_err(storage_error)?.is_none())
    }

    fn get<M: protobuf::Message>(&self, key: &[u8]) -> raft::Result<Option<M>> {
        match self.log.get(key).map_err(storage_error)? {
            None => Ok(None),
            Some(bytes) => M::parse_from_bytes(&bytes).map(Some).map_err(storage_error),
        }
    }

    fn put(&self, key: &[u8], message: &impl protobuf::Message) -> raft::Result<()> {
        let bytes = message.write_to_bytes().map_err(storage_error)?;
        self.log.insert(key, bytes).map_err(storage_error)?;
        Ok(())
    }

    pub fn hard_state(&self) -> raft::Result<HardState> {
        Ok(self.get(HARD_STATE)?.unwrap_or_default())
    }

    pub fn conf_state(&self) -> raft::Result<ConfState> {
        Ok(self.get(CONF_STATE)?.unwrap_or_default())
    }

    fn snapshot_meta(&self) -> raft::Result<SnapshotMetadata> {
        Ok(self.get(SNAP_META)?.unwrap_or_default())
    }

    /// Starts the log of an initial member: as if compacted at index 1 with the initial
    /// membership. A node that joins later, with an empty log, can then only catch up
    /// from a snapshot, which carries the membership; replaying the log from index 1
    /// would show it only the changes made since, and it could elect itself alone.
    pub fn bootstrap(&self, cs: &ConfState) -> raft::Result<()> {
        let mut meta = SnapshotMetadata {
            index: 1,
            term: 1,
            ..Default::default()
        };
        meta.set_conf_state(cs.clone());
        self.put(SNAP_META, &meta)?;
        self.put(CONF_STATE, cs)?;
        self.put(
            HARD_STATE,
            &HardState {
                term: 1,
                commit: 1,
                ..Default::default()
            },
        )?;
        self.flush()
    }

    pub fn set_hard_state(&self, hs: &HardState) -> raft::Result<()> {
        self.put(HARD_STATE, hs)
    }

    pub fn set_conf_state(&self, cs: &ConfState) -> raft::Result<()> {
        self.put(CONF_STATE, cs)
    }

    pub fn set_commit(&self, commit: u64) -> raft::Result<()> {
        let mut hs = self.hard_state()?;
        hs.commit = commit;
        self.set_hard_state(&hs)
    }

    /// Appends entries, dropping any existing entries they overwrite.
    pub fn append(&self, entries: &[Entry]) -> raft::Result<()> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let mut batch = sled::Batch::default();
        let last = self.last_index()?;
        for index in first.index..=last {
            batch.remove(&entry_key(index));
        }
        for e in entries {
            batch.insert(&entry_key(e.index), e.write_to_bytes().map_err(storage_error)?);
        }
        self.log.apply_batch(batch).map_err(storage_error)
    }

    /// Forgets entries up to and including `index`, which must be applied.
    pub fn compact(&self, index: u64) -> raft::Result<()> {
        let meta = self.snapshot_meta()?;
        if index <= meta.index {
            return Ok(());
        }
        let mut new_meta = SnapshotMetadata {
            index,
            term: self.term(index)?,
            ..Default::default()
        };
        new_meta.set_conf_state(self.conf_state()?);
        let mut batch = sled::Batch::default();
        for item in self.log.range(entry_key(0)..=entry_key(index)) {
            let (k, _) = item.map_err(storage_error)?;
            batch.remove(k);
        }
        batch.insert(SNAP_META, new_meta.write_to_bytes().map_err(storage_error)?);
        self.log.apply_batch(batch).map_err(storage_error)
    }

    /// Installs a snapshot received from the leader: the state tree is replaced and the
    /// log restarts after the snapshot's index.
    pub fn apply_snapshot(&self, snapshot: &Snapshot) -> raft::Result<()> {
        let meta = snapshot.get_metadata();
        install_state(&self.state, snapshot.get_data()).map_err(storage_error)?;
        let mut batch = sled::Batch::default();
        for item in self.log.scan_prefix([ENTRY_PREFIX]) {
            let (k, _) = item.map_err(storage_error)?;
            batch.remove(k);
        }
        batch.insert(SNAP_META, meta.write_to_bytes().map_err(storage_error)?);
        batch.insert(
            CONF_STATE,
            meta.get_conf_state().write_to_bytes().map_err(storage_error)?,
        );
        let mut hs = self.hard_state()?;
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        batch.insert(HARD_STATE, hs.write_to_bytes().map_err(storage_error)?);
        self.log.apply_batch(batch).map_err(storage_error)?;
        self.flush()
    }

    pub fn flush(&self) -> raft::Result<()> {
        self.db.flush().map_err(storage_error)?;
        Ok(())
    }

    /// Number of entries kept in the log.
    pub fn log_len(&self) -> raft::Result<u64> {
        Ok(self.last_index()? + 1 - self.first_index()?)
    }
}

impl raft::Storage for RaftStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState {
            hard_state: self.hard_state()?,
            conf_state: self.conf_state()?,
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first_index()? {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        let max_size = max_size.into().unwrap_or(u64::MAX);
        let mut out = Vec::new();
        let mut size = 0u64;
        for item in self.log.range(entry_key(low)..entry_key(high)) {
            let (_, bytes) = item.map_err(storage_error)?;
            size += bytes.len() as u64;
            if !out.is_empty() && size > max_size {
                break;
            }
            out.push(Entry::parse_from_bytes(&bytes).map_err(storage_error)?);
        }
        if out.len() as u64 != high - low && (out.is_empty() || size <= max_size) {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let meta = self.snapshot_meta()?;
        if idx == meta.index {
            return Ok(meta.term);
        }
        if idx < meta.index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match self.log.get(entry_key(idx)).map_err(storage_error)? {
            Some(bytes) => Ok(Entry::parse_from_bytes(&bytes).map_err(storage_error)?.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.snapshot_meta()?.index + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        match self.log.scan_prefix([ENTRY_PREFIX]).next_back() {
            Some(item) => {
                let (k, _) = item.map_err(storage_error)?;
                Ok(u64::from_be_bytes(k[1..9].try_into().expect("entry keys are 9 bytes")))
            }
            None => Ok(self.snapshot_meta()?.index),
        }
    }

    /// The state machine as it is now: applies happen on the same task that asks, so
    /// the export is consistent with its `meta/applied` index.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let (data, applied) = export_state(&self.state).map_err(storage_error)?;
        if applied < request_index {
            return Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        let mut snapshot = Snapshot::default();
        snapshot.set_data(data.into());
        let meta = snapshot.mut_metadata();
        meta.index = applied;
        meta.term = self.term(applied)?;
        meta.set_conf_state(self.conf_state()?);
        Ok(snapshot)
    }
}

/// The state tree as bytes: (u32 key length, key, u32 value length, value)*, and the
/// applied index it reflects.
pub fn export_state(state: &sled::Tree) -> Result<(Vec<u8>, u64), sled::Error> {
    let mut out = Vec::new();
    let mut applied = 0;
    for item in state.iter() {
        let (k, v) = item?;
        if &*k == b"meta/applied" {
            applied = serde_json::from_slice(&v).unwrap_or(0);
        }
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(&k);
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(&v);
    }
    Ok((out, applied))
}

/// Replaces the state tree with exported bytes.
pub fn install_state(state: &sled::Tree, data: &[u8]) -> Result<(), String> {
    let mut batch = sled::Batch::default();
    for item in state.iter() {
        let (k, _) = item.map_err(|e| e.to_string())?;
        batch.remove(k);
    }
    fn take<'d>(data: &'d [u8], at: &mut usize, n: usize) -> Result<&'d [u8], String> {
        let s = data.get(*at..*at + n).ok_or("truncated snapshot")?;
        *at += n;
        Ok(s)
    }
    let mut at = 0;
    while at < data.len() {
        let klen = u32::from_be_bytes(take(data, &mut at, 4)?.try_into().expect("4 bytes")) as usize;
        let key = take(data, &mut at, klen)?.to_vec();
        let vlen = u32::from_be_bytes(take(data, &mut at, 4)?.try_into().expect("4 bytes")) as usize;
        let value = take(data, &mut at, vlen)?.to_vec();
        batch.insert(key, value);
    }
    state.apply_batch(batch).map_err(|e| e.to_string())
}
