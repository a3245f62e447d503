//! What the client reads of the project's repositories before submitting: each
//! repository's `extension.json` / `skin.json` requirements, and the files a patch
//! changes. The coordinator merges the requirements into the pipeline's graph.

use std::collections::BTreeMap;
use std::path::Path;

use testfarm_shared::config::Pipeline;
use testfarm_shared::select::RepoGraph;

use crate::error::CliError;

/// `requires.extensions` and `requires.skins` of every repository's manifest, by
/// repository; checked together with the pipeline's own requirements.
pub fn manifest_requires(project_dir: &Path, pipeline: &Pipeline) -> Result<BTreeMap<String, Vec<String>>, CliError> {
    let mut out = BTreeMap::new();
    let mut repos = pipeline.repos.clone();
    for repo in repos.iter_mut() {
        for manifest in ["extension.json", "skin.json"] {
            let path = project_dir.join(&repo.path).join(manifest);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("{}: line {}: {e}", path.display(), e.line())))?;
            let mut needs = Vec::new();
            for kind in ["extensions", "skins"] {
                match &json["requires"][kind] {
                    serde_json::Value::Null => {}
                    serde_json::Value::Object(map) => needs.extend(map.keys().cloned()),
                    other => {
                        return Err(CliError::Usage(format!(
                            "{}: requires.{kind}: expected an object of name: version, found {other}",
                            path.display()
                        )))
                    }
                }
            }
            for need in &needs {
                if !pipeline.repos.iter().any(|r| &r.name == need) {
                    return Err(CliError::Usage(format!(
                        "{}: {} requires `{need}`, which the pipeline's repos do not name",
                        path.display(),
                        repo.name
                    )));
                }
                if !repo.requires.contains(need) {
                    repo.requires.push(need.clone());
                }
            }
            out.insert(repo.name.clone(), needs);
        }
    }
    RepoGraph::new(repos).map_err(|e| CliError::Usage(format!("{e} (with the requirements in extension.json)")))?;
    Ok(out)
}

/// The files a unified diff changes (`+++ b/PATH`, and `--- a/PATH` for deletions).
pub fn patch_files(patch: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(patch)
        .map_err(|e| CliError::Usage(format!("cannot read patch {}: {e}", patch.display())))?;
    let files = testfarm_shared::select::diff::changed_files(&text);
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: no `+++ b/PATH` line: is it a unified diff?",
            patch.display()
        )));
    }
    Ok(files)
}

/// The commit each git repository's ref resolves to (`git ls-remote`), with
/// `changes` (`REPO=REF`, the change under test) taking the place of a repo's ref.
pub fn resolve_commits(pipeline: &Pipeline, changes: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut overrides = BTreeMap::new();
    for change in changes {
        let (repo, reference) = change
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--change `{change}`: expected REPO=REF")))?;
        if !pipeline.repos.iter().any(|r| r.name == repo && r.git.is_some()) {
            return Err(CliError::Usage(format!(
                "--change {change}: the pipeline has no git repo `{repo}`"
            )));
        }
        overrides.insert(repo.to_string(), reference.to_string());
    }
    let mut out = BTreeMap::new();
    for repo in &pipeline.repos {
        let Some(url) = &repo.git else { continue };
        let reference = overrides
            .get(&repo.name)
            .cloned()
            .or_else(|| repo.git_ref.clone())
            .unwrap_or_else(|| "HEAD".to_string());
        let commit = if testfarm_shared::workspace::is_commit(&reference) {
            reference
        } else {
            ls_remote(url, &reference).map_err(|why| CliError::Usage(format!("repo {}: {why}", repo.name)))?
        };
        out.insert(repo.name.clone(), commit);
    }
    Ok(out)
}

fn ls_remote(url: &str, reference: &str) -> Result<String, String> {
    let out = std::process::Command::new("git")
        .args(["ls-remote", "--", url, reference])
        .output()
        .map_err(|e| format!("cannot run git: {e} (hint: apt-get install git)"))?;
    if !out.status.success() {
        return Err(format!(
            "git ls-remote {url} {reference}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `HEAD` and `main` may both match several refs; an exact name wins.
    let rows: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('\t')).collect();
    let exact = rows.iter().find(|(_, name)| {
        *name == reference || *name == format!("refs/heads/{reference}") || *name == format!("refs/tags/{reference}")
    });
    exact
        .or(rows.first())
        .map(|(commit, _)| commit.to_string())
        .ok_or_else(|| format!("no ref `{reference}` at {url}"))
}
