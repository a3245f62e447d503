//! Reading PHPUnit's `--list-tests-xml`.

use std::collections::HashMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{Phpunit, Roots};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {message}")]
pub struct ListError {
    pub file: String,
    pub message: String,
}

/// PHPUnit's stand-ins for tests it could not build: `SkippedTestCase`,
/// `IncompleteTestCase`, `WarningTestCase`, `ErrorTestCase`.
const PLACEHOLDER_PREFIX: &str = "PHPUnit\\Framework\\";

/// The test ids (each once, in PHPUnit's order) of a `--list-tests-xml` file, in the
/// stage's groups: `Class::method` for a plain test, `Class::method with data set X`
/// (X as PHPUnit prints it: `#0` or `"name"`) for each case of a data provider — the
/// names PHPUnit's JUnit gives them — with the project root written as
/// [`super::ROOT`]. PHPUnit 9 lists every test of the suite whatever `--group` and
/// `--exclude-group` say, so the groups are applied here, from each case's `groups`.
pub fn parse_list(xml: &str, file: &str, stage: &Phpunit, roots: &Roots) -> Result<Vec<String>, ListError> {
    let err = |message: String| ListError {
        file: file.to_string(),
        message,
    };
    let mut reader = Reader::from_str(xml);
    let mut class: Option<String> = None;
    let mut seen: HashMap<String, usize> = HashMap::new();
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
                        let method = name_attr(&e).map_err(&err)?;
                        let mut id = match crate::junit::attr(&e, "dataSet").map_err(&err)? {
                            Some(set) if !set.is_empty() => format!("{class}::{method} with data set {set}"),
                            // What PHPUnit puts in place of a test it could not build (a
                            // data provider that skipped or failed) is listed under its
                            // own class and named `Class::method`: the test's own id, as
                            // its JUnit names it.
                            _ if class.starts_with(PLACEHOLDER_PREFIX) && method.contains("::") => method,
                            _ => format!("{class}::{method}"),
                        };
                        // Names XML shows alike (cut at a NUL byte) are told apart by
                        // their order, as the shard's suite file tells them apart.
                        let count = seen.entry(id.clone()).or_insert(0usize);
                        *count += 1;
                        if *count > 1 {
                            id = format!("{id} ({count})");
                        }
                        let groups = crate::junit::attr(&e, "groups").map_err(&err)?.unwrap_or_default();
                        if stage.wants(&groups) {
                            ids.push(roots.normalize(&id));
                        }
                    }
                    // phpt files and other kinds cannot be run by name.
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<tests>
 <testCaseClass name="MediaWiki\Tests\Unit\FooTest">
  <testCaseMethod name="testA" groups="Database"/>
  <testCaseMethod name="testB" groups="default" dataSet="#0"/>
  <testCaseMethod name="testB" groups="default" dataSet="#1"/>
  <testCaseMethod name="testC" groups="default" dataSet="&quot;/srv/mw/includes/A.php&quot;"/>
  <testCaseMethod name="testD" groups="default" dataSet="&quot;a&#10;b&quot;"/>
  <testCaseMethod name="testE" groups="Database" dataSet="&quot;"/>
  <testCaseMethod name="testE" groups="default" dataSet="&quot;"/>
 </testCaseClass>
 <testCaseClass name="BarTest">
  <testCaseMethod name="testC" groups="default"/>
 </testCaseClass>
 <testCaseClass name="PHPUnit\Framework\SkippedTestCase">
  <testCaseMethod name="BarTest::testSkippedProvider" groups="default"/>
 </testCaseClass>
</tests>"##;

    fn stage(group: &[&str], exclude: &[&str]) -> Phpunit {
        Phpunit {
            command: "phpunit".into(),
            config: "phpunit.xml".into(),
            testsuite: None,
            group: group.iter().map(|s| s.to_string()).collect(),
            exclude_group: exclude.iter().map(|s| s.to_string()).collect(),
            workers: true,
        }
    }

    fn roots() -> Roots {
        Roots {
            given: "/srv/mw".into(),
            resolved: "/srv/mw".into(),
        }
    }

    #[test]
    fn groups_filter_the_list_as_phpunit_would_run_it() {
        let db = parse_list(LIST, "tests.xml", &stage(&["Database"], &[]), &roots()).unwrap();
        assert_eq!(
            db,
            [
                "MediaWiki\\Tests\\Unit\\FooTest::testA",
                "MediaWiki\\Tests\\Unit\\FooTest::testE with data set \""
            ]
        );
        let rest = parse_list(LIST, "tests.xml", &stage(&[], &["Database"]), &roots()).unwrap();
        assert_eq!(rest.len(), 7);
        assert!(
            rest.contains(&"MediaWiki\\Tests\\Unit\\FooTest::testE with data set \" (2)".to_string()),
            "the second of two alike keeps its number when the first is not run: {rest:?}"
        );
        assert_eq!(rest.last().unwrap(), "BarTest::testSkippedProvider");
    }

    #[test]
    fn every_data_set_is_a_test_named_as_junit_names_it() {
        let ids = parse_list(LIST, "tests.xml", &stage(&[], &[]), &roots()).unwrap();
        assert_eq!(
            ids,
            [
                "MediaWiki\\Tests\\Unit\\FooTest::testA",
                "MediaWiki\\Tests\\Unit\\FooTest::testB with data set #0",
                "MediaWiki\\Tests\\Unit\\FooTest::testB with data set #1",
                "MediaWiki\\Tests\\Unit\\FooTest::testC with data set \"{root}/includes/A.php\"",
                "MediaWiki\\Tests\\Unit\\FooTest::testD with data set \"a\nb\"",
                "MediaWiki\\Tests\\Unit\\FooTest::testE with data set \"",
                "MediaWiki\\Tests\\Unit\\FooTest::testE with data set \" (2)",
                "BarTest::testC",
                "BarTest::testSkippedProvider"
            ]
        );
    }

    #[test]
    fn an_empty_list_is_no_tests_and_garbage_is_an_error() {
        let all = stage(&[], &[]);
        assert!(parse_list("<tests/>", "x", &all, &roots()).unwrap().is_empty());
        let e = parse_list("PHPUnit 9.6.7 by Sebastian Bergmann", "x.xml", &all, &roots()).unwrap_err();
        assert!(e.to_string().starts_with("x.xml: no <tests>"), "{e}");
        let e = parse_list("<tests><testCaseMethod name=\"a\"/></tests>", "x.xml", &all, &roots()).unwrap_err();
        assert!(e.message.contains("outside"), "{e}");
    }
}
