//! The agent's conversation with the coordinator: register, hold the lease stream
//! open, heartbeat, and report every finished task until it is acknowledged.
//!
//! One repeatable call pattern: whenever the stream breaks (coordinator restart, leader
//! change), the agent registers again and reopens it; tasks already running go on,
//! and their reports are retried until a coordinator takes them.

use crate::error::AgentError;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testfarm_proto::agent_service_client::AgentServiceClient;
use testfarm_proto::convert::ConvertError;
use testfarm_proto::{HeartbeatRequest, LeaseRequest, RegisterRequest, TaskAssignment, TaskReport};
use testfarm_shared::task::{ExitKind, TaskSpec};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::Channel;

use crate::runner::Runner;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `http://host:port` of each coordinator the agent may talk to; it follows the
    /// leader's address when a follower names it.
    pub coordinators: Vec<String>,
    /// Its credentials, for mutual TLS with every coordinator.
    pub tls: Option<testfarm_proto::tls::Tls>,
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub slots: u32,
    pub runner: Runner,
}

struct Shared {
    config: AgentConfig,
    /// The coordinator to talk to now: the leader, as far as the agent knows.
    current: Mutex<String>,
    /// Where spans go (OTEL_EXPORTER_OTLP_ENDPOINT), if anywhere.
    exporter: Option<testfarm_otlp::Exporter>,
    /// Tasks being run or whose report is not yet acknowledged, each with its stop:
    /// cancelled when the coordinator says it no longer wants the task.
    running: Mutex<HashMap<String, CancellationToken>>,
    slots: Semaphore,
}

/// Runs the agent until `shutdown`; then waits for running tasks to report.
pub async fn run(config: AgentConfig, shutdown: CancellationToken) {
    let first = config
        .coordinators
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:7700".into());
    let shared = Arc::new(Shared {
        slots: Semaphore::new(config.slots.max(1) as usize),
        running: Mutex::new(HashMap::new()),
        current: Mutex::new(first),
        exporter: testfarm_otlp::Exporter::from_env("testfarm-agent"),
        config,
    });
    let tasks = TaskTracker::new();
    let mut backoff = Backoff::new();
    while !shutdown.is_cancelled() {
        match session(&shared, &tasks, &shutdown).await {
            Ok(()) => backoff.reset(),
            Err(SessionError::Redirected(leader)) => {
                tracing::info!(agent = %shared.config.id, "following the leader to {leader}");
                *shared.current.lock().expect("current lock") = leader;
                backoff.reset();
                continue;
            }
            Err(SessionError::Failed(e)) => {
                tracing::warn!(agent = %shared.config.id, "coordinator session ended: {e}; reconnecting");
                shared.rotate();
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

pub(crate) async fn connect(
    url: &str,
    tls: Option<&testfarm_proto::tls::Tls>,
) -> Result<AgentServiceClient<Channel>, AgentError> {
    let channel = testfarm_proto::tls::endpoint(url, tls)
        .map_err(|e| AgentError::Invalid {
            what: format!("coordinator address `{url}`"),
            why: e.why,
        })?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|source| AgentError::Unreachable {
            url: url.into(),
            source,
        })?;
    Ok(AgentServiceClient::new(channel)
        .max_decoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES))
}

enum SessionError {
    /// A follower named the leader: talk to it instead.
    Redirected(String),
    Failed(String),
}

impl From<AgentError> for SessionError {
    fn from(e: AgentError) -> Self {
        SessionError::Failed(e.to_string())
    }
}

impl Shared {
    fn current(&self) -> String {
        self.current.lock().expect("current lock").clone()
    }

    /// Moves on to the next configured coordinator (the current one is unreachable).
    fn rotate(&self) {
        let list = &self.config.coordinators;
        if list.len() < 2 {
            return;
        }
        let mut current = self.current.lock().expect("current lock");
        let at = list
            .iter()
            .position(|u| *u == *current)
            .map_or(0, |i| (i + 1) % list.len());
        *current = list[at].clone();
    }
}

/// The leader's address from a follower's refusal, as a URL.
fn leader_hint(status: &tonic::Status) -> Option<String> {
    let addr = status.metadata().get("x-farm-leader")?.to_str().ok()?;
    Some(format!("http://{addr}"))
}

fn refused(what: &str, status: tonic::Status) -> SessionError {
    match leader_hint(&status) {
        Some(leader) => SessionError::Redirected(leader),
        None => SessionError::Failed(format!("{what}: {}", status.message())),
    }
}

/// How long a call that opens a session (register, lease) may take: a member that is
/// stopped (SIGSTOP, a frozen VM) accepts connections and answers nothing.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long heartbeats may go unanswered (or refused) before the agent leaves its
/// coordinator for another member: three intervals, at least 2 s (a leader busy
/// applying a large report answers late, not never), at most the lease timeout (past
/// it the leases are lost there anyway, and the cluster may well have a new leader).
/// The nemesis measured agents staying on a stopped leader for as long as it was
/// stopped, leased nothing.
fn heartbeat_patience(every: Duration, lease_timeout: Option<Duration>) -> Duration {
    let patience = (every * 3).max(Duration::from_secs(2));
    lease_timeout.map_or(patience, |l| patience.min(l.max(every * 2)))
}

/// One registration and lease stream; returns when the stream ends.
async fn session(shared: &Arc<Shared>, tasks: &TaskTracker, shutdown: &CancellationToken) -> Result<(), SessionError> {
    let config = &shared.config;
    let url = shared.current();
    let mut client = connect(&url, config.tls.as_ref()).await?;
    let silent = |what: &str| SessionError::Failed(format!("{what}: no answer from {url} within {OPEN_TIMEOUT:?}"));
    let reply = tokio::time::timeout(
        OPEN_TIMEOUT,
        client.register(RegisterRequest {
            agent_id: config.id.clone(),
            labels: config.labels.clone().into_iter().collect(),
            slots: config.slots,
            executors: config.runner.executors(),
        }),
    )
    .await
    .map_err(|_| silent("register"))?
    .map_err(|e| refused("register", e))?
    .into_inner();
    let heartbeat_every = Duration::from_millis(reply.heartbeat_interval_ms.max(100));
    let lease_timeout = (reply.lease_timeout_ms > 0).then(|| Duration::from_millis(reply.lease_timeout_ms));
    let mut stream = tokio::time::timeout(
        OPEN_TIMEOUT,
        client.lease(LeaseRequest {
            agent_id: config.id.clone(),
        }),
    )
    .await
    .map_err(|_| silent("lease"))?
    .map_err(|e| refused("lease", e))?
    .into_inner();
    tracing::info!(agent = %config.id, coordinator = %url, "registered; waiting for work");
    let session_over = shutdown.child_token();
    let _stop_heartbeats = session_over.clone().drop_guard();
    let mut beats = tokio::spawn(heartbeats(
        shared.clone(),
        client.clone(),
        heartbeat_patience(heartbeat_every, lease_timeout),
        heartbeat_every,
        session_over.clone(),
    ));
    loop {
        let message = tokio::select! {
            // The heartbeats end the session: to register again (Ok), or because the
            // coordinator went silent (why, to move on to another member).
            ended = &mut beats => {
                return match ended.ok().flatten() {
                    Some(why) => Err(SessionError::Failed(why)),
                    None => Ok(()),
                };
            }
            m = stream.message() => m,
        };
        match message {
            Ok(Some(assignment)) => {
                let shared = shared.clone();
                let shutdown = shutdown.clone();
                tasks.spawn(async move { execute(shared, assignment, shutdown).await });
            }
            Ok(None) => return Err(SessionError::Failed("the coordinator closed the lease stream".into())),
            Err(e) => return Err(refused("lease stream", e)),
        }
    }
}

/// Heartbeats until the session is over; returns early to end it — None to register
/// again with the same coordinator or its leader, Some(why) when it went silent.
async fn heartbeats(
    shared: Arc<Shared>,
    mut client: AgentServiceClient<Channel>,
    patience: Duration,
    every: Duration,
    over: CancellationToken,
) -> Option<String> {
    let mut answered = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = over.cancelled() => return None,
            _ = tokio::time::sleep(every) => {}
        }
        if answered.elapsed() > patience {
            return Some(format!(
                "no heartbeat answered for {:.1}s: leaving this coordinator",
                answered.elapsed().as_secs_f64()
            ));
        }
        let running: Vec<String> = shared.running.lock().expect("running lock").keys().cloned().collect();
        let call = client.heartbeat(HeartbeatRequest {
            agent_id: shared.config.id.clone(),
            running_tasks: running,
        });
        let Ok(result) = tokio::time::timeout(patience, call).await else {
            continue;
        };
        match result {
            Ok(reply) if !reply.get_ref().known => {
                tracing::warn!("the coordinator does not know this agent (restarted?): registering again");
                return None;
            }
            Ok(reply) => {
                answered = tokio::time::Instant::now();
                let running = shared.running.lock().expect("running lock");
                for task in &reply.get_ref().stop_tasks {
                    if let Some(stop) = running.get(task) {
                        tracing::info!(task = %task, "the coordinator no longer wants this task: stopping it");
                        stop.cancel();
                    }
                }
            }
            Err(e) if leader_hint(&e).is_some() => {
                // This coordinator stopped leading: start a session with the leader.
                return None;
            }
            Err(e) => tracing::debug!("heartbeat failed: {}", e.message()),
        }
    }
}

async fn execute(shared: Arc<Shared>, assignment: TaskAssignment, shutdown: CancellationToken) {
    let task_id = assignment.task_id.clone();
    let stop = CancellationToken::new();
    let busy = {
        let mut running = shared.running.lock().expect("running lock");
        running.insert(task_id.clone(), stop.clone());
        running.len()
    };
    crate::telemetry::slots(shared.config.slots, busy);
    let mut trace_parent = String::new();
    let spec = assignment.spec.clone().ok_or_else(|| ConvertError {
        field: "spec".into(),
        problem: "missing".into(),
    });
    let outcome = match spec.and_then(TaskSpec::try_from) {
        Ok(spec) => {
            let _slot = shared.slots.acquire().await.expect("semaphore never closes");
            // The fault tests read this line as the agent's own record of what it ran.
            tracing::info!(task = %task_id, attempt = assignment.attempt, job = %spec.job_name, "running");
            let started_ns = now_ms() * 1_000_000;
            let finished = CancellationToken::new();
            let shipment = crate::log_ship::Shipment {
                tls: shared.config.tls.clone(),
                agent_id: shared.config.id.clone(),
                task_id: task_id.clone(),
                attempt: assignment.attempt,
                path: shared.config.runner.log_path(&task_id, assignment.attempt),
            };
            let leader = {
                let shared = shared.clone();
                move || shared.current()
            };
            let shipper = tokio::spawn(crate::log_ship::ship(shipment, leader, finished.clone()));
            let outcome = shared.config.runner.run(&spec, assignment.attempt, &stop).await;
            // The log's end before the report, so a follower of the log sees all of it.
            finished.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), shipper).await;
            if let Some(exporter) = &shared.exporter {
                exporter.send(crate::telemetry::agent_spans(
                    &shared.config.id,
                    &spec,
                    &outcome,
                    started_ns,
                ));
            }
            trace_parent = spec.trace_parent;
            outcome
        }
        Err(e) => {
            let mut o = shared.config.runner.empty_outcome();
            o.exit = ExitKind::Infrastructure {
                message: format!("cannot read the task spec: {e}"),
            };
            o
        }
    };
    crate::telemetry::task_finished(&outcome, task_id.ends_with(".d"));
    if stop.is_cancelled() {
        // Nobody wants the result: the coordinator would ignore the report.
        tracing::info!(task = %task_id, "stopped; not reported");
    } else {
        report(&shared, &task_id, assignment.attempt, outcome, &trace_parent, &shutdown).await;
    }
    let busy = {
        let mut running = shared.running.lock().expect("running lock");
        running.remove(&task_id);
        running.len()
    };
    crate::telemetry::slots(shared.config.slots, busy);
}

/// Sends the report until a coordinator acknowledges it (or the agent shuts down).
async fn report(
    shared: &Shared,
    task_id: &str,
    attempt: u32,
    mut outcome: testfarm_shared::task::TaskOutcome,
    trace_parent: &str,
    shutdown: &CancellationToken,
) {
    let mut backoff = Backoff::new();
    loop {
        outcome.sent_at_ms = now_ms();
        let request = TaskReport {
            agent_id: shared.config.id.clone(),
            task_id: task_id.into(),
            attempt,
            outcome: Some(crate::report_size::fit(&mut outcome, crate::report_size::limit())),
        };
        // Any coordinator takes a report (followers forward it to the leader).
        let result = match connect(&shared.current(), shared.config.tls.as_ref()).await {
            Ok(mut client) => {
                // The trace context travels back with the report, as gRPC metadata.
                let mut request = tonic::Request::new(request);
                if let Ok(value) = trace_parent.parse() {
                    request.metadata_mut().insert("traceparent", value);
                }
                match client.report_task(request).await {
                    Err(e) if refused_for_good(e.code()) => {
                        // Sending it again cannot help: the coordinator refused this
                        // report (the lease is gone, or the report is malformed).
                        tracing::error!(task = %task_id, attempt, "report refused: {}", e.message());
                        return;
                    }
                    other => other.map_err(|e| e.message().to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        if result.is_err() {
            crate::telemetry::report_retried();
            shared.rotate();
        }
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

/// Answers to a report that a retry would get again.
fn refused_for_good(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::FailedPrecondition | tonic::Code::InvalidArgument | tonic::Code::PermissionDenied
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_patience_is_three_intervals_within_its_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(heartbeat_patience(ms(2000), Some(ms(15_000))), ms(6000));
        assert_eq!(heartbeat_patience(ms(500), Some(ms(3000))), ms(2000));
        assert_eq!(heartbeat_patience(ms(500), Some(ms(1200))), ms(1200));
        assert_eq!(heartbeat_patience(ms(100), None), ms(2000));
    }
}
