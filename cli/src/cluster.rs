//! `farm cluster status | add | remove`.

use std::time::Duration;

use testfarm_proto::raft_service_client::RaftServiceClient;
use testfarm_proto::{ClusterStatusRequest, MembershipRequest};
use tonic::transport::Channel;

use crate::args::ClusterCommand;
use crate::error::CliError;

async fn client(url: &str) -> Result<RaftServiceClient<Channel>, CliError> {
    Ok(RaftServiceClient::new(
        crate::submit::channel(url, Duration::from_secs(2)).await?,
    ))
}

async fn role(url: &str) -> Result<serde_json::Value, CliError> {
    let json = client(url)
        .await?
        .cluster_status(ClusterStatusRequest {})
        .await?
        .into_inner()
        .json;
    serde_json::from_str(&json).map_err(|e| CliError::Infrastructure(e.to_string()))
}

pub async fn cluster(command: ClusterCommand) -> Result<(), CliError> {
    match command {
        ClusterCommand::Status { coordinator, json } => {
            // Ask the first that answers for the members, then every member.
            let mut members = std::collections::BTreeMap::new();
            let mut last_error = None;
            for url in coordinator.split(',') {
                match role(url).await {
                    Ok(r) => {
                        for (id, addr) in r["peers"].as_object().into_iter().flatten() {
                            members.insert(id.parse::<u64>().unwrap_or(0), addr.as_str().unwrap_or("").to_string());
                        }
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
                let row = match role(addr).await {
                    Ok(r) => r,
                    Err(e) => serde_json::json!({ "id": id, "addr": addr, "error": e.to_string() }),
                };
                rows.push((id, addr.clone(), row));
            }
            if json {
                let all: Vec<_> = rows
                    .iter()
                    .map(|(_, addr, r)| serde_json::json!({ "addr": addr, "status": r }))
                    .collect();
                println!("{}", serde_json::Value::Array(all));
                return Ok(());
            }
            println!(
                "{:<4} {:<22} {:<9} {:>6} {:>7} {:>8} {:>8} {:>9}",
                "id", "address", "role", "leader", "term", "commit", "applied", "log"
            );
            for (id, addr, r) in rows {
                if r.get("error").is_some() {
                    println!("{id:<4} {addr:<22} unreachable: {}", r["error"].as_str().unwrap_or(""));
                    continue;
                }
                let role = if r["is_leader"].as_bool() == Some(true) {
                    "leader"
                } else {
                    "follower"
                };
                println!(
                    "{id:<4} {addr:<22} {role:<9} {:>6} {:>7} {:>8} {:>8} {:>4}..{}",
                    r["leader_id"], r["term"], r["commit"], r["applied"], r["log_first"], r["log_last"]
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
    if reply.error {
        return Err(CliError::Infrastructure(format!(
            "membership change failed: {}",
            reply.applied_json
        )));
    }
    println!("node {id}: {change} committed");
    Ok(())
}
