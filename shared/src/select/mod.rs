//! Test selection for `select` runs: which repositories a patch touches and which
//! depend on them, and which tests that means; what is left out, and the risk of
//! leaving it out. See README.md, "MediaWiki pipelines".
//!
//! A test belongs to the repository whose test namespace is the longest prefix of its
//! id (`MediaWiki\Extension\Echo\Tests\…` → Echo); anything else belongs to the core
//! repository. A changed file belongs to the repository whose path is its longest
//! prefix.

pub mod cochange;
pub mod depmap;
pub mod diff;
pub mod evaluate;
pub mod model;
pub mod php;
pub mod rank;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One repository of a pipeline (`repos:` in farm.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repo {
    pub name: String,
    /// Where it is checked out, relative to the project directory (`extensions/Echo`).
    pub path: String,
    /// The namespace prefix of its tests' class names; empty for the core repository,
    /// which owns every test no other repository claims.
    pub test_namespace: String,
    /// Repositories it needs, directly (from the pipeline and its extension.json).
    pub requires: Vec<String>,
    /// Where agents fetch it from (`file://…`, `https://…`); None: it is part of the
    /// project directory as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    /// The branch or ref under test (default `HEAD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// What `git_ref` (or `--change`) resolved to when the run was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The dependency graph of a pipeline's repositories, checked: every name known, no
/// cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RepoGraph {
    pub repos: Vec<Repo>,
}

impl RepoGraph {
    /// Checks `repos` (the first is core). Errors name the repository and what is
    /// wrong: a requirement no repository answers, or a cycle (with its path).
    pub fn new(repos: Vec<Repo>) -> Result<RepoGraph, String> {
        let names: BTreeSet<&str> = repos.iter().map(|r| r.name.as_str()).collect();
        for repo in &repos {
            for need in &repo.requires {
                if !names.contains(need.as_str()) {
                    return Err(format!(
                        "repo `{}` requires `{need}`, which the pipeline does not name (repos: {})",
                        repo.name,
                        names.iter().copied().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        let graph = RepoGraph { repos };
        if let Some(cycle) = graph.cycle() {
            return Err(format!("repos require each other in a cycle: {}", cycle.join(" → ")));
        }
        Ok(graph)
    }

    fn get(&self, name: &str) -> Option<&Repo> {
        self.repos.iter().find(|r| r.name == name)
    }

    /// A cycle of requirements, as a path that ends where it starts.
    fn cycle(&self) -> Option<Vec<String>> {
        // 0 unvisited, 1 on the current path, 2 done.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        let mut path: Vec<&str> = Vec::new();
        fn visit<'a>(
            g: &'a RepoGraph,
            name: &'a str,
            state: &mut BTreeMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            match state.get(name) {
                Some(2) => return None,
                Some(1) => {
                    let start = path.iter().position(|p| *p == name).expect("on the path");
                    let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(name.to_string());
                    return Some(cycle);
                }
                _ => {}
            }
            state.insert(name, 1);
            path.push(name);
            for need in &g.get(name).expect("checked names").requires {
                if let Some(c) = visit(g, need, state, path) {
                    return Some(c);
                }
            }
            path.pop();
            state.insert(name, 2);
            None
        }
        for repo in &self.repos {
            if let Some(c) = visit(self, &repo.name, &mut state, &mut path) {
                return Some(c);
            }
        }
        None
    }

    /// The repository a path (relative to the project directory) lies in.
    pub fn owner_of_path(&self, path: &str) -> Option<&str> {
        let path = path.trim_start_matches("./");
        self.repos
            .iter()
            .filter(|r| {
                let p = r.path.trim_end_matches('/');
                p.is_empty() || p == "." || path == p || path.starts_with(&format!("{p}/"))
            })
            .max_by_key(|r| r.path.len())
            .map(|r| r.name.as_str())
    }

    /// The repository a test id belongs to: by its class's namespace, or for an id
    /// that is a path (a JavaScript test file) by where the file lies; else core.
    pub fn owner_of_test<'a>(&'a self, id: &str) -> &'a str {
        self.repos
            .iter()
            .filter(|r| !r.test_namespace.is_empty() && id.starts_with(&r.test_namespace))
            .max_by_key(|r| r.test_namespace.len())
            .map(|r| r.name.as_str())
            .or_else(|| if id.contains('/') { self.owner_of_path(id) } else { None })
            .or_else(|| self.repos.first().map(|r| r.name.as_str()))
            .unwrap_or("")
    }

    /// `names` and every repository that requires one of them, transitively. Every
    /// repository depends on core (the first): a core change affects them all.
    pub fn with_dependents(&self, names: &BTreeSet<String>) -> BTreeSet<String> {
        if self.repos.first().is_some_and(|core| names.contains(&core.name)) {
            return self.repos.iter().map(|r| r.name.clone()).collect();
        }
        let mut out = names.clone();
        loop {
            let before = out.len();
            for repo in &self.repos {
                if repo.requires.iter().any(|n| out.contains(n)) {
                    out.insert(repo.name.clone());
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }
}

/// What a developer asked for (`farm submit --mode select …`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Selection {
    /// Files the patch changes, relative to the project directory.
    pub changed_files: Vec<String>,
    /// Only these repositories' tests (`--ext Echo`), without dependents.
    pub repos: Vec<String>,
    /// Only test ids containing this text.
    pub filter: Option<String>,
    /// The client's static pick (`farm select`): when set, exactly these test classes
    /// run (the other rules do not add to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
}

/// What `farm select` picked for a change, sent with the run so that `--mode select`
/// runs exactly it and the verdict can state its risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Pick {
    /// Test classes, fully qualified, lower case (as `php::Symbol`).
    pub classes: Vec<String>,
    /// The share of the tests that matter the pick is expected to hold.
    pub expected_recall: f64,
    /// Test files of the suite the pick leaves out.
    pub left_out_files: u32,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.changed_files.is_empty() && self.repos.is_empty() && self.filter.is_none() && self.pick.is_none()
    }
}

/// A test's recent record, from its timing profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Failures among the recorded results.
    pub failures: u32,
    pub runs: u32,
    /// Whether its last result was a failure.
    pub failed_last: bool,
}

/// Why a test was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Its repository is changed, or depends on a changed one (or was asked for).
    Repository,
    /// Named after a changed file (`Title.php` → `TitleTest`).
    Name,
    /// The patch changes its file.
    Changed,
    /// It failed in its last run.
    RecentlyFailed,
    /// The static selector picked its class (`farm select`).
    Picked,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::Repository,
        Reason::Name,
        Reason::Changed,
        Reason::RecentlyFailed,
        Reason::Picked,
    ];

    /// The reason's name, as in JSON and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Repository => "repository",
            Reason::Name => "name",
            Reason::Changed => "changed",
            Reason::RecentlyFailed => "recently_failed",
            Reason::Picked => "picked",
        }
    }

    pub fn parse(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// What a selection left out of one job, and the risk of that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LeftOut {
    /// Tests discovered but not run.
    pub tests: u32,
    /// Of those, tests that failed at least once in their recorded history.
    pub with_failures: u32,
    /// Σ of their failure rates: the failures one would expect them to hide.
    pub expected_failures: f64,
    /// The repositories whose tests were left out.
    pub repos: Vec<String>,
    /// How many were kept for each reason.
    pub kept_by: BTreeMap<Reason, u32>,
    /// The static pick's expected recall, when the selection was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_recall: Option<f64>,
}

/// The tests of `tests` that `selection` keeps (in their order), and what it leaves
/// out. An empty selection keeps everything.
pub fn select(
    tests: &[String],
    graph: &RepoGraph,
    selection: &Selection,
    history: impl Fn(&str) -> Option<History>,
) -> (Vec<String>, LeftOut) {
    let mut left = LeftOut::default();
    if selection.is_empty() {
        return (tests.to_vec(), left);
    }
    left.expected_recall = selection.pick.as_ref().map(|p| p.expected_recall);
    let picked: Option<BTreeSet<String>> = selection
        .pick
        .as_ref()
        .map(|p| p.classes.iter().map(|c| c.to_lowercase()).collect());
    let scoped = !selection.changed_files.is_empty() || !selection.repos.is_empty();
    let mut repos: BTreeSet<String> = selection.repos.iter().cloned().collect();
    let owners: BTreeSet<String> = selection
        .changed_files
        .iter()
        .filter_map(|f| graph.owner_of_path(f).map(str::to_string))
        .collect();
    repos.extend(graph.with_dependents(&owners));
    // Class names the patch points at: `includes/Title.php` → TitleTest, and a
    // changed `tests/…/TitleTest.php` → TitleTest.
    let mut named = BTreeSet::new();
    let mut changed = BTreeSet::new();
    for file in &selection.changed_files {
        let Some(stem) = file.rsplit('/').next().and_then(|f| f.strip_suffix(".php")) else {
            continue;
        };
        if stem.ends_with("Test") {
            changed.insert(stem.to_string());
        } else {
            named.insert(format!("{stem}Test"));
        }
    }
    let mut kept = Vec::new();
    let mut left_repos = BTreeSet::new();
    for id in tests {
        let class = id.split_once("::").map_or(id.as_str(), |(c, _)| c);
        let short = class.rsplit('\\').next().unwrap_or(class);
        let owner = graph.owner_of_test(id);
        let h = history(id);
        let reason = if let Some(picked) = &picked {
            picked.contains(&class.to_lowercase()).then_some(Reason::Picked)
        } else if !scoped || repos.contains(owner) {
            Some(Reason::Repository)
        } else if changed.contains(short) {
            Some(Reason::Changed)
        } else if named.contains(short) {
            Some(Reason::Name)
        } else if !selection.changed_files.is_empty() && h.is_some_and(|h| h.failed_last) {
            Some(Reason::RecentlyFailed)
        } else {
            None
        };
        let reason = reason.filter(|_| selection.filter.as_ref().is_none_or(|f| id.contains(f.as_str())));
        match reason {
            Some(r) => {
                *left.kept_by.entry(r).or_default() += 1;
                kept.push(id.clone());
            }
            None => {
                left.tests += 1;
                left_repos.insert(owner.to_string());
                if let Some(h) = h.filter(|h| h.runs > 0) {
                    if h.failures > 0 {
                        left.with_failures += 1;
                    }
                    left.expected_failures += f64::from(h.failures) / f64::from(h.runs);
                }
            }
        }
    }
    left.repos = left_repos.into_iter().collect();
    (kept, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, path: &str, ns: &str, requires: &[&str]) -> Repo {
        Repo {
            name: name.into(),
            path: path.into(),
            test_namespace: ns.into(),
            requires: requires.iter().map(|s| s.to_string()).collect(),
            git: None,
            git_ref: None,
            commit: None,
        }
    }

    fn graph() -> RepoGraph {
        RepoGraph::new(vec![
            repo("core", "core", "", &[]),
            repo("Echo", "extensions/Echo", "MediaWiki\\Extension\\Echo\\", &[]),
            repo(
                "Thanks",
                "extensions/Thanks",
                "MediaWiki\\Extension\\Thanks\\",
                &["Echo"],
            ),
            repo(
                "LoginNotify",
                "extensions/LoginNotify",
                "MediaWiki\\Extension\\LoginNotify\\",
                &["Thanks"],
            ),
            repo("Other", "extensions/Other", "MediaWiki\\Extension\\Other\\", &[]),
        ])
        .unwrap()
    }

    fn ids() -> Vec<String> {
        [
            "MediaWiki\\Tests\\Unit\\TitleTest::testA",
            "MediaWiki\\Tests\\Unit\\HtmlTest::testB",
            "MediaWiki\\Extension\\Echo\\Tests\\EventTest::testC",
            "MediaWiki\\Extension\\Thanks\\Tests\\ThanksTest::testD",
            "MediaWiki\\Extension\\LoginNotify\\Tests\\NotifyTest::testE",
            "MediaWiki\\Extension\\Other\\Tests\\OtherTest::testF",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn none(_: &str) -> Option<History> {
        None
    }

    #[test]
    fn a_change_in_an_extension_selects_it_and_its_dependents() {
        let sel = Selection {
            changed_files: vec!["extensions/Thanks/includes/Formatter.php".into()],
            ..Selection::default()
        };
        let (kept, left) = select(&ids(), &graph(), &sel, none);
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[0].contains("Thanks") && kept[1].contains("LoginNotify"));
        assert_eq!(left.tests, 4);
        assert_eq!(left.repos, ["Echo", "Other", "core"]);
    }

    #[test]
    fn a_static_pick_runs_exactly_its_classes_and_states_its_recall() {
        let sel = Selection {
            changed_files: vec!["core/includes/Title.php".into()],
            pick: Some(Pick {
                classes: vec![
                    "mediawiki\\tests\\unit\\titletest".into(),
                    "mediawiki\\extension\\echo\\tests\\eventtest".into(),
                ],
                expected_recall: 0.97,
                left_out_files: 4,
            }),
            ..Selection::default()
        };
        let (kept, left) = select(&ids(), &graph(), &sel, none);
        assert_eq!(
            kept,
            [ids()[0].clone(), ids()[2].clone()],
            "a core change alone would keep all"
        );
        assert_eq!(left.tests, 4);
        assert_eq!(left.kept_by.get(&Reason::Picked), Some(&2));
        assert_eq!(left.expected_recall, Some(0.97));
    }

    #[test]
    fn a_core_change_selects_everything() {
        let sel = Selection {
            changed_files: vec!["core/includes/Title.php".into()],
            ..Selection::default()
        };
        let (kept, left) = select(&ids(), &graph(), &sel, none);
        assert_eq!(kept, ids());
        assert_eq!(left.tests, 0);
    }

    #[test]
    fn names_changed_tests_and_recent_failures_add_to_the_repositories() {
        let sel = Selection {
            changed_files: vec![
                "extensions/Other/includes/X.php".into(),
                "core/includes/Title.php".into(),
            ],
            repos: vec![],
            filter: None,
            pick: None,
        };
        let g = RepoGraph::new(
            graph()
                .repos
                .into_iter()
                .map(|mut r| {
                    if r.name == "core" {
                        r.path = "core-elsewhere".into();
                    }
                    r
                })
                .collect(),
        )
        .unwrap();
        let history = |id: &str| {
            id.contains("EventTest").then_some(History {
                failures: 1,
                runs: 4,
                failed_last: true,
            })
        };
        let (kept, left) = select(&ids(), &g, &sel, history);
        assert!(kept.iter().any(|k| k.contains("TitleTest")), "by name: {kept:?}");
        assert!(
            kept.iter().any(|k| k.contains("EventTest")),
            "recently failed: {kept:?}"
        );
        assert!(kept.iter().any(|k| k.contains("OtherTest")));
        assert!(!kept.iter().any(|k| k.contains("HtmlTest")));
        assert_eq!(left.kept_by[&Reason::Name], 1);
        assert_eq!(left.kept_by[&Reason::RecentlyFailed], 1);
    }

    #[test]
    fn risk_counts_the_failure_history_of_what_was_left_out() {
        let sel = Selection {
            repos: vec!["Echo".into()],
            ..Selection::default()
        };
        let history = |id: &str| {
            Some(History {
                failures: u32::from(id.contains("HtmlTest")) * 2,
                runs: 10,
                failed_last: false,
            })
        };
        let (kept, left) = select(&ids(), &graph(), &sel, history);
        assert_eq!(kept.len(), 1);
        assert_eq!(left.with_failures, 1);
        assert!((left.expected_failures - 0.2).abs() < 1e-9);
    }

    #[test]
    fn a_filter_narrows_and_alone_keeps_matching_tests() {
        let sel = Selection {
            filter: Some("Thanks".into()),
            ..Selection::default()
        };
        let (kept, left) = select(&ids(), &graph(), &sel, none);
        assert_eq!(kept.len(), 1);
        assert_eq!(left.tests, 5);
    }

    #[test]
    fn missing_and_cyclic_requirements_are_errors_that_say_which() {
        let e = RepoGraph::new(vec![repo("core", "core", "", &[]), repo("A", "a", "A\\", &["Nope"])]).unwrap_err();
        assert!(e.contains("`A` requires `Nope`"), "{e}");
        let e = RepoGraph::new(vec![
            repo("core", "core", "", &[]),
            repo("A", "a", "A\\", &["B"]),
            repo("B", "b", "B\\", &["A"]),
        ])
        .unwrap_err();
        assert!(e.contains("A → B → A"), "{e}");
    }

    #[test]
    fn paths_and_tests_go_to_the_longest_prefix() {
        let g = graph();
        assert_eq!(g.owner_of_path("extensions/Echo/x.php"), Some("Echo"));
        assert_eq!(g.owner_of_path("extensions/EchoX/x.php"), None);
        assert_eq!(g.owner_of_path("core/x.php"), Some("core"));
        assert_eq!(g.owner_of_test("Foo::bar"), "core");
        assert_eq!(g.owner_of_test("extensions/Echo/tests/node/badge.test.js"), "Echo");
        assert_eq!(g.owner_of_test("core/tests/node/util.test.js"), "core");
    }
}
