//! Sends a running task's log to the coordinator as it grows, so that `farm logs
//! RUN TASK -f` shows it while the task runs; the full log stays on this agent.
//!
//! The coordinator answers each chunk with how much of the log it holds, and the
//! next chunk starts there: a chunk lost in transit is sent again, and a new leader
//! (which holds nothing) gets the log again from its start. The log's end goes
//! before the task's report. Nothing here can fail a task: a log that cannot be sent
//! is only missing from `farm logs`.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use testfarm_proto::agent_service_client::AgentServiceClient;
use testfarm_proto::LogChunk;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// How often the log is looked at while the task runs.
const EVERY: Duration = Duration::from_millis(250);
/// The most bytes one chunk carries.
const CHUNK: u64 = 1 << 20;
/// Tries left for the log's end once the task has finished.
const END_TRIES: u32 = 8;

/// The log of one task attempt, and who sends it.
pub struct Shipment {
    pub tls: Option<testfarm_proto::tls::Tls>,
    pub agent_id: String,
    pub task_id: String,
    pub attempt: u32,
    pub path: PathBuf,
}

/// Up to `CHUNK` bytes of the file from `offset` (none if it is not there yet).
fn read_from(path: &PathBuf, offset: u64) -> Vec<u8> {
    let mut data = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.take(CHUNK).read_to_end(&mut data);
        }
    }
    data
}

/// Ships the log until `finished` and its end is sent (or given up). `coordinator`
/// names the member to talk to now (the agent's current leader).
pub async fn ship(shipment: Shipment, coordinator: impl Fn() -> String, finished: CancellationToken) {
    let mut client: Option<(String, AgentServiceClient<Channel>)> = None;
    let mut sent = 0u64;
    let mut end_tries = END_TRIES;
    loop {
        let done = finished.is_cancelled();
        let data = read_from(&shipment.path, sent);
        let at_end = done && (data.len() as u64) < CHUNK;
        if !data.is_empty() || at_end {
            let url = coordinator();
            if client.as_ref().is_none_or(|(u, _)| *u != url) {
                client = crate::session::connect(&url, shipment.tls.as_ref())
                    .await
                    .ok()
                    .map(|c| (url, c));
            }
            let chunk = LogChunk {
                agent_id: shipment.agent_id.clone(),
                task_id: shipment.task_id.clone(),
                attempt: shipment.attempt,
                offset: sent,
                done: at_end,
                data,
            };
            let result = match client.as_mut() {
                Some((_, c)) => c.append_log(chunk).await,
                None => Err(tonic::Status::unavailable("no coordinator reachable")),
            };
            match result {
                Ok(ack) => {
                    sent = ack.into_inner().have;
                    if at_end {
                        return;
                    }
                    continue;
                }
                // Not this agent's lease any more (lost, cancelled): nobody reads on.
                Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                    tracing::debug!(task = %shipment.task_id, "log not taken: {}", status.message());
                    return;
                }
                Err(status) => {
                    tracing::debug!(task = %shipment.task_id, "log chunk not sent: {}", status.message());
                    client = None;
                }
            }
        }
        if done {
            end_tries -= 1;
            if end_tries == 0 {
                return;
            }
        }
        tokio::select! {
            _ = finished.cancelled(), if !done => {}
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
