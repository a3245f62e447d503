//! Executors: where a task's commands run. One trait ([`Executor`]), two
//! implementations: the [`sandbox`] (process group + cgroup on the host, or namespaces
//! and a runtime image's rootfs) and [`docker`] (a container per command through the
//! Docker daemon). The runner picks one by the stage's `executor`.
//! See ../shared/DESIGN.md, "Executors".

pub mod docker;
pub mod sandbox;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use testfarm_shared::config::{ExecutorKind, Limits, Runtime};
use testfarm_shared::task::{ExitKind, Usage};

use crate::image::LocalImage;
pub use crate::namespace::Bind;
pub use crate::process::ProcessOutcome;

/// One command of a task, as the runner hands it to an executor. Paths are the same
/// inside as on the host.
#[derive(Debug, Clone, Copy)]
pub struct Exec<'a> {
    /// Run as `/bin/sh -c <command>`.
    pub command: &'a str,
    /// On top of `PATH`, `HOME` (the project dir) and `LANG`.
    pub env: &'a BTreeMap<String, String>,
    /// Stdout and stderr are appended here, up to `log_cap` bytes for the whole log.
    pub log: &'a Path,
    pub log_cap: u64,
    pub timeout: Duration,
    pub limits: &'a Limits,
    /// The working directory (read-only inside an image or container).
    pub project_dir: &'a Path,
    /// The task's directory (writable: test ids, JUnit, scratch).
    pub task_dir: &'a Path,
    /// Unique among this agent's commands: names the cgroup and the container.
    pub name: &'a str,
    pub task_id: &'a str,
    pub runtime: &'a Runtime,
    /// The runtime image, resolved in the agent's cache (when the stage names one).
    pub image: Option<&'a LocalImage>,
    /// More host directories to mount at the same path inside an image or container:
    /// the services' sockets, the install step's directory.
    pub binds: &'a [Bind],
    /// Cancelled when the coordinator no longer wants the task: the command is
    /// killed (see [`crate::process::STOPPED`]).
    pub stop: Option<&'a tokio_util::sync::CancellationToken>,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one command to completion or its timeout. Never fails: what keeps a command
/// from running is an [`ExitKind::Infrastructure`] outcome (retried elsewhere).
pub trait Executor: Send + Sync {
    fn kind(&self) -> ExecutorKind;
    fn run<'a>(&'a self, exec: Exec<'a>) -> BoxFuture<'a, ProcessOutcome>;
}

/// An outcome for a command that could not be started.
pub fn infrastructure(message: impl Into<String>, start_secs: f64) -> ProcessOutcome {
    ProcessOutcome {
        exit: ExitKind::Infrastructure {
            message: message.into(),
        },
        start_secs,
        run_secs: 0.0,
        usage: Usage::default(),
    }
}
