//! The workspace a run's commands see when its repositories come from git: each
//! repository at a pinned commit, at its path, plus the change under test as a patch.
//! Agents build it once per [`Workspace::key`] and reuse it for every shard of the run
//! that lands on them (agent/src/workspace.rs).

use serde::{Deserialize, Serialize};

/// One repository checked out at a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    pub name: String,
    /// Relative to the workspace root; `.` for the repository at the root (core).
    pub path: String,
    pub url: String,
    /// 40 hex digits, resolved when the run was submitted.
    pub commit: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// Outermost first (the root repository before the ones inside it).
    pub repos: Vec<Checkout>,
    /// A unified diff against the workspace root (`-p1`), applied after checkout.
    pub patch: Option<String>,
}

/// Why `path` cannot be where a repository goes in a workspace (None: it can). It
/// becomes a directory on every agent, so it must stay inside the workspace root:
/// relative, no `.` or `..` component (only `.` alone, the root itself), no empty
/// component, no backslash or NUL.
pub fn path_problem(path: &str) -> Option<&'static str> {
    if path == "." {
        return None;
    }
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') {
        return Some("is absolute: give it relative to the project directory");
    }
    if path.contains(['\\', '\0']) {
        return Some("holds a backslash or NUL");
    }
    for part in path.split('/') {
        match part {
            "" => return Some("has an empty component (`//` or a trailing `/`)"),
            "." | ".." => return Some("has a `.` or `..` component: it must stay inside the project directory"),
            _ => {}
        }
    }
    None
}

impl Workspace {
    /// Names the workspace by everything in it: the same repositories at the same
    /// commits with the same patch are the same directory on an agent.
    pub fn key(&self) -> String {
        let mut text = String::new();
        for r in &self.repos {
            text.push_str(&format!("{}\n{}\n{}\n{}\n", r.name, r.path, r.url, r.commit));
        }
        if let Some(p) = &self.patch {
            text.push_str("patch\n");
            text.push_str(p);
        }
        format!("{:016x}", fnv1a(text.as_bytes()))
    }
}

/// FNV-1a, 64 bit: a stable name for a text (not a security boundary).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Whether `text` is a full commit id.
pub fn is_commit(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(commit: &str, patch: Option<&str>) -> Workspace {
        Workspace {
            repos: vec![Checkout {
                name: "core".into(),
                path: ".".into(),
                url: "file:///r/core".into(),
                commit: commit.into(),
            }],
            patch: patch.map(String::from),
        }
    }

    #[test]
    fn the_key_changes_with_any_input_and_only_then() {
        let a = ws(&"a".repeat(40), None);
        assert_eq!(a.key(), ws(&"a".repeat(40), None).key());
        assert_ne!(a.key(), ws(&"b".repeat(40), None).key());
        assert_ne!(a.key(), ws(&"a".repeat(40), Some("--- a/x\n")).key());
        assert_eq!(a.key().len(), 16);
        assert!(is_commit(&"0f".repeat(20)) && !is_commit("main"));
    }

    #[test]
    fn a_repository_path_stays_inside_the_workspace() {
        for fine in [".", "extensions/Echo", "skins/Vector", "a-b_c.d"] {
            assert_eq!(path_problem(fine), None, "{fine}");
        }
        for bad in [
            "",
            "/etc",
            "../x",
            "extensions/../../x",
            "a//b",
            "a/",
            "./a",
            "a\\b",
            "a\0b",
        ] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
    }
}
