//! `farm up`: the embedded single-node farm. Starts a coordinator on a free loopback
//! port and N local agents in this process, runs one pipeline through them, prints
//! the summary and writes the run record where the summary says.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use testfarm_proto::tls::{Role, Tls};
use testfarm_shared::model::{RunRecord, Verdict};

use crate::args::UpArgs;
use crate::error::CliError;
use crate::follow::{follow, Members};
use crate::serve::coordinator_config;
use crate::submit::{submit, verdict};

/// The quickstart, found from the working directory or from this source tree.
fn default_pipeline() -> Result<PathBuf, CliError> {
    let candidates = [
        PathBuf::from("examples/quickstart/farm.yaml"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/farm.yaml"),
    ];
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        CliError::Usage("no pipeline given and examples/quickstart/farm.yaml not found: run from the repository, or name a farm.yaml".into())
    })
}

pub async fn up(args: UpArgs) -> Result<(), CliError> {
    let pipeline = match &args.pipeline {
        Some(p) => p.clone(),
        None => default_pipeline()?,
    };
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", args.data_dir.display())))?;
    let data_dir = args
        .data_dir
        .canonicalize()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| CliError::Infrastructure(e.to_string()))?;
    // Zero set-up, and no plain port even on loopback: the farm's own CA and a
    // certificate for each party in DATA_DIR/tls (made once, kept across runs).
    let certs = data_dir.join("tls");
    let credentials = |role, name: &str| -> Result<Tls, CliError> {
        let dir = crate::certs::ensure(&certs, role, name)?;
        Tls::load(&dir).map_err(|e| CliError::Infrastructure(e.to_string()))
    };
    crate::submit::use_tls(credentials(Role::Client, "farm-up")?);
    let url = format!(
        "https://{}",
        listener
            .local_addr()
            .map_err(|e| CliError::Infrastructure(e.to_string()))?
    );
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let mut config = coordinator_config(data_dir.join("coordinator"), &args.timing);
    config.tls = Some(credentials(Role::Coordinator, "coordinator-1")?);
    let coordinator_done = tasks.spawn(testfarm_coordinator::serve(config, listener, None, shutdown.clone()));
    let labels: BTreeMap<String, String> = args.labels.iter().cloned().collect();
    // Agent ids (and so their cgroup parents) derive from the data dir: two farms with
    // different data dirs never reap each other's shards; a crashed one is reaped by
    // the next `farm up` on the same data dir.
    let farm_tag = fnv1a(data_dir.display().to_string().as_bytes());
    let mut slots = BTreeMap::new();
    for n in 1..=args.agents.max(1) {
        let id = format!("local-{farm_tag:08x}-{n}");
        slots.insert(id.clone(), args.slots.max(1));
        let work_dir = data_dir.join("agents").join(&id);
        let setup = testfarm_agent::AgentSetup {
            coordinators: vec![url.clone()],
            tls: Some(credentials(Role::Agent, &id)?),
            id,
            labels: labels.clone(),
            slots: args.slots,
            work_dir,
            http: None,
            image_cache: args.executors.image_cache.clone(),
            docker: !args.executors.no_docker,
            log_cap: args.executors.task_log_cap,
        };
        tasks.spawn(testfarm_agent::run(setup, shutdown.clone()));
    }
    let result = drive(&url, &pipeline, &args, &data_dir, &slots).await;
    shutdown.cancel();
    tasks.close();
    // Running shards finish and report before the farm stops; bounded, in case one hangs.
    let _ = tokio::time::timeout(Duration::from_secs(10), tasks.wait()).await;
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_millis(10), coordinator_done).await {
        return Err(CliError::Infrastructure(e.to_string()));
    }
    result
}

/// A stable 32-bit hash (FNV-1a), so ids stay the same across runs and builds.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

async fn drive(
    url: &str,
    pipeline: &std::path::Path,
    args: &UpArgs,
    data_dir: &std::path::Path,
    slots: &BTreeMap<String, u32>,
) -> Result<(), CliError> {
    let (mut members, mut client) = Members::connect(url).await?;
    let run_id = submit(&mut members, &mut client, pipeline, &args.run, None).await?;
    if !args.run.json {
        eprintln!(
            "farm up: {} agents × {} slots; run {run_id} of {}",
            args.agents,
            args.slots,
            pipeline.display()
        );
    }
    let record = follow(&mut members, &mut client, &run_id, args.run.json, true).await?;
    if let Some(path) = &args.run.junit {
        crate::submit::write_junit(&record, path)?;
    }
    let reports = data_dir.join("reports");
    let report = reports.join(format!("{run_id}.json"));
    std::fs::create_dir_all(&reports)
        .and_then(|_| std::fs::write(&report, serde_json::to_string_pretty(&record).expect("json")))
        .map_err(|e| CliError::Infrastructure(format!("cannot write {}: {e}", report.display())))?;
    // The same page as the coordinator's /runs/ID, without links (it is a file).
    let page = crate::report::run_report(&mut client, &run_id, slots).await?;
    let html = reports.join(format!("{run_id}.html"));
    let links = testfarm_shared::report::html::Links::default();
    std::fs::write(&html, testfarm_shared::report::html::run_page(&page, &links))
        .map_err(|e| CliError::Infrastructure(format!("cannot write {}: {e}", html.display())))?;
    if args.run.json {
        let text = serde_json::to_string(&record).map_err(|e| CliError::Infrastructure(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", summary(&record));
        println!("report: {} (page: {})", report.display(), html.display());
    }
    verdict(&record)
}

/// The human summary of a finished run record.
pub fn summary(record: &RunRecord) -> String {
    use std::fmt::Write;
    use testfarm_shared::quarantine;
    let run = &record.run;
    let c = &run.counts;
    let wall = run.finished_ms.unwrap_or(0).saturating_sub(run.accepted_ms) as f64 / 1000.0;
    let verdict = run.verdict.map_or("?", |v| v.as_str());
    let mode = run.mode.as_str();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nrun {} {} in {wall:.1}s: {} tests, {} passed, {} failed, {} skipped ({mode} mode)",
        run.id,
        verdict.to_uppercase(),
        c.tests_total,
        c.tests_passed,
        c.tests_failed,
        c.tests_skipped,
    );
    if !record.trace_id.is_empty() {
        let _ = writeln!(out, "  trace {}", record.trace_id);
    }
    if run.compacted {
        let _ = writeln!(
            out,
            "  compacted by retention: its tasks and results were dropped, the counts above are kept"
        );
    }
    if run.verdict != Some(Verdict::Passed) || c.tests_excused > 0 {
        let _ = writeln!(out, "  {}", run.message);
    }
    let _ = writeln!(
        out,
        "\n  {:<32} {:>6} {:>7} {:>7} {:>9}",
        "job", "tests", "failed", "shards", "test time"
    );
    let mut serial = 0.0;
    let mut slowest: Vec<(f64, String)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for (i, job) in run.jobs.iter().enumerate() {
        let name = job.spec.display_name();
        let mut busy = 0.0;
        let mut failed = 0;
        let outcomes = record
            .tasks
            .iter()
            .filter(|t| t.job == i)
            .filter_map(|t| t.outcome.as_ref());
        for r in outcomes.flat_map(|o| &o.results) {
            busy += r.duration_secs;
            slowest.push((r.duration_secs, format!("{name} {}", r.id)));
            if !r.status.is_failure() {
                continue;
            }
            let status = r.status.as_str();
            if let Some(entry) = quarantine::covering(&run.quarantine, &r.id) {
                let entry = &entry.test;
                failures.push(format!(
                    "{name} {} [{status}, quarantined as {entry}: did not count]",
                    r.id
                ));
                continue;
            }
            failed += 1;
            let msg = r.message.lines().next().unwrap_or("");
            failures.push(format!("{name} {} [{status}] {msg}", r.id));
        }
        serial += busy;
        let _ = writeln!(
            out,
            "  {:<32} {:>6} {:>7} {:>7} {:>8.1}s",
            name, job.tests, failed, job.shards, busy
        );
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for f in failures.iter().take(20) {
            let _ = writeln!(out, "  {f}");
        }
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    let _ = writeln!(out, "\nslowest tests:");
    for (secs, name) in slowest.iter().take(5) {
        let _ = writeln!(out, "  {secs:>7.2}s  {name}");
    }
    if wall > 0.0 {
        let _ = writeln!(
            out,
            "\ntest time {serial:.1}s, wall {wall:.1}s ({:.1}x of serial)",
            serial / wall
        );
    }
    out
}
