//! The testfarm agent: holds a lease stream to the coordinator ([`session`]), runs
//! each task in the sandbox executor ([`runner`]): its own process group ([`process`])
//! in its own cgroup with the stage's limits ([`cgroup`]), and reports per-test
//! results, phase timings and resource use. See ../shared/DESIGN.md, "Executors".

pub mod cgroup;
pub mod process;
pub mod runner;
pub mod session;
pub mod telemetry;

pub use runner::Sandbox;
pub use session::AgentConfig;

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

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
}

/// Prepares the host (reaps what a crash left, probes cgroups) and runs the agent
/// until `shutdown`.
pub async fn run(setup: AgentSetup, shutdown: CancellationToken) {
    let AgentSetup {
        coordinators,
        id,
        labels,
        slots,
        work_dir,
        http,
    } = setup;
    if let Some((listener, handle)) = http {
        tokio::spawn(telemetry::serve(listener, handle, shutdown.clone()));
    }
    let parent = cgroup_parent(&id);
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
    let owned = cgroup_parent.clone();
    let config = AgentConfig {
        coordinators,
        id,
        labels,
        slots,
        sandbox: Sandbox {
            work_dir,
            cgroup_parent,
        },
    };
    session::run(config, shutdown).await;
    if let Some(parent) = owned {
        cgroup::remove_parent(&parent);
    }
}
