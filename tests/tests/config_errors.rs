//! `farm submit` of a pipeline with a mistake: the user gets the file, the line and a
//! hint, exit code 2, and no run is started.

use testfarm_integration::{fixture, Farm, Options};

/// The 1-based line of the misspelt key in the fixture.
fn typo_line(text: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with("limts:"))
        .expect("the fixture has a `limts:` line")
        + 1
}

fn assert_names_the_typo(stderr: &str) {
    let path = fixture("typo");
    let line = typo_line(&std::fs::read_to_string(&path).unwrap());
    let place = format!("{}:{line}", path.display());
    assert!(stderr.contains(&place), "stderr lacks `{place}`: {stderr}");
    assert!(
        stderr.contains("did you mean `limits`"),
        "stderr lacks the hint: {stderr}"
    );
}

#[test]
fn typo_in_a_key_names_file_line_and_fix() {
    let opts = Options {
        agents: 0,
        ..Options::default()
    };
    let mut farm = Farm::start("typo", opts);
    let out = farm.submit(&fixture("typo"), &[]);
    assert_eq!(out.code, 2, "exit code; stderr: {}", out.stderr);
    assert_names_the_typo(&out.stderr);
    assert!(out.stdout.trim().is_empty(), "stdout: {}", out.stdout);
    let status = farm.status();
    assert_eq!(
        status["active_runs"],
        serde_json::json!([]),
        "a pipeline with an error must not start a run"
    );
}

/// Validation needs no coordinator, so a typo should be reported even when none is
/// reachable. It is not: `submit_command` (cli/src/submit.rs) connects before
/// `submit` calls `load_pipeline`, so the user is told the coordinator is unreachable
/// and learns about the typo only after starting one.
#[test]
fn typo_is_reported_without_a_coordinator() {
    let opts = Options {
        agents: 0,
        ..Options::default()
    };
    let mut farm = Farm::start("typo-offline", opts);
    farm.kill_coordinator();
    let out = farm.submit(&fixture("typo"), &[]);
    assert_eq!(out.code, 2, "exit code; stderr: {}", out.stderr);
    assert_names_the_typo(&out.stderr);
}
