//! The two log calls: an agent appending to the log of the task it holds, and a
//! client reading or following one (`farm logs`). The bytes are [`crate::logs`]'s;
//! here are who may write, which member answers, and when a followed log ends.

use std::time::{Duration, Instant};

use testfarm_proto::{LogAck, LogChunk, LogData, WatchLogRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::grpc::{internal, not_leader, Services};
use crate::logs::LogError;
use crate::state::{Task, TaskState};

/// The most bytes one LogData carries.
const CHUNK: usize = 1 << 20;
/// How long a followed log waits for its end after the attempt stopped running (the
/// agent sends the end before its report, so this covers only a lost agent).
const GRACE: Duration = Duration::from_secs(3);

fn log_status(e: LogError) -> Status {
    match e {
        LogError::BadTask(_) | LogError::NoAttempt => Status::invalid_argument(e.to_string()),
        LogError::Io { .. } => Status::internal(e.to_string()),
    }
}

/// Whether `attempt` of the task is leased to `agent` now.
fn holds(task: Option<&Task>, agent: Option<&str>, attempt: u32) -> bool {
    task.is_some_and(|t| {
        t.attempt == attempt && matches!(&t.state, TaskState::Leased { agent: a, .. } if agent.is_none_or(|x| x == a))
    })
}

pub fn append(services: &Services, chunk: LogChunk) -> Result<LogAck, Status> {
    // Only the agent holding the attempt's lease writes its log.
    let leased = services
        .node
        .read(|sm| holds(sm.task(&chunk.task_id), Some(&chunk.agent_id), chunk.attempt));
    if !leased {
        return Err(Status::failed_precondition(format!(
            "task {} attempt {} is not leased to agent {}: its log is not taken",
            chunk.task_id, chunk.attempt, chunk.agent_id
        )));
    }
    let have = services
        .logs
        .append(&chunk.task_id, chunk.attempt, chunk.offset, &chunk.data, chunk.done)
        .map_err(log_status)?;
    Ok(LogAck { have })
}

/// The task, active or of a finished run.
fn find_task(services: &Services, task_id: &str) -> Result<Option<Task>, Status> {
    if let Some(task) = services.node.read(|sm| sm.task(task_id).cloned()) {
        return Ok(Some(task));
    }
    let run_id = task_id.split('.').next().unwrap_or_default();
    let tasks = services.node.read(|sm| sm.run_tasks(run_id)).map_err(internal)?;
    Ok(tasks.into_iter().find(|t| t.id == task_id))
}

/// Tells the logs that a follower is gone ([`crate::logs::Logs::unwatch`]).
struct Unwatch {
    logs: std::sync::Arc<crate::logs::Logs>,
    task_id: String,
    attempt: u32,
}

impl Drop for Unwatch {
    fn drop(&mut self) {
        self.logs.unwatch(&self.task_id, self.attempt);
    }
}

pub async fn watch(
    services: &Services,
    req: WatchLogRequest,
) -> Result<ReceiverStream<Result<LogData, Status>>, Status> {
    let task =
        find_task(services, &req.task_id)?.ok_or_else(|| Status::not_found(format!("no task `{}`", req.task_id)))?;
    let attempt = if req.attempt == 0 { task.attempt } else { req.attempt };
    if attempt == 0 || attempt > task.attempt {
        return Err(Status::failed_precondition(format!(
            "task {} has not started{}: it has run {} attempt(s)",
            task.id,
            if attempt == 0 {
                String::new()
            } else {
                format!(" attempt {attempt}")
            },
            task.attempt
        )));
    }
    let running = holds(Some(&task), None, attempt);
    let role = services.node.role();
    if !role.is_leader {
        // The leader takes the logs: it holds a running one, and any this member lacks.
        let here = services.logs.read(&task.id, attempt, 0, 0).map_err(log_status)?;
        if running || here.is_none() {
            return Err(not_leader(role.leader_addr));
        }
    }
    let follow = req.follow && running;
    // Subscribed before the first read, so no append between them is missed.
    let mut changes = if follow {
        Some(services.logs.watch(&task.id, attempt).map_err(log_status)?)
    } else {
        None
    };
    let (tx, rx) = mpsc::channel(16);
    let (services, task_id) = (services.clone(), task.id.clone());
    let mut offset = req.offset;
    tokio::spawn(async move {
        let message = |offset: u64, data: Vec<u8>| LogData {
            task_id: task_id.clone(),
            attempt,
            offset,
            data,
            ..Default::default()
        };
        let mut stopped: Option<Instant> = None;
        // Dropped when this follower ends, however it ends.
        let _unwatch = follow.then(|| Unwatch {
            logs: services.logs.clone(),
            task_id: task_id.clone(),
            attempt,
        });
        loop {
            let read = match services.logs.read(&task_id, attempt, offset, CHUNK) {
                Ok(read) => read,
                Err(e) => {
                    let _ = tx.send(Err(log_status(e))).await;
                    return;
                }
            };
            let (data, state) = read.unwrap_or_default();
            if !data.is_empty() {
                let len = data.len() as u64;
                if tx.send(Ok(message(offset, data))).await.is_err() {
                    return;
                }
                offset += len;
                continue;
            }
            let ended = state.done || stopped.is_some_and(|at| at.elapsed() >= GRACE);
            let Some(changes) = changes.as_mut().filter(|_| !ended) else {
                let last = LogData {
                    end: ended || !running,
                    done: state.done,
                    dropped: state.dropped,
                    ..message(offset, Vec::new())
                };
                let _ = tx.send(Ok(last)).await;
                return;
            };
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    let still = services.node.read(|sm| holds(sm.task(&task_id), None, attempt));
                    if !still && stopped.is_none() {
                        stopped = Some(Instant::now());
                    }
                }
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}
