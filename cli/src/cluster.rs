//! `farm cluster status | add | remove`.

use std::time::Duration;

use testfarm_proto::raft_service_client::RaftServiceClient;
use testfarm_proto::{ClusterStatusReply, ClusterStatusRequest, MembershipRequest};
use tonic::transport::Channel;

use crate::args::ClusterCommand;
use crate::error::CliError;

async fn client(url: &str) -> Result<RaftServiceClient<Channel>, CliError> {
    Ok(RaftServiceClient::new(
        crate::submit::channel(url, Duration::from_secs(2)).await?,
    ))
}

async fn role(url: &str, digest: bool) -> Result<ClusterStatusReply, CliError> {
    Ok(client(url)
        .await?
        .cluster_status(ClusterStatusRequest { digest })
        .await?
        .into_inner())
}

/// One member's line of `farm cluster status --json`: its view, or why it has none.
#[derive(serde::Serialize)]
struct Row {
    addr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<ClusterStatusReply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn cluster(command: ClusterCommand) -> Result<(), CliError> {
    match command {
        ClusterCommand::Status {
            coordinator,
            json,
            digest,
        } => {
            // Ask the first that answers for the members, then every member.
            let mut members = std::collections::BTreeMap::new();
            let mut last_error = None;
            for url in coordinator.split(',') {
                match role(url, false).await {
                    Ok(r) => {
                        members.extend(r.peers);
                        break;
                    }
                    Err(e) => last_error = Some(e),
                }
            }
            if members.is_empty() {
                return Err(last_error.unwrap_or_else(|| CliError::Usage("no coordinator given".into())));
            }
            let mut rows = Vec::new();
            for (id, addr) in &members {
                let (status, error) = match role(addr, digest).await {
                    Ok(r) => (Some(r), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                rows.push((
                    *id,
                    Row {
                        addr: addr.clone(),
                        status,
                        error,
                    },
                ));
            }
            if json {
                let all: Vec<&Row> = rows.iter().map(|(_, r)| r).collect();
                let text = serde_json::to_string(&all).map_err(|e| CliError::Infrastructure(e.to_string()))?;
                println!("{text}");
                return Ok(());
            }
            println!(
                "{:<4} {:<22} {:<9} {:>6} {:>7} {:>8} {:>8} {:>9}{}",
                "id",
                "address",
                "role",
                "leader",
                "term",
                "commit",
                "applied",
                "log",
                if digest { "  state digest (at index)" } else { "" }
            );
            for (id, row) in rows {
                let addr = &row.addr;
                let Some(r) = row.status else {
                    println!("{id:<4} {addr:<22} unreachable: {}", row.error.unwrap_or_default());
                    continue;
                };
                let role = if r.is_leader { "leader" } else { "follower" };
                let digest = if digest {
                    format!(
                        "  {} ({})",
                        &r.state_digest[..r.state_digest.len().min(16)],
                        r.digest_applied
                    )
                } else {
                    String::new()
                };
                println!(
                    "{id:<4} {addr:<22} {role:<9} {:>6} {:>7} {:>8} {:>8} {:>4}..{}{digest}",
                    r.leader_id, r.term, r.commit, r.applied, r.log_first, r.log_last
                );
            }
            Ok(())
        }
        ClusterCommand::Add { id, addr, coordinator } => change(&coordinator, "add", id, addr).await,
        ClusterCommand::Remove { id, coordinator } => change(&coordinator, "remove", id, String::new()).await,
    }
}

async fn change(url: &str, change: &str, id: u64, addr: String) -> Result<(), CliError> {
    let reply = client(url)
        .await?
        .change_membership(MembershipRequest {
            change: change.into(),
            id,
            addr,
        })
        .await?
        .into_inner();
    if !reply.error.is_empty() {
        return Err(CliError::Infrastructure(format!(
            "membership change failed: {}",
            reply.error
        )));
    }
    println!("node {id}: {change} committed");
    Ok(())
}
