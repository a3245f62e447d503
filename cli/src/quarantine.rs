//! `farm quarantine add | remove | list`: the operator's flaky quarantine.

use serde::Serialize;
use testfarm_proto::{ListQuarantineRequest, QuarantineRequest};
use testfarm_shared::units::utc;

use crate::args::QuarantineCommand;
use crate::error::CliError;
use crate::submit::connect;

/// One line of `farm quarantine list --json`.
#[derive(Serialize)]
struct Listed {
    project: String,
    test: String,
    reason: String,
    by: String,
    since_ms: u64,
    since: String,
}

pub async fn quarantine_command(command: QuarantineCommand) -> Result<(), CliError> {
    match command {
        QuarantineCommand::Add {
            test,
            project,
            reason,
            coordinator,
        } => {
            let request = QuarantineRequest {
                project: project.clone(),
                test: test.clone(),
                reason,
                by: std::env::var("USER").unwrap_or_else(|_| "cli".into()),
                remove: false,
            };
            let again = if ask(&coordinator, request).await? {
                " (its entry replaced)"
            } else {
                ""
            };
            println!("{project}: {test} quarantined{again}: its failures no longer fail runs submitted from now on");
        }
        QuarantineCommand::Remove {
            test,
            project,
            coordinator,
        } => {
            let request = QuarantineRequest {
                project: project.clone(),
                test: test.clone(),
                remove: true,
                ..Default::default()
            };
            if ask(&coordinator, request).await? {
                println!("{project}: {test} is out of quarantine: its failures fail runs again");
            } else {
                eprintln!("farm: {project}: {test} was not quarantined (see `farm quarantine list`)");
            }
        }
        QuarantineCommand::List {
            project,
            json,
            coordinator,
        } => {
            let tests = connect(&coordinator)
                .await?
                .list_quarantine(ListQuarantineRequest {
                    project: project.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .tests;
            let listed: Vec<Listed> = tests
                .into_iter()
                .map(|t| Listed {
                    since: utc(t.since_ms),
                    project: t.project,
                    test: t.test,
                    reason: t.reason,
                    by: t.by,
                    since_ms: t.since_ms,
                })
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&listed).map_err(|e| CliError::Infrastructure(e.to_string()))?
                );
            } else if listed.is_empty() {
                println!("no test is quarantined");
            } else {
                for t in &listed {
                    let why = if t.reason.is_empty() {
                        "no reason given"
                    } else {
                        &t.reason
                    };
                    println!("{}  {}  since {} by {}: {why}", t.project, t.test, t.since, t.by);
                }
            }
        }
    }
    Ok(())
}

/// Sends an add or remove; answers whether the test was quarantined before.
async fn ask(coordinator: &str, request: QuarantineRequest) -> Result<bool, CliError> {
    let reply = connect(coordinator).await?.quarantine(request).await?.into_inner();
    Ok(reply.was_quarantined)
}
