//! `farm logs RUN [TASK] [-f]`: a task's log as its agent sends it, in order; `-f`
//! follows it while the task runs. Without TASK, every task of the run, each line
//! prefixed with its task (`j0.s3| ...`), and with `-f` each task as it starts, until
//! the run has its verdict. A member lost under a follower is replaced by another,
//! and the log resumes at the byte it stopped at.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use testfarm_proto::farm_client::FarmClient;
use testfarm_proto::WatchLogRequest;
use testfarm_shared::model::{Run, Task};
use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::args::LogsArgs;
use crate::error::CliError;
use crate::follow::{get_record, member_lost, Members, FAILOVER_WINDOW};

/// Where a follower's bytes go: straight to stdout (one task), or as whole lines
/// with the task's prefix to one printer (several at once).
#[derive(Clone)]
enum Sink {
    Raw,
    Lines(mpsc::UnboundedSender<String>, String),
}

/// How a task attempt's log ended, for the closing note.
struct Ended {
    task_id: String,
    attempt: u32,
    done: bool,
    dropped: u64,
}

pub async fn logs_command(args: LogsArgs) -> Result<(), CliError> {
    let (members, client) = Members::connect(&args.coordinator).await?;
    let mut follower = Follower { members, client };
    match &args.task {
        Some(task) => {
            let task_id = if task.starts_with(&format!("{}.", args.run_id)) {
                task.clone()
            } else {
                format!("{}.{task}", args.run_id)
            };
            let ended = follower
                .task(&task_id, args.attempt.unwrap_or(0), args.follow, Sink::Raw)
                .await?;
            note(&ended);
            Ok(())
        }
        None => follower.run(&args.run_id, args.follow).await,
    }
}

fn note(ended: &Ended) {
    let Ended {
        task_id,
        attempt,
        done,
        dropped,
    } = ended;
    if *dropped > 0 {
        eprintln!("farm: {task_id} attempt {attempt}: {dropped} bytes past the coordinator's log cap were not kept (the agent has the whole log)");
    }
    if !done {
        eprintln!(
            "farm: {task_id} attempt {attempt}: the log has no end (the task runs on, or its agent was lost; a retry is a new attempt)"
        );
    }
}

struct Follower {
    members: Members,
    client: FarmClient<Channel>,
}

impl Follower {
    /// The log of one task attempt (0: the latest), from its start; with `follow`,
    /// until it ends. Waits for a task that has not started when following.
    async fn task(&mut self, task_id: &str, attempt: u32, follow: bool, sink: Sink) -> Result<Ended, CliError> {
        let mut offset = 0u64;
        let mut attempt = attempt;
        let mut partial = Vec::new();
        let (mut done, mut dropped) = (false, 0);
        let deadline = || Instant::now() + FAILOVER_WINDOW;
        'read: loop {
            let request = WatchLogRequest {
                task_id: task_id.into(),
                attempt,
                offset,
                follow,
            };
            let lost = match self.client.watch_log(request).await {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    loop {
                        match stream.message().await {
                            Ok(Some(data)) => {
                                attempt = data.attempt;
                                offset = data.offset + data.data.len() as u64;
                                emit(&sink, &mut partial, &data.data, false);
                                (done, dropped) = (data.done, data.dropped);
                                if data.end {
                                    break 'read;
                                }
                            }
                            // Without `follow`, the stream ends where the log is now.
                            Ok(None) if !follow => break 'read,
                            Ok(None) => break "the log stream closed early".to_string(),
                            Err(status) if member_lost(&status, true) => break status.message().to_string(),
                            Err(status) => return Err(status.into()),
                        }
                    }
                }
                Err(status) if follow && status.code() == tonic::Code::FailedPrecondition => {
                    // Not started yet: it will be.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    continue;
                }
                Err(status) if member_lost(&status, false) => status.message().to_string(),
                Err(status) => return Err(status.into()),
            };
            tracing::debug!(task_id, why = %lost, "log follower moves to another member");
            self.client = self.members.reconnect(deadline()).await?;
        }
        emit(&sink, &mut partial, &[], true);
        Ok(Ended {
            task_id: task_id.into(),
            attempt,
            done,
            dropped,
        })
    }

    /// Every task of the run: each log whole in task order, or with `follow` all at
    /// once, line by line, as tasks start, until the verdict.
    async fn run(&mut self, run_id: &str, follow: bool) -> Result<(), CliError> {
        let (lines, mut printed) = mpsc::unbounded_channel::<String>();
        let printer = tokio::spawn(async move {
            while let Some(line) = printed.recv().await {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        });
        let mut started: BTreeSet<(String, u32)> = BTreeSet::new();
        let mut followers = tokio::task::JoinSet::new();
        loop {
            let (run, tasks) = self.record(run_id).await?;
            for task in tasks.iter().filter(|t| t.attempt > 0) {
                if !started.insert((task.id.clone(), task.attempt)) {
                    continue;
                }
                let short = task.id.strip_prefix(&format!("{run_id}.")).unwrap_or(&task.id);
                let sink = Sink::Lines(lines.clone(), format!("{short}| "));
                if !follow {
                    self.task(&task.id, task.attempt, false, sink).await?;
                    continue;
                }
                let mut follower = Follower {
                    members: self.members.clone(),
                    client: self.client.clone(),
                };
                let (id, attempt) = (task.id.clone(), task.attempt);
                followers.spawn(async move { follower.task(&id, attempt, true, sink).await });
            }
            if !follow || run.finished_ms.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        while let Some(joined) = followers.join_next().await {
            if let Ok(Ok(ended)) = joined {
                if ended.dropped > 0 {
                    note(&ended);
                }
            }
        }
        drop(lines);
        let _ = printer.await;
        Ok(())
    }

    /// The run and its tasks, from any member.
    async fn record(&mut self, run_id: &str) -> Result<(Run, Vec<Task>), CliError> {
        let deadline = Instant::now() + FAILOVER_WINDOW;
        loop {
            match get_record(&mut self.client, run_id).await {
                Ok(record) => return Ok((record.run, record.tasks)),
                Err(status) if member_lost(&status, false) && Instant::now() < deadline => {
                    self.client = self.members.reconnect(deadline).await?;
                }
                Err(status) => return Err(status.into()),
            }
        }
    }
}

/// Writes `data` to the sink: raw bytes, or each completed line with the prefix
/// (`flush`: the rest too, as a last line).
fn emit(sink: &Sink, partial: &mut Vec<u8>, data: &[u8], flush: bool) {
    match sink {
        Sink::Raw => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(data);
            let _ = out.flush();
        }
        Sink::Lines(tx, prefix) => {
            partial.extend_from_slice(data);
            while let Some(at) = partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = partial.drain(..=at).collect();
                let _ = tx.send(format!("{prefix}{}", String::from_utf8_lossy(&line)));
            }
            if flush && !partial.is_empty() {
                let _ = tx.send(format!("{prefix}{}\n", String::from_utf8_lossy(partial)));
                partial.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_out_whole_with_their_prefix_and_the_rest_at_the_end() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = Sink::Lines(tx, "j0.s1| ".into());
        let mut partial = Vec::new();
        emit(&sink, &mut partial, b"one\ntw", false);
        emit(&sink, &mut partial, b"o\nthree", false);
        emit(&sink, &mut partial, b"", true);
        let mut got = Vec::new();
        while let Ok(line) = rx.try_recv() {
            got.push(line);
        }
        assert_eq!(got, ["j0.s1| one\n", "j0.s1| two\n", "j0.s1| three\n"]);
    }
}
