//! Install steps on an agent: one directory per [`Install::key`], made by the first
//! task that needs it and reused warm by every later one (see
//! `testfarm_shared::install` for what the key covers). The install's database (when
//! the stage has a service) is kept on the agent's server as the template each task's
//! database is copied from.
//!
//! ```text
//! <work>/installs/<key>/files/     FARM_INSTALL_DIR: what the command writes (LocalSettings.php)
//! <work>/installs/<key>/db/        FARM_DB_DIR of the install, for SQLite
//! <work>/installs/<key>/.farm-installed   written last: the install is complete
//! ```
//!
//! At most [`KEEP`] installs stay on an agent; the least recently used go first, with
//! their databases.

use crate::error::AgentError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use testfarm_shared::install::Install;
use testfarm_shared::service::{database_name, Service};

/// Installs kept on one agent (a MediaWiki install is a few MB and one database).
pub const KEEP: usize = 16;
const READY: &str = ".farm-installed";

#[derive(Debug)]
pub struct Installs {
    root: PathBuf,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Where one install lives.
#[derive(Debug, Clone)]
pub struct InstallDir {
    pub dir: PathBuf,
    /// `FARM_INSTALL_DIR`.
    pub files: PathBuf,
    /// The install's SQLite directory (the template of each task's).
    pub sqlite: PathBuf,
    /// The install's database on a server (the template of each task's).
    pub database: String,
}

impl Installs {
    pub fn new(work_dir: &Path) -> Installs {
        Installs {
            root: work_dir.join("installs"),
            locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self, install: &Install) -> InstallDir {
        let dir = self.root.join(&install.key);
        InstallDir {
            files: dir.join("files"),
            sqlite: dir.join("db"),
            database: database_name("i", &install.key),
            dir,
        }
    }

    /// Held while an install is checked and made: one build per key at a time.
    pub async fn lock(&self, install: &Install) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().expect("install locks");
            locks.entry(install.key.clone()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Whether the install is complete; touches it (for eviction) when it is.
    pub fn is_ready(&self, dir: &InstallDir) -> bool {
        let marker = dir.dir.join(READY);
        if !marker.is_file() {
            return false;
        }
        if let Ok(f) = std::fs::File::options().append(true).open(&marker) {
            let _ = f.set_modified(SystemTime::now());
        }
        true
    }

    /// Empties the install's directories for a fresh build.
    pub fn reset(&self, dir: &InstallDir) -> Result<(), AgentError> {
        let _ = std::fs::remove_dir_all(&dir.dir);
        for d in [&dir.files, &dir.sqlite] {
            std::fs::create_dir_all(d).map_err(AgentError::io("create", d))?;
        }
        Ok(())
    }

    /// Marks the install complete, naming its service so eviction can drop its
    /// database.
    pub fn mark_ready(&self, dir: &InstallDir, service: Option<Service>) -> Result<(), AgentError> {
        let text = service.map(|s| s.as_str()).unwrap_or("");
        let ready = dir.dir.join(READY);
        std::fs::write(&ready, format!("{text}\n")).map_err(AgentError::io("mark the install complete in", &ready))
    }

    /// Removes the least recently used complete installs beyond [`KEEP`] (never
    /// `keep`), returning the databases to drop.
    pub fn evict(&self, keep: &Install) -> Vec<(Service, String)> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut ready: Vec<(SystemTime, String, Option<Service>)> = entries
            .flatten()
            .filter_map(|e| {
                let key = e.file_name().to_str()?.to_string();
                let marker = e.path().join(READY);
                let used = marker.metadata().ok()?.modified().ok()?;
                let service = std::fs::read_to_string(&marker)
                    .ok()
                    .and_then(|t| Service::parse(t.trim()));
                Some((used, key, service))
            })
            .filter(|(_, key, _)| *key != keep.key)
            .collect();
        if ready.len() < KEEP {
            return Vec::new();
        }
        ready.sort();
        let excess = ready.len() + 1 - KEEP;
        let mut dropped = Vec::new();
        for (_, key, service) in ready.into_iter().take(excess) {
            // Held installs are in use by a task right now: leave them.
            let busy = self
                .locks
                .lock()
                .expect("install locks")
                .get(&key)
                .is_some_and(|l| l.try_lock().is_err());
            if busy {
                continue;
            }
            let _ = std::fs::remove_dir_all(self.root.join(&key));
            if let Some(s) = service.filter(|s| *s != Service::Sqlite) {
                dropped.push((s, database_name("i", &key)));
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(key: &str) -> Install {
        Install {
            command: "true".into(),
            key: key.into(),
        }
    }

    #[tokio::test]
    async fn an_install_is_ready_only_once_marked_and_old_ones_are_evicted() {
        let tmp = tempfile::tempdir().unwrap();
        let installs = Installs::new(tmp.path());
        let a = install("aaaa");
        let dir = installs.dir(&a);
        assert!(!installs.is_ready(&dir));
        installs.reset(&dir).unwrap();
        assert!(dir.files.is_dir() && dir.sqlite.is_dir());
        assert!(!installs.is_ready(&dir), "a directory alone is not an install");
        installs.mark_ready(&dir, Some(Service::Postgres)).unwrap();
        assert!(installs.is_ready(&dir));

        let mut keys = Vec::new();
        for n in 0..KEEP + 2 {
            let i = install(&format!("k{n:03}"));
            let d = installs.dir(&i);
            installs.reset(&d).unwrap();
            installs.mark_ready(&d, Some(Service::Mysql)).unwrap();
            keys.push(i);
        }
        let newest = keys.last().unwrap();
        let dropped = installs.evict(newest);
        // KEEP + 3 complete installs: all but KEEP go, the oldest first ("aaaa").
        assert_eq!(dropped.len(), 3, "{dropped:?}");
        assert_eq!(dropped[0], (Service::Postgres, database_name("i", "aaaa")));
        assert!(!dir.dir.exists());
        assert!(installs.is_ready(&installs.dir(newest)));
    }
}
