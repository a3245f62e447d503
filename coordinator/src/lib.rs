//! The testfarm coordinator: a deterministic state machine over sled ([`state`]),
//! the node that orders commands into it ([`node`]), the leader's scheduler
//! ([`scheduler`]) and the gRPC services ([`grpc`]) that only convert and delegate.
//! See ../shared/DESIGN.md.

pub mod auth;
pub mod codec;
pub mod grpc;
pub mod http;
pub mod log_service;
pub mod logs;
pub mod metrics;
pub mod node;
pub mod raft;
pub mod raft_service;
pub mod report_data;
pub mod retention;
pub mod scheduler;
pub mod state;
pub mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use testfarm_proto::agent_service_server::AgentServiceServer;
use testfarm_proto::farm_server::FarmServer;
use testfarm_proto::raft_service_server::RaftServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

use crate::scheduler::{Agents, Scheduler, SchedulerConfig};

#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    pub data_dir: PathBuf,
    /// An agent silent for this long loses its leases.
    pub lease_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// How often one task may be lost before its run ends in error.
    pub max_lost: u32,
    /// Smallest shard worth its start overhead.
    pub min_shard: Duration,
    /// This node's raft id (1 for the embedded single node).
    pub node_id: u64,
    /// Initial cluster members, id → gRPC address; empty: a cluster of this node alone.
    pub peers: BTreeMap<u64, String>,
    /// Start empty and wait to be added with `farm cluster add`.
    pub join: bool,
    /// Compact the raft log past this many applied entries.
    pub snapshot_every: u64,
    /// The raft tick; elections take 10 ticks, heartbeats 2.
    pub raft_tick: Duration,
    /// The process's Prometheus recorder, rendered at `/metrics` (None: no metrics).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Task logs kept under `DATA_DIR/logs` (`farm logs`).
    pub logs: logs::LogConfig,
    /// Finished runs kept whole; older ones compact to their summary.
    pub retention: testfarm_shared::retention::Retention,
    /// How often the leader looks for runs to compact.
    pub retention_every: Duration,
    /// This coordinator's credentials (a coordinator certificate): every connection,
    /// served or made, is then mutual TLS, and each call is allowed by the role its
    /// caller's certificate names. None: plain connections that anyone can use.
    pub tls: Option<testfarm_proto::tls::Tls>,
    /// Grants of client certificates and bearer tokens on the Farm API (`--access`);
    /// None: every client the TLS gate lets in may do everything.
    pub access: Option<testfarm_shared::access::Policy>,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            data_dir: PathBuf::from(".farm/coordinator"),
            lease_timeout: Duration::from_secs(15),
            heartbeat_interval: Duration::from_secs(2),
            max_lost: 2,
            min_shard: Duration::from_secs(2),
            node_id: 1,
            peers: BTreeMap::new(),
            join: false,
            snapshot_every: 10_000,
            raft_tick: Duration::from_millis(100),
            metrics: None,
            logs: logs::LogConfig::default(),
            retention: testfarm_shared::retention::Retention::default(),
            retention_every: Duration::from_secs(60),
            tls: None,
            access: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("raft: {0}")]
    Raft(#[from] raft::ProposeError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Logs(#[from] logs::LogError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("the raft loop stopped on an error (its log says which); this node no longer serves")]
    RaftStopped,
}

/// Counts finished runs, on the leader only (every node applies the same finish).
/// Also exports the run's spans (run → job → task) when an OTLP endpoint is set.
async fn record_finished_runs(node: Arc<node::Node>, shutdown: CancellationToken) {
    let exporter = testfarm_otlp::Exporter::from_env("testfarm-coordinator");
    let mut events = node.subscribe();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.recv() => e,
        };
        match event {
            Ok(e) if e.finished && node.is_leader() => {
                if let Ok(Some(run)) = node.read(|sm| sm.run(&e.run_id)) {
                    crate::metrics::run_finished(&run);
                    if let (Some(exporter), Ok(tasks)) = (&exporter, node.read(|sm| sm.run_tasks(&e.run_id))) {
                        exporter.send(testfarm_shared::trace::run_spans(&run, &tasks));
                    }
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    }
}

/// Serves the coordinator's gRPC on `listener`, and HTTP (`/metrics`, reports) on
/// `http` when given, until `shutdown` is cancelled.
pub async fn serve(
    config: CoordinatorConfig,
    listener: TcpListener,
    http: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), CoordinatorError> {
    let metrics = config.metrics.clone();
    if let Some(tls) = &config.tls {
        match tls.peer() {
            Some(peer) if peer.role == testfarm_proto::tls::Role::Coordinator => {}
            other => {
                return Err(CoordinatorError::Tls(format!(
                    "{}: {} is no coordinator certificate",
                    tls.dir().display(),
                    other.map_or("this".to_string(), |p| p.to_string())
                )))
            }
        }
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|source| CoordinatorError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let store = store::Store::open(&config.data_dir)?;
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let peers = if config.peers.is_empty() {
        BTreeMap::from([(config.node_id, local)])
    } else {
        config.peers.clone()
    };
    let raft_config = raft::RaftConfig {
        id: config.node_id,
        peers,
        join: config.join,
        tick: config.raft_tick,
        election_ticks: 10,
        heartbeat_ticks: 2,
        snapshot_every: config.snapshot_every,
        tls: config.tls.clone(),
    };
    let node = node::Node::start(raft_config, store, shutdown.clone())?;
    // Without its raft loop a node would answer from a frozen state: stop serving.
    let died = node.raft_died();
    {
        let (died, shutdown) = (died.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = died.cancelled() => shutdown.cancel(),
                _ = shutdown.cancelled() => {}
            }
        });
    }
    let active = node.read(|sm| sm.active_runs().count());
    let agents = Arc::new(Agents::default());
    let sched_config = SchedulerConfig {
        lease_timeout: config.lease_timeout,
        heartbeat_interval: config.heartbeat_interval,
        min_shard: config.min_shard,
    };
    tracing::info!(addr = ?listener.local_addr().ok(), active_runs = active, "coordinator serving");
    let scheduler = Scheduler::new(node.clone(), agents.clone(), sched_config.clone());
    let tasks = tokio_util::task::TaskTracker::new();
    tasks.spawn(scheduler.run(shutdown.clone()));
    tasks.spawn(record_finished_runs(node.clone(), shutdown.clone()));
    tasks.spawn(retention::run(
        node.clone(),
        config.retention,
        config.retention_every,
        shutdown.clone(),
    ));
    let tls = config.tls.is_some();
    let access = auth::Access {
        tls,
        policy: config.access.clone().map(Arc::new),
    };
    if let Some(listener) = http {
        let state = http::HttpState {
            node: node.clone(),
            agents: agents.clone(),
            metrics,
            access: access.clone(),
        };
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = http::serve(listener, state, shutdown).await {
                tracing::error!("HTTP server failed: {e}");
            }
        });
    }
    let raft_server = raft_service::RaftServer {
        node: node.clone(),
        mailbox: node.mailbox(),
        peers_only: auth::Gate::new(tls, "raft", auth::PEER_ROLES),
        access: access.clone(),
    };
    let services = grpc::Services {
        node,
        agents,
        config: sched_config,
        max_lost: config.max_lost,
        logs: Arc::new(logs::Logs::open(config.data_dir.join("logs"), config.logs.clone())?),
        access: access.clone(),
    };
    // Server reflection: grpcurl and other generic clients read farm.proto from here
    // (v1, and v1alpha, which grpcio-reflection and older grpcurl ask).
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(testfarm_proto::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| CoordinatorError::Reflection(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| CoordinatorError::Reflection(e.to_string()))?;
    let mut server = tonic::transport::Server::builder();
    match &config.tls {
        Some(credentials) => {
            server = server
                .tls_config(credentials.server(access.takes_tokens()))
                .map_err(|e| CoordinatorError::Tls(format!("{}: {e}", credentials.dir().display())))?;
        }
        None => tracing::warn!(
            "no --tls: plain connections, and anyone who reaches this port may submit runs, \
             report results and send raft messages; see `farm certs`"
        ),
    }
    let tokens = access.takes_tokens();
    let gate = |service, roles| {
        let gate = auth::Gate::new(tls, service, roles).or_token(tokens && roles == auth::FARM_ROLES);
        move |request| gate.check(request)
    };
    let result = server
        .add_service(InterceptedService::new(
            reflection_v1,
            gate("reflection", auth::FARM_ROLES),
        ))
        .add_service(InterceptedService::new(
            reflection_v1alpha,
            gate("reflection", auth::FARM_ROLES),
        ))
        .add_service(InterceptedService::new(
            FarmServer::new(services.clone())
                .max_decoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES),
            gate("farm", auth::FARM_ROLES),
        ))
        .add_service(InterceptedService::new(
            AgentServiceServer::new(services)
                .max_decoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES),
            gate("agent", auth::AGENT_ROLES),
        ))
        .add_service(InterceptedService::new(
            RaftServiceServer::new(raft_server).max_decoding_message_size(256 << 20),
            gate("raft", auth::CLUSTER_ROLES),
        ))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled())
        .await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    result?;
    if died.is_cancelled() {
        return Err(CoordinatorError::RaftStopped);
    }
    Ok(())
}
