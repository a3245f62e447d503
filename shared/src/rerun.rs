//! `farm rerun`: a new run of a finished run's pipeline on the same tree, whole or
//! only what failed in it. What failed is read from the tasks' results: every test
//! with a failing status, and every test of a shard whose runner failed though no
//! test of it did (a crash, a timeout, a killed process: its tests have no trusted
//! result). Each job keeps only its own failures, so a test that failed in one matrix
//! cell is not rerun in the others.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Job, JobState, Run, Task, Work};
use crate::select::Selection;
use crate::task::ExitKind;

/// The tests to rerun, by job index.
pub type FailedTests = BTreeMap<usize, BTreeSet<String>>;

/// What failed in a run, from its tasks (see the module docs).
pub fn failed_tests(tasks: &[Task]) -> FailedTests {
    let mut failed = FailedTests::new();
    for task in tasks {
        let (Work::Shard(shard), Some(outcome)) = (&task.work, &task.outcome) else {
            continue;
        };
        let failing: Vec<&String> = outcome
            .results
            .iter()
            .filter(|r| r.status.is_failure())
            .map(|r| &r.id)
            .collect();
        let runner_failed = !matches!(outcome.exit, ExitKind::Exited { code: 0 });
        let of_job = failed.entry(task.job).or_default();
        if failing.is_empty() && runner_failed {
            of_job.extend(shard.tests.iter().cloned());
        } else {
            of_job.extend(failing.into_iter().cloned());
        }
    }
    failed.retain(|_, tests| !tests.is_empty());
    failed
}

/// The run to accept for a rerun of `old`: its pipeline, tree and environment, its
/// jobs afresh — with `only`, just the jobs that failed, each limited to its failed
/// tests. A select run's selection is not carried: the tests are named exactly.
pub fn run_of(old: &Run, only: Option<&FailedTests>, now_ms: u64, submission: String) -> Run {
    let jobs = old
        .jobs
        .iter()
        .enumerate()
        .filter_map(|(i, job)| {
            let only_tests = match only {
                None => None,
                Some(failed) => Some(failed.get(&i)?.iter().cloned().collect()),
            };
            Some(Job {
                spec: job.spec.clone(),
                state: JobState::Discovering,
                tests: 0,
                shards: 0,
                left_out: None,
                planned_with: None,
                only_tests,
            })
        })
        .collect();
    Run {
        id: String::new(),
        jobs,
        accepted_ms: now_ms,
        finished_ms: None,
        verdict: None,
        message: String::new(),
        counts: Default::default(),
        failed_tests: Vec::new(),
        selection: if only.is_some() {
            Selection::default()
        } else {
            old.selection.clone()
        },
        submission,
        quarantine: Vec::new(),
        excused: Vec::new(),
        compacted: false,
        ..old.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{phases, result, run, task};
    use crate::task::TestStatus;

    #[test]
    fn only_what_failed_is_rerun_and_each_in_its_own_job() {
        let old = run("r7", 1000);
        let p = || phases(0.0, 0.0, 0.0, 1.0, 0.0);
        let mut crashed = task(&old, "j1.s1", 1, "a1", 0, 10, vec![], p());
        if let (Work::Shard(shard), Some(outcome)) = (&mut crashed.work, &mut crashed.outcome) {
            shard.tests = vec!["T::x".into(), "T::y".into()];
            outcome.exit = ExitKind::TimedOut;
        }
        let tasks = vec![
            task(&old, "j0.d", 0, "a1", 0, 1, vec![], p()),
            task(
                &old,
                "j0.s0",
                0,
                "a1",
                1,
                5,
                vec![
                    result("A::ok", 0.1, TestStatus::Passed),
                    result("A::bad", 0.1, TestStatus::Failed),
                    result("A::err", 0.1, TestStatus::Error),
                    result("A::skip", 0.1, TestStatus::Skipped),
                ],
                p(),
            ),
            task(
                &old,
                "j0.s1",
                0,
                "a2",
                1,
                5,
                vec![result("B::ok", 0.1, TestStatus::Passed)],
                p(),
            ),
            crashed,
        ];
        let failed = failed_tests(&tasks);
        let names = |job: usize| failed[&job].iter().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(names(0), ["A::bad", "A::err"]);
        assert_eq!(names(1), ["T::x", "T::y"], "a shard whose runner failed reruns whole");
        assert_eq!(failed.len(), 2);

        let rerun = run_of(&old, Some(&failed), 9000, "s-1".into());
        assert_eq!(rerun.jobs.len(), 2);
        assert_eq!(
            rerun.jobs[0].only_tests.as_deref(),
            Some(&["A::bad".to_string(), "A::err".into()][..])
        );
        assert!(rerun
            .jobs
            .iter()
            .all(|j| j.state == JobState::Discovering && j.tests == 0));
        assert_eq!(
            (rerun.accepted_ms, rerun.verdict, rerun.finished_ms),
            (9000, None, None)
        );
        assert_eq!(
            (rerun.pipeline.clone(), rerun.project_dir.clone()),
            (old.pipeline.clone(), old.project_dir.clone())
        );
        assert_eq!(rerun.submission, "s-1");
        assert!(rerun.id.is_empty() && rerun.failed_tests.is_empty());

        let whole = run_of(&old, None, 9000, String::new());
        assert_eq!(whole.jobs.len(), old.jobs.len());
        assert!(whole.jobs.iter().all(|j| j.only_tests.is_none()));
    }
}
