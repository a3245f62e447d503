//! A repository's first-parent history as the selection replay needs it: each change's
//! paths (`git log --name-only`, renames under their new name) and the PHP contents
//! after it (one `git cat-file --batch` for the whole walk).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use testfarm_shared::select::evaluate::{FileChange, ReplayCommit};

use crate::error::CliError;

/// One step of the first-parent line.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub parent: Option<String>,
    pub merge: bool,
    /// Against the first parent (for a merge: what it brought in).
    pub paths: Vec<String>,
}

fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(repo);
    c
}

fn run(mut command: Command, what: &str) -> Result<String, CliError> {
    let out = command
        .output()
        .map_err(|e| CliError::Infrastructure(format!("{what}: cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(CliError::Usage(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(|e| CliError::Infrastructure(format!("{what}: git wrote non-UTF-8: {e}")))
}

/// The first-parent line of `rev` (its `newest` steps, or all), oldest first, merges
/// included with their diff against the first parent.
pub fn first_parent_line(repo: &Path, rev: &str, newest: Option<usize>) -> Result<Vec<Step>, CliError> {
    let mut c = git(repo);
    c.args([
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--reverse",
        "--name-only",
        "--format=%x01%H %P",
    ]);
    if let Some(n) = newest {
        // git takes the newest n, then reverses them.
        c.arg(format!("-n{n}"));
    }
    c.args([rev, "--"]);
    let text = run(c, &format!("{}: git log {rev}", repo.display()))?;
    let mut steps = Vec::new();
    for block in text.split('\x01').filter(|b| !b.trim().is_empty()) {
        let mut lines = block.lines();
        let header = lines.next().unwrap_or_default();
        let mut ids = header.split_whitespace();
        let Some(id) = ids.next() else { continue };
        let parents: Vec<&str> = ids.collect();
        steps.push(Step {
            id: id.to_string(),
            parent: parents.first().map(|p| p.to_string()),
            merge: parents.len() > 1,
            paths: lines.filter(|l| !l.is_empty()).map(str::to_string).collect(),
        });
    }
    Ok(steps)
}

/// Every path of a commit's tree.
pub fn tree_paths(repo: &Path, commit: &str) -> Result<Vec<String>, CliError> {
    let mut c = git(repo);
    c.args(["ls-tree", "-r", "--name-only", "-z", commit]);
    let text = run(c, &format!("{}: git ls-tree {commit}", repo.display()))?;
    Ok(text.split('\0').filter(|p| !p.is_empty()).map(str::to_string).collect())
}

/// Reads blobs by `commit:path` through one long-lived `git cat-file --batch`.
pub struct Blobs {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    repo: PathBuf,
}

impl Blobs {
    pub fn open(repo: &Path) -> Result<Blobs, CliError> {
        let mut child = git(repo)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| CliError::Infrastructure(format!("{}: cannot run git cat-file: {e}", repo.display())))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(CliError::Infrastructure("git cat-file: no pipes".into()));
        };
        Ok(Blobs {
            child,
            input,
            output: BufReader::new(output),
            repo: repo.to_path_buf(),
        })
    }

    /// The file at `path` in `commit`; None when it is not there.
    pub fn read(&mut self, commit: &str, path: &str) -> Result<Option<Vec<u8>>, CliError> {
        let broken =
            |e: std::io::Error| CliError::Infrastructure(format!("{}: git cat-file: {e}", self.repo.display()));
        writeln!(self.input, "{commit}:{path}")
            .and_then(|_| self.input.flush())
            .map_err(broken)?;
        let mut header = String::new();
        self.output.read_line(&mut header).map_err(broken)?;
        // "<oid> blob <size>" or "<name> missing"
        let fields: Vec<&str> = header.split_whitespace().collect();
        match fields.as_slice() {
            [_, "blob", size] => {
                let size: usize = size
                    .parse()
                    .map_err(|_| CliError::Infrastructure(format!("git cat-file: bad header {header:?}")))?;
                let mut content = vec![0; size + 1]; // and the newline after it
                self.output.read_exact(&mut content).map_err(broken)?;
                content.pop();
                Ok(Some(content))
            }
            // A path naming a directory or a submodule: not a file; skip its body.
            [_, "tree" | "commit", size] => {
                let size: usize = size.parse().unwrap_or(0);
                let mut skip = vec![0; size + 1];
                self.output.read_exact(&mut skip).map_err(broken)?;
                Ok(None)
            }
            [.., "missing"] | [.., "ambiguous"] => Ok(None),
            _ => Err(CliError::Infrastructure(format!(
                "git cat-file: unexpected reply {header:?}"
            ))),
        }
    }

    /// A step as the replay takes it: its paths, with each PHP file's content after it.
    pub fn change(&mut self, step: &Step) -> Result<ReplayCommit, CliError> {
        let mut files = Vec::with_capacity(step.paths.len());
        for path in &step.paths {
            let after = if path.ends_with(".php") {
                self.read(&step.id, path)?
            } else {
                None
            };
            files.push(FileChange {
                path: path.clone(),
                after,
            });
        }
        Ok(ReplayCommit {
            id: step.id.clone(),
            files,
        })
    }
}

impl Drop for Blobs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
