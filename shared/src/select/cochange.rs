//! Co-change history: which test files changed together with which source files in
//! the commits seen so far, and how often and how lately each test file changed.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct CoChange {
    commits: u32,
    /// Source file → test file → what they share.
    together: HashMap<String, HashMap<String, Pair>>,
    /// How many commits changed each file.
    changes: HashMap<String, u32>,
    /// The commit (its index in `record` order) that last changed each file.
    last: HashMap<String, u32>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Pair {
    count: u32,
    /// Σ over the shared commits of 1 / (source files in the commit): a commit that
    /// touches thirty files says less about each of them than one that touches one.
    weight: f64,
    /// The commit that last changed both.
    last: u32,
}

/// What the history says about one test file against a set of changed source files.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CoChangeEvidence {
    /// Σ over the changed sources of the commits each shared with the test.
    pub count: u32,
    /// Σ of the shared commits' weights.
    pub weight: f64,
    /// The largest share, over the changed sources, of a source's commits that also
    /// changed the test.
    pub share: f64,
    /// Commits since the test last changed together with one of the sources.
    pub since: Option<u32>,
}

impl CoChange {
    /// Records one commit's source and test files.
    pub fn record(&mut self, sources: &[String], tests: &[String]) {
        let weight = 1.0 / sources.len().max(1) as f64;
        for source in sources {
            let row = self.together.entry(source.clone()).or_default();
            for test in tests {
                let pair = row.entry(test.clone()).or_default();
                pair.count += 1;
                pair.weight += weight;
                pair.last = self.commits;
            }
        }
        for file in sources.iter().chain(tests) {
            *self.changes.entry(file.clone()).or_default() += 1;
            self.last.insert(file.clone(), self.commits);
        }
        self.commits += 1;
    }

    pub fn evidence(&self, sources: &[String], test: &str) -> CoChangeEvidence {
        let mut out = CoChangeEvidence::default();
        for source in sources {
            let Some(pair) = self.together.get(source).and_then(|row| row.get(test)) else {
                continue;
            };
            out.count += pair.count;
            out.weight += pair.weight;
            let of = self.changes.get(source).copied().unwrap_or(1).max(1);
            out.share = out.share.max(f64::from(pair.count) / f64::from(of));
            let since = self.commits - pair.last - 1;
            out.since = Some(out.since.map_or(since, |s: u32| s.min(since)));
        }
        out
    }

    /// How many commits changed `file`.
    pub fn changes(&self, file: &str) -> u32 {
        self.changes.get(file).copied().unwrap_or(0)
    }

    /// Commits recorded since `file` last changed (None: never).
    pub fn since_changed(&self, file: &str) -> Option<u32> {
        self.last.get(file).map(|at| self.commits - at - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn counts_shares_and_recency() {
        let mut h = CoChange::default();
        h.record(&s(&["a.php", "b.php"]), &s(&["ATest.php"]));
        h.record(&s(&["a.php"]), &s(&[]));
        h.record(&s(&["a.php"]), &s(&["ATest.php", "BTest.php"]));
        let e = h.evidence(&s(&["a.php"]), "ATest.php");
        assert_eq!(e.count, 2);
        assert!((e.weight - 1.5).abs() < 1e-9);
        assert!((e.share - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(e.since, Some(0));
        assert_eq!(h.evidence(&s(&["b.php"]), "ATest.php").since, Some(2));
        let both = h.evidence(&s(&["a.php", "b.php"]), "ATest.php");
        assert_eq!(both.count, 3);
        assert!((both.share - 1.0).abs() < 1e-9, "b.php's one commit had the test");
        assert_eq!(h.evidence(&s(&["c.php"]), "ATest.php"), CoChangeEvidence::default());
        assert_eq!(h.since_changed("ATest.php"), Some(0));
        assert_eq!(h.since_changed("b.php"), Some(2));
        assert_eq!(h.since_changed("never.php"), None);
        assert_eq!(h.changes("a.php"), 3);
    }
}
