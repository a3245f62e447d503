//! The static dependency map of a PHP tree: which files name the symbols other files
//! declare, kept up to date file by file as a history is replayed or a patch applied.
//! A test's link to a change is the shortest chain of such references from the test
//! file to a changed file: 1 when the test names a changed class itself, 2 when it
//! names a class (a helper, a base test case, a service) that names one, and so on.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::php::{FileSymbols, RefKind, Symbol};

/// Chains longer than this say little: in MediaWiki nearly everything reaches the
/// service container within four steps.
pub const MAX_DISTANCE: u8 = 4;

#[derive(Debug, Default, Clone)]
pub struct DepMap {
    files: HashMap<String, FileSymbols>,
    /// Symbol → the files that name it, and whether one names it in `@covers`.
    named_by: HashMap<Symbol, BTreeMap<String, RefKind>>,
}

/// How a file is linked to a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// References from this file to a changed file (1 = direct).
    pub distance: u8,
    /// It names a changed file's symbol in `@covers` (only at distance 1).
    pub covers: bool,
    /// The symbol of the next file on the chain that this file names.
    pub via: Symbol,
}

impl DepMap {
    /// Replaces what is known of `path` (None: the file is gone).
    pub fn set(&mut self, path: &str, symbols: Option<FileSymbols>) {
        if let Some(old) = self.files.remove(path) {
            for symbol in old.refers.keys() {
                if let Some(names) = self.named_by.get_mut(symbol) {
                    names.remove(path);
                    if names.is_empty() {
                        self.named_by.remove(symbol);
                    }
                }
            }
        }
        if let Some(new) = symbols {
            for (symbol, kind) in &new.refers {
                self.named_by
                    .entry(symbol.clone())
                    .or_default()
                    .insert(path.to_string(), *kind);
            }
            self.files.insert(path.to_string(), new);
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// What `path` declares, as last set.
    pub fn declares(&self, path: &str) -> Option<&BTreeSet<Symbol>> {
        self.files.get(path).map(|f| &f.declares)
    }

    /// For each file naming a changed file's symbols directly: how many changed files
    /// it names, and how many of those in `@covers`.
    pub fn direct(&self, changed: &[String], patched: &[(String, BTreeSet<Symbol>)]) -> HashMap<String, (u32, u32)> {
        let mut out: HashMap<String, (u32, u32)> = HashMap::new();
        for path in changed {
            let mut symbols: BTreeSet<&Symbol> = self.declares(path).map(|s| s.iter().collect()).unwrap_or_default();
            for (p, extra) in patched {
                if p == path {
                    symbols.extend(extra);
                }
            }
            let mut namers: BTreeMap<&str, bool> = BTreeMap::new();
            for symbol in symbols {
                for (namer, kind) in self.named_by.get(symbol).into_iter().flatten() {
                    if namer != path {
                        *namers.entry(namer).or_default() |= *kind == RefKind::Covers;
                    }
                }
            }
            for (namer, covers) in namers {
                let slot = out.entry(namer.to_string()).or_default();
                slot.0 += 1;
                slot.1 += u32::from(covers);
            }
        }
        out
    }

    /// Every file linked to the changed files, with its shortest chain. `patched`
    /// adds what the changed files declare after the patch (a class moved into a new
    /// file is still found through its old name).
    pub fn links(&self, changed: &[String], patched: &[(String, BTreeSet<Symbol>)]) -> BTreeMap<String, Link> {
        let mut found: BTreeMap<String, Link> = BTreeMap::new();
        let mut seen: BTreeSet<String> = changed.iter().cloned().collect();
        let mut start: BTreeMap<String, BTreeSet<Symbol>> = BTreeMap::new();
        for path in changed {
            let entry = start.entry(path.clone()).or_default();
            if let Some(symbols) = self.declares(path) {
                entry.extend(symbols.iter().cloned());
            }
        }
        for (path, symbols) in patched {
            start.entry(path.clone()).or_default().extend(symbols.iter().cloned());
        }
        let mut frontier: VecDeque<(BTreeSet<Symbol>, u8)> = start.into_values().map(|s| (s, 0)).collect();
        while let Some((symbols, distance)) = frontier.pop_front() {
            let d = distance + 1;
            for symbol in &symbols {
                let Some(names) = self.named_by.get(symbol) else {
                    continue;
                };
                for (path, kind) in names {
                    let covers = d == 1 && *kind == RefKind::Covers;
                    if seen.insert(path.clone()) {
                        found.insert(
                            path.clone(),
                            Link {
                                distance: d,
                                covers,
                                via: symbol.clone(),
                            },
                        );
                        if d < MAX_DISTANCE {
                            if let Some(next) = self.declares(path).filter(|s| !s.is_empty()) {
                                frontier.push_back((next.clone(), d));
                            }
                        }
                    } else if covers {
                        if let Some(link) = found.get_mut(path).filter(|l| l.distance == 1) {
                            link.covers = true;
                            link.via = symbol.clone();
                        }
                    }
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::super::php::file_symbols;
    use super::*;

    fn map(files: &[(&str, &str)]) -> DepMap {
        let mut m = DepMap::default();
        for (path, src) in files {
            m.set(path, Some(file_symbols(format!("<?php\n{src}").as_bytes())));
        }
        m
    }

    #[test]
    fn chains_are_shortest_and_covers_is_seen_at_distance_one() {
        let m = map(&[
            ("src/A.php", "class A {}"),
            ("src/B.php", "class B { function f() { return new A(); } }"),
            (
                "tests/ATest.php",
                "/** @covers A */ class ATest { function t() { new A(); } }",
            ),
            ("tests/BTest.php", "class BTest { function t() { new B(); } }"),
            ("tests/CTest.php", "class CTest { function t() { new Other(); } }"),
        ]);
        let links = m.links(&["src/A.php".to_string()], &[]);
        assert_eq!(
            links["tests/ATest.php"],
            Link {
                distance: 1,
                covers: true,
                via: "a".into()
            }
        );
        assert_eq!(links["src/B.php"].distance, 1);
        assert_eq!(
            links["tests/BTest.php"],
            Link {
                distance: 2,
                covers: false,
                via: "b".into()
            }
        );
        assert!(!links.contains_key("tests/CTest.php"));
        assert!(
            !links.contains_key("src/A.php"),
            "a changed file is not linked to itself"
        );
        let direct = m.direct(&["src/A.php".to_string(), "src/B.php".to_string()], &[]);
        assert_eq!(direct["tests/ATest.php"], (1, 1));
        assert_eq!(direct["tests/BTest.php"], (1, 0));
        assert_eq!(direct.get("src/B.php"), Some(&(1, 0)), "B names A");
    }

    #[test]
    fn replacing_and_removing_a_file_updates_who_names_what() {
        let mut m = map(&[
            ("src/A.php", "class A {}"),
            ("tests/T.php", "class T { function t() { new A(); } }"),
        ]);
        m.set("tests/T.php", Some(file_symbols(b"<?php class T {}")));
        assert!(m.links(&["src/A.php".into()], &[]).is_empty());
        m.set(
            "tests/T.php",
            Some(file_symbols(b"<?php class T { function t() { A::x(); } }")),
        );
        assert_eq!(m.links(&["src/A.php".into()], &[]).len(), 1);
        m.set("tests/T.php", None);
        assert!(m.links(&["src/A.php".into()], &[]).is_empty());
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn a_class_moved_by_the_patch_is_found_by_its_new_file() {
        let m = map(&[("tests/T.php", "class T { function t() { new Moved(); } }")]);
        let patched = vec![("src/New.php".to_string(), BTreeSet::from(["moved".to_string()]))];
        let links = m.links(&["src/New.php".into()], &patched);
        assert_eq!(links["tests/T.php"].distance, 1);
    }
}
