//! Durable storage of one coordinator: a sled tree of JSON records under key
//! prefixes. Kept behind this small type so sled can be swapped (sled 1.0 is a
//! stalled alpha, see ../shared/DEPENDENCIES.md).
//!
//! Keys: `meta/applied` (last applied command index), `run/ID`, `task/ID`,
//! `inv/RUN/JOB` (a job's discovered test ids), `profile/PROJECT/STAGE/TEST`.

use std::path::Path;

use serde::{de::DeserializeOwned, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the data directory {path}: {source} (hint: is another coordinator using it?)")]
    Open {
        path: String,
        #[source]
        source: sled::Error,
    },
    #[error("storage failure: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record `{key}`: {source}")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
}

/// Writes of one applied command, made durable together.
#[derive(Default)]
pub struct Batch {
    inner: sled::Batch,
}

impl Batch {
    pub fn put<T: Serialize>(&mut self, key: &str, value: &T) {
        let bytes = serde_json::to_vec(value).expect("domain types serialize");
        self.inner.insert(key.as_bytes(), bytes);
    }

    pub fn remove(&mut self, key: &str) {
        self.inner.remove(key.as_bytes());
    }
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir.join("state.sled"))
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        let tree = db.open_tree("state")?;
        Ok(Store { db, tree })
    }

    /// The store over an already open database (the raft node shares it).
    pub fn from_db(db: sled::Db) -> Result<Store, StoreError> {
        let tree = db.open_tree("state")?;
        Ok(Store { db, tree })
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.tree.get(key.as_bytes())? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Corrupt {
                    key: key.into(),
                    source,
                }),
        }
    }

    /// The keys under a prefix, in key order, without reading their values.
    pub fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for key in self.tree.scan_prefix(prefix.as_bytes()).keys() {
            out.push(String::from_utf8_lossy(&key?).into_owned());
        }
        Ok(out)
    }

    /// Every record under a key prefix, in key order.
    pub fn scan<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(prefix.as_bytes()) {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let value = serde_json::from_slice(&v).map_err(|source| StoreError::Corrupt {
                key: key.clone(),
                source,
            })?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// SHA-256 (hex) of every record, key and value, in key order: replicas that
    /// applied the same commands hold the same bytes (records are serialized from
    /// types without hash maps), so equal indexes must give equal digests.
    pub fn digest(&self) -> Result<String, StoreError> {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for item in self.tree.iter() {
            let (key, value) = item?;
            // Lengths first, so that no two different stores hash the same bytes.
            hash.update((key.len() as u64).to_le_bytes());
            hash.update(&key);
            hash.update((value.len() as u64).to_le_bytes());
            hash.update(&value);
        }
        Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Applies a batch atomically. Not flushed here: the raft log that ordered the
    /// command is on disk before it is applied, and a replay re-applies what a crash
    /// lost (the applied index travels in the same batch).
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.tree.apply_batch(batch.inner)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replica that restarts reloads its records from the store; they must come
    /// back bit for bit, or its state drifts from the replicas that never restarted
    /// (the nemesis found a shard estimate one ulp off on a restarted node).
    #[test]
    fn records_come_back_bit_for_bit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        let sum: f64 = [0.052921926, 0.104513828, 0.106575103, 0.10394606].iter().sum();
        let mut batch = Batch::default();
        batch.put("x", &sum);
        store.commit(batch).expect("commit");
        let back: f64 = store.get("x").expect("get").expect("there");
        assert_eq!(back.to_bits(), sum.to_bits(), "{sum:?} came back as {back:?}");
        let first = store.digest().expect("digest");
        let mut batch = Batch::default();
        batch.put("x", &back);
        store.commit(batch).expect("commit");
        assert_eq!(store.digest().expect("digest"), first, "written back, the same bytes");
    }
}
