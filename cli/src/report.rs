//! `farm report RUN` and `farm report --profile PROJECT`: the coordinator's records
//! (gRPC `GetRun`, `GetProfile`, `Status` for the agents' slots), rendered by
//! `testfarm_shared::report` as text or JSON — the same JSON as the coordinator's
//! `/api/runs/ID` and `/api/profiles/PROJECT` (docs/api.md).

use std::collections::BTreeMap;

use testfarm_proto::farm_client::FarmClient;
use testfarm_proto::{GetProfileRequest, StatusRequest};
use testfarm_shared::report::profile::ProfileReport;
use testfarm_shared::report::run::RunReport;
use testfarm_shared::report::{improve, text};
use tonic::transport::Channel;

use crate::args::ReportArgs;
use crate::error::CliError;
use crate::submit::connect;

pub async fn report_command(args: ReportArgs) -> Result<(), CliError> {
    let mut client = connect(&args.coordinator).await?;
    if let Some(project) = &args.profile {
        let profile = profile(&mut client, project)
            .await?
            .ok_or_else(|| CliError::Rejected(format!("no runs or timing profiles for project `{project}`")))?;
        if args.json {
            println!("{}", serde_json::to_string(&profile).expect("reports serialize"));
        } else {
            print!("{}", text::profile_text(&profile));
        }
        return Ok(());
    }
    let run_id = args
        .run_id
        .ok_or_else(|| CliError::Usage("name a run (farm report r12) or a project (--profile NAME)".into()))?;
    let slots = agent_slots(&mut client).await?;
    let report = run_report(&mut client, &run_id, &slots).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("reports serialize"));
    } else {
        print!("{}", text::run_text(&report));
    }
    Ok(())
}

/// Slot counts of the agents registered with the coordinator.
async fn agent_slots(client: &mut FarmClient<Channel>) -> Result<BTreeMap<String, u32>, CliError> {
    let status = client.status(StatusRequest {}).await?.into_inner();
    Ok(status.agents.into_iter().map(|a| (a.id, a.slots)).collect())
}

/// The project's profile report; None if the coordinator has nothing for it.
pub async fn profile(client: &mut FarmClient<Channel>, project: &str) -> Result<Option<ProfileReport>, CliError> {
    profile_rows(client, project, 0).await
}

/// The profile report with up to `max_rows` classes (0: the default).
pub async fn profile_rows(
    client: &mut FarmClient<Channel>,
    project: &str,
    max_rows: u32,
) -> Result<Option<ProfileReport>, CliError> {
    let request = GetProfileRequest {
        project: project.into(),
        recent_runs: 0,
        stable_runs: 0,
        max_rows,
    };
    match client.get_profile(request).await {
        Ok(reply) => ProfileReport::try_from(reply.into_inner())
            .map(Some)
            .map_err(|e| CliError::Infrastructure(format!("the coordinator's profile report does not read: {e}"))),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

/// The run report with its improvements, as the coordinator's `/api/runs/ID` builds
/// it; `slots`: slot counts per agent id.
pub async fn run_report(
    client: &mut FarmClient<Channel>,
    run_id: &str,
    slots: &BTreeMap<String, u32>,
) -> Result<RunReport, CliError> {
    let record = crate::follow::get_record(client, run_id).await?;
    let mut report = RunReport::build(&record.run, &record.tasks, slots);
    let profile = profile(client, &record.run.pipeline.project).await?;
    report.improvements = improve::rank(Some(&report), profile.as_ref());
    Ok(report)
}
