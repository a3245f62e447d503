//! What a run of examples/quickstart must contain, from the files of the example
//! (its stages discover with `ls tests/<stage>`), not from numbers written here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::record;

/// `examples/quickstart/`.
pub fn quickstart_dir() -> PathBuf {
    crate::workspace_root().join("examples").join("quickstart")
}

/// `examples/quickstart/farm.yaml`.
pub fn quickstart_yaml() -> PathBuf {
    quickstart_dir().join("farm.yaml")
}

/// The test ids of a quickstart stage: its discover command is `ls tests/<stage>`.
pub fn stage_tests(stage: &str) -> BTreeSet<String> {
    let dir = quickstart_dir().join("tests").join(stage);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// What the run must have tested: (job index, test id) for every job of the record,
/// from the files of the job's stage. Also checks the jobs are the matrix of
/// farm.yaml: unit on both shells, integration on sh only.
pub fn expected_tests(rec: &Value) -> BTreeSet<(u64, String)> {
    let jobs = rec["run"]["jobs"].as_array().expect("jobs");
    let names: BTreeSet<String> = (0..jobs.len() as u64).map(|j| record::job_name(rec, j)).collect();
    let want: BTreeSet<String> = ["integration[shell=sh]", "unit[shell=bash]", "unit[shell=sh]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, want, "the jobs of the quickstart matrix");
    let mut expected = BTreeSet::new();
    for (j, job) in jobs.iter().enumerate() {
        let stage = job["spec"]["stage"].as_str().expect("stage");
        let tests = stage_tests(stage);
        assert_eq!(
            job["tests"].as_u64(),
            Some(tests.len() as u64),
            "job {} discovered a different number of tests than tests/{stage} holds",
            record::job_name(rec, j as u64)
        );
        expected.extend(tests.into_iter().map(|t| (j as u64, t)));
    }
    expected
}

/// Asserts every expected test has exactly one result and there is no other result;
/// returns the number of results.
pub fn assert_each_test_once(rec: &Value) -> usize {
    let expected = expected_tests(rec);
    let mut seen: BTreeMap<(u64, String), Vec<String>> = BTreeMap::new();
    let rows = record::results(rec);
    for r in &rows {
        seen.entry((r.job, r.id.clone())).or_default().push(r.task.clone());
    }
    let twice: Vec<_> = seen.iter().filter(|(_, tasks)| tasks.len() > 1).collect();
    assert!(twice.is_empty(), "tests with more than one result: {twice:?}");
    let got: BTreeSet<(u64, String)> = seen.into_keys().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing results {missing:?}, unexpected results {extra:?}"
    );
    assert_eq!(record::count(rec, "tests_total"), expected.len() as u64, "tests_total");
    rows.len()
}
