//! The sandbox executor: each command in its own process group and cgroup with the
//! stage's limits ([`crate::process`], [`crate::cgroup`]), in new mount, pid, net,
//! uts and ipc namespaces as the runtime user: with the image's rootfs as `/` when the
//! stage names a runtime image ([`crate::namespace`]), else the host's filesystem
//! read-only but for the task's own directories ([`crate::host_view`]). Only a stage's
//! explicit `isolation: none` runs on the host as the agent's user (with a network
//! namespace still when it asks for `network: none`), and says so in the task log.

use crate::error::AgentError;
use std::path::PathBuf;

use testfarm_shared::config::ExecutorKind;

use super::{infrastructure, BoxFuture, Exec, Executor, ProcessOutcome};
use crate::cgroup::ShardCgroup;
use crate::host_view::{check_readable, HostView};
use crate::namespace::{self, Bind, ImageRoot, Isolation, Root};
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
    /// An agent that is not root: whether it may make user namespaces, in which the
    /// host view (not images) still works, as the agent's own user.
    pub user_namespaces: bool,
    /// Hidden from commands in the host view, but for their own directories: the
    /// agent's work dir (other tasks' logs, test ids and results).
    pub hidden: Vec<PathBuf>,
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
        if let Some(Isolation {
            root: Root::Image(image),
            ..
        }) = &isolation
        {
            // Only a mount point on the host; its mounts died with the namespace.
            let _ = std::fs::remove_dir(&image.scratch);
        }
        outcome.usage.executor = ExecutorKind::Sandbox.as_str().into();
        outcome
    }

    /// The namespaces a command gets: an image root, the host's read-only view, a
    /// network namespace only (`isolation: none` with `network: none`), or none.
    fn isolation(&self, exec: &Exec<'_>) -> Result<Option<Isolation>, AgentError> {
        let runtime = exec.runtime;
        let network_off = runtime.network_off();
        if let (Some(name), None) = (&runtime.image, exec.image) {
            return Err(AgentError::Unavailable {
                what: format!("runtime image `{name}`"),
                why: "it is not built here".into(),
            });
        }
        // On the host as it is (`isolation: none`, said once per task by the runner).
        if !runtime.confined() && !network_off {
            return Ok(None);
        }
        // Only the host view works in a user namespace here (`isolation: none` with
        // `network: none` still needs root for its network namespace).
        let host_view_as_self =
            runtime.confined() && exec.image.is_none() && self.namespaces.is_err() && self.user_namespaces;
        if let (Err(why), false) = (&self.namespaces, host_view_as_self) {
            let what = match (&runtime.image, runtime.confined()) {
                (Some(name), _) => format!("runtime image `{name}`"),
                (None, true) => {
                    "the sandbox's isolation (hint: an agent that runs as root, or `isolation: none` on the stage)"
                        .into()
                }
                (None, false) => "the stage's `network: none`".into(),
            };
            return Err(AgentError::Unavailable {
                what,
                why: why.to_string(),
            });
        }
        let binds: Vec<Bind> = [
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
        .collect();
        let root = match exec.image {
            Some(image) => {
                let scratch = self.scratch_dir.join(exec.name);
                std::fs::create_dir_all(&scratch).map_err(AgentError::io("create", &scratch))?;
                Root::Image(ImageRoot {
                    rootfs: image.rootfs.clone(),
                    scratch,
                    binds,
                    uid: namespace::RUNTIME_UID,
                    gid: namespace::RUNTIME_GID,
                })
            }
            None if runtime.confined() => {
                let (uid, gid) = if host_view_as_self {
                    (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())
                } else {
                    (namespace::RUNTIME_UID, namespace::RUNTIME_GID)
                };
                check_readable(exec.project_dir, uid, gid)?;
                Root::HostView(HostView {
                    binds,
                    uid,
                    gid,
                    user_namespace: host_view_as_self,
                    hidden: self.hidden.clone(),
                })
            }
            None => Root::Host,
        };
        Ok(Some(Isolation { network_off, root }))
    }
}
