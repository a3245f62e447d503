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

    /// Applies a batch atomically. Not flushed here: the raft log that ordered the
    /// command is on disk before it is applied, and a replay re-applies what a crash
    /// lost (the applied index travels in the same batch).
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.tree.apply_batch(batch.inner)?;
        Ok(())
    }
}
