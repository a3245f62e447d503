//! Test lists kept across runs. Discovery is a function of the tree and of how the
//! job lists it (its stage, cell and environment): a job whose tree and listing are
//! the same as at its last discovery reuses that list and skips discovery — one
//! PHPUnit process that loads the whole suite (1.1 s on MediaWiki's core:unit, on
//! the critical path of every run). One list is kept per project and job, so the
//! cache is bounded by the pipeline, not by history.

use serde::{Deserialize, Serialize};

use crate::model::Run;
use crate::workspace::fnv1a;

/// The last list of a job, and what it was discovered from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedInventory {
    pub fingerprint: String,
    pub tests: Vec<String>,
}

/// What a job's list depends on, as one string; None when the run cannot tell its
/// tree (no fingerprint from the client, and no git workspace).
pub fn fingerprint(run: &Run, job: usize) -> Option<String> {
    let tree = match run.workspace() {
        Some(ws) => ws.key(),
        None if !run.tree.is_empty() => run.tree.clone(),
        None => return None,
    };
    let spec = &run.jobs.get(job)?.spec;
    let stage = run.pipeline.stages.iter().find(|s| s.name == spec.stage)?;
    let listing = serde_json::json!({
        "stage": stage,
        "cell": spec.cell,
        "env": run.env,
        "project_dir": run.project_dir,
    });
    Some(format!("{tree}/{:016x}", fnv1a(listing.to_string().as_bytes())))
}

/// Where a job's [`CachedInventory`] is kept.
pub fn cache_key(project: &str, job_name: &str) -> String {
    format!("invcache/{project}/{job_name}")
}

/// The fingerprint of a directory's files as `(relative path, size, modification
/// time in ns)`, in any order: what the client sends for a project directory.
pub fn tree_fingerprint(mut files: Vec<(String, u64, u128)>) -> String {
    files.sort();
    let mut text = String::with_capacity(files.len() * 64);
    for (path, size, mtime) in &files {
        text.push_str(path);
        text.push('\0');
        text.push_str(&size.to_string());
        text.push('\0');
        text.push_str(&mtime.to_string());
        text.push('\n');
    }
    format!("dir-{:016x}-{}", fnv1a(text.as_bytes()), files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_fingerprint_changes_with_any_file_and_not_with_order() {
        let a = vec![("a.php".to_string(), 10, 1), ("b/c.php".to_string(), 20, 2)];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(tree_fingerprint(a.clone()), tree_fingerprint(b));
        let mut touched = a.clone();
        touched[1].2 = 3;
        assert_ne!(tree_fingerprint(a.clone()), tree_fingerprint(touched));
        let mut added = a.clone();
        added.push(("d.php".to_string(), 1, 1));
        assert_ne!(tree_fingerprint(a), tree_fingerprint(added));
    }
}
