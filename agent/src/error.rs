//! What the agent could not do, typed: which file or program, which step, and why.
//! A task that meets one ends as an infrastructure failure (retried on another agent),
//! with the error's text as its message.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// A program ran and failed; its output (also in the task log).
    #[error("{program} failed ({status}): {output}")]
    Failed {
        program: String,
        status: String,
        output: String,
    },
    /// Something the task needs is not on this agent.
    #[error("{what} is not available on this agent: {why}")]
    Unavailable { what: String, why: String },
    /// A server the agent started did not answer in time, or stopped.
    #[error("{service} did not come up: {why}; its log: {}", log.display())]
    NotReady {
        service: &'static str,
        why: String,
        log: PathBuf,
    },
    /// The Docker daemon refused or failed a request.
    #[error("docker: {action}: {source}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// The Docker daemon did not answer in time.
    #[error("docker: the daemon does not answer ({secs} s)")]
    DockerSilent { secs: u64 },
    /// A coordinator could not be reached.
    #[error("cannot reach coordinator {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The PHPUnit configuration of a shard could not be made.
    #[error(transparent)]
    ShardConfig(#[from] testfarm_shared::phpunit::ShardConfigError),
    /// A file the agent writes could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A system call the sandbox needs was refused.
    #[error("{call}: {source}")]
    Sys {
        call: String,
        #[source]
        source: nix::errno::Errno,
    },
    /// Input the agent cannot use (a path that is not UTF-8, a name it does not know).
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
    /// An operating-system resource (a pipe, a thread) failed.
    #[error("{what}: {source}")]
    Os {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A shard's cgroup could not be made or joined.
    #[error("cgroup: {why}")]
    Cgroup { why: String },
    /// A step of a larger piece of work failed.
    #[error("{step}: {source}")]
    Step {
        step: String,
        #[source]
        source: Box<AgentError>,
    },
}

impl AgentError {
    /// For `map_err`: the I/O error of `action` on `path`.
    pub fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AgentError + 'a {
        move |source| AgentError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// This error as the cause of a failed `step`.
    pub fn during(self, step: impl Into<String>) -> AgentError {
        AgentError::Step {
            step: step.into(),
            source: Box::new(self),
        }
    }
}

pub type Result<T> = std::result::Result<T, AgentError>;
