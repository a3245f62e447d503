//! `farm select`: which tests a change needs, answered without running anything, from
//! the project's own code (the static dependency map of every PHP file), the history
//! of the git repositories the change touches (co-change), and — when a coordinator
//! is named — the project's measured per-class times. `farm submit --mode select`
//! sends the same pick with the run, so the run is exactly this answer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Serialize;
use testfarm_shared::select::php::{file_symbols, FileSymbols};
use testfarm_shared::select::rank::{cut, forces_everything, is_source_file, is_test_file, Cut, Knowledge, Why};
use testfarm_shared::select::Pick;

use crate::error::CliError;

/// Commits of each touched repository read for co-change history.
const HISTORY: usize = 3000;

/// Directories never part of a project's own code.
const SKIPPED_DIRS: [&str; 4] = ["vendor", "node_modules", ".git", "cache"];

#[derive(Debug, Serialize)]
pub struct PickedTest {
    pub file: String,
    pub classes: Vec<String>,
    pub probability: f64,
    /// Measured seconds per run of its classes, where the coordinator has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    pub why: Vec<Why>,
}

/// The answer for one change.
#[derive(Debug, Serialize)]
pub struct Answer {
    pub changed: Vec<String>,
    pub confidence: f64,
    /// Set when the static pick cannot answer (a changed file that is not PHP code, or
    /// one that forces every test): the run keeps the repository rule instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_static: Option<String>,
    pub suite_files: usize,
    pub picked: Vec<PickedTest>,
    pub cut: Cut,
    /// Seconds of the picked tests and of the whole suite, where timed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picked_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite_seconds: Option<f64>,
    /// PHP files read, commits of history read, and how long it took.
    pub php_files: usize,
    pub history_commits: usize,
    pub seconds: f64,
}

impl Answer {
    /// The pick as the run carries it; None when the static pick does not apply.
    pub fn pick(&self) -> Option<Pick> {
        if self.not_static.is_some() {
            return None;
        }
        Some(Pick {
            classes: self.picked.iter().flat_map(|p| p.classes.iter().cloned()).collect(),
            expected_recall: self.cut.expected_recall.clamp(0.0, 1.0),
            left_out_files: (self.suite_files - self.picked.len()) as u32,
        })
    }
}

/// Answers for `changed` (paths relative to `project`). `class_seconds` maps a test
/// class (lower case) to its measured seconds per run.
pub fn answer(
    project: &Path,
    changed: &[String],
    confidence: f64,
    class_seconds: &BTreeMap<String, f64>,
    learn: bool,
) -> Result<Answer, CliError> {
    if !(0.0..=1.0).contains(&confidence) {
        return Err(CliError::Usage(format!(
            "--confidence {confidence}: a share between 0 and 1, e.g. 0.95"
        )));
    }
    if !project.is_dir() {
        return Err(CliError::Usage(format!("{}: not a directory", project.display())));
    }
    let started = Instant::now();
    let changed: Vec<String> = changed.iter().map(|c| c.trim_start_matches("./").to_string()).collect();
    let not_static = changed
        .iter()
        .find(|f| forces_everything(f))
        .map(|f| format!("{f} can affect every test"))
        .or_else(|| {
            changed
                .iter()
                .find(|f| !f.ends_with(".php"))
                .map(|f| format!("{f} is not PHP code: the static map cannot follow it"))
        });
    let mut knowledge = Knowledge::default();
    let mut php = Vec::new();
    walk(project, project, &mut php).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", project.display())))?;
    let mut suite = Vec::new();
    for (rel, symbols) in parse_all(project, &php) {
        knowledge.depmap.set(&rel, Some(symbols));
        if is_test_file(&rel) {
            suite.push(rel);
        }
    }
    let roots = git_roots(project, &changed);
    let history_commits = read_history(project, &roots, &mut knowledge)?;
    if learn {
        let [root] = roots.iter().collect::<Vec<_>>()[..] else {
            return Err(CliError::Usage(format!(
                "--learn: the change must lie in one git repository (it touches {})",
                roots.len()
            )));
        };
        let walk = super::Walk {
            rev: "HEAD".into(),
            changes: HISTORY,
            merges: true,
            quiet: true,
        };
        let (replay, _, _) = super::replay_repo(root, "history", &walk)?;
        knowledge.model = replay.knowledge.model;
    }
    let seconds_of = |file: &str| -> Option<f64> {
        let classes = knowledge.depmap.declares(file)?;
        let secs: Vec<f64> = classes.iter().filter_map(|c| class_seconds.get(c)).copied().collect();
        (!secs.is_empty()).then(|| secs.iter().sum())
    };
    let sources: Vec<String> = changed.iter().filter(|f| is_source_file(f)).cloned().collect();
    let mut ranked = knowledge.rank(&sources, &[], &suite, seconds_of);
    // A test the change itself edits is run, whatever the signals say.
    for c in ranked.iter_mut() {
        if changed.contains(&c.test) {
            c.probability = 1.0;
        }
    }
    ranked.sort_by(|a, b| {
        let changed_first = changed.contains(&b.test).cmp(&changed.contains(&a.test));
        changed_first
            .then((b.probability / b.cost).total_cmp(&(a.probability / a.cost)))
            .then_with(|| a.test.cmp(&b.test))
    });
    let mut at = cut(&ranked, confidence);
    at.count = at
        .count
        .max(ranked.iter().take_while(|c| changed.contains(&c.test)).count());
    let picked: Vec<PickedTest> = ranked[..at.count]
        .iter()
        .map(|c| PickedTest {
            file: c.test.clone(),
            classes: knowledge
                .depmap
                .declares(&c.test)
                .map(|d| d.iter().cloned().collect())
                .unwrap_or_default(),
            probability: c.probability,
            seconds: seconds_of(&c.test),
            why: if changed.contains(&c.test) {
                vec![Why::Changed]
            } else {
                c.why()
            },
        })
        .collect();
    let timed = |files: &mut dyn Iterator<Item = &String>| -> Option<f64> {
        let secs: Vec<f64> = files.filter_map(|f| seconds_of(f)).collect();
        (!secs.is_empty()).then(|| secs.iter().sum())
    };
    Ok(Answer {
        changed,
        confidence,
        not_static,
        suite_files: suite.len(),
        picked_seconds: timed(&mut picked.iter().map(|p| &p.file)),
        suite_seconds: timed(&mut suite.iter()),
        picked,
        cut: at,
        php_files: php.len(),
        history_commits,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Parses `files` (relative to `project`) on every core; unreadable files are left
/// out.
fn parse_all(project: &Path, files: &[String]) -> Vec<(String, FileSymbols)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|rel| {
                            std::fs::read(project.join(rel))
                                .ok()
                                .map(|s| (rel.clone(), file_symbols(&s)))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    })
}

/// Every PHP file under `dir` (relative to `root`), outside dependencies.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) && !name.starts_with('.') {
                walk(root, &entry.path(), out)?;
            }
        } else if kind.is_file() && name.ends_with(".php") {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap_or(&path).display().to_string());
        }
    }
    Ok(())
}

/// The git repositories holding the changed files.
fn git_roots(project: &Path, changed: &[String]) -> BTreeSet<PathBuf> {
    let mut roots: BTreeSet<PathBuf> = BTreeSet::new();
    for file in changed {
        let dir = project.join(file);
        let dir = dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| project.to_path_buf());
        let dir = nearest_existing(&dir).unwrap_or_else(|| project.to_path_buf());
        let out = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["rev-parse", "--show-toplevel"])
            .output();
        if let Ok(out) = out.ok().filter(|o| o.status.success()).ok_or(()) {
            roots.insert(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    roots
}

/// Reads the co-change history of each of `roots` into `knowledge`, paths relative
/// to `project`; returns the commits read.
fn read_history(project: &Path, roots: &BTreeSet<PathBuf>, knowledge: &mut Knowledge) -> Result<usize, CliError> {
    let project = project.canonicalize().unwrap_or_else(|_| project.to_path_buf());
    let mut commits = 0;
    for root in roots {
        let root = root.canonicalize().unwrap_or_else(|_| root.clone());
        // The repository is the project, lies inside it (an extension's own
        // repository), or holds it (the project is a directory of a larger one).
        let (inside, holds) = (root.strip_prefix(&project).ok(), project.strip_prefix(&root).ok());
        let to_project = |line: &str| -> Option<String> {
            match (inside, holds) {
                (Some(p), _) if p.as_os_str().is_empty() => Some(line.to_string()),
                (Some(p), _) => Some(format!("{}/{line}", p.display())),
                (_, Some(h)) => line.strip_prefix(&format!("{}/", h.display())).map(str::to_string),
                _ => None,
            }
        };
        // A repository without commits has no history to read.
        let Ok(line) = super::history::first_parent_line(&root, "HEAD", Some(HISTORY)) else {
            continue;
        };
        let log: Vec<Vec<String>> = line
            .iter()
            .map(|step| step.paths.iter().filter_map(|p| to_project(p)).collect())
            .filter(|files: &Vec<String>| !files.is_empty())
            .collect();
        for files in &log {
            let sources: Vec<String> = files.iter().filter(|f| is_source_file(f)).cloned().collect();
            let tests: Vec<String> = files.iter().filter(|f| is_test_file(f)).cloned().collect();
            knowledge.history.record(&sources, &tests);
        }
        commits += log.len();
    }
    Ok(commits)
}

fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.is_dir() {
            return Some(d.to_path_buf());
        }
        at = d.parent();
    }
    None
}

/// The answer for people.
pub fn text(a: &Answer) -> String {
    let mut out = String::new();
    if let Some(why) = &a.not_static {
        out.push_str(&format!(
            "no static pick: {why}; `--mode select` keeps the changed repositories and their dependents\n"
        ));
        return out;
    }
    let time = match (a.picked_seconds, a.suite_seconds) {
        (Some(p), Some(s)) => format!(", ≈{p:.1} s of {s:.1} s measured"),
        _ => String::new(),
    };
    out.push_str(&format!(
        "{} of {} test files ({:.1}%{time}) for {}; expected recall {:.1}% at confidence {} ({:.2} affected files expected among those left out)\n",
        a.picked.len(),
        a.suite_files,
        100.0 * a.picked.len() as f64 / a.suite_files.max(1) as f64,
        a.changed.join(", "),
        100.0 * a.cut.expected_recall,
        a.confidence,
        a.cut.expected_missed
    ));
    for p in &a.picked {
        let why: Vec<String> = p.why.iter().map(why_text).collect();
        out.push_str(&format!(
            "  {:>5.1}%  {}  ({})\n",
            100.0 * p.probability,
            p.file,
            why.join("; ")
        ));
    }
    out.push_str(&format!(
        "read {} PHP files and {} commits in {:.1} s\n",
        a.php_files, a.history_commits, a.seconds
    ));
    out
}

fn why_text(w: &Why) -> String {
    match w {
        Why::Changed => "the change edits it".into(),
        Why::Covers { symbol } => format!("@covers {symbol}"),
        Why::Name => "named after a changed file".into(),
        Why::References { via, distance: 1 } => format!("uses {via}"),
        Why::References { via, distance } => format!("reaches the change in {distance} steps, through {via}"),
        Why::CoChange { count, share } => {
            format!(
                "changed with it in {count} commits ({:.0}% of the file's)",
                100.0 * share
            )
        }
        Why::Failed { times } => format!("failed after changes to it {times} times"),
        Why::Path { similarity } => format!("its path is alike ({:.0}%)", 100.0 * similarity),
    }
}
