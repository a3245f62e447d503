//! Git workspaces on an agent: a bare mirror per repository URL, and one workspace
//! directory per [`Workspace::key`] (the repositories at their commits, the patch
//! applied), built by the first shard that needs it and reused by every later shard of
//! the same tree: the warm case. See README.md, "MediaWiki pipelines".
//!
//! ```text
//! <work>/mirrors/<fnv(url)>.git    git clone --mirror; fetched when a commit is missing
//! <work>/workspaces/<key>/         the checkouts (clone --shared of the mirror: no copy
//!                                  of the objects), root repository first
//! <work>/workspaces/<key>.partial/ a build in progress (or interrupted: redone)
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use testfarm_shared::workspace::{fnv1a, Workspace};
use tokio::process::Command;

use crate::error::AgentError;

const READY: &str = ".farm-workspace";

/// The agent's workspaces; one build per key at a time.
#[derive(Debug)]
pub struct Workspaces {
    mirrors: PathBuf,
    root: PathBuf,
    building: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A prepared workspace, and whether it was there already.
pub struct Prepared {
    pub dir: PathBuf,
    pub warm: bool,
}

impl Workspaces {
    pub fn new(work_dir: &Path) -> Workspaces {
        Workspaces {
            mirrors: work_dir.join("mirrors"),
            root: work_dir.join("workspaces"),
            building: Mutex::new(HashMap::new()),
        }
    }

    /// The workspace for `ws`, built if needed. Git's own output goes to `log`.
    pub async fn prepare(&self, ws: &Workspace, log: &Path) -> Result<Prepared, AgentError> {
        let key = ws.key();
        let dir = self.root.join(&key);
        if dir.join(READY).is_file() {
            return Ok(Prepared { dir, warm: true });
        }
        let lock = {
            let mut building = self.building.lock().expect("workspace locks");
            building.entry(key.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if dir.join(READY).is_file() {
            // Another shard built it while this one waited.
            return Ok(Prepared { dir, warm: true });
        }
        let partial = self.root.join(format!("{key}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(AgentError::io("create", &partial))?;
        let root = partial.canonicalize().map_err(AgentError::io("resolve", &partial))?;
        for repo in &ws.repos {
            // A task spec comes from the network: its paths are checked here too.
            if let Some(why) = testfarm_shared::workspace::path_problem(&repo.path) {
                return Err(AgentError::Invalid {
                    what: format!("repo {} path `{}`", repo.name, repo.path),
                    why: why.into(),
                });
            }
            let mirror = self.mirror(&repo.url, &repo.commit, log).await?;
            let dest = if repo.path == "." {
                partial.clone()
            } else {
                partial.join(&repo.path)
            };
            if let Some(parent) = dest.parent().filter(|_| repo.path != ".") {
                std::fs::create_dir_all(parent).map_err(AgentError::io("create", parent))?;
                // An outer checkout may hold a symbolic link where an inner one goes.
                let resolved = parent.canonicalize().map_err(AgentError::io("resolve", parent))?;
                if !resolved.starts_with(&root) {
                    return Err(AgentError::Invalid {
                        what: format!("repo {} path `{}`", repo.name, repo.path),
                        why: format!(
                            "it leaves the workspace through a symbolic link (to {})",
                            resolved.display()
                        ),
                    });
                }
            }
            let dest_text = dest.display().to_string();
            let mirror_text = mirror.display().to_string();
            git(
                &[
                    "clone",
                    "--quiet",
                    "--shared",
                    "--no-checkout",
                    &mirror_text,
                    &dest_text,
                ],
                None,
                log,
            )
            .await
            .map_err(|e| e.during(format!("repo {}", repo.name)))?;
            git(&["checkout", "--quiet", "--detach", &repo.commit], Some(&dest), log)
                .await
                .map_err(|e| e.during(format!("repo {} at {}", repo.name, repo.commit)))?;
        }
        if let Some(patch) = &ws.patch {
            let file = self.root.join(format!("{key}.patch"));
            std::fs::write(&file, patch).map_err(AgentError::io("write", &file))?;
            git(&["apply", "-p1", &file.display().to_string()], Some(&partial), log)
                .await
                .map_err(|e| e.during("the change under test does not apply"))?;
        }
        let ready = partial.join(READY);
        std::fs::write(&ready, format!("{key}\n")).map_err(AgentError::io("mark the workspace in", &ready))?;
        std::fs::rename(&partial, &dir).map_err(AgentError::io("move the workspace into place from", &partial))?;
        Ok(Prepared { dir, warm: false })
    }

    /// The bare mirror of `url`, holding `commit` (cloned or fetched as needed).
    async fn mirror(&self, url: &str, commit: &str, log: &Path) -> Result<PathBuf, AgentError> {
        let mirror = self.mirrors.join(format!("{:016x}.git", fnv1a(url.as_bytes())));
        let text = mirror.display().to_string();
        if !mirror.join("HEAD").is_file() {
            std::fs::create_dir_all(&self.mirrors).map_err(AgentError::io("create", &self.mirrors))?;
            let _ = std::fs::remove_dir_all(&mirror);
            git(&["clone", "--quiet", "--mirror", "--", url, &text], None, log).await?;
        }
        let has = |m: PathBuf| async move {
            git(
                &[
                    "--git-dir",
                    &m.display().to_string(),
                    "cat-file",
                    "-e",
                    &format!("{commit}^{{commit}}"),
                ],
                None,
                log,
            )
            .await
            .is_ok()
        };
        if !has(mirror.clone()).await {
            git(
                &["--git-dir", &text, "fetch", "--quiet", "--prune", "origin"],
                None,
                log,
            )
            .await?;
            if !has(mirror.clone()).await {
                return Err(AgentError::Unavailable {
                    what: format!("commit {commit}"),
                    why: format!("it is not in {url}"),
                });
            }
        }
        Ok(mirror)
    }
}

/// Runs git; its stderr goes to the task log, and into the error when it fails.
async fn git(args: &[&str], cwd: Option<&Path>, log: &Path) -> Result<(), AgentError> {
    let mut cmd = Command::new("git");
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().await.map_err(|source| AgentError::Spawn {
        program: "git (hint: apt-get install git)".into(),
        source,
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        crate::runner::append_log(log, &format!("git {}: {}", args.join(" "), stderr.trim()));
    }
    if out.status.success() {
        Ok(())
    } else {
        Err(AgentError::Failed {
            program: format!("git {}", args.join(" ")),
            status: out.status.to_string(),
            output: stderr.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testfarm_shared::workspace::Checkout;

    /// A repository at `dir` with `files` (a name ending in `@` is a symbolic link to
    /// `target`), committed; its commit.
    fn repo(dir: &Path, files: &[(&str, &str)]) -> String {
        std::fs::create_dir_all(dir).unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(dir)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@t")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@t")
                .output()
                .expect("git runs (hint: apt-get install git)");
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        run(&["init", "-q"]);
        for (name, content) in files {
            match name.strip_suffix('@') {
                Some(link) => std::os::unix::fs::symlink(content, dir.join(link)).unwrap(),
                None => std::fs::write(dir.join(name), content).unwrap(),
            }
        }
        run(&["add", "-A"]);
        run(&["commit", "-q", "-m", "x"]);
        run(&["rev-parse", "HEAD"])
    }

    fn checkout(name: &str, path: &str, url: &Path, commit: String) -> Checkout {
        Checkout {
            name: name.into(),
            path: path.into(),
            url: format!("file://{}", url.display()),
            commit,
        }
    }

    #[tokio::test]
    async fn a_repository_cannot_leave_the_workspace_by_its_path_or_a_link_in_an_outer_one() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let core = repo(
            &t.path().join("core"),
            &[("README", "core"), ("extensions@", outside.to_str().unwrap())],
        );
        let echo = repo(&t.path().join("echo"), &[("Echo.php", "<?php")]);
        let spaces = Workspaces::new(&t.path().join("work"));
        let log = t.path().join("log.txt");
        let ws = Workspace {
            repos: vec![
                checkout("core", ".", &t.path().join("core"), core.clone()),
                checkout("Echo", "extensions/Echo", &t.path().join("echo"), echo.clone()),
            ],
            patch: None,
        };
        let e = spaces.prepare(&ws, &log).await.err().expect("refused");
        assert!(
            e.to_string()
                .starts_with("repo Echo path `extensions/Echo`: it leaves the workspace through a symbolic link"),
            "{e}"
        );
        assert!(
            std::fs::read_dir(&outside).unwrap().next().is_none(),
            "nothing written outside"
        );

        let ws = Workspace {
            repos: vec![checkout("Echo", "../escape", &t.path().join("echo"), echo)],
            patch: None,
        };
        let e = spaces.prepare(&ws, &log).await.err().expect("refused");
        assert!(e.to_string().contains("`..`"), "{e}");
    }
}
