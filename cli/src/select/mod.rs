//! `farm select evaluate`: the selector judged on a repository's own history, against
//! the baselines, without running a test (shared::select::evaluate has the method).

pub mod history;
pub mod query;

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use testfarm_shared::select::evaluate::{Evaluation, Replay, BUDGETS};

use crate::args::{SelectEvaluateArgs, SelectQueryArgs};
use crate::error::CliError;
use history::{first_parent_line, tree_paths, Blobs};

/// One repository's evaluation, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct RepoEvaluation {
    pub repo: String,
    /// First-parent steps of the walked line, and how many of them are merges.
    pub line: usize,
    pub merges: usize,
    /// Whether merges were scored as changes (what they brought in against their
    /// first parent) or only applied to the tree.
    pub merges_scored: bool,
    pub seconds: f64,
    #[serde(flatten)]
    pub evaluation: Evaluation,
}

pub async fn query_command(args: SelectQueryArgs) -> Result<(), CliError> {
    let mut changed = args.changed_files.clone();
    if let Some(patch) = &args.patch {
        changed.extend(crate::repos::patch_files(patch)?);
    }
    if changed.is_empty() {
        return Err(CliError::Usage(
            "name the change: --changed-file PATH (repeatable) or --patch FILE".into(),
        ));
    }
    let timings = match (&args.coordinator, &args.project) {
        (Some(url), Some(project)) => class_seconds(url, project).await?,
        _ => Default::default(),
    };
    let answer = query::answer(&args.project_dir, &changed, args.confidence, &timings, args.learn)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).map_err(|e| CliError::Infrastructure(e.to_string()))?
        );
    } else {
        print!("{}", query::text(&answer));
    }
    Ok(())
}

/// Seconds per run of each test class the coordinator has profiled for `project`.
pub async fn class_seconds(url: &str, project: &str) -> Result<std::collections::BTreeMap<String, f64>, CliError> {
    let mut client = crate::submit::connect(url).await?;
    class_seconds_from(&mut client, project).await
}

pub async fn class_seconds_from(
    client: &mut testfarm_proto::farm_client::FarmClient<tonic::transport::Channel>,
    project: &str,
) -> Result<std::collections::BTreeMap<String, f64>, CliError> {
    let profile = crate::report::profile_rows(client, project, 100_000).await?;
    Ok(profile
        .map(|p| {
            p.classes
                .into_iter()
                .map(|c| (c.name.to_lowercase(), c.secs_per_run))
                .collect()
        })
        .unwrap_or_default())
}

pub fn evaluate_command(args: SelectEvaluateArgs) -> Result<(), CliError> {
    let mut all = Vec::new();
    for repo in &args.repos {
        let (dir, _scratch) = open_repo(repo)?;
        let walk = Walk {
            rev: args.rev.clone(),
            changes: args.changes,
            merges: args.merges,
            quiet: args.json,
        };
        let evaluation = evaluate_repo(&dir, &name_of(repo), &walk)?;
        if !args.json {
            print!("{}", text(&evaluation));
        }
        all.push(evaluation);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&all).map_err(|e| CliError::Infrastructure(e.to_string()))?
        );
    }
    Ok(())
}

fn name_of(repo: &Path) -> String {
    let file = repo
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    file.strip_suffix(".bundle").map(str::to_string).unwrap_or(file)
}

/// A git bundle is cloned (bare) into a scratch directory that lives as long as the
/// returned guard; a directory is used as it is.
fn open_repo(repo: &Path) -> Result<(PathBuf, Option<tempfile::TempDir>), CliError> {
    if repo.is_dir() {
        return Ok((repo.to_path_buf(), None));
    }
    if !repo.is_file() {
        return Err(CliError::Usage(format!(
            "{}: no such repository or bundle",
            repo.display()
        )));
    }
    let scratch = tempfile::Builder::new()
        .prefix("farm-select-")
        .tempdir()
        .map_err(|e| CliError::Infrastructure(format!("scratch directory: {e}")))?;
    let out = std::process::Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(repo)
        .arg(scratch.path())
        .output()
        .map_err(|e| CliError::Infrastructure(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(CliError::Usage(format!(
            "{}: not a git bundle or repository: {}",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok((scratch.path().to_path_buf(), Some(scratch)))
}

/// How a history is walked.
pub struct Walk {
    pub rev: String,
    /// The newest N changes are replayed.
    pub changes: usize,
    /// Merges scored as changes (else only applied to the tree).
    pub merges: bool,
    pub quiet: bool,
}

pub fn evaluate_repo(dir: &Path, name: &str, walk: &Walk) -> Result<RepoEvaluation, CliError> {
    let started = Instant::now();
    let (replay, line, merges) = replay_repo(dir, name, walk)?;
    Ok(RepoEvaluation {
        repo: name.to_string(),
        line,
        merges,
        merges_scored: walk.merges,
        seconds: started.elapsed().as_secs_f64(),
        evaluation: replay.evaluation(),
    })
}

/// Replays `dir`'s history; returns the replay, the line's length and its merges.
pub fn replay_repo(dir: &Path, name: &str, walk: &Walk) -> Result<(Replay, usize, usize), CliError> {
    let line = first_parent_line(dir, &walk.rev, None)?;
    let merges = line.iter().filter(|s| s.merge).count();
    // The window: the newest `changes` steps that are scored as changes.
    let counts = |s: &history::Step| walk.merges || !s.merge;
    let mut first = 0;
    let mut seen = 0;
    for (i, step) in line.iter().enumerate().rev() {
        if counts(step) {
            seen += 1;
            first = i;
            if seen == walk.changes {
                break;
            }
        }
    }
    let mut blobs = Blobs::open(dir)?;
    let mut replay = Replay::default();
    if let Some(base) = line.get(first).and_then(|s| s.parent.clone()) {
        for path in tree_paths(dir, &base)?.into_iter().filter(|p| p.ends_with(".php")) {
            if let Some(content) = blobs.read(&base, &path)? {
                replay.seed(&path, &content);
            }
        }
    }
    let progress = ProgressBar::new((line.len() - first) as u64);
    progress.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} changes, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.set_prefix(name.to_string());
    if walk.quiet {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    for step in &line[first..] {
        let change = blobs.change(step)?;
        if counts(step) {
            replay.commit(&change);
        } else {
            // Not a change of its own in this method, but the tree moves on.
            replay.apply(&change);
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok((replay, line.len(), merges))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The evaluation for people: recall at each budget for each selector, then the
/// farm's own operating points with the recall it stated and the recall it reached.
pub fn text(r: &RepoEvaluation) -> String {
    let e = &r.evaluation;
    let mut out = format!(
        "{}: {} first-parent steps ({} merges, {}), {} replayed, {} scored, {} relevant test files; suite {:.1} files on average; {:.1} s\n",
        r.repo,
        r.line,
        r.merges,
        if r.merges_scored { "scored as changes" } else { "applied, not scored" },
        e.changes,
        e.scored,
        e.relevant,
        e.mean_suite,
        r.seconds
    );
    out.push_str("  recall at a budget (share of the suite's test files); farm: cut per change at a confidence, farm-p: probability x suite size at a threshold:\n");
    out.push_str(&format!("  {:<11}", "budget"));
    for b in BUDGETS {
        out.push_str(&format!("{:>7}", format!("{:.0}%", 100.0 * b)));
    }
    out.push('\n');
    for curve in &e.curves {
        out.push_str(&format!("  {:<11}", curve.selector));
        for b in BUDGETS {
            out.push_str(&format!("{:>7}", pct(curve.recall_at(b))));
        }
        out.push('\n');
    }
    out.push_str("  farm by confidence: share / recall reached / recall stated / changes with a hit\n");
    for (point, (confidence, stated, _)) in e.curves[0].points.iter().zip(&e.calibration) {
        out.push_str(&format!(
            "    {:<7} {:>7} {:>7} {:>7} {:>7}\n",
            confidence,
            pct(point.share),
            pct(point.recall),
            pct(*stated),
            pct(point.hit)
        ));
    }
    for curve in e.curves.iter().filter(|c| !c.selector.starts_with("farm")) {
        if let Some(p) = curve.points.first() {
            out.push_str(&format!(
                "  {} (its own set{}): recall {} at {}, a hit in {} of changes\n",
                curve.selector,
                if curve.selector == "co-change" {
                    ", ≥1 shared commit"
                } else {
                    ""
                },
                pct(p.recall),
                pct(p.share),
                pct(p.hit)
            ));
        }
    }
    out
}
