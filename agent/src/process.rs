//! Runs one shell command the way a sandbox would: clean environment, own process
//! group, output appended to a log file, optionally inside a shard's cgroup, killed
//! (with everything it started) at the timeout.
//!
//! The child starts blocked and is moved into the cgroup before it runs any user
//! code: on cgroup v1 earlier memory charges do not move with a process, and children
//! forked before the move would escape the group (DEPENDENCIES.md, "cgroups, learned
//! the hard way"). The handshake, with two close-on-exec pipes:
//!
//! 1. a blocking-pool thread calls `spawn`; the forked child (in `pre_exec`, after
//!    `setpgid`) writes its pid into the *pid* pipe and blocks reading the *go* pipe;
//! 2. the agent reads the pid, adds it to the cgroup, writes one byte to *go*;
//! 3. the child returns from `pre_exec` and execs `/bin/sh -c <command>`.
//!
//! With an [`Isolation`], a second step follows the release: the child enters new
//! namespaces and a root filesystem (a runtime image's, or the host's read-only view;
//! [`crate::namespace`]), forking once more for the PID namespace. The waiter in
//! between is the process the agent sees (same pid, same process group), so the
//! timeout, the process-group kill and the cgroup work unchanged.
//!
//! `spawn` itself only returns once the child has exec'd (std waits for the exec on
//! an internal pipe), which is why it runs on its own thread while the agent does
//! step 2. If the agent cannot add the child to the cgroup it closes *go*
//! unwritten: the child sees end-of-file, fails `pre_exec`, and `spawn` returns an
//! error instead of running the command outside its limits.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use testfarm_shared::task::{ExitKind, Usage};
use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use crate::cgroup::{error_chain, ShardCgroup};
use crate::error::AgentError;
use crate::log_cap::CappedLog;
use crate::namespace::Isolation;

/// The whole environment a command gets, before its own `env` on top.
pub(crate) const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SHELL: &str = "/bin/sh";
/// A shell reports a child killed by SIGKILL as exit status 128 + 9.
const SHELL_SIGKILL_STATUS: i32 = 128 + 9;

/// One command to run.
#[derive(Debug, Clone, Copy)]
pub struct SandboxCommand<'a> {
    /// Run as `/bin/sh -c <command>`.
    pub command: &'a str,
    /// Working directory; also `HOME`.
    pub cwd: &'a Path,
    /// Added on top of a minimal environment (`PATH`, `HOME`, `LANG=C.UTF-8`); the
    /// agent's own environment never reaches the command.
    pub env: &'a BTreeMap<String, String>,
    /// Stdout and stderr are both appended here (created if missing), through the
    /// agent, up to `log_cap` bytes for the whole log ([`crate::log_cap`]).
    pub log: &'a Path,
    pub log_cap: u64,
    /// Measured from the moment the command is released to run.
    pub timeout: Duration,
    /// The shard's cgroup; None: run without limits or accounting.
    pub cgroup: Option<&'a ShardCgroup>,
    /// Namespaces and a runtime image's root filesystem; None: on the host, as the
    /// agent's user, in its own process group only.
    pub isolation: Option<&'a Isolation>,
    /// Cancelled when the coordinator no longer wants the task (its run was
    /// cancelled or ended): the command is killed with everything it started.
    pub stop: Option<&'a CancellationToken>,
}

/// How a command ended, how long its phases took and what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOutcome {
    pub exit: ExitKind,
    /// Spawn → released into the cgroup and running.
    pub start_secs: f64,
    /// Running → exited (or killed).
    pub run_secs: f64,
    pub usage: Usage,
}

/// Why a command that the coordinator stopped ended.
pub const STOPPED: &str = "stopped: the coordinator no longer wants this task (its run was cancelled or ended)";

/// Runs the command to completion, its timeout or its stop. Never fails: a command that cannot
/// be started ends as [`ExitKind::Infrastructure`].
///
/// When the main process ends (by itself or killed at the timeout) its whole process
/// group and cgroup are SIGKILLed, so background children cannot outlive the shard;
/// the exit kind stays what the main process said, except that any OOM kill the kernel
/// counted in the cgroup (or, without that counter, a failed end with the memory
/// limit hit) makes it [`ExitKind::MemoryLimit`].
pub async fn run(cmd: SandboxCommand<'_>) -> ProcessOutcome {
    let spawned_at = Instant::now();
    let started = match start(&cmd).await {
        Ok(started) => started,
        Err(why) => {
            return ProcessOutcome {
                exit: ExitKind::Infrastructure {
                    message: why.to_string(),
                },
                start_secs: spawned_at.elapsed().as_secs_f64(),
                run_secs: 0.0,
                usage: usage_of(cmd.cgroup),
            }
        }
    };
    let Started {
        mut child,
        pgid,
        released,
        log,
    } = started;

    let deadline = tokio::time::Instant::from_std(released) + cmd.timeout;
    let mut peak_pids = 0;
    let stopped = async {
        match cmd.stop {
            Some(stop) => stop.cancelled().await,
            None => std::future::pending().await,
        }
    };
    // None: stopped (the coordinator no longer wants the task).
    let waited = tokio::select! {
        waited = tokio::time::timeout_at(deadline, wait_sampling(&mut child, cmd.cgroup, &mut peak_pids)) => Some(waited),
        () = stopped => None,
    };
    let exit = match waited {
        Some(Ok(Ok(status))) => {
            kill_everything(pgid, cmd.cgroup);
            exit_kind(status)
        }
        Some(Ok(Err(e))) => {
            kill_everything(pgid, cmd.cgroup);
            let _ = child.kill().await;
            ExitKind::Infrastructure {
                message: format!("cannot wait for `{SHELL}` (pid {pgid}): {e}"),
            }
        }
        Some(Err(_elapsed)) => {
            kill_everything(pgid, cmd.cgroup);
            // SIGKILLed with its group: reap it (returns at once).
            let _ = child.wait().await;
            ExitKind::TimedOut
        }
        None => {
            kill_everything(pgid, cmd.cgroup);
            let _ = child.wait().await;
            ExitKind::Infrastructure {
                message: STOPPED.into(),
            }
        }
    };
    let run_secs = released.elapsed().as_secs_f64();
    // Everything that could write is dead: the log reaches its end at once (bounded,
    // for a writer that escaped both the group and the cgroup).
    if tokio::time::timeout(Duration::from_secs(2), log).await.is_err() {
        tracing::warn!(log = %cmd.log.display(), "the command's output is still open after it ended; the log may be cut");
    }

    let cgroup_usage = cmd.cgroup.map(ShardCgroup::usage);
    let exit = match (exit, &cgroup_usage) {
        (exit @ (ExitKind::Exited { .. } | ExitKind::Signalled { .. }), Some(u)) => {
            let sigkilled = matches!(
                exit,
                ExitKind::Signalled { signal: 9 }
                    | ExitKind::Exited {
                        code: SHELL_SIGKILL_STATUS
                    }
            );
            let failed = !matches!(exit, ExitKind::Exited { code: 0 });
            // The kernel's own count of OOM kills in this group is proof enough, even
            // when the command survived the loss of a child and exited 0: the test did
            // not run as written. Without that counter, only a failed exit counts.
            if u.oom_kills > 0 || (failed && u.hit_memory_limit(sigkilled)) {
                ExitKind::MemoryLimit
            } else {
                exit
            }
        }
        (exit, _) => exit,
    };
    let mut usage = cgroup_usage.map_or_else(Usage::default, |u| u.into());
    // The main process existed, even if it ended before the first sample.
    usage.peak_pids = usage.peak_pids.max(peak_pids).max(u64::from(usage.cgroup));

    ProcessOutcome {
        exit,
        start_secs: released.duration_since(spawned_at).as_secs_f64(),
        run_secs,
        usage,
    }
}

/// How often the cgroup's process count is sampled while a command runs (cgroup v1
/// has no `pids.peak`).
pub const PIDS_SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Waits for the child, sampling the cgroup's process count meanwhile into `peak`.
async fn wait_sampling(child: &mut Child, cgroup: Option<&ShardCgroup>, peak: &mut u64) -> io::Result<ExitStatus> {
    let Some(cgroup) = cgroup else {
        return child.wait().await;
    };
    let mut tick = tokio::time::interval(PIDS_SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let wait = child.wait();
    tokio::pin!(wait);
    loop {
        tokio::select! {
            status = &mut wait => return status,
            _ = tick.tick() => *peak = (*peak).max(cgroup.pids_current().unwrap_or(0)),
        }
    }
}

/// A child that passed the handshake and is running the command.
struct Started {
    child: Child,
    /// The child's pid, which is also its process group id.
    pgid: Pid,
    /// When it was released to exec the command.
    released: Instant,
    /// Copies the command's output into the capped log; ends at end of output.
    log: tokio::task::JoinHandle<()>,
}

/// Spawns the child blocked, moves it into the cgroup, releases it. Err: why it could
/// not be started (for [`ExitKind::Infrastructure`]).
async fn start(cmd: &SandboxCommand<'_>) -> Result<Started, AgentError> {
    let capped = CappedLog::open(cmd.log, cmd.log_cap).map_err(AgentError::io("open the log", cmd.log))?;
    // Close-on-exec everywhere: the command must not inherit either pipe (its
    // stdout and stderr are dup2'ed copies of the output pipe, which exec keeps).
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| AgentError::Sys {
            call: "pipe2".into(),
            source,
        })
    };
    let (output_rx, output_tx) = pipe()?;
    let output_tx_err = output_tx.try_clone().map_err(|source| AgentError::Os {
        what: "the output pipe".into(),
        source,
    })?;
    let output_rx = tokio::net::unix::pipe::Receiver::from_owned_fd(output_rx).map_err(|source| AgentError::Os {
        what: "the output pipe".into(),
        source,
    })?;
    let (pid_rx, pid_tx) = pipe()?;
    let (go_rx, go_tx) = pipe()?;
    let mut pid_rx = tokio::net::unix::pipe::Receiver::from_owned_fd(pid_rx).map_err(|source| AgentError::Os {
        what: "the start pipe".into(),
        source,
    })?;

    let mut command = tokio::process::Command::new(SHELL);
    command
        .arg("-c")
        .arg(cmd.command)
        .current_dir(cmd.cwd)
        .env_clear()
        .env("PATH", BASE_PATH)
        .env("HOME", cmd.cwd)
        .env("LANG", "C.UTF-8")
        .envs(cmd.env)
        .stdin(Stdio::null())
        .stdout(Stdio::from(output_tx))
        .stderr(Stdio::from(output_tx_err))
        .process_group(0)
        .kill_on_drop(true);
    let child_ends = (pid_tx.as_raw_fd(), go_rx.as_raw_fd());
    let parent_ends = [pid_rx.as_raw_fd(), go_tx.as_raw_fd()];
    // SAFETY: the closure runs in the forked child and only makes async-signal-safe
    // system calls (close, getpid, write, read) on descriptors that stay open in the
    // parent until `spawn` has returned (the thread below owns the child's ends,
    // this function the parent's ends); it allocates nothing.
    unsafe {
        command.pre_exec(move || wait_for_release(child_ends.0, child_ends.1, parent_ends));
    }
    if let Some(isolation) = cmd.isolation {
        let plan = isolation.plan(cmd.cwd).map_err(|source| AgentError::Os {
            what: "cannot prepare the sandbox's namespaces".into(),
            source,
        })?;
        // SAFETY: `enter` makes system calls on the strings prepared in `plan` (moved
        // into the closure, alive until exec) and allocates nothing; see namespace.rs.
        unsafe {
            command.pre_exec(move || crate::namespace::enter(&plan));
        }
    }

    let spawner = tokio::task::spawn_blocking(move || {
        let spawned = command.spawn();
        // Only now: the fork has happened. The parent's copies of the child's ends
        // must go, so that a child that dies early reads as end-of-file on `pid`.
        drop(pid_tx);
        drop(go_rx);
        spawned
    });
    let spawn_error = |spawner: tokio::task::JoinHandle<io::Result<Child>>| async move {
        match spawner.await {
            Ok(Ok(mut child)) => {
                let _ = child.kill().await;
                AgentError::Failed {
                    program: SHELL.into(),
                    status: "started".into(),
                    output: "no release handshake from the child".into(),
                }
            }
            Ok(Err(e)) => start_error(cmd, e),
            Err(e) => spawn_thread_failed(e),
        }
    };

    let mut pid_bytes = [0u8; 4];
    if pid_rx.read_exact(&mut pid_bytes).await.is_err() {
        drop(go_tx);
        return Err(spawn_error(spawner).await);
    }
    let pid = i32::from_ne_bytes(pid_bytes);

    if let Some(cgroup) = cmd.cgroup {
        let added = u32::try_from(pid)
            .map_err(|_| AgentError::Invalid {
                what: "the child's pid".into(),
                why: format!("{pid} is not a pid"),
            })
            .and_then(|pid| {
                cgroup
                    .add_process(pid)
                    .map_err(|e| AgentError::Cgroup { why: error_chain(&e) })
            });
        if let Err(why) = added {
            // Closing `go` unwritten makes the child fail instead of running.
            drop(go_tx);
            let _ = spawner.await;
            return Err(why);
        }
    }

    let released = nix::unistd::write(&go_tx, &[1]);
    let released_at = Instant::now();
    drop(go_tx);
    if let Err(e) = released {
        let _ = spawner.await;
        return Err(AgentError::Sys {
            call: format!("write the release of child {pid}"),
            source: e,
        });
    }

    match spawner.await {
        Ok(Ok(child)) => Ok(Started {
            child,
            pgid: Pid::from_raw(pid),
            released: released_at,
            log: tokio::spawn(copy_output(output_rx, capped)),
        }),
        Ok(Err(e)) => Err(start_error(cmd, e)),
        Err(e) => Err(spawn_thread_failed(e)),
    }
}

fn start_error(cmd: &SandboxCommand<'_>, source: io::Error) -> AgentError {
    let program = match cmd.isolation {
        None => format!("`{SHELL}` in {}", cmd.cwd.display()),
        Some(iso) => format!(
            "`{SHELL}` in {} inside {} (the task log names the step)",
            cmd.cwd.display(),
            iso.describe()
        ),
    };
    AgentError::Spawn { program, source }
}

fn spawn_thread_failed(e: tokio::task::JoinError) -> AgentError {
    AgentError::Os {
        what: format!("cannot start `{SHELL}`: the spawning thread failed"),
        source: io::Error::other(e.to_string()),
    }
}

/// In the forked child, before exec: report our pid, then block until the agent has
/// put us into the cgroup. Async-signal-safe system calls only, no allocation.
fn wait_for_release(pid_tx: RawFd, go_rx: RawFd, parent_ends: [RawFd; 2]) -> io::Result<()> {
    // Our copy of `go`'s write end would keep us from ever seeing end-of-file.
    for fd in parent_ends {
        let _ = nix::unistd::close(fd);
    }
    // SAFETY: both are open in this process until exec (see the caller).
    let (pid_tx, go_rx) = unsafe { (BorrowedFd::borrow_raw(pid_tx), BorrowedFd::borrow_raw(go_rx)) };

    let pid = nix::unistd::getpid().as_raw().to_ne_bytes();
    // 4 bytes into an empty pipe: written whole (atomic below PIPE_BUF).
    loop {
        match nix::unistd::write(pid_tx, &pid) {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(go_rx, &mut byte) {
            Ok(1) => return Ok(()),
            // The agent gave up on us (cgroup failure, or it went away).
            Ok(_) => return Err(io::Error::from_raw_os_error(Errno::ECANCELED as i32)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Copies a command's output into its capped log until every writer has closed it.
async fn copy_output(mut output: tokio::net::unix::pipe::Receiver, mut log: CappedLog) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match output.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = log.write(&buf[..n]) {
                    tracing::warn!("cannot write the task log: {e}");
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!("cannot read the command's output: {e}");
                break;
            }
        }
    }
    if let Err(e) = log.finish() {
        tracing::warn!("cannot close the task log: {e}");
    }
}

/// SIGKILLs the process group and everything in the cgroup (which catches processes
/// that left the group with setsid/setpgid). Blocks for ~10ms per round while the
/// cgroup empties (see [`ShardCgroup::kill_all`]).
fn kill_everything(pgid: Pid, cgroup: Option<&ShardCgroup>) {
    // ESRCH (nothing left in the group) is the common case after a clean exit.
    let _ = killpg(pgid, Signal::SIGKILL);
    if let Some(cgroup) = cgroup {
        cgroup.kill_all();
    }
}

fn exit_kind(status: ExitStatus) -> ExitKind {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitKind::Exited { code },
        (None, Some(signal)) => ExitKind::Signalled { signal },
        (None, None) => ExitKind::Infrastructure {
            message: format!("unexpected wait status {status:?}"),
        },
    }
}

fn usage_of(cgroup: Option<&ShardCgroup>) -> Usage {
    cgroup.map_or_else(Usage::default, |cg| cg.usage().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::probe;
    use testfarm_shared::config::Limits;

    const PARENT: &str = "testfarm-test";

    struct Fixture {
        dir: tempfile::TempDir,
        env: BTreeMap<String, String>,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                env: BTreeMap::new(),
            }
        }

        fn log(&self) -> std::path::PathBuf {
            self.dir.path().join("out.log")
        }

        fn log_text(&self) -> String {
            std::fs::read_to_string(self.log()).unwrap_or_default()
        }

        async fn run(&self, command: &str, timeout: Duration, cgroup: Option<&ShardCgroup>) -> ProcessOutcome {
            let log = self.log();
            run(SandboxCommand {
                command,
                cwd: self.dir.path(),
                env: &self.env,
                log: &log,
                log_cap: crate::log_cap::DEFAULT_CAP,
                timeout,
                cgroup,
                isolation: None,
                stop: None,
            })
            .await
        }
    }

    /// A fresh cgroup for one test, or None (after a note) when the host has none.
    fn cgroup(test: &str, memory: Option<u64>, pids: Option<u64>) -> Option<ShardCgroup> {
        if let Err(why) = probe(PARENT) {
            eprintln!("skipping the cgroup part of {test}: {why}");
            return None;
        }
        let limits = Limits {
            cpu: None,
            memory_bytes: memory,
            pids,
            timeout: Duration::from_secs(60),
        };
        let name = format!("{test}-{}", std::process::id());
        Some(ShardCgroup::create(PARENT, &name, &limits).unwrap())
    }

    /// Alive: exists and is not a zombie.
    fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            // "pid (comm) S ...": the state follows the last ')'.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        }
    }

    #[tokio::test]
    async fn output_past_the_log_cap_is_cut_to_its_tail_and_named() {
        let f = Fixture::new();
        let log = f.log();
        // 8 MiB of output, background writers included, against a 256 KiB cap.
        let out = run(SandboxCommand {
            command:
                "head -c 4194304 /dev/zero | tr '\\0' x & head -c 4194304 /dev/zero | tr '\\0' y; wait; echo last-line",
            cwd: f.dir.path(),
            env: &f.env,
            log: &log,
            log_cap: 256 << 10,
            timeout: Duration::from_secs(30),
            cgroup: None,
            isolation: None,
            stop: None,
        })
        .await;
        assert_eq!(out.exit, ExitKind::Exited { code: 0 });
        let size = std::fs::metadata(&log).unwrap().len();
        assert!(
            size < (256 << 10) + crate::log_cap::TAIL as u64 + 1024,
            "{size} bytes kept"
        );
        let text = f.log_text();
        assert!(text.contains("last-line\n"), "the end of the output is kept");
        let closing = text.trim_end().lines().last().unwrap();
        assert!(closing.contains("log capped at 256.0 KiB per task"), "{closing}");
        assert!(closing.contains("7.7 MiB of output were left out"), "{closing}");
    }

    #[tokio::test]
    async fn exit_code_and_output_in_log() {
        let f = Fixture::new();
        std::fs::write(f.log(), "earlier line\n").unwrap();
        let out = f
            .run(
                "echo to-stdout; echo to-stderr >&2; exit 3",
                Duration::from_secs(10),
                None,
            )
            .await;
        assert_eq!(out.exit, ExitKind::Exited { code: 3 });
        assert_eq!(out.usage, Usage::default());
        let log = f.log_text();
        assert!(log.starts_with("earlier line\n"), "log not appended: {log}");
        assert!(log.contains("to-stdout\n") && log.contains("to-stderr\n"), "{log}");
    }

    #[tokio::test]
    async fn timeout_kills_background_children() {
        for with_cgroup in [false, true] {
            let f = Fixture::new();
            let cg = if with_cgroup {
                match cgroup("timeout", None, None) {
                    Some(cg) => Some(cg),
                    None => continue,
                }
            } else {
                None
            };
            let out = f
                .run(
                    "sleep 300 & echo $! > pidfile; sleep 300",
                    Duration::from_secs(1),
                    cg.as_ref(),
                )
                .await;
            let left = cg.as_ref().map(|cg| cg.pids());
            if let Some(cg) = cg {
                cg.destroy();
            }

            assert_eq!(out.exit, ExitKind::TimedOut, "cgroup: {with_cgroup}");
            assert!(out.run_secs >= 0.9 && out.run_secs < 3.0, "run_secs {}", out.run_secs);
            assert_eq!(left, with_cgroup.then(Vec::new));
            let pid: i32 = std::fs::read_to_string(f.dir.path().join("pidfile"))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            // SIGKILL is delivered asynchronously; give the kernel a moment.
            let gone_by = Instant::now() + Duration::from_secs(2);
            while alive(pid) && Instant::now() < gone_by {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(!alive(pid), "background sleep {pid} survived the timeout");
        }
    }

    #[tokio::test]
    async fn a_stop_kills_the_command_and_its_background_children_at_once() {
        let f = Fixture::new();
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stopper.cancel();
        });
        let log = f.log();
        let out = run(SandboxCommand {
            command: "sleep 300 & echo $! > pidfile; sleep 300",
            cwd: f.dir.path(),
            env: &f.env,
            log: &log,
            log_cap: crate::log_cap::DEFAULT_CAP,
            timeout: Duration::from_secs(60),
            cgroup: None,
            isolation: None,
            stop: Some(&stop),
        })
        .await;
        assert_eq!(
            out.exit,
            ExitKind::Infrastructure {
                message: STOPPED.into()
            }
        );
        assert!(out.run_secs < 5.0, "stopped after {}s", out.run_secs);
        let pid: i32 = std::fs::read_to_string(f.dir.path().join("pidfile"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone_by = Instant::now() + Duration::from_secs(2);
        while alive(pid) && Instant::now() < gone_by {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!alive(pid), "background sleep {pid} survived the stop");
    }

    #[tokio::test]
    async fn stray_children_die_after_a_clean_exit() {
        let f = Fixture::new();
        let out = f
            .run("sleep 300 & echo $! > pidfile; exit 0", Duration::from_secs(10), None)
            .await;
        assert_eq!(out.exit, ExitKind::Exited { code: 0 });
        let pid: i32 = std::fs::read_to_string(f.dir.path().join("pidfile"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone_by = Instant::now() + Duration::from_secs(2);
        while alive(pid) && Instant::now() < gone_by {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!alive(pid), "background sleep {pid} outlived the command");
    }

    #[tokio::test]
    async fn memory_limit_is_reported() {
        let Some(cg) = cgroup("memory", Some(64 << 20), None) else {
            return;
        };
        let f = Fixture::new();
        let out = f
            .run("head -c 300000000 /dev/zero | tail", Duration::from_secs(60), Some(&cg))
            .await;
        eprintln!("{out:?}");
        cg.destroy();
        assert_eq!(out.exit, ExitKind::MemoryLimit, "log: {}", f.log_text());
        assert!(out.usage.cgroup);
        assert!(
            out.usage.peak_memory_bytes > 32 << 20,
            "peak {}",
            out.usage.peak_memory_bytes
        );
    }

    #[tokio::test]
    async fn a_child_killed_at_the_limit_counts_even_if_the_command_exits_0() {
        let Some(cg) = cgroup("memory-exit0", Some(64 << 20), None) else {
            return;
        };
        let f = Fixture::new();
        let out = f
            .run(
                "head -c 300000000 /dev/zero | tail; exit 0",
                Duration::from_secs(60),
                Some(&cg),
            )
            .await;
        cg.destroy();
        assert_eq!(out.exit, ExitKind::MemoryLimit, "log: {}", f.log_text());
    }

    #[tokio::test]
    async fn pids_limit_stops_fork_bombs() {
        let Some(cg) = cgroup("pids", None, Some(20)) else {
            return;
        };
        let f = Fixture::new();
        let out = f
            .run(
                "for i in $(seq 1 100); do sleep 5 & done; wait",
                Duration::from_secs(30),
                Some(&cg),
            )
            .await;
        eprintln!("{out:?}");
        cg.destroy();
        assert_ne!(out.exit, ExitKind::Exited { code: 0 }, "{}", f.log_text());
        assert_ne!(out.exit, ExitKind::TimedOut);
        assert!(out.run_secs < 4.0, "run_secs {}", out.run_secs);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cpu_time_is_accounted() {
        let Some(cg) = cgroup("cpu", None, None) else {
            return;
        };
        let f = Fixture::new();
        let out = f
            .run(
                "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
                Duration::from_secs(60),
                Some(&cg),
            )
            .await;
        eprintln!("{out:?}");
        cg.destroy();
        assert_eq!(out.exit, ExitKind::Exited { code: 0 });
        assert!(out.usage.cgroup);
        assert!(out.usage.cpu_secs > 0.1, "cpu_secs {}", out.usage.cpu_secs);
    }

    #[tokio::test]
    async fn command_runs_inside_its_cgroup_from_the_start() {
        let Some(cg) = cgroup("inside", None, None) else {
            return;
        };
        let f = Fixture::new();
        // The shell's own cgroup line, and a child's forked at once.
        let out = f
            .run(
                "cat /proc/$$/cgroup; (cat /proc/self/cgroup)",
                Duration::from_secs(10),
                Some(&cg),
            )
            .await;
        let path = cg.path().to_string();
        cg.destroy();
        assert_eq!(out.exit, ExitKind::Exited { code: 0 });
        let log = f.log_text();
        let marker = if cgroups_rs::hierarchies::is_cgroup2_unified_mode() {
            "0::"
        } else {
            ":memory:"
        };
        let memory_lines: Vec<&str> = log.lines().filter(|l| l.contains(marker)).collect();
        assert_eq!(memory_lines.len(), 2, "{log}");
        assert!(
            memory_lines.iter().all(|l| l.ends_with(&format!("/{path}"))),
            "not in {path}: {log}"
        );
    }

    #[tokio::test]
    async fn environment_is_cleared() {
        // Only this test reads or writes FARM_LEAK_CHECK (set_var is safe in edition 2021).
        std::env::set_var("FARM_LEAK_CHECK", "leaked");
        let mut f = Fixture::new();
        f.env.insert("FARM_MINE".into(), "given".into());
        let out = f
            .run(
                "echo \"leak=${FARM_LEAK_CHECK:-unset} mine=$FARM_MINE home=$HOME lang=$LANG\"; env | wc -l",
                Duration::from_secs(10),
                None,
            )
            .await;
        assert_eq!(out.exit, ExitKind::Exited { code: 0 });
        let log = f.log_text();
        let home = f.dir.path().display();
        assert!(
            log.contains(&format!("leak=unset mine=given home={home} lang=C.UTF-8\n")),
            "{log}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commands_each_get_their_own_group() {
        let groups: Vec<ShardCgroup> = (0..4)
            .filter_map(|i| cgroup(&format!("concurrent{i}"), None, None))
            .collect();
        let fixtures: Vec<Fixture> = (0..4).map(|_| Fixture::new()).collect();
        let group = |i: usize| groups.get(i);
        let command = "cat /proc/self/cgroup; exit 7";
        let t = Duration::from_secs(10);
        let (a, b, c, d) = tokio::join!(
            fixtures[0].run(command, t, group(0)),
            fixtures[1].run(command, t, group(1)),
            fixtures[2].run(command, t, group(2)),
            fixtures[3].run(command, t, group(3)),
        );
        let paths: Vec<String> = groups.iter().map(|g| g.path().to_string()).collect();
        groups.into_iter().for_each(ShardCgroup::destroy);
        for (i, out) in [a, b, c, d].into_iter().enumerate() {
            assert_eq!(out.exit, ExitKind::Exited { code: 7 });
            if let Some(path) = paths.get(i) {
                let log = fixtures[i].log_text();
                assert!(log.contains(&format!("/{path}\n")), "{path}: {log}");
            }
        }
    }

    #[tokio::test]
    async fn spawn_failure_is_infrastructure() {
        let f = Fixture::new();
        let missing = f.dir.path().join("no-such-dir");
        let log = f.log();
        let out = run(SandboxCommand {
            command: "true",
            cwd: &missing,
            env: &f.env,
            log: &log,
            log_cap: crate::log_cap::DEFAULT_CAP,
            timeout: Duration::from_secs(5),
            cgroup: None,
            isolation: None,
            stop: None,
        })
        .await;
        match out.exit {
            ExitKind::Infrastructure { message } => {
                assert!(message.contains("no-such-dir"), "{message}")
            }
            other => panic!("expected Infrastructure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn network_namespace_without_an_image_has_only_loopback() {
        crate::namespace::available().expect("this test needs namespaces (run as root)");
        let f = Fixture::new();
        let log = f.log();
        let isolation = Isolation {
            network_off: true,
            root: crate::namespace::Root::Host,
        };
        let out = run(SandboxCommand {
            command: "grep -c : /proc/net/dev; grep -q '^ *lo:' /proc/net/dev",
            cwd: f.dir.path(),
            env: &f.env,
            log: &log,
            log_cap: crate::log_cap::DEFAULT_CAP,
            timeout: Duration::from_secs(10),
            cgroup: None,
            isolation: Some(&isolation),
            stop: None,
        })
        .await;
        assert_eq!(out.exit, ExitKind::Exited { code: 0 }, "{}", f.log_text());
        assert_eq!(f.log_text(), "1\n", "only lo");
    }

    /// `cargo test -p testfarm-agent --lib start_latency -- --ignored --nocapture`
    #[tokio::test]
    #[ignore = "measurement, prints the p50 of start_secs"]
    async fn start_latency() {
        let Some(cg) = cgroup("latency", Some(256 << 20), Some(100)) else {
            return;
        };
        let f = Fixture::new();
        let mut starts = Vec::new();
        for _ in 0..20 {
            let out = f.run("true", Duration::from_secs(10), Some(&cg)).await;
            assert_eq!(out.exit, ExitKind::Exited { code: 0 });
            starts.push(out.start_secs);
        }
        cg.destroy();
        starts.sort_by(f64::total_cmp);
        eprintln!(
            "start_secs over 20 runs of `true`: p50 {:.3}ms, min {:.3}ms, max {:.3}ms",
            starts[10] * 1e3,
            starts[0] * 1e3,
            starts[19] * 1e3
        );
    }
}
