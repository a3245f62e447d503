//! The sandbox executor: each command in its own process group and cgroup with the
//! stage's limits ([`crate::process`], [`crate::cgroup`]). When the stage names a
//! runtime image, also in new mount, pid, net, uts and ipc namespaces with the image's
//! rootfs as `/` ([`crate::namespace`]), as the runtime user; otherwise on the host's
//! filesystem as before (with a network namespace only when the stage asks for
//! `network: none` explicitly).

use crate::error::AgentError;
use std::path::PathBuf;

use testfarm_shared::config::ExecutorKind;

use super::{infrastructure, BoxFuture, Exec, Executor, ProcessOutcome};
use crate::cgroup::ShardCgroup;
use crate::namespace::{self, Bind, ImageRoot, Isolation};
use crate::process::{self, SandboxCommand};

#[derive(Debug, Clone)]
pub struct SandboxExecutor {
    /// cgroup parent the agent owns (`testfarm/<agent>`), or None when the host
    /// cannot give cgroups (the agent said so once, loudly, at start).
    pub cgroup_parent: Option<String>,
    /// Where the per-command mount points of image sandboxes go (empty directories on
    /// the host; the mounts exist only in the command's mount namespace).
    pub scratch_dir: PathBuf,
    /// Whether this agent may make namespaces (root); image stages fail without.
    pub namespaces: Result<(), std::sync::Arc<AgentError>>,
}

impl Executor for SandboxExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Sandbox
    }

    fn run<'a>(&'a self, exec: Exec<'a>) -> BoxFuture<'a, ProcessOutcome> {
        Box::pin(self.run_one(exec))
    }
}

impl SandboxExecutor {
    async fn run_one(&self, exec: Exec<'_>) -> ProcessOutcome {
        let isolation = match self.isolation(&exec) {
            Ok(i) => i,
            Err(why) => return infrastructure(why.to_string(), 0.0),
        };
        let cgroup = match &self.cgroup_parent {
            None => None,
            Some(parent) => match ShardCgroup::create(parent, exec.name, exec.limits) {
                Ok(c) => Some(c),
                Err(e) => {
                    return infrastructure(
                        format!("cannot create the shard's cgroup: {}", crate::cgroup::error_chain(&e)),
                        0.0,
                    )
                }
            },
        };
        let mut outcome = process::run(SandboxCommand {
            command: exec.command,
            cwd: exec.project_dir,
            env: exec.env,
            log: exec.log,
            log_cap: exec.log_cap,
            timeout: exec.timeout,
            cgroup: cgroup.as_ref(),
            isolation: isolation.as_ref(),
            stop: exec.stop,
        })
        .await;
        if let Some(cgroup) = cgroup {
            cgroup.destroy();
        }
        if let Some(root) = isolation.as_ref().and_then(|i| i.image.as_ref()) {
            // Only a mount point on the host; its mounts died with the namespace.
            let _ = std::fs::remove_dir(&root.scratch);
        }
        outcome.usage.executor = ExecutorKind::Sandbox.as_str().into();
        outcome
    }

    /// The namespaces a command gets: an image root, a network namespace, or none.
    fn isolation(&self, exec: &Exec<'_>) -> Result<Option<Isolation>, AgentError> {
        let network_off = exec.runtime.network_off();
        let cannot = |what: String, why: &std::sync::Arc<AgentError>| AgentError::Unavailable {
            what,
            why: why.to_string(),
        };
        let Some(image) = exec.image else {
            if let Some(name) = &exec.runtime.image {
                return Err(AgentError::Unavailable {
                    what: format!("runtime image `{name}`"),
                    why: "it is not built here".into(),
                });
            }
            if !network_off {
                return Ok(None);
            }
            if let Err(why) = &self.namespaces {
                return Err(cannot("the stage's `network: none`".into(), why));
            }
            return Ok(Some(Isolation {
                network_off,
                image: None,
            }));
        };
        if let Err(why) = &self.namespaces {
            return Err(cannot(format!("runtime image `{}`", image.name), why));
        }
        let scratch = self.scratch_dir.join(exec.name);
        std::fs::create_dir_all(&scratch).map_err(AgentError::io("create", &scratch))?;
        Ok(Some(Isolation {
            network_off,
            image: Some(ImageRoot {
                rootfs: image.rootfs.clone(),
                scratch,
                binds: [
                    Bind {
                        path: exec.project_dir.to_path_buf(),
                        writable: false,
                    },
                    Bind {
                        path: exec.task_dir.to_path_buf(),
                        writable: true,
                    },
                ]
                .into_iter()
                .chain(exec.binds.iter().cloned())
                .collect(),
                uid: namespace::RUNTIME_UID,
                gid: namespace::RUNTIME_GID,
            }),
        }))
    }
}
