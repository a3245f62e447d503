//! `farm submit --junit FILE`: a failing run's JUnit file, read back by a third-party
//! reader (Python's junitparser, from PyPI), says what the run record says: a suite per
//! job, each test with its time, the failure with its message, the skip.

use std::process::Command;

use serde_json::Value;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{fixture, Farm, Options};

/// The file as junitparser reads it, as JSON: suites with their counts and cases.
const READ: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        messages = [r.message for r in case.result]
        cases.append({"name": case.name, "classname": case.classname, "time": case.time,
                      "kinds": kinds, "messages": messages,
                      "text": [r.text for r in case.result]})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped, "cases": cases})
print(json.dumps(suites))
"#;

#[test]
fn a_failing_runs_junit_file_reads_back_in_junitparser() {
    let mut farm = Farm::start("junit", Options::default());
    let out_file = farm.dir().join("run.xml");
    let out = farm.submit(&fixture("junit"), &["--junit", &out_file.display().to_string()]);
    let rec = out.json();
    assert_eq!(out.code, 1, "the run fails: {}", summary(&rec));

    let read = Command::new("python3")
        .args(["-c", READ])
        .arg(&out_file)
        .output()
        .expect("run python3");
    assert!(
        read.status.success(),
        "junitparser could not read {}: {} (hint: pip install junitparser)",
        out_file.display(),
        String::from_utf8_lossy(&read.stderr)
    );
    let suites: Value = serde_json::from_slice(&read.stdout).expect("json");
    let suites = suites.as_array().expect("suites");
    let names: Vec<&str> = suites.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let jobs: Vec<&str> = rec["run"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["spec"]["stage"].as_str().unwrap())
        .collect();
    assert_eq!(names, jobs, "a suite per job, in job order");

    let results = record::results(&rec);
    let total: u64 = suites.iter().map(|s| s["tests"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, results.len(), "one testcase per result");
    let case = |class: &str, name: &str| -> &Value {
        suites
            .iter()
            .flat_map(|s| s["cases"].as_array().unwrap())
            .find(|c| c["classname"] == class && c["name"] == name)
            .unwrap_or_else(|| panic!("no testcase {class} {name} in {suites:?}"))
    };
    let passes = case("scripts", "passes.sh");
    assert_eq!(passes["kinds"], serde_json::json!([]));
    let recorded = results.iter().find(|r| r.id == "passes.sh").unwrap().duration_secs;
    assert!(
        (passes["time"].as_f64().unwrap() - recorded).abs() < 1e-3 && recorded >= 0.2,
        "its time is the record's: {passes} against {recorded}"
    );
    let fails = case("scripts", "fails.sh");
    assert_eq!(fails["kinds"], serde_json::json!(["Failure"]));
    let text = fails["text"][0].as_str().unwrap_or("").to_string() + fails["messages"][0].as_str().unwrap_or("");
    assert!(
        text.contains("expected 1 <one> & got 2"),
        "the failure's own words: {fails}"
    );
    let divide = case("Calc", "testDivide");
    assert_eq!(divide["kinds"], serde_json::json!(["Failure"]));
    assert!(
        divide["messages"][0].as_str().unwrap().contains("division by zero"),
        "{divide}"
    );
    assert_eq!(case("Calc", "testLater")["kinds"], serde_json::json!(["Skipped"]));
    assert_eq!(case("Calc", "testAdd")["kinds"], serde_json::json!([]));
    let failures: u64 = suites.iter().map(|s| s["failures"].as_u64().unwrap()).sum();
    assert_eq!(failures, 2);
    let skipped: u64 = suites.iter().map(|s| s["skipped"].as_u64().unwrap()).sum();
    assert_eq!(skipped, 1);
}
