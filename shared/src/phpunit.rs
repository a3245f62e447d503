//! PHPUnit as a runner the farm knows: discovery from `--list-tests-xml`, shard
//! selection through a `--filter` pattern, and the commands for both. Test ids are
//! `Class::method` (namespaced class); data-provider cases fold into their method, the
//! finest unit PHPUnit can filter reliably. The JUnit side is [`crate::junit`] plus
//! [`crate::task::reconcile`], which folds `… with data set …` cases.

use std::collections::BTreeSet;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::{Deserialize, Serialize};

/// A stage's PHPUnit invocation (`phpunit:` in farm.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phpunit {
    /// The program, run by `/bin/sh` (default `phpunit`; e.g. a wrapper script that
    /// picks the PHP flags of the cell).
    pub command: String,
    /// `-c` (default `phpunit.xml`).
    pub config: String,
    pub testsuite: Option<String>,
    pub group: Vec<String>,
    pub exclude_group: Vec<String>,
}

/// The file, in the task directory, where discovery writes PHPUnit's list.
pub const LIST_FILE: &str = "phpunit-tests.xml";
/// The file, in the task directory, holding a shard's `--filter` pattern.
pub const FILTER_FILE: &str = "phpunit-filter.txt";

impl Phpunit {
    /// Whether a test in `groups` (comma-separated, as PHPUnit lists them) belongs to
    /// the stage's `group` and not to its `exclude_group`.
    pub fn wants(&self, groups: &str) -> bool {
        let mut groups = groups.split(',').map(str::trim).filter(|g| !g.is_empty());
        let groups: Vec<&str> = groups.by_ref().collect();
        (self.group.is_empty() || groups.iter().any(|g| self.group.iter().any(|w| w == g)))
            && !groups.iter().any(|g| self.exclude_group.iter().any(|x| x == g))
    }

    fn selection_args(&self) -> String {
        let mut out = format!("{} -c {}", self.command, shell_quote(&self.config));
        if let Some(suite) = &self.testsuite {
            out += &format!(" --testsuite {}", shell_quote(suite));
        }
        if !self.group.is_empty() {
            out += &format!(" --group {}", shell_quote(&self.group.join(",")));
        }
        if !self.exclude_group.is_empty() {
            out += &format!(" --exclude-group {}", shell_quote(&self.exclude_group.join(",")));
        }
        out
    }

    /// Lists the tests into `$FARM_SHARD_DIR/phpunit-tests.xml` (PHPUnit's own output
    /// goes to the log); the agent reads the list with [`parse_list`].
    pub fn discover_command(&self) -> String {
        format!(
            "{} --list-tests-xml \"$FARM_SHARD_DIR/{LIST_FILE}\" >&2",
            self.selection_args()
        )
    }

    /// Runs the shard's tests (the pattern in `$FARM_SHARD_DIR/phpunit-filter.txt`,
    /// written by the agent with [`filter`]) with JUnit to `$FARM_JUNIT_PATH`.
    pub fn run_command(&self) -> String {
        format!(
            "{} --filter \"$(cat \"$FARM_SHARD_DIR/{FILTER_FILE}\")\" --log-junit \"$FARM_JUNIT_PATH\"",
            self.selection_args()
        )
    }
}

/// `'text'` for /bin/sh.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@".contains(c))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {message}")]
pub struct ListError {
    pub file: String,
    pub message: String,
}

/// The test ids (`Class::method`, each once, in PHPUnit's order) of a
/// `--list-tests-xml` file, in the stage's groups. PHPUnit 9 lists every test of the
/// suite whatever `--group` and `--exclude-group` say, so the groups are applied here,
/// from each method's `groups` attribute.
pub fn parse_list(xml: &str, file: &str, stage: &Phpunit) -> Result<Vec<String>, ListError> {
    let err = |message: String| ListError {
        file: file.to_string(),
        message,
    };
    let mut reader = Reader::from_str(xml);
    let mut class: Option<String> = None;
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    let mut root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(format!("not XML at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name();
                match name.as_ref() {
                    "tests" => root = true,
                    "testCaseClass" => class = Some(name_attr(&e).map_err(&err)?),
                    "testCaseMethod" => {
                        let Some(class) = &class else {
                            return Err(err("a testCaseMethod outside a testCaseClass".into()));
                        };
                        let id = format!("{class}::{}", name_attr(&e).map_err(&err)?);
                        let groups = crate::junit::attr(&e, "groups").map_err(&err)?.unwrap_or_default();
                        if !stage.wants(&groups) {
                            continue;
                        }
                        if seen.insert(id.clone()) {
                            ids.push(id);
                        }
                    }
                    // phpt files and other kinds cannot be filtered by name.
                    _ => {}
                }
            }
            Event::End(e) if e.name().as_ref() == "testCaseClass" => class = None,
            Event::Eof => break,
            _ => {}
        }
    }
    if !root {
        return Err(err(
            "no <tests> element: is this PHPUnit's --list-tests-xml output?".into()
        ));
    }
    Ok(ids)
}

fn name_attr(e: &quick_xml::events::BytesStart) -> Result<String, String> {
    crate::junit::attr(e, "name")?.ok_or_else(|| format!("<{}> without a name", e.name().as_ref()))
}

/// The `--filter` pattern that selects exactly these ids (with their data sets):
/// `/^(?:A\\B::m|C::n)(?: with data set .*)?$/`. PHPUnit matches it against
/// `Class::method` followed by the data set's name.
pub fn filter(ids: &[String]) -> String {
    let alternatives: Vec<String> = ids.iter().map(|id| regex_escape(id)).collect();
    format!("/^(?:{})(?: with data set .*)?$/", alternatives.join("|"))
}

/// Escapes PCRE metacharacters (and the `/` delimiter).
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/-#".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The method id of a JUnit case name: `C::m with data set #1` → `C::m`.
pub fn method_of(id: &str) -> &str {
    id.split_once(" with data set ").map_or(id, |(m, _)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<tests>
 <testCaseClass name="MediaWiki\Tests\Unit\FooTest">
  <testCaseMethod name="testA" groups="Database"/>
  <testCaseMethod name="testB" groups="default" dataSet="#0"/>
  <testCaseMethod name="testB" groups="default" dataSet="#1"/>
 </testCaseClass>
 <testCaseClass name="BarTest">
  <testCaseMethod name="testC" groups="default"/>
 </testCaseClass>
</tests>"##;

    fn stage(group: &[&str], exclude: &[&str]) -> Phpunit {
        Phpunit {
            command: "phpunit".into(),
            config: "phpunit.xml".into(),
            testsuite: None,
            group: group.iter().map(|s| s.to_string()).collect(),
            exclude_group: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn groups_filter_the_list_as_phpunit_would_run_it() {
        let db = parse_list(LIST, "tests.xml", &stage(&["Database"], &[])).unwrap();
        assert_eq!(db, ["MediaWiki\\Tests\\Unit\\FooTest::testA"]);
        let rest = parse_list(LIST, "tests.xml", &stage(&[], &["Database"])).unwrap();
        assert_eq!(rest, ["MediaWiki\\Tests\\Unit\\FooTest::testB", "BarTest::testC"]);
    }

    #[test]
    fn list_gives_one_id_per_method_in_order() {
        let ids = parse_list(LIST, "tests.xml", &stage(&[], &[])).unwrap();
        assert_eq!(
            ids,
            [
                "MediaWiki\\Tests\\Unit\\FooTest::testA",
                "MediaWiki\\Tests\\Unit\\FooTest::testB",
                "BarTest::testC"
            ]
        );
    }

    #[test]
    fn an_empty_list_is_no_tests_and_garbage_is_an_error() {
        let all = stage(&[], &[]);
        assert!(parse_list("<tests/>", "x", &all).unwrap().is_empty());
        let e = parse_list("PHPUnit 9.6.7 by Sebastian Bergmann", "x.xml", &all).unwrap_err();
        assert!(e.to_string().starts_with("x.xml: no <tests>"), "{e}");
        let e = parse_list("<tests><testCaseMethod name=\"a\"/></tests>", "x.xml", &all).unwrap_err();
        assert!(e.message.contains("outside"), "{e}");
    }

    #[test]
    fn the_filter_escapes_namespaces_and_keeps_data_sets() {
        let f = filter(&["A\\BTest::testX".to_string(), "C::y".to_string()]);
        assert_eq!(f, "/^(?:A\\\\BTest::testX|C::y)(?: with data set .*)?$/");
    }

    #[test]
    fn commands_quote_what_the_shell_would_split() {
        let p = Phpunit {
            command: "tools/phpunit.sh".into(),
            config: "phpunit.xml".into(),
            testsuite: Some("unit".into()),
            group: vec![],
            exclude_group: vec!["Database".into(), "Broken test".into()],
        };
        assert_eq!(
            p.discover_command(),
            "tools/phpunit.sh -c phpunit.xml --testsuite unit --exclude-group 'Database,Broken test' \
             --list-tests-xml \"$FARM_SHARD_DIR/phpunit-tests.xml\" >&2"
        );
        assert!(p
            .run_command()
            .contains("--filter \"$(cat \"$FARM_SHARD_DIR/phpunit-filter.txt\")\""));
        assert_eq!(method_of("C::m with data set #1"), "C::m");
        assert_eq!(method_of("C::m"), "C::m");
    }
}
