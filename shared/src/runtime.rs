//! Where a stage's commands run: the executor (sandbox or docker), the runtime image
//! and the network, and the agent labels that these require. Part of the pipeline
//! file (see [`crate::config`]); the agents' side is `agent/src/executor/`.
//! See ../shared/DESIGN.md, "Executors".

use serde::{Deserialize, Serialize};

/// Where a stage's commands run. See ../shared/DESIGN.md, "Executors".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runtime {
    #[serde(default)]
    pub executor: ExecutorKind,
    /// A runtime image (`deploy/images/NAME.yaml`, built with `farm image build NAME`).
    /// None: the sandbox runs on the host's filesystem (docker always needs one).
    #[serde(default)]
    pub image: Option<String>,
    /// None: the executor's default, which is no network (loopback only) wherever the
    /// commands are confined, and the host's network with `isolation: none`.
    #[serde(default)]
    pub network: Option<Network>,
    /// How a sandbox without an image confines its commands; an image or a container
    /// always isolates.
    #[serde(default)]
    pub isolation: Isolation,
}

impl Runtime {
    /// Whether the commands run in a root filesystem of their own (a container, or
    /// the sandbox entering a runtime image).
    pub fn in_image(&self) -> bool {
        self.executor == ExecutorKind::Docker || self.image.is_some()
    }

    /// Whether the commands are confined: own namespaces, the runtime user, the
    /// project read-only. Everything but a sandbox stage with `isolation: none`.
    pub fn confined(&self) -> bool {
        self.in_image() || self.isolation == Isolation::Sandbox
    }

    /// Whether the commands get a network of their own that reaches nothing (only
    /// loopback): explicitly `none`, or the default of a confined runtime.
    pub fn network_off(&self) -> bool {
        match self.network {
            Some(Network::None) => true,
            Some(Network::Bridge) => false,
            None => self.confined(),
        }
    }

    /// Labels an agent must carry to run this runtime (added to every job's labels):
    /// `executor.<x>=yes` and `image.<name>=yes`. A sandbox without an image needs
    /// nothing: every agent has it (simulated and older agents included).
    pub fn required_labels(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.in_image() {
            out.push((format!("executor.{}", self.executor.as_str()), "yes".to_string()));
        }
        if let Some(image) = &self.image {
            out.push((format!("image.{image}"), "yes".to_string()));
        }
        out
    }
}

/// The executors an agent may have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// A process group and cgroup on the host, in namespaces and a runtime image's
    /// root filesystem when the stage names an image.
    #[default]
    Sandbox,
    /// A container per shard through the Docker daemon.
    Docker,
}

impl ExecutorKind {
    pub const ALL: [ExecutorKind; 2] = [ExecutorKind::Sandbox, ExecutorKind::Docker];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Sandbox => "sandbox",
            ExecutorKind::Docker => "docker",
        }
    }
}

/// A stage's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// A network namespace with only loopback (docker `--network none`).
    None,
    /// Docker's default bridge (for stages that reach services); the sandbox then
    /// shares the host's network.
    Bridge,
}

/// How far a sandbox stage without an image is kept from the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Own mount, pid, network (loopback only), uts and ipc namespaces; the host's
    /// filesystem read-only but for the task's and install's directories and a private
    /// `/tmp`; the runtime user, no capabilities.
    #[default]
    Sandbox,
    /// `isolation: none`: on the host as the agent's user, on the host's network, with
    /// everything the agent may write writable. The opt-out, logged loudly.
    None,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Sandbox => "sandbox",
            Isolation::None => "none",
        }
    }
}
