//! Judging selection without running anything: replay a repository's history commit by
//! commit, select for each change from what was known before it, and score the pick
//! against the test files the change itself modified (../shared/selection/README.md,
//! "Replay method"). Besides the farm's selector, the same replay scores the simple
//! baselines — name match, co-change history, their union — so that every figure is
//! measured against them on the same changes.
//!
//! The walk itself (git) is the caller's; this module sees commits as lists of paths
//! with the new contents of their PHP files.

use std::collections::BTreeSet;

use serde::Serialize;

use super::php::{file_symbols, FileSymbols, Symbol};
use super::rank::{cut, is_source_file, is_test_file, Cut, Knowledge, Why};

/// A change scored only when it is small enough to be one change.
pub const MAX_FILES: usize = 40;

/// The confidences the farm's curve is swept over.
pub const CONFIDENCES: [f64; 16] = [
    0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0,
];

/// Thresholds on a test's probability per share of the suite it costs (p × suite
/// files): the budget-optimal cut when probabilities are right.
pub const THRESHOLDS: [f64; 24] = [
    50.0, 30.0, 20.0, 15.0, 10.0, 7.0, 5.0, 4.0, 3.0, 2.5, 2.0, 1.5, 1.2, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05,
    0.01, 0.0,
];

/// Co-change thresholds (commits shared) the baseline's curve is swept over.
const COCHANGE_AT_LEAST: [u32; 9] = [1, 2, 3, 4, 6, 8, 12, 16, 32];

/// The budgets (share of the suite) recall is read at.
pub const BUDGETS: [f64; 10] = [0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 0.75, 1.0];

/// One file a commit touches.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: String,
    /// A PHP file's content after the commit; None when it is deleted (or not PHP).
    pub after: Option<Vec<u8>>,
}

/// One change of the replayed line: a commit, or what a merge brought in against its
/// first parent.
#[derive(Debug, Clone)]
pub struct ReplayCommit {
    pub id: String,
    pub files: Vec<FileChange>,
}

/// One suite file as scored for one change.
#[derive(Debug, Clone, Copy)]
struct Scored {
    probability: f64,
    cochanged: u32,
    name: bool,
    relevant: bool,
}

#[derive(Debug, Clone)]
struct ScoredChange {
    /// In the farm's order (most likely first).
    files: Vec<Scored>,
    /// Where the farm cuts for each of CONFIDENCES.
    cuts: Vec<usize>,
}

/// A selector's operating point: what it picks, over every scored change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// The knob: a confidence, or a co-change threshold.
    pub knob: f64,
    /// Relevant files picked / relevant files.
    pub recall: f64,
    /// Mean share of the suite picked.
    pub share: f64,
    /// Share of changes with at least one relevant file picked.
    pub hit: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub selector: String,
    pub points: Vec<Point>,
}

impl Curve {
    /// The best recall among the points within `budget` (0 where none is).
    pub fn recall_at(&self, budget: f64) -> f64 {
        self.points
            .iter()
            .filter(|p| p.share <= budget + 1e-12)
            .map(|p| p.recall)
            .fold(0.0, f64::max)
    }
}

/// What a replay measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Changes replayed.
    pub changes: usize,
    /// Changes scored (they touched source and earlier-touched tests).
    pub scored: usize,
    /// Relevant test files over the scored changes.
    pub relevant: usize,
    /// Mean suite size (test files) at the scored changes.
    pub mean_suite: f64,
    /// The farm's (swept over confidence) and the baselines'.
    pub curves: Vec<Curve>,
    /// Mean expected recall the farm stated at each confidence, against the recall
    /// it reached: how far its stated risk can be trusted.
    pub calibration: Vec<(f64, f64, f64)>,
    /// What the farm missed at MISS_CONFIDENCE, change by change.
    pub misses: Vec<Miss>,
}

/// Replays a history; feed it oldest first.
#[derive(Debug, Default)]
pub struct Replay {
    pub knowledge: Knowledge,
    /// Test files touched by a replayed commit so far.
    suite: BTreeSet<String>,
    changes: usize,
    scored: Vec<ScoredChange>,
    stated: Vec<f64>,
    misses: Vec<Miss>,
}

/// The confidence whose misses an evaluation lists.
pub const MISS_CONFIDENCE: f64 = 0.95;
const ALL_RELEVANT: bool = false;

/// A relevant test the farm would have left out at MISS_CONFIDENCE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    pub commit: String,
    pub changed: Vec<String>,
    pub test: String,
    /// Its place in the farm's order, of `of`; the cut took the first `picked`.
    pub rank: usize,
    pub of: usize,
    pub picked: usize,
    pub probability: f64,
    pub why: Vec<Why>,
}

impl Replay {
    /// A file of the tree the replay starts from (before its first commit).
    pub fn seed(&mut self, path: &str, content: &[u8]) {
        if path.ends_with(".php") {
            self.knowledge.depmap.set(path, Some(file_symbols(content)));
        }
    }

    /// A step of the line that is not replayed as a change (a merge, when merges are
    /// not scored): the tree moves on, the history does not record it.
    pub fn apply(&mut self, commit: &ReplayCommit) {
        let parsed = parse(commit);
        self.apply_parsed(parsed);
    }

    fn apply_parsed(&mut self, parsed: Vec<(&str, Option<FileSymbols>)>) {
        for (path, symbols) in parsed {
            self.knowledge.depmap.set(path, symbols);
        }
    }

    pub fn commit(&mut self, commit: &ReplayCommit) {
        self.changes += 1;
        let sources: Vec<String> = commit
            .files
            .iter()
            .filter(|f| is_source_file(&f.path))
            .map(|f| f.path.clone())
            .collect();
        let tests: Vec<String> = commit
            .files
            .iter()
            .filter(|f| is_test_file(&f.path))
            .map(|f| f.path.clone())
            .collect();
        let parsed = parse(commit);
        let relevant: BTreeSet<&String> = tests.iter().filter(|t| self.suite.contains(*t)).collect();
        if commit.files.len() <= MAX_FILES && !sources.is_empty() && !relevant.is_empty() {
            // What the patch's sources declare after it; its test changes stay unseen.
            let patched: Vec<(String, BTreeSet<Symbol>)> = parsed
                .iter()
                .filter(|(path, _)| is_source_file(path))
                .filter_map(|(path, symbols)| symbols.as_ref().map(|s| (path.to_string(), s.declares.clone())))
                .collect();
            self.score(commit, &sources, &patched, &relevant);
        }
        self.apply_parsed(parsed);
        self.knowledge.history.record(&sources, &tests);
        self.suite.extend(tests);
    }

    fn score(
        &mut self,
        commit: &ReplayCommit,
        sources: &[String],
        patched: &[(String, BTreeSet<Symbol>)],
        relevant: &BTreeSet<&String>,
    ) {
        let suite: Vec<String> = self.suite.iter().cloned().collect();
        let ranked = self.knowledge.rank(sources, patched, &suite, |_| None);
        let files: Vec<Scored> = ranked
            .iter()
            .map(|c| Scored {
                probability: c.probability,
                cochanged: c.evidence.cochange.count,
                name: c.evidence.name,
                relevant: relevant.contains(&c.test),
            })
            .collect();
        let at: Vec<Cut> = CONFIDENCES.iter().map(|c| cut(&ranked, *c)).collect();
        if self.stated.len() != CONFIDENCES.len() {
            self.stated = vec![0.0; CONFIDENCES.len()];
        }
        for (stated, c) in self.stated.iter_mut().zip(&at) {
            *stated += c.expected_recall;
        }
        let cuts: Vec<usize> = at.iter().map(|c| c.count).collect();
        self.knowledge
            .model
            .learn(ranked.iter().map(|c| (&c.evidence, relevant.contains(&c.test))));
        let confident = CONFIDENCES.iter().position(|c| *c >= MISS_CONFIDENCE).unwrap_or(0);
        for (at, c) in ranked.iter().enumerate() {
            if relevant.contains(&c.test) && (ALL_RELEVANT || at >= cuts[confident]) {
                self.misses.push(Miss {
                    commit: commit.id.clone(),
                    changed: sources.to_vec(),
                    test: c.test.clone(),
                    rank: at + 1,
                    of: ranked.len(),
                    picked: cuts[confident],
                    probability: c.probability,
                    why: c.why(),
                });
            }
        }
        self.scored.push(ScoredChange { files, cuts });
    }

    pub fn evaluation(&self) -> Evaluation {
        let n = self.scored.len();
        let relevant: usize = self
            .scored
            .iter()
            .map(|c| c.files.iter().filter(|f| f.relevant).count())
            .sum();
        let mean_suite = if n == 0 {
            0.0
        } else {
            self.scored.iter().map(|c| c.files.len()).sum::<usize>() as f64 / n as f64
        };
        let farm = Curve {
            selector: "farm".into(),
            points: (0..CONFIDENCES.len())
                .map(|i| self.point(CONFIDENCES[i], |c, at, _| at < c.cuts[i]))
                .collect(),
        };
        let threshold = Curve {
            selector: "farm-p".into(),
            points: THRESHOLDS
                .iter()
                .map(|t| self.point(*t, |c, _, f| f.probability * c.files.len() as f64 >= *t))
                .collect(),
        };
        let cochange = Curve {
            selector: "co-change".into(),
            points: COCHANGE_AT_LEAST
                .iter()
                .map(|k| self.point(f64::from(*k), |_, _, f| f.cochanged >= *k))
                .collect(),
        };
        let name = Curve {
            selector: "name".into(),
            points: vec![self.point(1.0, |_, _, f| f.name)],
        };
        let union = Curve {
            selector: "union".into(),
            points: vec![self.point(1.0, |_, _, f| f.name || f.cochanged >= 1)],
        };
        let calibration = CONFIDENCES
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let stated = if n == 0 {
                    1.0
                } else {
                    self.stated.get(i).copied().unwrap_or(0.0) / n as f64
                };
                (*c, stated, farm.points[i].recall)
            })
            .collect();
        Evaluation {
            changes: self.changes,
            scored: n,
            relevant,
            mean_suite,
            curves: vec![farm, threshold, cochange, name, union],
            calibration,
            misses: self.misses.clone(),
        }
    }

    /// The operating point of a selector that picks `picks(change, rank, file)`.
    fn point(&self, knob: f64, picks: impl Fn(&ScoredChange, usize, &Scored) -> bool) -> Point {
        let (mut found, mut relevant, mut share, mut hits) = (0usize, 0usize, 0.0, 0usize);
        for change in &self.scored {
            let mut picked = 0;
            let mut hit = false;
            for (at, f) in change.files.iter().enumerate() {
                let p = picks(change, at, f);
                picked += usize::from(p);
                if f.relevant {
                    relevant += 1;
                    if p {
                        found += 1;
                        hit = true;
                    }
                }
            }
            share += picked as f64 / change.files.len().max(1) as f64;
            hits += usize::from(hit);
        }
        let n = self.scored.len().max(1) as f64;
        Point {
            knob,
            recall: if relevant == 0 {
                1.0
            } else {
                found as f64 / relevant as f64
            },
            share: share / n,
            hit: hits as f64 / n,
        }
    }
}

/// Each PHP file of a commit, read once: its symbols after the commit (None: gone).
fn parse(commit: &ReplayCommit) -> Vec<(&str, Option<FileSymbols>)> {
    commit
        .files
        .iter()
        .filter(|f| f.path.ends_with(".php"))
        .map(|f| (f.path.as_str(), f.after.as_deref().map(file_symbols)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, files: &[(&str, Option<&str>)]) -> ReplayCommit {
        ReplayCommit {
            id: id.into(),
            files: files
                .iter()
                .map(|(p, c)| FileChange {
                    path: p.to_string(),
                    after: c.map(|s| format!("<?php {s}").into_bytes()),
                })
                .collect(),
        }
    }

    /// Three changes: the first creates everything together, the next two each change
    /// one class and the test that uses it.
    fn replay() -> Evaluation {
        let mut r = Replay::default();
        r.commit(&change(
            "1",
            &[
                ("src/A.php", Some("class A {}")),
                ("src/B.php", Some("class B {}")),
                (
                    "tests/phpunit/ATest.php",
                    Some("class ATest { function t() { new A(); } }"),
                ),
                (
                    "tests/phpunit/UsesBTest.php",
                    Some("class UsesBTest { function t() { new B(); } }"),
                ),
                ("tests/phpunit/OtherTest.php", Some("class OtherTest {}")),
            ],
        ));
        r.commit(&change(
            "2",
            &[
                ("src/A.php", Some("class A { }")),
                (
                    "tests/phpunit/ATest.php",
                    Some("class ATest { function t() { new A(); } }"),
                ),
            ],
        ));
        r.commit(&change(
            "3",
            &[
                ("src/B.php", Some("class B { }")),
                (
                    "tests/phpunit/UsesBTest.php",
                    Some("class UsesBTest { function t() { new B(); } }"),
                ),
            ],
        ));
        r.evaluation()
    }

    #[test]
    fn the_replay_scores_changes_against_the_tests_they_modified() {
        let e = replay();
        assert_eq!((e.changes, e.scored, e.relevant), (3, 2, 2));
        assert_eq!(e.mean_suite, 3.0);
        let farm = &e.curves[0];
        // At a modest confidence the farm picks the linked test and little else.
        assert!(farm.recall_at(0.34) >= 1.0, "{farm:?}");
        let cochange = &e.curves[2];
        // Co-change history picks all that change 1 touched with A and B: every test.
        assert_eq!((cochange.points[0].recall, cochange.points[0].share), (1.0, 1.0));
        let name = &e.curves[3];
        assert_eq!(name.points[0].recall, 0.5, "ATest is named after A; UsesBTest is not");
    }

    #[test]
    fn a_large_or_test_only_commit_is_not_scored() {
        let mut r = Replay::default();
        r.commit(&change("1", &[("tests/phpunit/ATest.php", Some("class ATest {}"))]));
        r.commit(&change("2", &[("tests/phpunit/ATest.php", Some("class ATest { }"))]));
        let mut big: Vec<(String, Option<&str>)> = (0..MAX_FILES)
            .map(|i| (format!("src/F{i}.php"), Some("class F {}")))
            .collect();
        big.push(("tests/phpunit/ATest.php".into(), Some("class ATest {}")));
        let big: Vec<(&str, Option<&str>)> = big.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        r.commit(&change("3", &big));
        assert_eq!(r.evaluation().scored, 0);
    }

    #[test]
    fn recall_at_a_budget_is_the_best_point_within_it() {
        let curve = Curve {
            selector: "x".into(),
            points: vec![
                Point {
                    knob: 0.5,
                    recall: 0.6,
                    share: 0.1,
                    hit: 0.6,
                },
                Point {
                    knob: 0.9,
                    recall: 0.9,
                    share: 0.3,
                    hit: 0.9,
                },
            ],
        };
        assert_eq!(curve.recall_at(0.05), 0.0);
        assert_eq!(curve.recall_at(0.2), 0.6);
        assert_eq!(curve.recall_at(0.3), 0.9);
    }
}
