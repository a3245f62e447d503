//! Task logs as agents send them while their tasks run (`farm logs RUN TASK -f`).
//!
//! Kept by the leader on its own disk, not replicated: a log is bytes for people to
//! read, large and of no use to scheduling, so it does not go through raft. After a
//! leader change the new leader answers the agent with `have: 0` and the agent sends
//! the log again from its start (the agent keeps every byte on its disk), so a
//! follower of a running task loses nothing; the log of a task that ended before the
//! change stays with the member that was leader then (and on the agent).
//!
//! One file per task attempt, `logs/TASK.aN.log`, capped at [`LogConfig::cap`] bytes
//! (what comes past the cap is counted, dropped and said so); `logs/TASK.aN.done`
//! marks a complete log and holds the dropped count. The oldest logs are deleted past
//! [`LogConfig::max_logs`] files.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Bytes kept per task attempt.
    pub cap: u64,
    /// Logs kept in all; the oldest go first.
    pub max_logs: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            cap: 16 << 20,
            max_logs: 20_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("task id `{0}` is not one the farm makes (letters, digits, `.`, `-`, `_`; at most 200)")]
    BadTask(String),
    #[error("attempt 0: attempts count from 1")]
    NoAttempt,
    #[error("log {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where a log stands: what watchers wait on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogState {
    /// Bytes in the file.
    pub stored: u64,
    /// Bytes the agent sent past the cap.
    pub dropped: u64,
    /// The agent sent the log's end.
    pub done: bool,
}

impl LogState {
    /// Bytes of the log received, kept or not: where the agent's next chunk starts.
    pub fn have(&self) -> u64 {
        self.stored + self.dropped
    }
}

pub struct Logs {
    dir: PathBuf,
    config: LogConfig,
    /// Logs being written, each with the state its watchers follow. A log leaves the
    /// map when done: from then on its files say all there is.
    open: Mutex<HashMap<String, Arc<watch::Sender<LogState>>>>,
    /// Log files made since the last look at how many there are.
    made: Mutex<usize>,
}

/// A log of a task attempt, as the file names it.
fn key(task_id: &str, attempt: u32) -> Result<String, LogError> {
    let ok = !task_id.is_empty()
        && task_id.len() <= 200
        && !task_id.starts_with('.')
        && task_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        return Err(LogError::BadTask(task_id.chars().take(200).collect()));
    }
    if attempt == 0 {
        return Err(LogError::NoAttempt);
    }
    Ok(format!("{task_id}.a{attempt}"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Logs {
    pub fn open(dir: PathBuf, config: LogConfig) -> Result<Logs, LogError> {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Logs {
            dir,
            config,
            open: Mutex::new(HashMap::new()),
            made: Mutex::new(0),
        })
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{key}.log")),
            self.dir.join(format!("{key}.done")),
        )
    }

    /// The state of a log as its files tell it (None: no log).
    fn on_disk(&self, key: &str) -> Option<LogState> {
        let (log, done) = self.paths(key);
        let stored = std::fs::metadata(&log).ok()?.len();
        let dropped = std::fs::read_to_string(&done).ok();
        Some(LogState {
            stored,
            done: dropped.is_some(),
            dropped: dropped.and_then(|d| d.trim().parse().ok()).unwrap_or(0),
        })
    }

    /// The watch of a log, made (with its state from disk) if it is not open.
    fn sender(&self, key: &str) -> Arc<watch::Sender<LogState>> {
        let mut open = self.open.lock().expect("logs lock");
        open.entry(key.to_string())
            .or_insert_with(|| Arc::new(watch::Sender::new(self.on_disk(key).unwrap_or_default())))
            .clone()
    }

    /// Appends a chunk that starts at `offset` of the log; answers the bytes held
    /// after it. A chunk past what is held adds nothing (the agent sends from the
    /// answer); the part of a chunk already held is skipped.
    pub fn append(&self, task_id: &str, attempt: u32, offset: u64, data: &[u8], done: bool) -> Result<u64, LogError> {
        let key = key(task_id, attempt)?;
        let sender = self.sender(&key);
        let (log, done_path) = self.paths(&key);
        let mut state = *sender.borrow();
        if state.done || offset > state.have() {
            return Ok(state.have());
        }
        let skip = (state.have() - offset).min(data.len() as u64) as usize;
        let new = &data[skip..];
        if !new.is_empty() {
            let room = self.config.cap.saturating_sub(state.stored).min(new.len() as u64) as usize;
            if room > 0 {
                if state.stored == 0 {
                    self.made_one();
                }
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .map_err(io(&log))?;
                file.write_all(&new[..room]).map_err(io(&log))?;
            }
            state.stored += room as u64;
            state.dropped += (new.len() - room) as u64;
        }
        if done {
            if state.stored == 0 {
                // An empty log is a log all the same: its end is known.
                std::fs::File::create(&log).map_err(io(&log))?;
            }
            std::fs::write(&done_path, state.dropped.to_string()).map_err(io(&done_path))?;
            state.done = true;
            self.open.lock().expect("logs lock").remove(&key);
        }
        sender.send_replace(state);
        Ok(state.have())
    }

    /// Up to `max` bytes of the log from `offset`, and its state; None when this
    /// coordinator holds no log of the attempt.
    pub fn read(
        &self,
        task_id: &str,
        attempt: u32,
        offset: u64,
        max: usize,
    ) -> Result<Option<(Vec<u8>, LogState)>, LogError> {
        let key = key(task_id, attempt)?;
        let state = match self.open.lock().expect("logs lock").get(&key) {
            Some(sender) => *sender.borrow(),
            None => match self.on_disk(&key) {
                Some(state) => state,
                None => return Ok(None),
            },
        };
        let (log, _) = self.paths(&key);
        let mut data = Vec::new();
        if offset < state.stored {
            use std::io::{Read, Seek, SeekFrom};
            let mut file = std::fs::File::open(&log).map_err(io(&log))?;
            file.seek(SeekFrom::Start(offset)).map_err(io(&log))?;
            let want = (state.stored - offset).min(max as u64);
            file.take(want).read_to_end(&mut data).map_err(io(&log))?;
        }
        Ok(Some((data, state)))
    }

    /// Changes of the log's state, for a follower (made open if it was not).
    pub fn watch(&self, task_id: &str, attempt: u32) -> Result<watch::Receiver<LogState>, LogError> {
        let key = key(task_id, attempt)?;
        Ok(self.sender(&key).subscribe())
    }

    /// A follower of a log that was never written is gone: the log leaves the open
    /// map unless another follower or a writer holds it (else every `farm logs -f`
    /// of a task that never ran here would stay in memory for good). Called by the
    /// follower itself, so one receiver, its own, is still counted.
    pub fn unwatch(&self, task_id: &str, attempt: u32) {
        let Ok(key) = key(task_id, attempt) else {
            return;
        };
        let mut open = self.open.lock().expect("logs lock");
        let unused = open.get(&key).is_some_and(|sender| {
            let state = *sender.borrow();
            state.stored == 0 && !state.done && sender.receiver_count() <= 1
        });
        if unused {
            open.remove(&key);
        }
    }

    /// Counts a new log file; every so often deletes the oldest past the limit.
    fn made_one(&self) {
        let mut made = self.made.lock().expect("logs lock");
        *made += 1;
        if *made < (self.config.max_logs / 10).max(1) {
            return;
        }
        *made = 0;
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut logs: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if logs.len() <= self.config.max_logs {
            return;
        }
        logs.sort();
        let excess = logs.len() - self.config.max_logs;
        for (_, path) in logs.into_iter().take(excess) {
            let _ = std::fs::remove_file(path.with_extension("done"));
            let _ = std::fs::remove_file(&path);
        }
        tracing::info!(deleted = excess, "task logs past the limit deleted, oldest first");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(cap: u64, max_logs: usize) -> (tempfile::TempDir, Logs) {
        let dir = tempfile::tempdir().unwrap();
        let logs = Logs::open(dir.path().join("logs"), LogConfig { cap, max_logs }).unwrap();
        (dir, logs)
    }

    fn text(logs: &Logs, task: &str, attempt: u32) -> (String, LogState) {
        let (data, state) = logs.read(task, attempt, 0, usize::MAX).unwrap().unwrap();
        (String::from_utf8(data).unwrap(), state)
    }

    #[test]
    fn chunks_join_in_order_and_a_resent_or_early_chunk_changes_nothing() {
        let (_d, logs) = logs(1 << 20, 100);
        assert_eq!(logs.append("r1.j0.s0", 1, 0, b"one\n", false).unwrap(), 4);
        assert_eq!(
            logs.append("r1.j0.s0", 1, 9, b"late\n", false).unwrap(),
            4,
            "a gap: send from 4"
        );
        assert_eq!(
            logs.append("r1.j0.s0", 1, 0, b"one\ntwo\n", false).unwrap(),
            8,
            "resent from 0"
        );
        assert_eq!(logs.append("r1.j0.s0", 1, 8, b"", true).unwrap(), 8);
        assert_eq!(logs.append("r1.j0.s0", 1, 8, b"after the end\n", false).unwrap(), 8);
        let (log, state) = text(&logs, "r1.j0.s0", 1);
        assert_eq!(log, "one\ntwo\n");
        assert!(state.done);
        assert!(logs.read("r1.j0.s0", 2, 0, 10).unwrap().is_none(), "another attempt");
        let (tail, _) = logs.read("r1.j0.s0", 1, 4, 2).unwrap().unwrap();
        assert_eq!(tail, b"tw");
    }

    #[test]
    fn past_the_cap_bytes_are_counted_not_kept_and_the_end_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { cap: 5, max_logs: 100 };
        let logs = Logs::open(dir.path().to_path_buf(), config.clone()).unwrap();
        assert_eq!(logs.append("t", 1, 0, b"0123456789", false).unwrap(), 10);
        logs.append("t", 1, 10, b"ab", true).unwrap();
        drop(logs);
        let logs = Logs::open(dir.path().to_path_buf(), config).unwrap();
        let (log, state) = text(&logs, "t", 1);
        assert_eq!(log, "01234");
        assert_eq!(
            state,
            LogState {
                stored: 5,
                dropped: 7,
                done: true
            }
        );
    }

    #[test]
    fn a_task_id_that_could_leave_the_directory_is_refused() {
        let (_d, logs) = logs(100, 100);
        for bad in ["../x", "a/b", "", ".hidden", "a b"] {
            assert!(
                matches!(logs.append(bad, 1, 0, b"x", false), Err(LogError::BadTask(_))),
                "{bad}"
            );
        }
        assert!(matches!(logs.append("t", 0, 0, b"x", false), Err(LogError::NoAttempt)));
    }

    #[test]
    fn a_follower_sees_each_append_and_the_end() {
        let (_d, logs) = logs(100, 100);
        let mut rx = logs.watch("t", 1).unwrap();
        logs.append("t", 1, 0, b"x", false).unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().stored, 1);
        logs.append("t", 1, 1, b"", true).unwrap();
        assert!(rx.borrow_and_update().done);
    }

    #[test]
    fn a_follower_of_a_log_never_written_leaves_nothing_behind() {
        let (_d, logs) = logs(100, 100);
        let open = |logs: &Logs| logs.open.lock().unwrap().len();
        let (first, second) = (logs.watch("t", 1).unwrap(), logs.watch("t", 1).unwrap());
        assert_eq!(open(&logs), 1);
        logs.unwatch("t", 1);
        assert_eq!(open(&logs), 1, "another follower still waits");
        drop(first);
        logs.unwatch("t", 1);
        assert_eq!(open(&logs), 0, "the last follower gone, nothing written: forgotten");
        drop(second);
        // A log with something in it stays open for its writer.
        let _rx = logs.watch("w", 1).unwrap();
        logs.append("w", 1, 0, b"x", false).unwrap();
        logs.unwatch("w", 1);
        assert_eq!(open(&logs), 1);
    }

    #[test]
    fn the_oldest_logs_go_past_the_limit() {
        let (_d, logs) = logs(100, 10);
        for i in 0..25 {
            logs.append(&format!("t{i}"), 1, 0, b"x", true).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let kept: Vec<_> = std::fs::read_dir(&logs.dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .collect();
        assert!(kept.len() <= 11, "{} logs kept", kept.len());
        assert!(logs.read("t24", 1, 0, 10).unwrap().is_some(), "the newest stays");
        assert!(logs.read("t0", 1, 0, 10).unwrap().is_none(), "the oldest went");
    }
}
