//! Every parser of outside input, fed random text and valid documents with random
//! edits (lines dropped, doubled, cut, indented; characters inserted): none may
//! panic, and every error names where — the file it was given, and for the pipeline
//! a line inside the text. `FARM_FUZZ_CASES` sets the cases per parser (default 5,000,
//! what CI runs; the README's long version runs 100,000).

use proptest::prelude::*;
use testfarm_shared::access::parse_policy;
use testfarm_shared::config::parse_pipeline;
use testfarm_shared::image::{apt_mirror, parse_image};
use testfarm_shared::junit::parse_junit;
use testfarm_shared::phpunit::{parse_list, parse_results, Phpunit, Roots};
use testfarm_shared::select::diff::changed_files;
use testfarm_shared::units::{parse_bytes, parse_duration};

fn config() -> ProptestConfig {
    let cases = std::env::var("FARM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The byte index at or below `at` that starts a character of `s`.
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The lines of `text` as YAML counts them: a lone `\r` breaks a line too (which
/// `str::lines` does not), so an error may rightly name a line past `lines()`.
fn yaml_lines(text: &str) -> usize {
    text.replace("\r\n", "\n").split(['\n', '\r']).count()
}

/// `seed` with up to eight random edits.
fn mutated(seed: &'static str) -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0u8..5, any::<char>(), 0usize..120);
    prop::collection::vec(edit, 0..8).prop_map(move |edits| {
        let mut lines: Vec<String> = seed.lines().map(String::from).collect();
        for (at, kind, c, col) in edits {
            if lines.is_empty() {
                break;
            }
            let at = at.index(lines.len());
            match kind {
                0 => {
                    lines.remove(at);
                }
                1 => {
                    let line = lines[at].clone();
                    lines.insert(at, line);
                }
                2 => {
                    let cut = boundary(&lines[at], col);
                    lines[at].truncate(cut);
                }
                3 => {
                    let i = boundary(&lines[at], col);
                    lines[at].insert(i, c);
                }
                _ => lines[at].insert_str(0, "  "),
            }
        }
        lines.join("\n")
    })
}

const PIPELINE: &str = r#"pipeline: mw
project: mediawiki
matrix:
  db: [sqlite, mysql]
  php: ["8.2", "8.3"]
repos:
  core:
    kind: core
    path: .
  Echo:
    requires: [core]
stages:
  unit:
    phpunit:
      testsuite: core:unit
      exclude_group: [Broken]
    services: ["{db}"]
    install: php maintenance/install.php
    tools: [php]
    labels: { php: "{php}" }
    env: { MW: "1" }
    cells: { db: [sqlite] }
    limits: { cpu: 2, memory: 1GiB, timeout: 10m, pids: 512 }
    split: auto
    default_estimate: 250ms
  shell:
    discover: ls tests
    each: sh tests/$FARM_TEST_ID
    image: base
    network: none
"#;

const JUNIT: &str = r##"<?xml version="1.0"?>
<testsuites>
 <testsuite name="all" tests="3">
  <testsuite name="FooTest" file="/srv/tests/FooTest.php">
   <testcase name="testA" class="FooTest" classname="FooTest" time="0.5"/>
   <testcase name="testB with data set #0" classname="FooTest" time="0.1"><failure type="x">1 != 2</failure></testcase>
   <testcase name="testC" classname="FooTest" time="0"><skipped/></testcase>
   <testcase name="testD" classname="FooTest" time="0"><error message="boom">trace</error></testcase>
  </testsuite>
 </testsuite>
</testsuites>"##;

const LIST: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<tests>
 <testCaseClass name="MediaWiki\Tests\Unit\FooTest">
  <testCaseMethod name="testA" groups="Database"/>
  <testCaseMethod name="testB" groups="default" dataSet="#0"/>
  <testCaseMethod name="testC" groups="default" dataSet="&quot;/srv/mw/includes/A.php&quot;"/>
 </testCaseClass>
 <testCaseClass name="PHPUnit\Framework\SkippedTestCase">
  <testCaseMethod name="BarTest::testSkippedProvider" groups="default"/>
 </testCaseClass>
</tests>"##;

const RESULTS: &str = "{\"id\":\"C::a\",\"status\":\"passed\",\"secs\":0.5,\"message\":\"\"}\n\
{\"id\":\"C::b with data set #0\",\"status\":\"failed\",\"secs\":0.1,\"message\":\"1 != 2\"}\n\
{\"id\":\"C::c\",\"status\":\"skipped\",\"secs\":0,\"message\":\"later\"}\n";

const IMAGE: &str =
    "suite: bookworm\nvariant: minbase\npackages: [php8.2-cli, phpunit]\nmirror: http://deb.debian.org/debian\n";

const ACCESS: &str = "clients:\n  zuul: [submit:gate, submit:check, read]\n  ops: [admin, read]\ntokens:\n  - name: bot\n    sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\n    grants: [submit, read]\n";

const DIFF: &str = "diff --git a/includes/A.php b/includes/A.php\n--- a/includes/A.php\n+++ b/includes/A.php\n@@ -1,3 +1,3 @@\n <?php\n-old();\n+new();\n--- x\n--- /dev/null\n+++ b/tests/phpunit/ATest.php\n@@ -0,0 +1 @@\n+<?php\n\\ No newline at end of file\n";

const SOURCES: &str = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\ndeb [arch=amd64] http://m.example/debian bookworm main\n";

fn stage() -> Phpunit {
    Phpunit {
        command: "phpunit".into(),
        config: "phpunit.xml".into(),
        testsuite: None,
        group: Vec::new(),
        exclude_group: vec!["Broken".into()],
        workers: true,
    }
}

fn roots() -> Roots {
    Roots {
        given: "/srv/mw".into(),
        resolved: "/srv/mw".into(),
    }
}

/// A pipeline error names the file, a line inside the text (0: unknown), a field.
fn check_pipeline(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = parse_pipeline(text, "farm.yaml") {
        prop_assert_eq!(&e.file, "farm.yaml");
        // YAML breaks lines at \r, \n, NEL and the Unicode line and paragraph
        // separators; its errors may point just past the last line.
        let lines = 1 + text
            .chars()
            .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
            .count();
        prop_assert!(e.line <= lines + 1, "line {} of {lines}: {e}", e.line);
        prop_assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pipeline_mutated(text in mutated(PIPELINE)) {
        check_pipeline(&text)?;
    }

    #[test]
    fn pipeline_random(text in any::<String>()) {
        check_pipeline(&text)?;
    }

    #[test]
    fn junit_mutated(text in mutated(JUNIT)) {
        if let Err(e) = parse_junit(&text, "junit.xml") {
            prop_assert!(e.to_string().contains("junit.xml"), "{e}");
        }
    }

    #[test]
    fn junit_random(text in any::<String>()) {
        let _ = parse_junit(&text, "junit.xml");
    }

    #[test]
    fn phpunit_list_mutated(text in mutated(LIST)) {
        if let Err(e) = parse_list(&text, "tests.xml", &stage(), &roots()) {
            prop_assert_eq!(&e.file, "tests.xml");
        }
    }

    #[test]
    fn phpunit_list_random(text in any::<String>()) {
        let _ = parse_list(&text, "tests.xml", &stage(), &roots());
    }

    #[test]
    fn phpunit_results_mutated(text in mutated(RESULTS)) {
        if let Err(e) = parse_results(&text, "r.jsonl") {
            prop_assert!(e.to_string().starts_with("r.jsonl:"), "{e}");
        }
    }

    #[test]
    fn image_definition_mutated(text in mutated(IMAGE)) {
        if let Err(e) = parse_image(&text, "php82", "php82.yaml") {
            prop_assert_eq!(&e.file, "php82.yaml");
        }
    }

    #[test]
    fn apt_sources_mutated(text in mutated(SOURCES)) {
        if let Some(mirror) = apt_mirror([text.as_str()]) {
            prop_assert!(mirror.starts_with("http"), "{mirror}");
        }
    }

    #[test]
    fn access_file_mutated(text in mutated(ACCESS)) {
        if let Err(e) = parse_policy(&text, "access.yaml") {
            prop_assert_eq!(&e.file, "access.yaml");
            prop_assert!(e.line <= yaml_lines(&text) + 1, "{e}");
        }
    }

    #[test]
    fn access_file_random(text in any::<String>()) {
        let _ = parse_policy(&text, "access.yaml");
    }

    #[test]
    fn diff_mutated(text in mutated(DIFF)) {
        for path in changed_files(&text) {
            prop_assert!(!path.is_empty() && path != "/dev/null", "{path:?}");
        }
    }

    #[test]
    fn diff_random(text in any::<String>()) {
        let _ = changed_files(&text);
    }

    #[test]
    fn units_random(text in any::<String>()) {
        let _ = parse_duration(&text);
        let _ = parse_bytes(&text);
    }

    #[test]
    fn units_numeric(n in any::<u64>(), unit in prop::sample::select(vec!["", "s", "ms", "m", "h", "KiB", "MiB", "GiB", "MB", "B", "x"])) {
        let _ = parse_duration(&format!("{n}{unit}"));
        let _ = parse_bytes(&format!("{n}{unit}"));
    }
}

/// Found by `access_file_mutated`: YAML breaks lines at a lone `\r`, so the error of
/// this document (the grants list never closed) is on line 9 of what `lines()` reads
/// as 7; the error names the line an editor shows.
#[test]
fn an_error_after_a_lone_carriage_return_names_the_yaml_line() {
    let text = "clients:\n  zuul: [\rsubmit:gate, submit:check, read]\n  ops: [admin, read]\ntokens:\n  - name: bot\n    sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\n    grants: [";
    let e = parse_policy(text, "access.yaml").unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("access.yaml", 9), "{e}");
    assert_eq!((text.lines().count(), yaml_lines(text)), (7, 8));
}
