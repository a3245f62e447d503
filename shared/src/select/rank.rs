//! Ranking a suite's test files for a change, and cutting the ranking at a confidence.
//!
//! Every signal is evidence about one (change, test file) pair: a static link, the
//! name, co-change history, path likeness, the farm's own failures. The model turns it
//! into a probability that the test matters; tests are taken in order of probability
//! per second (per file where nothing is timed) until the probabilities taken reach
//! the asked share of the total: that share is the expected recall.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::cochange::CoChange;
use super::depmap::DepMap;
use super::model::{Evidence, Model};
use super::php::Symbol;

/// What the selector knows of a repository: its code's references, its history, and
/// what it has learnt of the signals.
#[derive(Debug, Default, Clone)]
pub struct Knowledge {
    pub depmap: DepMap,
    pub history: CoChange,
    pub model: Model,
    /// Changed source file → test file → failures the farm saw after changes to it.
    pub failures: BTreeMap<String, BTreeMap<String, u32>>,
}

/// A PHPUnit test file: under `tests/phpunit/`, named `…Test.php`.
pub fn is_test_file(path: &str) -> bool {
    path.ends_with("Test.php") && (path.starts_with("tests/phpunit/") || path.contains("/tests/phpunit/"))
}

/// PHP code that is not a test's: a `.php` file outside `tests/`.
pub fn is_source_file(path: &str) -> bool {
    path.ends_with(".php") && !path.starts_with("tests/") && !path.contains("/tests/")
}

/// Files whose change can break any test: the extension's registration and
/// dependencies, and the test bootstrap.
pub fn forces_everything(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    matches!(
        file,
        "extension.json" | "skin.json" | "composer.json" | "composer.lock" | "phpunit.xml" | "phpunit.xml.dist"
    ) || file == "bootstrap.php" && path.contains("tests/")
}

/// One test file, ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub test: String,
    pub probability: f64,
    /// Its estimated seconds, or 1 where nothing is timed (ranking per file).
    pub cost: f64,
    pub evidence: Evidence,
}

/// Why a test was picked, for people: the strongest signals, strongest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Why {
    /// The change itself edits it.
    Changed,
    /// It declares `@covers` for a class a changed file declares.
    Covers { symbol: String },
    /// Named after a changed file.
    Name,
    /// It names (distance 1) or reaches through `distance` references a changed
    /// file's symbols; `via` is the first symbol on the chain.
    References { via: String, distance: u8 },
    /// Changed together with the changed files in `count` earlier commits.
    CoChange { count: u32, share: f64 },
    /// It failed after changes to these files in the farm's runs.
    Failed { times: u32 },
    /// Its path is like a changed file's.
    Path { similarity: f64 },
}

impl Candidate {
    pub fn why(&self) -> Vec<Why> {
        let e = &self.evidence;
        let mut out = Vec::new();
        if let Some(link) = &e.link {
            if link.covers {
                out.push(Why::Covers {
                    symbol: link.via.clone(),
                });
            }
        }
        if e.name {
            out.push(Why::Name);
        }
        if e.failures_with > 0 {
            out.push(Why::Failed { times: e.failures_with });
        }
        if let Some(link) = e.link.as_ref().filter(|l| !l.covers) {
            out.push(Why::References {
                via: link.via.clone(),
                distance: link.distance,
            });
        }
        if e.cochange.count > 0 {
            out.push(Why::CoChange {
                count: e.cochange.count,
                share: e.cochange.share,
            });
        }
        if e.similarity >= 0.5 {
            out.push(Why::Path {
                similarity: e.similarity,
            });
        }
        out
    }
}

impl Knowledge {
    /// Every file of `suite`, most likely to matter per second first. `patched`
    /// gives what the changed files declare after the patch; `cost` a test file's
    /// seconds where known.
    pub fn rank(
        &self,
        changed: &[String],
        patched: &[(String, BTreeSet<Symbol>)],
        suite: &[String],
        cost: impl Fn(&str) -> Option<f64>,
    ) -> Vec<Candidate> {
        let sources: Vec<String> = changed.iter().filter(|p| is_source_file(p)).cloned().collect();
        let links = self.depmap.links(&sources, patched);
        let direct = self.depmap.direct(&sources, patched);
        let stems: BTreeSet<String> = sources.iter().map(|p| format!("{}Test", stem(p))).collect();
        let changed_words: Vec<BTreeSet<String>> = sources.iter().map(|p| path_words(p)).collect();
        let mut components: BTreeMap<&str, usize> = BTreeMap::new();
        for test in suite {
            *components.entry(component(test)).or_default() += 1;
        }
        let changed_components: BTreeSet<&str> = changed.iter().map(|p| component(p)).collect();
        let mut out: Vec<Candidate> = suite
            .iter()
            .map(|test| {
                let words = path_words(test);
                let similarity = changed_words.iter().map(|w| jaccard(w, &words)).fold(0.0, f64::max);
                let failures_with = sources
                    .iter()
                    .filter_map(|s| self.failures.get(s).and_then(|t| t.get(test)))
                    .sum();
                let evidence = Evidence {
                    name: stems.contains(stem(test)),
                    link: links.get(test).cloned(),
                    cochange: self.history.evidence(&sources, test),
                    similarity,
                    test_changes: self.history.changes(test),
                    since_changed: self.history.since_changed(test),
                    changed_sources: sources.len(),
                    failures_with,
                    names_changed: direct.get(test).map_or(0, |d| d.0),
                    covers_changed: direct.get(test).map_or(0, |d| d.1),
                    suite: components.get(component(test)).copied().unwrap_or(1),
                    same_component: changed_components.contains(component(test)),
                };
                Candidate {
                    test: test.clone(),
                    probability: self.model.probability(&evidence),
                    cost: cost(test).filter(|c| *c > 0.0).unwrap_or(1.0),
                    evidence,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (b.probability / b.cost)
                .total_cmp(&(a.probability / a.cost))
                .then_with(|| a.test.cmp(&b.test))
        });
        out
    }
}

/// Where a ranking is cut for a confidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cut {
    /// The first `count` candidates are picked.
    pub count: usize,
    /// Σ picked probabilities / Σ all: the share of the tests that matter one
    /// expects the pick to hold.
    pub expected_recall: f64,
    /// Σ probabilities of what is left out: the relevant tests one expects to miss.
    pub expected_missed: f64,
}

/// The shortest head of `ranked` whose probabilities reach `confidence` of the total.
pub fn cut(ranked: &[Candidate], confidence: f64) -> Cut {
    let total: f64 = ranked.iter().map(|c| c.probability).sum();
    if total <= 0.0 {
        return Cut {
            count: 0,
            expected_recall: 1.0,
            expected_missed: 0.0,
        };
    }
    let mut taken = 0.0;
    let mut count = 0;
    for c in ranked {
        if taken / total >= confidence {
            break;
        }
        taken += c.probability;
        count += 1;
    }
    Cut {
        count,
        expected_recall: taken / total,
        expected_missed: total - taken,
    }
}

/// The part of a MediaWiki tree a path belongs to: `extensions/NAME` or
/// `skins/NAME`, else the core (the empty string).
pub fn component(path: &str) -> &str {
    for root in ["extensions/", "skins/"] {
        if let Some(rest) = path.strip_prefix(root) {
            let name = rest.split('/').next().unwrap_or(rest);
            return &path[..root.len() + name.len()];
        }
    }
    ""
}

/// A file's name without directory and `.php`.
fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".php").unwrap_or(file)
}

/// The words of a path, lower case, split at `/` and camel case, without the words
/// every source or test path has.
fn path_words(path: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    let path = path.strip_suffix(".php").unwrap_or(path);
    for part in path.split(['/', '_', '-', '.']) {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in part.chars() {
            if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
                words.insert(std::mem::take(&mut word));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            words.insert(word);
        }
    }
    for noise in [
        "tests",
        "test",
        "phpunit",
        "unit",
        "integration",
        "src",
        "includes",
        "php",
    ] {
        words.remove(noise);
    }
    words
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let both = a.intersection(b).count();
    let either = a.len() + b.len() - both;
    if either == 0 {
        0.0
    } else {
        both as f64 / either as f64
    }
}

#[cfg(test)]
mod tests {
    use super::super::php::file_symbols;
    use super::*;

    fn knowledge() -> Knowledge {
        let mut k = Knowledge::default();
        for (path, src) in [
            ("src/Cite.php", "class Cite {}"),
            ("src/Other.php", "class Other {}"),
            (
                "tests/phpunit/CiteTest.php",
                "/** @covers Cite */ class CiteTest { function t() { new Cite(); } }",
            ),
            (
                "tests/phpunit/OtherTest.php",
                "class OtherTest { function t() { new Other(); } }",
            ),
            ("tests/phpunit/FarTest.php", "class FarTest {}"),
        ] {
            k.depmap
                .set(path, Some(file_symbols(format!("<?php {src}").as_bytes())));
        }
        k
    }

    fn suite() -> Vec<String> {
        [
            "tests/phpunit/CiteTest.php",
            "tests/phpunit/FarTest.php",
            "tests/phpunit/OtherTest.php",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn the_linked_test_ranks_first_with_its_reasons() {
        let k = knowledge();
        let ranked = k.rank(&["src/Cite.php".into()], &[], &suite(), |_| None);
        assert_eq!(ranked[0].test, "tests/phpunit/CiteTest.php");
        assert_eq!(ranked[0].why()[..2], [Why::Covers { symbol: "cite".into() }, Why::Name]);
        assert!(
            ranked[0].probability > 0.5 && ranked[2].probability < 0.05,
            "{ranked:?}"
        );
    }

    #[test]
    fn the_cut_reaches_the_confidence_and_says_what_it_misses() {
        let k = knowledge();
        let ranked = k.rank(&["src/Cite.php".into()], &[], &suite(), |_| None);
        let c = cut(&ranked, 0.8);
        assert_eq!(c.count, 1);
        assert!(c.expected_recall >= 0.8);
        let all = cut(&ranked, 1.0);
        assert_eq!(all.count, 3);
        assert!((all.expected_recall - 1.0).abs() < 1e-9 && all.expected_missed.abs() < 1e-9);
    }

    #[test]
    fn cheap_tests_go_first_at_equal_odds() {
        let k = knowledge();
        let slow = |t: &str| Some(if t.contains("Far") { 0.1 } else { 100.0 });
        let ranked = k.rank(&["src/Unrelated.php".into()], &[], &suite(), slow);
        assert_eq!(ranked[0].test, "tests/phpunit/FarTest.php");
    }

    #[test]
    fn paths_and_forcing_files() {
        assert!(is_test_file("tests/phpunit/unit/FooTest.php"));
        assert!(!is_test_file("tests/phpunit/FooTestBase.php"));
        assert!(is_source_file("src/Foo.php") && !is_source_file("tests/phpunit/Foo.php"));
        assert!(forces_everything("extension.json") && forces_everything("tests/phpunit/bootstrap.php"));
        assert!(!forces_everything("src/bootstrap.php"));
        assert_eq!(component("extensions/Nuke/includes/A.php"), "extensions/Nuke");
        assert_eq!(component("skins/Vector/x.php"), "skins/Vector");
        assert_eq!(component("includes/Title.php"), "");
        assert_eq!(
            path_words("tests/phpunit/unit/Hooks/CiteHooksTest.php"),
            path_words("src/Hooks/CiteHooks.php")
        );
    }
}
