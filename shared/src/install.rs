//! The install step: a stage's `install` command (for MediaWiki, the maintenance
//! installer writing LocalSettings.php and creating the tables), run once per
//! [`Install::key`] on an agent and reused by every later task with the same key —
//! the shards of one job, and of the other jobs of the same cell and tree.
//!
//! What the key covers decides when a warm install may be reused: the tree (a git
//! workspace's commits and patch; for a project directory, which can change under the
//! farm between runs, the fingerprint of its files the client sent — or the run, when
//! it sent none), the run's environment, the command, the cell, the services and where
//! the command runs. The agent's side is agent/src/install.rs.

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

/// What a run gives an install to be made for.
pub struct TreeOf<'a> {
    /// A git workspace's key (None: the commands run in `project_dir`).
    pub workspace_key: Option<&'a str>,
    pub project_dir: &'a str,
    /// The project directory's files as the client saw them (see
    /// [`crate::inventory::tree_fingerprint`]); empty when it could not say.
    pub fingerprint: &'a str,
    pub run_id: &'a str,
    /// The run's environment: the install's commands see it.
    pub env: &'a BTreeMap<String, String>,
}

/// The tree an install is made for, with the environment it is made in: a git
/// workspace's key; a project directory's files as fingerprinted (the same files are
/// the same install, run after run: on the MediaWiki kit that spares
/// maintenance/install.php, 0.7 s, on the critical path of every slot of every run);
/// or, unfingerprinted, the run (its files may change between runs).
pub fn tree_of(t: &TreeOf<'_>) -> String {
    let mut tree = match (t.workspace_key, t.fingerprint) {
        (Some(key), _) => format!("git:{key}"),
        (None, "") => format!("dir:{}@{}", t.project_dir, t.run_id),
        (None, fingerprint) => format!("dir:{}#{fingerprint}", t.project_dir),
    };
    for (k, v) in t.env {
        tree.push_str(&format!("\nenv:{k}={v}"));
    }
    tree
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
        "{}|{}|{:?}|{}\n",
        runtime.executor.as_str(),
        runtime.image.as_deref().unwrap_or(""),
        runtime.network,
        runtime.isolation.as_str()
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
            install_key(
                "git:a",
                "install.sh",
                &cell("sqlite"),
                &[Service::Sqlite],
                &Runtime {
                    isolation: crate::runtime::Isolation::None,
                    ..Runtime::default()
                },
            ),
        ];
        for other in others {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn the_same_files_in_the_same_environment_are_one_install_across_runs() {
        let env: BTreeMap<String, String> = [("PHP_INI_SCAN_DIR".to_string(), "/a".to_string())].into();
        let other_env: BTreeMap<String, String> = [("PHP_INI_SCAN_DIR".to_string(), "/b".to_string())].into();
        let t = |workspace_key, fingerprint, run_id, env| {
            tree_of(&TreeOf {
                workspace_key,
                project_dir: "/p",
                fingerprint,
                run_id,
                env,
            })
        };
        // Unfingerprinted: a run of its own.
        assert_ne!(t(None, "", "r1", &env), t(None, "", "r2", &env));
        // The same files: one install, until they or the environment change.
        assert_eq!(t(None, "f1", "r1", &env), t(None, "f1", "r2", &env));
        assert_ne!(t(None, "f1", "r1", &env), t(None, "f2", "r2", &env));
        assert_ne!(t(None, "f1", "r1", &env), t(None, "f1", "r2", &other_env));
        // A git tree is its commits.
        assert_eq!(t(Some("k"), "", "r1", &env), t(Some("k"), "", "r2", &env));
        assert_ne!(t(Some("k"), "", "r1", &env), t(Some("k"), "", "r2", &other_env));
    }
}
