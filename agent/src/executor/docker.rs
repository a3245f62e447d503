//! The docker executor: one container per command (a runner-mode shard, a discovery,
//! or one test in `each` mode) from the stage's runtime image `testfarm/NAME:HASH`,
//! through the Docker daemon's API (bollard). See ../shared/DESIGN.md, "Executors",
//! and README.md, "Executors and images" for the measured start overhead that chose a
//! container per shard over one warm container per job.
//!
//! Each container: the project dir bind-mounted read-only and the task dir writable,
//! at their host paths; memory and memory+swap = the memory limit, `nano_cpus`,
//! `pids_limit`; network `none` unless the stage asks for `bridge`; user 65534:65534,
//! never privileged, every capability dropped, `no-new-privileges`, no Docker socket.
//! Labels `testfarm.agent=<id>` and `testfarm.task=<task>`; the agent force-removes
//! every container with its label when it starts ([`DockerExecutor::reap`]).
//!
//! Accounting: with the cgroupfs driver, runc removes a container's cgroup as soon as
//! the container exits (before `docker rm`), so its counters cannot be read after the
//! fact. The agent therefore makes a group of its own per container,
//! `testfarm/<agent>/<name>`, and passes it (absolute) as `cgroup_parent`: the
//! container's group is `testfarm/<agent>/<name>/<container-id>`, where docker sets the
//! limits, and the agent's group keeps the hierarchical counters (`cpuacct.usage`,
//! `memory.max_usage_in_bytes`) after it is gone. `pids.current` is sampled while the
//! container runs (v1 has no `pids.peak`). An OOM kill is docker's `State.OOMKilled`.
//! A relative `cgroup_parent` would not do: runc places a relative path under the
//! daemon's own cgroup in each hierarchy (on this host the daemon's memory cgroup is
//! not the root), so the container would land outside `testfarm/<agent>`.

use crate::error::AgentError;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use testfarm_shared::config::{ExecutorKind, Limits};
use testfarm_shared::task::{ExitKind, Usage};
use tokio_stream::StreamExt;

use super::{infrastructure, BoxFuture, Exec, Executor, ProcessOutcome};
use crate::cgroup::{error_chain, ShardCgroup};
use crate::image::{self, LocalImage};
use crate::namespace::{HOSTNAME, RUNTIME_GID, RUNTIME_UID};
use crate::process::{BASE_PATH, PIDS_SAMPLE_EVERY};

pub const LABEL_AGENT: &str = "testfarm.agent";
pub const LABEL_TASK: &str = "testfarm.task";
/// The daemon's API calls may take as long as a shard (wait, logs): our own timeouts
/// apply, not bollard's default of two minutes per request.
const API_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a killed container may take to be reported as stopped.
const KILL_GRACE: Duration = Duration::from_secs(20);
const CPU_PERIOD_NS: f64 = 1e9;

/// Connects to the local daemon (`DOCKER_HOST` or /var/run/docker.sock) and agrees on
/// an API version (this host's 20.10 daemon speaks 1.41; bollard defaults to newer).
pub async fn connect() -> Result<Docker, AgentError> {
    let failed = |action: &str| {
        let action = action.to_string();
        move |source| AgentError::Docker { action, source }
    };
    let docker = Docker::connect_with_local_defaults()
        .map_err(failed("connect to the daemon"))?
        .with_timeout(API_TIMEOUT);
    let docker = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
        .await
        .map_err(|_| AgentError::DockerSilent { secs: 5 })?
        .map_err(failed("agree on an API version"))?;
    docker.ping().await.map_err(failed("ping"))?;
    Ok(docker)
}

#[derive(Debug)]
pub struct DockerExecutor {
    docker: Docker,
    agent_id: String,
    /// `testfarm/<agent>`: per-container accounting groups go below it. None: the
    /// agent has no cgroups; containers go under docker's default parent, unaccounted.
    cgroup_parent: Option<String>,
    /// One import at a time (a pruned image is imported again from the rootfs).
    imports: tokio::sync::Mutex<()>,
}

impl Executor for DockerExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Docker
    }

    fn run<'a>(&'a self, exec: Exec<'a>) -> BoxFuture<'a, ProcessOutcome> {
        Box::pin(async move {
            let started = Instant::now();
            let Some(image) = exec.image else {
                return infrastructure(
                    format!(
                        "runtime image `{}` is not built on this agent",
                        exec.runtime.image.as_deref().unwrap_or_default()
                    ),
                    0.0,
                );
            };
            let mut outcome = match self.ensure_image(image).await {
                Ok(()) => self.run_container(&exec, image, started).await,
                Err(why) => infrastructure(why.to_string(), started.elapsed().as_secs_f64()),
            };
            outcome.usage.executor = ExecutorKind::Docker.as_str().into();
            outcome
        })
    }
}

impl DockerExecutor {
    pub fn new(docker: Docker, agent_id: &str, cgroup_parent: Option<String>) -> DockerExecutor {
        DockerExecutor {
            docker,
            agent_id: agent_id.into(),
            cgroup_parent,
            imports: tokio::sync::Mutex::new(()),
        }
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Force-removes every container labelled with this agent (left by a crash).
    /// Returns how many; call it before any shard of this agent runs.
    pub async fn reap(&self) -> Result<usize, AgentError> {
        let filter = format!("{LABEL_AGENT}={}", self.agent_id);
        let filters: HashMap<&str, Vec<&str>> = [("label", vec![filter.as_str()])].into();
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|source| AgentError::Docker {
                action: "list containers".into(),
                source,
            })?;
        let mut removed = 0;
        for c in list {
            let Some(id) = c.id else { continue };
            tracing::info!(agent = %self.agent_id, container = %id, "removing leftover container");
            match self.remove(&id).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(container = %id, "cannot remove leftover container: {e}"),
            }
        }
        Ok(removed)
    }

    async fn remove(&self, id: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Imports the image from its rootfs when the daemon does not have it.
    async fn ensure_image(&self, image: &LocalImage) -> Result<(), AgentError> {
        let reference = image.docker_ref();
        if self.docker.inspect_image(&reference).await.is_ok() {
            return Ok(());
        }
        let _one = self.imports.lock().await;
        if self.docker.inspect_image(&reference).await.is_ok() {
            return Ok(());
        }
        tracing::info!(image = %reference, "importing the runtime image into Docker from {}", image.rootfs.display());
        image::import(&self.docker, &image.rootfs, &reference, 0, &mut |_| {})
            .await
            .map_err(|e| AgentError::Invalid {
                what: format!("runtime image {reference}"),
                why: e.to_string(),
            })
    }

    async fn run_container(&self, exec: &Exec<'_>, image: &LocalImage, started: Instant) -> ProcessOutcome {
        let group = match &self.cgroup_parent {
            None => None,
            Some(parent) => match ShardCgroup::create(parent, exec.name, &no_limits()) {
                Ok(g) => Some(g),
                Err(e) => {
                    return infrastructure(
                        format!("cannot create the container's cgroup: {}", error_chain(&e)),
                        started.elapsed().as_secs_f64(),
                    )
                }
            },
        };
        let outcome = self.create_and_run(exec, image, started, group.as_ref()).await;
        if let Some(group) = group {
            group.destroy();
        }
        outcome
    }

    async fn create_and_run(
        &self,
        exec: &Exec<'_>,
        image: &LocalImage,
        started: Instant,
        group: Option<&ShardCgroup>,
    ) -> ProcessOutcome {
        let body = match container_body(exec, image, &self.agent_id, group) {
            Ok(b) => b,
            Err(why) => return infrastructure(why.to_string(), started.elapsed().as_secs_f64()),
        };
        let name = container_name(&self.agent_id, exec.name);
        let id = match self.create(&name, body).await {
            Ok(id) => id,
            Err(why) => return infrastructure(why.to_string(), started.elapsed().as_secs_f64()),
        };
        let outcome = self.start_and_wait(exec, &id, started, group).await;
        if let Err(e) = self.remove(&id).await {
            tracing::warn!(container = %id, "cannot remove container: {e}");
        }
        outcome
    }

    /// Creates the container; a leftover of the same name (same task and attempt on
    /// this agent, e.g. after a crash that reap missed) is removed first.
    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, AgentError> {
        for _ in 0..2 {
            let options = CreateContainerOptionsBuilder::default().name(name).build();
            match self.docker.create_container(Some(options), body.clone()).await {
                Ok(created) => return Ok(created.id),
                Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => {
                    let _ = self.remove(name).await;
                }
                Err(source) => {
                    return Err(AgentError::Docker {
                        action: format!("create container {name}"),
                        source,
                    })
                }
            }
        }
        Err(AgentError::Invalid {
            what: format!("container {name}"),
            why: "the name stays taken after removing its holder".into(),
        })
    }

    async fn start_and_wait(
        &self,
        exec: &Exec<'_>,
        id: &str,
        started: Instant,
        group: Option<&ShardCgroup>,
    ) -> ProcessOutcome {
        if let Err(e) = self.docker.start_container(id, None).await {
            return infrastructure(
                format!("cannot start container {id}: {e}"),
                started.elapsed().as_secs_f64(),
            );
        }
        let released = Instant::now();
        let logs = tokio::spawn(stream_logs(
            self.docker.clone(),
            id.to_string(),
            exec.log.to_path_buf(),
            exec.log_cap,
        ));

        let mut peak_pids = 0;
        let stopped = async {
            match exec.stop {
                Some(stop) => stop.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let (waited, stopped) = tokio::select! {
            waited = tokio::time::timeout(exec.timeout, self.wait_sampling(id, group, &mut peak_pids)) => (Some(waited), false),
            () = stopped => (None, true),
        };
        let timed_out = matches!(waited, Some(Err(_)));
        let mut wait_error = None;
        if timed_out || stopped {
            let kill = KillContainerOptionsBuilder::default().signal("SIGKILL").build();
            let _ = self.docker.kill_container(id, Some(kill)).await;
            let _ = tokio::time::timeout(KILL_GRACE, self.wait_sampling(id, group, &mut peak_pids)).await;
        } else if let Some(Ok(Err(e))) = waited {
            wait_error = Some(e);
        }
        let run_secs = released.elapsed().as_secs_f64();
        // The log stream ends with the container; bounded in case the daemon lags.
        let _ = tokio::time::timeout(Duration::from_secs(10), logs).await;

        let state = self.docker.inspect_container(id, None).await.ok().and_then(|c| c.state);
        let oom_killed = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
        let code = state.as_ref().and_then(|s| s.exit_code);
        let mut usage = group.map_or_else(Usage::default, |g| Usage::from(g.usage()));
        // The container's first process existed, even if it ended before a sample.
        usage.peak_pids = usage.peak_pids.max(peak_pids).max(u64::from(usage.cgroup));
        if oom_killed {
            usage.oom_kills = usage.oom_kills.max(1);
        }
        let exit = if stopped {
            ExitKind::Infrastructure {
                message: crate::process::STOPPED.into(),
            }
        } else if timed_out {
            ExitKind::TimedOut
        } else if let Some(message) = wait_error {
            ExitKind::Infrastructure {
                message: format!("cannot wait for container {id}: {message}"),
            }
        } else {
            match code {
                Some(0) => ExitKind::Exited { code: 0 },
                _ if oom_killed => ExitKind::MemoryLimit,
                Some(code) => ExitKind::Exited { code: code as i32 },
                None => ExitKind::Infrastructure {
                    message: format!("container {id} has no exit code"),
                },
            }
        };
        ProcessOutcome {
            exit,
            start_secs: released.duration_since(started).as_secs_f64(),
            run_secs,
            usage,
        }
    }

    /// Waits for the container to stop, sampling its process count meanwhile.
    async fn wait_sampling(&self, id: &str, group: Option<&ShardCgroup>, peak: &mut u64) -> Result<i64, AgentError> {
        let wait = self.docker.wait_container(id, None);
        tokio::pin!(wait);
        let mut tick = tokio::time::interval(PIDS_SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                item = wait.next() => return match item {
                    Some(Ok(r)) => Ok(r.status_code),
                    // bollard reports a non-zero status as an error.
                    Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code),
                    Some(Err(source)) => Err(AgentError::Docker { action: format!("wait for container {id}"), source }),
                    None => Err(AgentError::Invalid {
                        what: format!("the wait for container {id}"),
                        why: "its stream ended without a status".into(),
                    }),
                },
                _ = tick.tick() => {
                    if let Some(n) = group.and_then(ShardCgroup::pids_current) {
                        *peak = (*peak).max(n);
                    }
                }
            }
        }
    }
}

fn no_limits() -> Limits {
    Limits {
        cpu: None,
        memory_bytes: None,
        pids: None,
        timeout: Duration::from_secs(1),
    }
}

/// `testfarm-<agent>-<name>`, in the characters docker allows.
fn container_name(agent: &str, name: &str) -> String {
    format!("testfarm-{agent}-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A bind `host:container:mode`; docker's syntax has no escaping.
fn bind(path: &Path, mode: &str) -> Result<String, AgentError> {
    let text = path.display().to_string();
    if !path.is_absolute() || text.contains([':', ',']) {
        return Err(AgentError::Invalid {
            what: format!("bind mount {text}"),
            why: "a container needs an absolute path without `:` or `,`".into(),
        });
    }
    Ok(format!("{text}:{text}:{mode}"))
}

fn container_body(
    exec: &Exec<'_>,
    image: &LocalImage,
    agent_id: &str,
    group: Option<&ShardCgroup>,
) -> Result<ContainerCreateBody, AgentError> {
    let project = exec.project_dir.display().to_string();
    let mut env = vec![
        format!("PATH={BASE_PATH}"),
        format!("HOME={project}"),
        "LANG=C.UTF-8".to_string(),
    ];
    env.extend(exec.env.iter().map(|(k, v)| format!("{k}={v}")));
    let labels: HashMap<String, String> = [
        (LABEL_AGENT.to_string(), agent_id.to_string()),
        (LABEL_TASK.to_string(), exec.task_id.to_string()),
    ]
    .into();
    let limits = exec.limits;
    let memory = limits.memory_bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    let host = HostConfig {
        binds: Some({
            let mut binds = vec![bind(exec.project_dir, "ro")?, bind(exec.task_dir, "rw")?];
            for b in exec.binds {
                binds.push(bind(&b.path, if b.writable { "rw" } else { "ro" })?);
            }
            binds
        }),
        memory,
        // Equal to memory: no swap to dodge the limit with.
        memory_swap: memory,
        nano_cpus: limits.cpu.map(|c| (c * CPU_PERIOD_NS).round() as i64),
        pids_limit: limits.pids.map(|p| i64::try_from(p).unwrap_or(i64::MAX)),
        cgroup_parent: group.map(|g| format!("/{}", g.path())),
        network_mode: Some(if exec.runtime.network_off() { "none" } else { "bridge" }.into()),
        privileged: Some(false),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        auto_remove: Some(false),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(image.docker_ref()),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), exec.command.into()]),
        entrypoint: Some(vec![]),
        env: Some(env),
        working_dir: Some(project),
        user: Some(format!("{RUNTIME_UID}:{RUNTIME_GID}")),
        hostname: Some(HOSTNAME.into()),
        labels: Some(labels),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        tty: Some(false),
        host_config: Some(host),
        ..Default::default()
    })
}

/// Appends the container's stdout and stderr to the task log until it stops, up to
/// the log's cap ([`crate::log_cap`]).
async fn stream_logs(docker: Docker, id: String, log: std::path::PathBuf, cap: u64) {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut file = match crate::log_cap::CappedLog::open(&log, cap) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("cannot open log {}: {e}", log.display());
            return;
        }
    };
    let stream = docker.logs(&id, Some(options));
    tokio::pin!(stream);
    while let Some(item) = stream.next().await {
        match item {
            Ok(output) => {
                let _ = file.write(&output.into_bytes());
            }
            Err(e) => {
                let _ = file.write(format!("farm: the container's log stream broke: {e}\n").as_bytes());
                break;
            }
        }
    }
    if let Err(e) = file.finish() {
        tracing::warn!("cannot close log {}: {e}", log.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Bind;
    use std::collections::BTreeMap;
    use testfarm_shared::config::{Network, Runtime};

    #[test]
    fn the_container_gets_limits_binds_and_no_privileges() {
        let env = BTreeMap::from([("FARM_TEST_ID".to_string(), "a".to_string())]);
        let limits = Limits {
            cpu: Some(0.5),
            memory_bytes: Some(64 << 20),
            pids: Some(32),
            timeout: Duration::from_secs(5),
        };
        let runtime = Runtime {
            executor: ExecutorKind::Docker,
            image: Some("base".into()),
            network: None,
            ..Runtime::default()
        };
        let image = LocalImage {
            name: "base".into(),
            hash: "00ff".into(),
            rootfs: "/cache/base-00ff/rootfs".into(),
        };
        let exec = Exec {
            command: "true",
            env: &env,
            log: Path::new("/w/t/log.txt"),
            log_cap: crate::log_cap::DEFAULT_CAP,
            timeout: Duration::from_secs(5),
            limits: &limits,
            project_dir: Path::new("/src/proj"),
            task_dir: Path::new("/w/tasks/r1.2-a1"),
            name: "r1.2-a1",
            task_id: "r1.2",
            runtime: &runtime,
            image: Some(&image),
            binds: &[],
            stop: None,
        };
        let body = container_body(&exec, &image, "agent-1", None).unwrap();
        let host = body.host_config.clone().unwrap();
        assert_eq!(body.image.as_deref(), Some("testfarm/base:00ff"));
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
        assert_eq!(body.labels.as_ref().unwrap()["testfarm.task"], "r1.2");
        assert_eq!(
            host.binds.unwrap(),
            ["/src/proj:/src/proj:ro", "/w/tasks/r1.2-a1:/w/tasks/r1.2-a1:rw"]
        );
        assert_eq!((host.memory, host.memory_swap), (Some(64 << 20), Some(64 << 20)));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.pids_limit, Some(32));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(host.privileged, Some(false));
        assert!(body.env.unwrap().contains(&"FARM_TEST_ID=a".to_string()));

        let bridged = Runtime {
            network: Some(Network::Bridge),
            ..runtime.clone()
        };
        let exec = Exec {
            runtime: &bridged,
            ..exec
        };
        let body = container_body(&exec, &image, "agent-1", None).unwrap();
        assert_eq!(body.host_config.unwrap().network_mode.as_deref(), Some("bridge"));
        let sockets = [Bind {
            path: "/w/services/postgres/sock".into(),
            writable: true,
        }];
        let exec = Exec {
            binds: &sockets,
            ..exec
        };
        let binds = container_body(&exec, &image, "agent-1", None)
            .unwrap()
            .host_config
            .unwrap()
            .binds;
        assert_eq!(
            binds.unwrap().last().map(String::as_str),
            Some("/w/services/postgres/sock:/w/services/postgres/sock:rw")
        );
        assert_eq!(container_name("a/b", "r1.2-a1"), "testfarm-a_b-r1.2-a1");
    }
}
