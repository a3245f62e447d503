//! PHPUnit workers: bootstrap paid once per slot, not once per shard
//! (../shared/DESIGN.md, "Running PHPUnit at MediaWiki scale").
//!
//! A worker is the stage's own `phpunit` command, started in the stage's executor
//! (its sandbox or container, cgroup and limits) with a configuration whose bootstrap
//! is the farm's `FarmWorker.php`: it loads the stage's bootstrap (MediaWiki's) once
//! and then, for each shard sent over its unix socket, forks a child that returns into
//! PHPUnit and runs that shard's suite. A child starts from the state every fresh
//! `phpunit` has after its bootstrap, so per-test isolation is MediaWiki's own, as in
//! a serial run; what a shard no longer pays is PHP's start, PHPUnit's and the
//! bootstrap (0.24 s a process on the kit's core:unit).
//!
//! Workers are kept per key (everything that shapes a bootstrap: the tree, the stage's
//! PHPUnit invocation, its environment, runtime and limits, its install) and serve one
//! shard at a time; a slot takes an idle one or starts one. A worker ends by itself
//! after [`IDLE`] without work, and is killed when a shard it runs times out or is
//! stopped (the next shard starts a fresh one). A shard's output reaches the task log
//! through a FIFO the agent reads into the capped log, as a command's pipe does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testfarm_shared::task::{ExitKind, Usage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::AgentError;
use crate::executor::{infrastructure, BoxFuture, ProcessOutcome};
use crate::log_cap::CappedLog;

/// How long a worker waits for its next shard before it exits.
pub const IDLE: Duration = Duration::from_secs(120);
/// The socket a worker listens on, in its directory.
const SOCKET: &str = "worker.sock";
/// A shard's output, in its directory: a FIFO the agent drains into the task log.
pub const SHARD_OUTPUT: &str = "output.log";
/// How long a shard's output may trail its process's end (a child it left behind).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// What identifies the workers that may serve a shard: the hash of everything that
/// shapes a bootstrapped PHPUnit (see [`Workers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkerKey(u64);

impl WorkerKey {
    pub fn of(parts: &impl serde::Serialize) -> WorkerKey {
        let text = serde_json::to_string(parts).unwrap_or_default();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        WorkerKey(h.finish())
    }
}

/// A worker process and how to reach it.
pub struct Worker {
    pub name: String,
    pub dir: PathBuf,
    key: WorkerKey,
    socket: PathBuf,
    /// Kills the worker's process (its executor's stop).
    stop: CancellationToken,
    /// Some(how it ended) once the worker's process is gone.
    ended: watch::Receiver<Option<String>>,
    /// Shards it has run.
    pub served: u64,
}

/// This agent's workers: idle ones by key, and keys whose worker would not start.
pub struct Workers {
    dir: PathBuf,
    idle: Mutex<HashMap<WorkerKey, Vec<Worker>>>,
    broken: Mutex<HashSet<WorkerKey>>,
    next: AtomicU64,
    all: CancellationToken,
}

/// Why a worker could not serve: the shard then runs in a process of its own.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the PHPUnit worker ended before it listened ({0})")]
    EndedAtStart(String),
    #[error("cannot prepare the PHPUnit worker: {0}")]
    Prepare(#[from] AgentError),
}

/// What the runner gives [`Workers::start`]: the worker's process, run to its end in
/// the stage's executor (its services released after), once the worker's files are
/// in `dir`.
pub type WorkerProcess = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ProcessOutcome> + Send>;

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Workers {
    pub fn new(work_dir: &Path) -> Workers {
        Workers {
            dir: work_dir.join("workers"),
            idle: Mutex::new(HashMap::new()),
            broken: Mutex::new(HashSet::new()),
            next: AtomicU64::new(1),
            all: CancellationToken::new(),
        }
    }

    /// Whether a worker of `key` failed to start here before (its shards then run in
    /// processes of their own, without trying again).
    pub fn is_broken(&self, key: WorkerKey) -> bool {
        self.broken.lock().expect("workers lock").contains(&key)
    }

    /// An idle worker of `key` whose process is still there.
    pub fn take(&self, key: WorkerKey) -> Option<Worker> {
        let mut idle = self.idle.lock().expect("workers lock");
        let list = idle.get_mut(&key)?;
        while let Some(w) = list.pop() {
            if w.ended.borrow().is_none() {
                return Some(w);
            }
        }
        None
    }

    /// Back to the pool after a shard, unless its process has ended.
    pub fn give_back(&self, worker: Worker) {
        if worker.ended.borrow().is_some() {
            return;
        }
        let mut idle = self.idle.lock().expect("workers lock");
        let list = idle.entry(worker.key).or_default();
        list.retain(|w| w.ended.borrow().is_none());
        list.push(worker);
    }

    /// A new worker's directory (made, empty) and name.
    pub fn new_dir(&self) -> Result<(String, PathBuf), AgentError> {
        let name = format!("w{}-{}", std::process::id(), self.next.fetch_add(1, Ordering::Relaxed));
        let dir = self.dir.join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(AgentError::io("create the PHPUnit worker's directory", &dir))?;
        Ok((name, dir))
    }

    /// Starts the worker's process and waits until it listens (its bootstrap done), or
    /// until `timeout` or `stop`.
    pub async fn start(
        &self,
        key: WorkerKey,
        name: String,
        dir: PathBuf,
        process: WorkerProcess,
        timeout: Duration,
        stop: &CancellationToken,
    ) -> Result<Worker, WorkerError> {
        let socket = dir.join(SOCKET);
        let own_stop = self.all.child_token();
        let (tx, ended) = watch::channel(None);
        let run = process(own_stop.clone());
        let worker_dir = dir.clone();
        tokio::spawn(async move {
            let outcome = run.await;
            let _ = tx.send(Some(outcome.exit.describe()));
            let _ = std::fs::remove_dir_all(&worker_dir);
        });
        let worker = Worker {
            name,
            dir,
            key,
            socket,
            stop: own_stop,
            ended,
            served: 0,
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(how) = worker.ended.borrow().clone() {
                self.broken.lock().expect("workers lock").insert(key);
                return Err(WorkerError::EndedAtStart(how));
            }
            if UnixStream::connect(&worker.socket).await.is_ok() {
                return Ok(worker);
            }
            if stop.is_cancelled() || Instant::now() > deadline {
                worker.stop.cancel();
                return Err(WorkerError::EndedAtStart(if stop.is_cancelled() {
                    crate::process::STOPPED.into()
                } else {
                    format!("it did not listen within {}s", timeout.as_secs())
                }));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Kills every worker (the agent is stopping).
    pub fn shutdown(&self) {
        self.all.cancel();
        self.idle.lock().expect("workers lock").clear();
    }
}

/// A shard for a worker: its directory (the manifest in it, results written there),
/// the variables that differ from the worker's (the run's and task's ids), its log.
pub struct ShardRequest<'a> {
    pub dir: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub log: &'a Path,
    pub log_cap: u64,
    pub timeout: Duration,
    pub stop: &'a CancellationToken,
}

#[derive(serde::Serialize)]
struct Request<'a> {
    dir: String,
    env: &'a BTreeMap<String, String>,
}

impl Worker {
    /// Runs one shard in a child of the worker. Never fails: what keeps the shard from
    /// running is an infrastructure outcome, and a worker that misbehaved is killed
    /// (it is then not given back).
    pub async fn run_shard(&mut self, shard: ShardRequest<'_>) -> ProcessOutcome {
        let started = Instant::now();
        let output = shard.dir.join(SHARD_OUTPUT);
        if let Err(e) = make_fifo(&output) {
            return infrastructure(e.to_string(), 0.0);
        }
        // Drained from before the child can open it, so its open never blocks.
        let pump = drain_into_log(output.clone(), shard.log.to_path_buf(), shard.log_cap);
        let outcome = self.converse(&shard, started).await;
        // The child's end closed the FIFO; a process it left holding it gets a grace.
        let output_ended = finish_pump(pump, &output).await;
        self.served += 1;
        // A process the shard left behind still holds its output (and the drain's
        // thread with it): the worker goes, and that process with it.
        if !output_ended || !matches!(outcome.exit, ExitKind::Exited { .. } | ExitKind::Signalled { .. }) {
            self.stop.cancel();
        }
        outcome
    }

    async fn converse(&mut self, shard: &ShardRequest<'_>, started: Instant) -> ProcessOutcome {
        let deadline = tokio::time::Instant::now() + shard.timeout;
        let mut ended = self.ended.clone();
        let talk = async {
            let mut conn = UnixStream::connect(&self.socket)
                .await
                .map_err(|e| format!("cannot reach the PHPUnit worker {}: {e}", self.name))?;
            let request = serde_json::to_string(&Request {
                dir: shard.dir.display().to_string(),
                env: shard.env,
            })
            .map_err(|e| e.to_string())?;
            conn.write_all(format!("{request}\n").as_bytes())
                .await
                .map_err(|e| format!("cannot send the shard to the PHPUnit worker {}: {e}", self.name))?;
            let mut lines = BufReader::new(conn).lines();
            let first = lines.next_line().await.ok().flatten().unwrap_or_default();
            if !first.starts_with("started ") {
                return Err(format!(
                    "the PHPUnit worker {} did not take the shard: {first:?}",
                    self.name
                ));
            }
            let running = Instant::now();
            let last = lines.next_line().await.ok().flatten().unwrap_or_default();
            Ok((running, last))
        };
        let result = tokio::select! {
            r = talk => r,
            _ = tokio::time::sleep_until(deadline) => {
                self.stop.cancel();
                return ProcessOutcome {
                    exit: ExitKind::TimedOut,
                    start_secs: 0.0,
                    run_secs: started.elapsed().as_secs_f64(),
                    usage: Usage::default(),
                };
            }
            _ = shard.stop.cancelled() => {
                self.stop.cancel();
                return infrastructure(crate::process::STOPPED, started.elapsed().as_secs_f64());
            }
            how = ended.wait_for(|e| e.is_some()) => {
                let how = how.map(|h| h.clone().unwrap_or_default()).unwrap_or_default();
                return infrastructure(format!("the PHPUnit worker {} ended ({how}) while it ran the shard", self.name), started.elapsed().as_secs_f64());
            }
        };
        match result {
            Err(why) => infrastructure(why, started.elapsed().as_secs_f64()),
            Ok((running, last)) => match parse_exit(&last) {
                Some(exit) => ProcessOutcome {
                    exit: exit.kind(),
                    start_secs: (running - started).as_secs_f64(),
                    run_secs: running.elapsed().as_secs_f64(),
                    usage: Usage {
                        cpu_secs: exit.cpu_secs,
                        peak_memory_bytes: exit.peak_rss_kib.saturating_mul(1024),
                        ..Usage::default()
                    },
                },
                None => infrastructure(
                    format!(
                        "the PHPUnit worker {} ended its answer early ({last:?}): it died while the shard ran",
                        self.name
                    ),
                    started.elapsed().as_secs_f64(),
                ),
            },
        }
    }
}

/// The worker's last word on a shard's child: `exit <code> <signal> <cpu> <rss KiB>`.
#[derive(Debug, PartialEq)]
struct ChildExit {
    code: i32,
    signal: i32,
    cpu_secs: f64,
    peak_rss_kib: u64,
}

impl ChildExit {
    fn kind(&self) -> ExitKind {
        if self.signal != 0 {
            ExitKind::Signalled { signal: self.signal }
        } else {
            ExitKind::Exited { code: self.code }
        }
    }
}

fn parse_exit(line: &str) -> Option<ChildExit> {
    let mut words = line.split_whitespace();
    if words.next()? != "exit" {
        return None;
    }
    let code = words.next()?.parse().ok()?;
    let signal = words.next()?.parse().ok()?;
    let cpu_secs: f64 = words.next()?.parse().ok()?;
    let peak_rss_kib = words.next()?.parse().ok()?;
    (cpu_secs.is_finite() && cpu_secs >= 0.0).then_some(ChildExit {
        code,
        signal,
        cpu_secs,
        peak_rss_kib,
    })
}

fn make_fifo(path: &Path) -> Result<(), AgentError> {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(|source| AgentError::Sys {
        call: format!("mkfifo {}", path.display()),
        source,
    })?;
    crate::namespace::give_to_runtime_user(path)
}

/// Copies what the shard writes into the FIFO to the task log, capped, until every
/// writer has closed it. The open blocks until the child opens its end, which is why
/// this runs on a thread of its own.
fn drain_into_log(fifo: PathBuf, log: PathBuf, cap: u64) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let Ok(mut input) = std::fs::File::open(&fifo) else {
            return;
        };
        let Ok(mut out) = CappedLog::open(&log, cap) else {
            return;
        };
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 || out.write(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = out.finish();
    })
}

/// Waits for the drain to see the FIFO's end; a child that never opened it (it died
/// first) is stood in for by opening the write end once, so the drain's open returns.
/// False when the output has not ended within [`OUTPUT_GRACE`].
async fn finish_pump(pump: tokio::task::JoinHandle<()>, fifo: &Path) -> bool {
    let mut pump = pump;
    if tokio::time::timeout(Duration::from_millis(50), &mut pump).await.is_ok() {
        return true;
    }
    let fifo_path = fifo.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || {
        // Non-blocking: succeeds only while the drain waits in its open.
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo_path);
    })
    .await;
    tokio::time::timeout(OUTPUT_GRACE, &mut pump).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_line_is_read_strictly() {
        assert_eq!(
            parse_exit("exit 1 0 2.500000 90492"),
            Some(ChildExit {
                code: 1,
                signal: 0,
                cpu_secs: 2.5,
                peak_rss_kib: 90492
            })
        );
        assert_eq!(
            parse_exit("exit -1 9 0.1 10").map(|e| e.kind()),
            Some(ExitKind::Signalled { signal: 9 })
        );
        assert_eq!(parse_exit("exit 0 0 NaN 10"), None);
        assert_eq!(parse_exit("exit 0 0 -1 10"), None);
        assert_eq!(parse_exit("started 12"), None);
        assert_eq!(parse_exit(""), None);
        assert_eq!(parse_exit("exit 0 0"), None);
    }

    #[test]
    fn keys_differ_with_what_shapes_a_bootstrap() {
        let a = WorkerKey::of(&("stage", BTreeMap::from([("A", "1")])));
        assert_eq!(a, WorkerKey::of(&("stage", BTreeMap::from([("A", "1")]))));
        assert_ne!(a, WorkerKey::of(&("stage", BTreeMap::from([("A", "2")]))));
    }
}
