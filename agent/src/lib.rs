//! The testfarm agent: holds a lease stream to the coordinator ([`session`]), runs
//! each task in the stage's executor ([`runner`], [`executor`]): the sandbox (its own
//! process group ([`process`]) in its own cgroup with the stage's limits ([`cgroup`]),
//! in namespaces and a runtime image's rootfs when the stage names one
//! ([`namespace`])) or a docker container, after the stage's install step
//! ([`install`]) and with the databases it asks for ([`service`]); and reports
//! per-test results, phase timings and resource use. Runtime images are built with
//! [`image`].
//! See ../shared/DESIGN.md, "Executors".

pub mod cgroup;
pub mod error;
pub mod executor;
pub mod host_view;
pub mod image;
pub mod install;
pub mod log_cap;
mod log_ship;
pub mod namespace;
pub mod phpunit;
pub mod phpunit_worker;
pub mod process;
mod report_size;
pub mod runner;
pub mod service;
pub mod session;
pub mod telemetry;
pub mod workspace;

pub use runner::Runner;
pub use session::AgentConfig;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::executor::docker::DockerExecutor;
use crate::executor::sandbox::SandboxExecutor;
use crate::image::ImageCache;

/// The cgroup parent one agent owns; shard groups are created below it.
pub fn cgroup_parent(agent_id: &str) -> String {
    format!("testfarm/{agent_id}")
}

/// Everything an agent process needs to start.
pub struct AgentSetup {
    /// Coordinator URLs; the agent follows the leader among them.
    pub coordinators: Vec<String>,
    pub id: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub slots: u32,
    pub work_dir: PathBuf,
    /// Serve `/metrics` on this listener, rendered from this recorder.
    pub http: Option<(tokio::net::TcpListener, metrics_exporter_prometheus::PrometheusHandle)>,
    /// Where runtime images are built (`farm image build`): `<dir>/NAME-HASH/rootfs`.
    pub image_cache: PathBuf,
    /// Use the Docker daemon when one is reachable (false: never, e.g. in tests of
    /// the sandbox alone).
    pub docker: bool,
    /// This agent's credentials (an agent certificate naming `id`): the agent then
    /// talks to coordinators over mutual TLS only.
    pub tls: Option<testfarm_proto::tls::Tls>,
    /// The most one task's log keeps of its output ([`log_cap`]).
    pub log_cap: u64,
}

/// Prepares the host (reaps what a crash left: containers, then cgroups; probes
/// cgroups, namespaces, Docker and the images built here) and runs the agent until
/// `shutdown`.
pub async fn run(setup: AgentSetup, shutdown: CancellationToken) {
    let AgentSetup {
        coordinators,
        id,
        mut labels,
        slots,
        work_dir,
        http,
        image_cache,
        docker,
        tls,
        log_cap,
    } = setup;
    if let Some((listener, handle)) = http {
        tokio::spawn(telemetry::serve(listener, handle, shutdown.clone()));
    }
    let parent = cgroup_parent(&id);
    // Containers first: their cgroups live under the agent's parent too.
    let docker = if docker {
        connect_docker(&id, &parent).await
    } else {
        None
    };
    cgroup::reap(&parent);
    let cgroup_parent = match cgroup::probe(&parent) {
        Ok(()) => Some(parent),
        Err(reason) => {
            tracing::warn!(
                agent = %id,
                "!!! NO CGROUPS: shards on this agent run WITHOUT cpu, memory and pids limits and report no usage: {reason}"
            );
            eprintln!("farm agent {id}: WARNING: cannot create cgroups ({reason}); shards run without limits");
            None
        }
    };
    let docker = docker.map(|d| Arc::new(DockerExecutor::new(d, &id, cgroup_parent.clone())));
    let namespaces = namespace::available().map_err(Arc::new);
    let user_namespaces = match &namespaces {
        Ok(()) => false,
        Err(why) => match namespace::user_namespaces() {
            Ok(()) => {
                tracing::warn!(agent = %id, "not root ({why}): stages without an image run in the host's read-only view through a user namespace, as this agent's user; stages with an image need docker here");
                true
            }
            Err(no) => {
                tracing::warn!(agent = %id, "no sandbox namespaces ({why}; {no}): only stages with `isolation: none` or docker run here");
                eprintln!("farm agent {id}: WARNING: cannot make namespaces ({why}; {no}): confined stages fail here; run the agent as root");
                false
            }
        },
    };
    let images = ImageCache::new(image_cache);
    for (key, value) in implicit_labels(&images, docker.is_some(), namespaces.is_ok()) {
        // An operator's own `--label executor.docker=no` wins.
        labels.entry(key).or_insert(value);
    }
    for service in service::Services::available() {
        if let Some((key, value)) = service.required_label() {
            labels.entry(key).or_insert(value);
        }
    }
    tracing::info!(agent = %id, ?labels, "labels");
    let services = Arc::new(service::Services::new(&work_dir));
    // A server a killed agent left running is stopped before any task needs one.
    services.shutdown().await;
    let owned = cgroup_parent.clone();
    let config = AgentConfig {
        coordinators,
        tls,
        id,
        labels,
        slots,
        runner: Runner {
            sandbox: SandboxExecutor {
                cgroup_parent,
                scratch_dir: work_dir.join("sandbox"),
                namespaces,
                user_namespaces,
                hidden: vec![work_dir.clone()],
            },
            workspaces: Arc::new(workspace::Workspaces::new(&work_dir)),
            services: services.clone(),
            installs: Arc::new(install::Installs::new(&work_dir)),
            workers: Arc::new(phpunit_worker::Workers::new(&work_dir)),
            work_dir,
            docker,
            images,
            log_cap,
        },
    };
    let workers = config.runner.workers.clone();
    session::run(config, shutdown).await;
    workers.shutdown();
    services.shutdown().await;
    if let Some(parent) = owned {
        cgroup::remove_parent(&parent);
    }
}

/// The Docker daemon, with this agent's leftover containers reaped; None (after a
/// note) when there is none.
async fn connect_docker(id: &str, parent: &str) -> Option<bollard::Docker> {
    let docker = match executor::docker::connect().await {
        Ok(d) => d,
        Err(why) => {
            tracing::info!(agent = %id, "docker executor off: {why}");
            return None;
        }
    };
    let reaper = DockerExecutor::new(docker.clone(), id, Some(parent.to_string()));
    match reaper.reap().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(agent = %id, "removed {n} leftover container(s)"),
        Err(why) => {
            tracing::warn!(agent = %id, "docker executor off: cannot reap leftover containers: {why}");
            return None;
        }
    }
    Some(docker)
}

/// What this agent can run, as labels that jobs require (see
/// `testfarm_shared::runtime::Runtime::required_labels`): `executor.sandbox=yes` when
/// it can make namespaces, `executor.docker=yes` with a daemon, `image.NAME=yes` for
/// every image whose rootfs is complete here (docker imports from it when its own copy
/// is missing, so the rootfs serves both executors).
pub fn implicit_labels(images: &ImageCache, docker: bool, namespaces: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if namespaces {
        out.insert("executor.sandbox".to_string(), "yes".to_string());
    }
    if docker {
        out.insert("executor.docker".to_string(), "yes".to_string());
    }
    if namespaces || docker {
        for image in images.scan() {
            out.insert(format!("image.{}", image.name), "yes".to_string());
        }
    }
    out
}
