//! `farm submit`, `farm watch`, `farm status`: a client of the coordinator's Farm
//! service, with a progress bar, early failure lines and a summary table.

use std::path::Path;
use std::time::Duration;

use crate::files::load_pipeline;
use testfarm_proto::farm_client::FarmClient;
use testfarm_proto::{CancelRequest, DrainRequest, RerunRequest, StatusRequest, SubmitRequest};
use testfarm_shared::model::{RunRecord, Verdict};
use tonic::transport::Channel;

use crate::args::{CancelArgs, DrainArgs, RerunArgs, RunArgs, StatusArgs, SubmitArgs, WatchArgs};
use crate::error::CliError;
use crate::follow::{follow, Members};

pub async fn connect(urls: &str) -> Result<FarmClient<Channel>, CliError> {
    Ok(with_limits(FarmClient::new(first_answering(urls).await?.1)))
}

/// Of a list of coordinators (`A,B,C`), the first that answers: its place in the list
/// and a connection. Any member will do: followers forward writes to the leader and
/// serve current reads through it.
pub async fn first_answering(urls: &str) -> Result<(usize, Channel), CliError> {
    let mut last_error = None;
    for (i, url) in urls.split(',').map(str::trim).filter(|u| !u.is_empty()).enumerate() {
        match channel(url, Duration::from_secs(3)).await {
            Ok(ch) => return Ok((i, ch)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| CliError::Usage("no coordinator address given".into())))
}

/// This command's own credentials, for mutual TLS with every coordinator it calls
/// (`--tls`, or those `farm up` made).
static CLIENT_TLS: std::sync::OnceLock<testfarm_proto::tls::Tls> = std::sync::OnceLock::new();

/// Every connection this command makes from now on is mutual TLS with `tls`.
pub fn use_tls(tls: testfarm_proto::tls::Tls) {
    let _ = CLIENT_TLS.set(tls);
}

/// Whether this command talks TLS.
pub fn tls_in_use() -> bool {
    CLIENT_TLS.get().is_some()
}

/// A coordinator's address as a URL: `host:port` is `http://host:port`, or `https://`
/// with TLS.
pub fn coordinator_url(addr: &str) -> String {
    testfarm_proto::tls::coordinator_url(addr, CLIENT_TLS.get())
}

/// A connection to one coordinator (`host:port` or a URL).
pub async fn channel(url: &str, timeout: Duration) -> Result<Channel, CliError> {
    let url = coordinator_url(url);
    testfarm_proto::tls::endpoint(&url, CLIENT_TLS.get())
        .map_err(|e| CliError::Usage(e.to_string()))?
        .connect_timeout(timeout)
        .connect()
        .await
        .map_err(|e| {
            // A TLS handshake failure is only in the source chain.
            let mut message = testfarm_agent::cgroup::error_chain_of(&e);
            if !tls_in_use() {
                message.push_str(" (if the coordinator uses TLS, give this command --tls DIR)");
            }
            CliError::Connect { url, message }
        })
}

/// A Farm client that takes the farm's largest messages (a gate run's record).
pub fn with_limits(client: FarmClient<Channel>) -> FarmClient<Channel> {
    client
        .max_decoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(testfarm_proto::MAX_MESSAGE_BYTES)
}

/// Directories that say nothing of the tree's tests: git's own store, the farm's.
const UNFINGERPRINTED: &[&str] = &[".git", ".farm"];

/// [`testfarm_shared::inventory::tree_fingerprint`] of `dir`'s files; empty (every job
/// is discovered) when some part of it cannot be read.
fn directory_fingerprint(dir: &Path) -> String {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64, u128)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let name = entry.file_name();
            if kind.is_dir() {
                if !UNFINGERPRINTED.iter().any(|n| name == *n) {
                    walk(root, &entry.path(), out)?;
                }
                continue;
            }
            let meta = entry.metadata()?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(&path).display().to_string();
            out.push((rel, meta.len(), mtime));
        }
        Ok(())
    }
    let mut files = Vec::new();
    match walk(dir, dir, &mut files) {
        Ok(()) => testfarm_shared::inventory::tree_fingerprint(files),
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "no tree fingerprint: every job is discovered");
            String::new()
        }
    }
}

/// Set for every command of a run: the directory of its pipeline file.
const PIPELINE_DIR_ENV: &str = "FARM_PIPELINE_DIR";

/// Validates the pipeline locally (so errors name the user's file) and submits it.
pub async fn submit(
    members: &mut Members,
    client: &mut FarmClient<Channel>,
    pipeline: &Path,
    run: &RunArgs,
    submission_id: Option<&str>,
) -> Result<String, CliError> {
    let (parsed, text) = load_pipeline(pipeline)?;
    let project_dir = match &run.project_dir {
        Some(dir) if !dir.is_dir() => {
            return Err(CliError::Usage(format!(
                "--project-dir {}: not a directory",
                dir.display()
            )))
        }
        Some(dir) => dir.canonicalize(),
        None => pipeline
            .canonicalize()
            .map(|p| p.parent().expect("a file has a parent").to_path_buf()),
    }
    .map_err(|e| CliError::Usage(format!("{}: {e}", pipeline.display())))?
    .display()
    .to_string();
    let submitter = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let requires = crate::repos::manifest_requires(Path::new(&project_dir), &parsed)?;
    let mut changed_files = run.changed_files.clone();
    let mut patch_text = String::new();
    if let Some(patch) = &run.patch {
        changed_files.extend(crate::repos::patch_files(patch)?);
        // A git workspace is built by the agents: the patch travels with the run. A
        // local project directory is taken as it is (the patch already applied).
        if parsed.repos.iter().any(|r| r.git.is_some()) {
            patch_text = std::fs::read_to_string(patch)
                .map_err(|e| CliError::Usage(format!("cannot read patch {}: {e}", patch.display())))?;
        }
    }
    if !run.mode.eq_ignore_ascii_case("select") {
        // The patch is what is tested, not a selection.
        if run.patch.is_some() && patch_text.is_empty() {
            return Err(CliError::Usage(
                "--patch outside --mode select is applied to a git workspace: the pipeline's repos need `git` URLs"
                    .into(),
            ));
        }
        changed_files.truncate(run.changed_files.len());
    }
    // Changes to PHP code: the static pick, exactly as `farm select` answers.
    let static_pick = if run.mode.eq_ignore_ascii_case("select") && !changed_files.is_empty() {
        let timings = crate::select::class_seconds_from(client, &parsed.project).await?;
        let answer =
            crate::select::query::answer(Path::new(&project_dir), &changed_files, run.confidence, &timings, false)?;
        if !run.json {
            eprint!("{}", crate::select::query::text(&answer));
        }
        answer.pick().map(|p| testfarm_proto::StaticPick {
            classes: p.classes,
            expected_recall: p.expected_recall,
            left_out_files: p.left_out_files,
        })
    } else {
        None
    };
    let commits = crate::repos::resolve_commits(&parsed, &run.change)?;
    // A git workspace is its commits and patch; a project directory is what it holds.
    let tree = if parsed.repos.iter().any(|r| r.git.is_some()) {
        String::new()
    } else {
        directory_fingerprint(Path::new(&project_dir))
    };
    // Commands may call helpers shipped beside the pipeline, wherever the project is.
    let mut env: std::collections::BTreeMap<String, String> = run.env.iter().cloned().collect();
    if let Some(dir) = pipeline
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(|d| d.display().to_string()))
    {
        env.entry(PIPELINE_DIR_ENV.to_string()).or_insert(dir);
    }
    let request = SubmitRequest {
        pipeline_yaml: text,
        pipeline_path: pipeline.display().to_string(),
        project_dir,
        mode: run.mode.clone(),
        env: env.into_iter().collect(),
        submitter,
        only_stages: run.only.clone(),
        only_cells: run.cells.clone(),
        skip_stages: run.skip.clone(),
        changed_files,
        repos: run.ext.clone(),
        test_filter: run.filter.clone().unwrap_or_default(),
        repo_requires: requires
            .into_iter()
            .map(|(repo, names)| (repo, testfarm_proto::Names { names }))
            .collect(),
        repo_commits: commits.into_iter().collect(),
        patch: patch_text,
        tree_fingerprint: tree,
        static_pick,
        submission_id: submission_id.map_or_else(crate::follow::submission_id, str::to_string),
    };
    crate::follow::submit(members, client, request).await
}

/// Turns a finished run record into the command's result.
pub fn verdict(record: &RunRecord) -> Result<(), CliError> {
    let run = &record.run;
    let (run_id, message) = (run.id.clone(), run.message.clone());
    match run.verdict {
        Some(Verdict::Passed) => Ok(()),
        Some(Verdict::Failed) => Err(CliError::TestsFailed { run_id, message }),
        Some(Verdict::Cancelled) => Err(CliError::Infrastructure(format!("run {run_id} was {message}"))),
        Some(Verdict::Error) | None => Err(CliError::Infrastructure(format!(
            "run {run_id} ended in error: {message}"
        ))),
    }
}

pub async fn submit_command(args: SubmitArgs) -> Result<(), CliError> {
    // A bad pipeline is the user's to fix, whether or not a coordinator is up.
    load_pipeline(&args.pipeline)?;
    let (mut members, mut client) = Members::connect(&args.coordinator).await?;
    let run_id = submit(
        &mut members,
        &mut client,
        &args.pipeline,
        &args.run,
        args.submission_id.as_deref(),
    )
    .await?;
    if args.no_wait {
        println!("{run_id}");
        return Ok(());
    }
    // Said at once, so that a client that loses the run's end still knows which run
    // to `farm watch`.
    eprintln!("farm: accepted as {run_id}");
    finish(
        &mut members,
        &mut client,
        &run_id,
        args.run.json,
        args.run.junit.as_deref(),
        true,
    )
    .await
}

/// `farm cancel RUN`: prints the run's verdict after the call; a run that had
/// already ended keeps its verdict (said on stderr, exit 0 all the same: it is over).
pub async fn cancel_command(args: CancelArgs) -> Result<(), CliError> {
    let mut client = connect(&args.coordinator).await?;
    let reply = client
        .cancel(CancelRequest {
            run_id: args.run_id.clone(),
            reason: args.reason.clone(),
        })
        .await?
        .into_inner();
    if reply.cancelled {
        println!("{} cancelled", args.run_id);
    } else {
        eprintln!("farm: {} had already ended: {}", args.run_id, reply.verdict);
        println!("{} {}", args.run_id, reply.verdict);
    }
    Ok(())
}

/// `farm rerun RUN [--failed]`: follows the new run like `farm submit`.
pub async fn rerun_command(args: RerunArgs) -> Result<(), CliError> {
    let (mut members, mut client) = Members::connect(&args.coordinator).await?;
    let request = RerunRequest {
        run_id: args.run_id.clone(),
        failed_only: args.failed,
        submission_id: crate::follow::submission_id(),
    };
    let reply = client.rerun(request).await?.into_inner();
    if args.no_wait {
        println!("{}", reply.run_id);
        return Ok(());
    }
    if !args.json {
        eprintln!(
            "farm: {} reruns {}{} ({} jobs)",
            reply.run_id,
            args.run_id,
            if args.failed { "'s failed tests" } else { "" },
            reply.jobs
        );
    }
    finish(
        &mut members,
        &mut client,
        &reply.run_id,
        args.json,
        args.junit.as_deref(),
        true,
    )
    .await
}

/// `farm drain AGENT [--undrain]`.
pub async fn drain_command(args: DrainArgs) -> Result<(), CliError> {
    let mut client = connect(&args.coordinator).await?;
    let reply = client
        .drain(DrainRequest {
            agent_id: args.agent_id.clone(),
            undrain: args.undrain,
        })
        .await?
        .into_inner();
    let agent = &args.agent_id;
    match (args.undrain, reply.was_drained) {
        (false, _) => println!(
            "{agent} drained: leased nothing new; {} task(s) still running there",
            reply.running
        ),
        (true, true) => println!("{agent} undrained: takes work again"),
        (true, false) => println!("{agent} was not drained"),
    }
    Ok(())
}

pub async fn watch_command(args: WatchArgs) -> Result<(), CliError> {
    let (mut members, mut client) = Members::connect(&args.coordinator).await?;
    finish(&mut members, &mut client, &args.run_id, args.json, None, false).await
}

/// Writes the finished run as JUnit XML to `path` (`--junit`).
pub fn write_junit(record: &RunRecord, path: &std::path::Path) -> Result<(), CliError> {
    let xml = testfarm_shared::junit_out::run_junit(&record.run, &record.tasks);
    std::fs::write(path, xml)
        .map_err(|e| CliError::Infrastructure(format!("cannot write the JUnit file {}: {e}", path.display())))
}

/// Follows a run to its verdict and prints it as asked: the record (`--json`) or the
/// summary, and a JUnit file (`--junit`).
async fn finish(
    members: &mut Members,
    client: &mut FarmClient<Channel>,
    run_id: &str,
    json: bool,
    junit: Option<&Path>,
    accepted: bool,
) -> Result<(), CliError> {
    let record = follow(members, client, run_id, json, accepted).await?;
    if let Some(path) = junit {
        write_junit(&record, path)?;
    }
    if json {
        let text = serde_json::to_string(&record).map_err(|e| CliError::Infrastructure(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", crate::up::summary(&record));
    }
    verdict(&record)
}

pub async fn status_command(args: StatusArgs) -> Result<(), CliError> {
    let mut client = connect(&args.coordinator).await?;
    let mut status = client.status(StatusRequest {}).await?.into_inner();
    // Agents hold their session with the leader, so only it knows them: through a
    // follower, its list comes from the leader (the rest is this member's own view).
    let leader = status
        .raft
        .as_ref()
        .filter(|r| !r.is_leader && !r.leader_addr.is_empty())
        .map(|r| r.leader_addr.clone());
    let mut agents_from = None;
    if let Some(addr) = leader {
        match connect(&addr).await {
            Ok(mut leader) => match leader.status(StatusRequest {}).await {
                Ok(reply) => {
                    status.agents = reply.into_inner().agents;
                    agents_from = Some(addr);
                }
                Err(e) => eprintln!(
                    "farm: the leader {addr} did not answer ({}): agents unknown here",
                    e.message()
                ),
            },
            Err(e) => eprintln!("farm: the leader {addr} is unreachable ({e}): agents unknown here"),
        }
    }
    if args.json {
        let text = serde_json::to_string(&status).map_err(|e| CliError::Infrastructure(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "applied index {}   queued tasks {}",
        status.applied_index, status.queued_tasks
    );
    match &agents_from {
        Some(leader) => println!("agents (as the leader {leader} knows them):"),
        None => println!("agents:"),
    }
    for a in &status.agents {
        let labels: std::collections::BTreeMap<&String, &String> = a.labels.iter().collect();
        println!(
            "  {:<24} slots {:<3} running {:<3} {}{}  labels {labels:?}",
            a.id,
            a.slots,
            a.running,
            if a.connected { "connected" } else { "disconnected" },
            if a.drained { ", drained" } else { "" },
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let ago = |ms: u64| now.saturating_sub(ms) as f64 / 1000.0;
    println!("leases: {}", status.leases.len());
    for l in &status.leases {
        println!(
            "  {:<24} on {:<24} for {:>6.1}s  attempt {}",
            l.task,
            l.agent,
            ago(l.since_ms),
            l.attempt
        );
    }
    println!("queue (first {} of {}):", status.queue_head.len(), status.queued_tasks);
    for q in &status.queue_head {
        println!("  {:<24} waiting {:>6.1}s", q.task, ago(q.queued_ms));
    }
    println!("active runs:");
    for r in &status.active_runs {
        let c = r.counts.unwrap_or_default();
        println!(
            "  {:<8} {:<16} {:<6} tasks {}/{}  tests {} passed {} failed of {}",
            r.id,
            r.pipeline,
            r.mode().as_str_name().trim_start_matches("MODE_").to_lowercase(),
            c.tasks_done,
            c.tasks_total,
            c.tests_passed,
            c.tests_failed,
            c.tests_total
        );
    }
    Ok(())
}
