//! The install step: a stage's `install` command (for MediaWiki, the maintenance
//! installer writing LocalSettings.php and creating the tables), run once per
//! [`Install::key`] on an agent and reused by every later task with the same key —
//! the shards of one job, and of the other jobs of the same cell and tree.
//!
//! What the key covers decides when a warm install may be reused: the tree (a git
//! workspace's commits and patch; for a project directory, which can change under the
//! farm between runs, the run), the command, the cell, the services and where the
//! command runs. The agent's side is agent/src/install.rs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::runtime::Runtime;
use crate::service::Service;
use crate::workspace::fnv1a;

/// What a task carries about its stage's install step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Install {
    /// Run with `/bin/sh -c` in the project directory, with `FARM_INSTALL_DIR` (where
    /// it keeps what it makes) and the services' variables of the install database.
    pub command: String,
    /// 16 hex digits; the same key on an agent is the same install.
    pub key: String,
}

/// The tree an install is made for: a git workspace's key, or for a project
/// directory the run (its files may change between runs).
pub fn tree_of(workspace_key: Option<&str>, project_dir: &str, run_id: &str) -> String {
    match workspace_key {
        Some(key) => format!("git:{key}"),
        None => format!("dir:{project_dir}@{run_id}"),
    }
}

/// The key of an install (see the module docs for why each input is in it).
pub fn install_key(
    tree: &str,
    command: &str,
    cell: &BTreeMap<String, String>,
    services: &[Service],
    runtime: &Runtime,
) -> String {
    let mut text = format!("{tree}\n{command}\n");
    for (axis, value) in cell {
        text.push_str(&format!("{axis}={value}\n"));
    }
    for s in services {
        text.push_str(&format!("service={s}\n"));
    }
    text.push_str(&format!(
        "{}|{}|{:?}\n",
        runtime.executor.as_str(),
        runtime.image.as_deref().unwrap_or(""),
        runtime.network
    ));
    format!("{:016x}", fnv1a(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(db: &str) -> BTreeMap<String, String> {
        [
            ("db".to_string(), db.to_string()),
            ("php".to_string(), "8.2".to_string()),
        ]
        .into()
    }

    #[test]
    fn the_key_changes_with_each_input() {
        let rt = Runtime::default();
        let base = install_key("git:a", "install.sh", &cell("sqlite"), &[Service::Sqlite], &rt);
        assert_eq!(
            base,
            install_key("git:a", "install.sh", &cell("sqlite"), &[Service::Sqlite], &rt)
        );
        assert_eq!(base.len(), 16);
        let others = [
            install_key("git:b", "install.sh", &cell("sqlite"), &[Service::Sqlite], &rt),
            install_key("git:a", "install.sh -q", &cell("sqlite"), &[Service::Sqlite], &rt),
            install_key("git:a", "install.sh", &cell("postgres"), &[Service::Sqlite], &rt),
            install_key("git:a", "install.sh", &cell("sqlite"), &[Service::Postgres], &rt),
            install_key(
                "git:a",
                "install.sh",
                &cell("sqlite"),
                &[Service::Sqlite],
                &Runtime {
                    image: Some("php82".into()),
                    ..Runtime::default()
                },
            ),
        ];
        for other in others {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn a_project_directory_is_installed_per_run_and_a_git_tree_across_runs() {
        assert_ne!(tree_of(None, "/p", "r1"), tree_of(None, "/p", "r2"));
        assert_eq!(tree_of(Some("k"), "/p", "r1"), tree_of(Some("k"), "/p", "r2"));
    }
}
