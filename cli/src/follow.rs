//! A client of a cluster whose members may die under it. A submit that loses its
//! member before the reply is sent again through another with the same random
//! submission id, which the cluster answers with the run the first became. Following
//! a run to its verdict: when the member a watch runs through goes away (killed, restarted, cut
//! off, stepped down), the watch resumes on another member — those given with
//! `--coordinator` and those the cluster names — from the run's current state.
//! Progress events are snapshots, so a resumed watch loses nothing; failed tests
//! reported in the gap come with the resumed watch's first event, and each is
//! printed once. The exit code stays the run's verdict.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use testfarm_proto::farm_client::FarmClient;
use testfarm_proto::raft_service_client::RaftServiceClient;
use testfarm_proto::{
    ClusterStatusReply, ClusterStatusRequest, GetRunRequest, RunEvent, SubmitRequest, WatchRunRequest,
};
use testfarm_shared::model::RunRecord;
use tonic::transport::Channel;

use crate::error::CliError;
use crate::submit::{channel, coordinator_url, first_answering, with_limits};

/// How long a client keeps trying the members after losing the one it followed,
/// counted from the loss: longer than an election and a restart.
pub const FAILOVER_WINDOW: Duration = Duration::from_secs(60);

/// The coordinators a client can reach, the one in use first.
#[derive(Clone)]
pub struct Members {
    urls: Vec<String>,
    current: usize,
}

impl Members {
    /// A client of the first of the addresses given (`A,B,C`) that answers, and the
    /// members: those given, then every other the cluster names through that same
    /// connection (so that one address is enough to survive its loss).
    pub async fn connect(given: &str) -> Result<(Members, FarmClient<Channel>), CliError> {
        let (i, ch) = first_answering(given).await?;
        let mut urls: Vec<String> = given
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(coordinator_url)
            .collect();
        if let Ok(reply) = RaftServiceClient::new(ch.clone())
            .cluster_status(ClusterStatusRequest { digest: false })
            .await
        {
            for addr in peer_addrs(&reply.into_inner()).iter().map(|a| coordinator_url(a)) {
                if !urls.contains(&addr) {
                    urls.push(addr);
                }
            }
        }
        Ok((Members { urls, current: i }, with_limits(FarmClient::new(ch))))
    }

    pub fn current(&self) -> &str {
        self.urls.get(self.current).map_or("", String::as_str)
    }

    /// A client of some member, trying each in turn from the one after the current,
    /// again and again with a pause between rounds, until `deadline`.
    pub async fn reconnect(&mut self, deadline: Instant) -> Result<FarmClient<Channel>, CliError> {
        let mut pause = Duration::from_millis(100);
        loop {
            let mut last = None;
            for _ in 0..self.urls.len() {
                self.current = (self.current + 1) % self.urls.len();
                match channel(&self.urls[self.current], Duration::from_secs(1)).await {
                    Ok(ch) => return Ok(with_limits(FarmClient::new(ch))),
                    Err(e) => last = Some(e),
                }
            }
            if Instant::now() + pause > deadline {
                return Err(last.unwrap_or_else(|| CliError::Usage("no coordinator address given".into())));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}

/// The members' addresses in a ClusterStatus reply, by id.
fn peer_addrs(reply: &ClusterStatusReply) -> Vec<String> {
    let mut peers: Vec<(&u64, &String)> = reply.peers.iter().filter(|(_, a)| !a.is_empty()).collect();
    peers.sort();
    peers.into_iter().map(|(_, a)| a.clone()).collect()
}

/// The record of a run (GetRun), in the domain's types.
pub async fn get_record(client: &mut FarmClient<Channel>, run_id: &str) -> Result<RunRecord, tonic::Status> {
    let reply = client
        .get_run(GetRunRequest { run_id: run_id.into() })
        .await?
        .into_inner();
    testfarm_proto::convert::run::from_record(reply)
        .map_err(|e| tonic::Status::internal(format!("the coordinator's record of {run_id} does not read: {e}")))
}

/// Whether a failed call says the member is gone or cannot answer now — another
/// member may — rather than that the request is wrong.
pub fn member_lost(status: &tonic::Status, resumed: bool) -> bool {
    use tonic::Code::*;
    match status.code() {
        Unavailable | Unknown | Internal | Cancelled | DeadlineExceeded | Aborted | ResourceExhausted => true,
        // A member that has not caught up with a run another member acknowledged.
        NotFound => resumed,
        _ => false,
    }
}

/// A fresh name for one submission: 128 random bits from the OS, in hex (the clock
/// and process id should it have none to give).
pub fn submission_id() -> String {
    let mut bytes = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !random {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `request` (which carries a submission id) until a member answers it; a
/// member lost before its reply is replaced by another. Returns the run id.
pub async fn submit(
    members: &mut Members,
    client: &mut FarmClient<Channel>,
    request: SubmitRequest,
) -> Result<String, CliError> {
    let deadline = Instant::now() + FAILOVER_WINDOW;
    loop {
        match client.submit(request.clone()).await {
            Ok(reply) => return Ok(reply.into_inner().run_id),
            Err(status) if member_lost(&status, false) && Instant::now() < deadline => {
                let from = members.current().to_string();
                *client = members.reconnect(deadline).await?;
                tracing::warn!(%from, to = members.current(), why = status.message(), "submitting again through another member");
            }
            Err(status) => return Err(status.into()),
        }
    }
}

/// Follows `run_id` to its verdict through `members`, starting with `client` (left
/// connected to the member that answered last); returns the final run record.
/// `accepted`: the cluster acknowledged the run to this client, so a member that
/// does not know it has not caught up yet (ask again, or another), where for a run id
/// a user typed it means there is no such run.
pub async fn follow(
    members: &mut Members,
    client: &mut FarmClient<Channel>,
    run_id: &str,
    quiet: bool,
    accepted: bool,
) -> Result<RunRecord, CliError> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} tasks  {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_prefix(run_id.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut printed: HashSet<String> = HashSet::new();
    let mut seen_any = accepted;
    // Since when no member has given an event, and how long to wait before asking
    // again: a member that answers at once with an error must not be asked in a loop.
    let mut lost_since: Option<Instant> = None;
    let mut pause = Duration::from_millis(100);
    // Until the verdict: watch, and on losing the member, resume on another.
    'watch: loop {
        let lost = match client.watch_run(WatchRunRequest { run_id: run_id.into() }).await {
            Ok(stream) => {
                let mut stream = stream.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            seen_any = true;
                            lost_since = None;
                            pause = Duration::from_millis(100);
                            show(&bar, &event, &mut printed, quiet);
                            if !event.verdict.is_empty() {
                                break 'watch;
                            }
                        }
                        Ok(None) => break "it closed the watch before the verdict".to_string(),
                        Err(status) if member_lost(&status, seen_any) => break status.message().to_string(),
                        Err(status) => return Err(status.into()),
                    }
                }
            }
            Err(status) if member_lost(&status, seen_any) => status.message().to_string(),
            Err(status) => return Err(status.into()),
        };
        let since = *lost_since.get_or_insert_with(Instant::now);
        if since.elapsed() > FAILOVER_WINDOW {
            return Err(CliError::Infrastructure(format!(
                "no member could follow {run_id} for {}s (last: {lost}); the run goes on — follow it again with \
                 `farm watch {run_id}`",
                FAILOVER_WINDOW.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
        *client = resume(members, &bar, run_id, &lost, quiet).await?;
    }
    bar.finish_and_clear();
    let deadline = Instant::now() + FAILOVER_WINDOW;
    loop {
        match get_record(client, run_id).await {
            Ok(record) => return Ok(record),
            Err(status) if member_lost(&status, true) && Instant::now() < deadline => {
                *client = resume(members, &bar, run_id, status.message(), quiet).await?;
            }
            Err(status) => return Err(status.into()),
        }
    }
}

async fn resume(
    members: &mut Members,
    bar: &ProgressBar,
    run_id: &str,
    why: &str,
    quiet: bool,
) -> Result<FarmClient<Channel>, CliError> {
    let from = members.current().to_string();
    let client = members.reconnect(Instant::now() + FAILOVER_WINDOW).await.map_err(|e| {
        CliError::Infrastructure(format!(
            "lost the coordinator {from} following {run_id} ({why}) and no member answered within {}s: {e}; \
                 the run goes on — follow it again with `farm watch {run_id}`",
            FAILOVER_WINDOW.as_secs()
        ))
    })?;
    if !quiet {
        let to = members.current();
        bar.suspend(|| eprintln!("farm: lost {from} ({why}); following {run_id} through {to}"));
    } else {
        tracing::warn!(%from, to = members.current(), why, run_id, "following the run through another member");
    }
    Ok(client)
}

fn show(bar: &ProgressBar, event: &RunEvent, printed: &mut HashSet<String>, quiet: bool) {
    bar.set_length(event.tasks_total as u64);
    bar.set_position(event.tasks_done as u64);
    bar.set_message(format!(
        "{}/{} tests, {} failed",
        event.tests_passed + event.tests_failed,
        event.tests_total,
        event.tests_failed
    ));
    let failed = event
        .failed_tests
        .iter()
        .chain(std::iter::once(&event.failed_test))
        .filter(|t| !t.is_empty());
    for name in failed {
        if printed.insert(name.clone()) && !quiet {
            // Printed beside the bar, or alone where stderr is no terminal (a CI log),
            // where the bar's own println would print nothing.
            bar.suspend(|| eprintln!("FAIL {name}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_read_from_the_cluster_status() {
        let reply = ClusterStatusReply {
            peers: [
                (2, "127.0.0.1:7002".into()),
                (1, "127.0.0.1:7001".into()),
                (3, String::new()),
            ]
            .into(),
            ..Default::default()
        };
        assert_eq!(peer_addrs(&reply), ["127.0.0.1:7001", "127.0.0.1:7002"]);
        assert!(peer_addrs(&ClusterStatusReply::default()).is_empty());
    }

    #[test]
    fn a_lost_member_is_told_from_a_bad_request() {
        assert!(member_lost(&tonic::Status::unavailable("gone"), false));
        assert!(member_lost(&tonic::Status::unknown("h2 protocol error"), false));
        assert!(
            !member_lost(&tonic::Status::not_found("no run"), false),
            "a run never seen is the user's typo"
        );
        assert!(
            member_lost(&tonic::Status::not_found("no run"), true),
            "a member behind the one that answered"
        );
        assert!(!member_lost(&tonic::Status::invalid_argument("bad"), true));
    }
}
