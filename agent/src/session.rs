//! The agent's conversation with the coordinator: register, hold the lease stream
//! open, heartbeat, and report every finished task until it is acknowledged.
//!
//! One repeatable call pattern: whenever the stream breaks (coordinator restart, leader
//! change), the agent registers again and reopens it; tasks already running go on,
//! and their reports are retried until a coordinator takes them.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testfarm_proto::agent_service_client::AgentServiceClient;
use testfarm_proto::{HeartbeatRequest, LeaseRequest, RegisterRequest, TaskAssignment, TaskReport};
use testfarm_shared::task::{ExitKind, TaskSpec};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::Channel;

use crate::runner::Sandbox;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `http://host:port` of a coordinator.
    pub coordinator: String,
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub slots: u32,
    pub sandbox: Sandbox,
}

struct Shared {
    config: AgentConfig,
    /// Tasks being run or whose report is not yet acknowledged.
    running: Mutex<HashSet<String>>,
    slots: Semaphore,
}

/// Runs the agent until `shutdown`; then waits for running tasks to report.
pub async fn run(config: AgentConfig, shutdown: CancellationToken) {
    let shared = Arc::new(Shared {
        slots: Semaphore::new(config.slots.max(1) as usize),
        running: Mutex::new(HashSet::new()),
        config,
    });
    let tasks = TaskTracker::new();
    let mut backoff = Backoff::new();
    while !shutdown.is_cancelled() {
        match session(&shared, &tasks, &shutdown).await {
            Ok(()) => backoff.reset(),
            Err(e) => {
                tracing::warn!(agent = %shared.config.id, "coordinator session ended: {e}; reconnecting")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(backoff.next()) => {}
        }
    }
    tasks.close();
    tasks.wait().await;
}

async fn connect(url: &str) -> Result<AgentServiceClient<Channel>, String> {
    let channel = Channel::from_shared(url.to_string())
        .map_err(|e| format!("bad coordinator address `{url}`: {e}"))?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| format!("cannot reach coordinator {url}: {e}"))?;
    Ok(AgentServiceClient::new(channel))
}

/// One registration and lease stream; returns when the stream ends.
async fn session(
    shared: &Arc<Shared>,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let config = &shared.config;
    let mut client = connect(&config.coordinator).await?;
    let reply = client
        .register(RegisterRequest {
            agent_id: config.id.clone(),
            labels: config.labels.clone().into_iter().collect(),
            slots: config.slots,
            executors: vec!["sandbox".into()],
        })
        .await
        .map_err(|e| format!("register: {}", e.message()))?
        .into_inner();
    let heartbeat_every = Duration::from_millis(reply.heartbeat_interval_ms.max(100));
    let mut stream = client
        .lease(LeaseRequest {
            agent_id: config.id.clone(),
        })
        .await
        .map_err(|e| format!("lease: {}", e.message()))?
        .into_inner();
    tracing::info!(agent = %config.id, coordinator = %config.coordinator, "registered; waiting for work");
    let session_over = shutdown.child_token();
    let _stop_heartbeats = session_over.clone().drop_guard();
    tokio::spawn(heartbeats(
        shared.clone(),
        client.clone(),
        heartbeat_every,
        session_over.clone(),
    ));
    loop {
        let message = tokio::select! {
            _ = session_over.cancelled() => return Ok(()),
            m = stream.message() => m,
        };
        match message {
            Ok(Some(assignment)) => {
                let shared = shared.clone();
                let shutdown = shutdown.clone();
                tasks.spawn(async move { execute(shared, assignment, shutdown).await });
            }
            Ok(None) => return Err("the coordinator closed the lease stream".into()),
            Err(e) => return Err(format!("lease stream: {}", e.message())),
        }
    }
}

async fn heartbeats(
    shared: Arc<Shared>,
    mut client: AgentServiceClient<Channel>,
    every: Duration,
    over: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = over.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let running: Vec<String> = shared
            .running
            .lock()
            .expect("running lock")
            .iter()
            .cloned()
            .collect();
        match client
            .heartbeat(HeartbeatRequest {
                agent_id: shared.config.id.clone(),
                running_tasks: running,
            })
            .await
        {
            Ok(reply) if !reply.get_ref().known => {
                tracing::warn!(
                    "the coordinator does not know this agent (restarted?): registering again"
                );
                over.cancel();
                return;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("heartbeat failed: {}", e.message()),
        }
    }
}

async fn execute(shared: Arc<Shared>, assignment: TaskAssignment, shutdown: CancellationToken) {
    let task_id = assignment.task_id.clone();
    shared
        .running
        .lock()
        .expect("running lock")
        .insert(task_id.clone());
    let outcome = match serde_json::from_str::<TaskSpec>(&assignment.spec_json) {
        Ok(spec) => {
            let _slot = shared
                .slots
                .acquire()
                .await
                .expect("semaphore never closes");
            tracing::info!(task = %task_id, job = %spec.job_name, "running");
            shared.config.sandbox.run(&spec, assignment.attempt).await
        }
        Err(e) => {
            let mut o = shared.config.sandbox.empty_outcome();
            o.exit = ExitKind::Infrastructure {
                message: format!("cannot read the task spec: {e}"),
            };
            o
        }
    };
    report(&shared, &task_id, assignment.attempt, outcome, &shutdown).await;
    shared
        .running
        .lock()
        .expect("running lock")
        .remove(&task_id);
}

/// Sends the report until a coordinator acknowledges it (or the agent shuts down).
async fn report(
    shared: &Shared,
    task_id: &str,
    attempt: u32,
    mut outcome: testfarm_shared::task::TaskOutcome,
    shutdown: &CancellationToken,
) {
    let mut backoff = Backoff::new();
    loop {
        outcome.sent_at_ms = now_ms();
        let request = TaskReport {
            agent_id: shared.config.id.clone(),
            task_id: task_id.into(),
            attempt,
            outcome_json: serde_json::to_string(&outcome).expect("outcome serializes"),
        };
        let result = match connect(&shared.config.coordinator).await {
            Ok(mut client) => client
                .report_task(request)
                .await
                .map_err(|e| e.message().to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(ack) => {
                tracing::info!(task = %task_id, applied = ack.get_ref().applied, "reported");
                return;
            }
            Err(e) => tracing::warn!(task = %task_id, "report failed: {e}; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff.next()) => {}
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Exponential backoff from 100ms to 2s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(Duration::from_millis(100))
    }
    fn reset(&mut self) {
        self.0 = Duration::from_millis(100);
    }
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
        d
    }
}
