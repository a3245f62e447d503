//! What a run of tests/fixtures/tiny must contain: two stages (`alpha`, `beta`) of a
//! few short per-test scripts each, discovered with `ls tests/<stage>`. Used where
//! many runs must fit in a short test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::record;

/// `tests/fixtures/tiny/farm.yaml`.
pub fn tiny_yaml() -> PathBuf {
    crate::fixture("tiny")
}

/// The test ids of a stage of the fixture, from its files.
pub fn stage_tests(stage: &str) -> BTreeSet<String> {
    let dir = tiny_yaml().parent().expect("fixture dir").join("tests").join(stage);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every test of the fixture, as (stage, test id).
pub fn all_tests() -> BTreeSet<(String, String)> {
    ["alpha", "beta"]
        .iter()
        .flat_map(|s| stage_tests(s).into_iter().map(move |t| (s.to_string(), t)))
        .collect()
}

/// Asserts the run tested every test of the fixture exactly once, with no other
/// result, every result passed, and the counters agree; returns the number of results.
pub fn assert_each_test_once(rec: &Value) -> usize {
    let jobs = rec["run"]["jobs"].as_array().expect("jobs");
    let stage_of = |job: u64| -> String {
        jobs.get(job as usize)
            .and_then(|j| j["spec"]["stage"].as_str())
            .unwrap_or("?")
            .to_string()
    };
    let mut seen: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let rows = record::results(rec);
    for r in &rows {
        seen.entry((stage_of(r.job), r.id.clone()))
            .or_default()
            .push(format!("{} ({})", r.task, r.status));
    }
    let run = rec["run"]["id"].as_str().unwrap_or("?");
    let twice: Vec<_> = seen.iter().filter(|(_, tasks)| tasks.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "run {run}: tests with more than one result: {twice:?}"
    );
    let got: BTreeSet<_> = seen.into_keys().collect();
    let expected = all_tests();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "run {run}: missing results {missing:?}, unexpected results {extra:?}"
    );
    let failed: Vec<_> = rows.iter().filter(|r| r.status != "passed").collect();
    assert!(failed.is_empty(), "run {run}: results not passed: {failed:?}");
    let n = expected.len() as u64;
    assert_eq!(record::count(rec, "tests_total"), n, "run {run}: tests_total");
    assert_eq!(
        record::count(rec, "tests_passed"),
        n,
        "run {run}: tests_passed counts a result twice or misses one"
    );
    rows.len()
}
