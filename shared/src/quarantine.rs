//! Flaky quarantine: tests an operator has put aside (`farm quarantine add`). A
//! quarantined test still runs and reports, and its failures are kept in the run and
//! in the test's profile, but they do not fail the run. A run takes the project's
//! quarantine as it stands when the run is accepted, so its verdict depends on its own
//! record only and is the same on every replica and in every replay.

use serde::{Deserialize, Serialize};

use crate::phpunit::{class_of, method_of};

/// The longest test name an entry may hold, and the longest reason.
pub const TEST_MAX: usize = 1000;
pub const REASON_MAX: usize = 1000;

/// One quarantined test (or method, or class) of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// A test id as the run reports it (`Class::method with data set #2`), a method
    /// (`Class::method`: each of its data sets) or a class (`Class`: each of its tests).
    pub test: String,
    pub reason: String,
    /// Who quarantined it (the client's user), for the report.
    pub by: String,
    /// Since when (unix ms).
    pub since_ms: u64,
}

impl Entry {
    /// Whether this entry covers the test `id`.
    pub fn covers(&self, id: &str) -> bool {
        self.test == id || self.test == method_of(id) || (!self.test.contains("::") && self.test == class_of(id))
    }
}

/// What a quarantine request asks, checked before it is proposed and again in apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("project: empty (name the pipeline's `project:`)")]
    NoProject,
    #[error("project: {0} bytes, at most 200")]
    ProjectTooLong(usize),
    #[error("project: `{0}` is not a project name (letters, digits, `-`, `_`, `.`)")]
    ProjectNotAName(String),
    #[error("test: empty (name a test id, a method `Class::method` or a class)")]
    NoTest,
    #[error("test: {0} bytes, at most {TEST_MAX}")]
    TestTooLong(usize),
    #[error("reason: {0} bytes, at most {REASON_MAX}")]
    ReasonTooLong(usize),
}

/// Checks the fields of an entry for `project`.
pub fn check(project: &str, test: &str, reason: &str) -> Result<(), EntryError> {
    match (project.len(), test.trim().len(), reason.len()) {
        (0, _, _) => Err(EntryError::NoProject),
        (p, _, _) if p > 200 => Err(EntryError::ProjectTooLong(p)),
        _ if !crate::config::is_name(project) => Err(EntryError::ProjectNotAName(project.into())),
        (_, 0, _) => Err(EntryError::NoTest),
        (_, t, _) if t > TEST_MAX => Err(EntryError::TestTooLong(t)),
        (_, _, r) if r > REASON_MAX => Err(EntryError::ReasonTooLong(r)),
        _ => Ok(()),
    }
}

/// The entry of `entries` that covers `id`, if any: the most specific one (a test's
/// own entry before its method's before its class's).
pub fn covering<'a>(entries: &'a [Entry], id: &str) -> Option<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.covers(id))
        .max_by_key(|e| (e.test == id, e.test == method_of(id)))
}

/// A failure of a quarantined test in one run: which test, in which job, and the
/// entry that covered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excused {
    /// As the run's failed tests name it: `JOB TEST`.
    pub name: String,
    /// The entry's `test` (the test itself, its method or its class).
    pub entry: String,
}

/// The line a verdict adds for excused failures: "2 quarantined tests failed and did
/// not count (A::b, C)"; None when there were none.
pub fn verdict_note(excused: &[Excused], total: u32) -> Option<String> {
    if total == 0 {
        return None;
    }
    let mut entries: Vec<&str> = excused.iter().map(|e| e.entry.as_str()).collect();
    entries.sort_unstable();
    entries.dedup();
    let plural = if total == 1 { "test" } else { "tests" };
    Some(format!(
        "{total} quarantined {plural} failed and did not count ({})",
        entries.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(test: &str) -> Entry {
        Entry {
            test: test.into(),
            reason: "flaky".into(),
            by: "ops".into(),
            since_ms: 1,
        }
    }

    #[test]
    fn an_entry_covers_its_test_the_data_sets_of_its_method_and_the_tests_of_its_class() {
        assert!(entry("A::m").covers("A::m"));
        assert!(entry("A::m").covers("A::m with data set #3"));
        assert!(!entry("A::m").covers("A::mm"), "a prefix is not the method");
        assert!(!entry("A::m").covers("A::n"));
        assert!(entry("A").covers("A::n with data set \"x\""));
        assert!(!entry("A").covers("AB::n"));
        assert!(!entry("A").covers("B::A"));
        assert!(entry("t/flaky.sh").covers("t/flaky.sh"), "ids that are not PHPUnit's");
        assert!(!entry("A::m with data set #1").covers("A::m with data set #2"));
    }

    #[test]
    fn the_most_specific_entry_covers() {
        let entries = vec![entry("A"), entry("A::m"), entry("A::m with data set #1")];
        assert_eq!(
            covering(&entries, "A::m with data set #1").unwrap().test,
            "A::m with data set #1"
        );
        assert_eq!(covering(&entries, "A::m with data set #2").unwrap().test, "A::m");
        assert_eq!(covering(&entries, "A::z").unwrap().test, "A");
        assert!(covering(&entries, "B::m").is_none());
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(check("", "A", ""), Err(EntryError::NoProject));
        assert_eq!(check("p", " ", ""), Err(EntryError::NoTest));
        assert_eq!(check("a/b", "A", ""), Err(EntryError::ProjectNotAName("a/b".into())));
        assert_eq!(check("p", "A", &"x".repeat(1001)), Err(EntryError::ReasonTooLong(1001)));
        assert!(check("p", &"x".repeat(1001), "")
            .unwrap_err()
            .to_string()
            .starts_with("test:"));
        assert_eq!(check("p", "A::m", "flaky on PG"), Ok(()));
    }

    #[test]
    fn the_verdict_names_each_entry_once() {
        let excused = vec![
            Excused {
                name: "unit A::m with data set #1".into(),
                entry: "A::m".into(),
            },
            Excused {
                name: "unit A::m with data set #2".into(),
                entry: "A::m".into(),
            },
            Excused {
                name: "unit B::x".into(),
                entry: "B".into(),
            },
        ];
        assert_eq!(
            verdict_note(&excused, 3).unwrap(),
            "3 quarantined tests failed and did not count (A::m, B)"
        );
        assert_eq!(verdict_note(&[], 0), None);
    }
}
