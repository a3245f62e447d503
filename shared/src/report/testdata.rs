//! Small hand-made records for the report tests: one run of a two-stage pipeline on
//! agents `a` (2 slots) and `b` (1 slot), with times chosen so every figure is known.
//!
//! Times are ms after acceptance (T0):
//! ```text
//! a/0  j0.d 100–300   j0.s0 300–5400  (Api::a 3.0 s, Api::b 2.0 s; class split)
//! a/1                 j1.s0 300–3000  (u1 1.0 s, u2 1.5 s FAILED)
//! b/0  j1.d 100–250   j1.s1 260–2400 (u3 2.0 s)   j1.s2 2400–2950 (u4 0.5 s)
//! ```
//! The verdict comes at 5410.

use std::collections::BTreeMap;

use crate::config::parse_pipeline;
use crate::matrix::expand;
use crate::model::{Counts, JobState, Mode, Run, Task, TaskState, Verdict, Work};
use crate::plan::PlannedShard;
use crate::task::{ExitKind, Phases, TaskOutcome, TestResult, TestStatus, Usage};

pub const T0: u64 = 1_000_000;

const PIPELINE: &str = r#"
pipeline: demo
stages:
  api:
    discover: ls api
    each: sh api/$FARM_TEST_ID
    split: class
  unit:
    discover: ls unit
    run: ./run-tests.sh
    labels: { os: linux }
"#;

pub fn run(id: &str, accepted_ms: u64) -> Run {
    let pipeline = parse_pipeline(PIPELINE, "farm.yaml").expect("pipeline");
    let jobs = expand(&pipeline, &[]).expect("jobs");
    let mut run = Run {
        id: id.into(),
        accepted_ms,
        finished_ms: Some(accepted_ms + 5410),
        verdict: Some(Verdict::Failed),
        message: "1 of 6 tests failed".into(),
        counts: Counts {
            tasks_total: 6,
            tasks_done: 6,
            tests_total: 6,
            tests_passed: 5,
            tests_failed: 1,
            ..Counts::default()
        },
        failed_tests: vec!["unit u2".into()],
        ..Run::submitted(Mode::Gate, "tester", pipeline, "/src/demo", jobs)
    };
    for job in &mut run.jobs {
        let api = job.spec.stage == "api";
        (job.tests, job.shards, job.state) = (if api { 2 } else { 4 }, if api { 1 } else { 3 }, JobState::Planned);
    }
    run
}

pub fn result(id: &str, secs: f64, status: TestStatus) -> TestResult {
    TestResult {
        id: id.into(),
        status,
        duration_secs: secs,
        message: if status.is_failure() {
            "expected 2".into()
        } else {
            String::new()
        },
    }
}

#[allow(clippy::too_many_arguments)]
pub fn task(
    run: &Run,
    name: &str,
    job: usize,
    agent: &str,
    lease: u64,
    end: u64,
    results: Vec<TestResult>,
    phases: Phases,
) -> Task {
    let t0 = run.accepted_ms;
    let work = if name.ends_with(".d") {
        Work::Discover
    } else {
        Work::Shard(PlannedShard {
            tests: results.iter().map(|r| r.id.clone()).collect(),
            estimates: results.iter().map(|_| 1.0).collect(),
            estimate_secs: results.len() as f64,
        })
    };
    let failed = results.iter().any(|r| r.status.is_failure());
    Task {
        id: format!("{}.{name}", run.id),
        run_id: run.id.clone(),
        job,
        work,
        state: TaskState::Done,
        attempt: 1,
        lost_on: Vec::new(),
        queued_ms: t0 + lease - (phases.queued_secs * 1000.0) as u64,
        leased_ms: Some(t0 + lease),
        finished_ms: Some(t0 + end),
        done_by: Some(agent.into()),
        outcome: Some(TaskOutcome {
            exit: ExitKind::Exited {
                code: i32::from(failed),
            },
            discovered: Vec::new(),
            log_tail: results
                .iter()
                .map(|r| format!("--- {}\n{}\n", r.id, if failed { "boom" } else { "ok" }))
                .collect(),
            results,
            phases,
            usage: Usage::default(),
            log_path: format!("/work/{name}.log"),
            sent_at_ms: t0 + end,
        }),
    }
}

pub fn phases(queued: f64, prepare: f64, start: f64, run: f64, upload: f64) -> Phases {
    Phases {
        queued_secs: queued,
        prepare_secs: prepare,
        start_secs: start,
        run_secs: run,
        upload_secs: upload,
    }
}

/// The run of the module docs and its six tasks.
pub fn demo(id: &str, accepted_ms: u64) -> (Run, Vec<Task>) {
    use TestStatus::{Failed, Passed};
    let run = run(id, accepted_ms);
    let tasks = vec![
        task(
            &run,
            "j0.d",
            0,
            "a",
            100,
            300,
            vec![],
            phases(0.1, 0.0, 0.05, 0.1, 0.01),
        ),
        task(
            &run,
            "j1.d",
            1,
            "b",
            100,
            250,
            vec![],
            phases(0.1, 0.0, 0.05, 0.08, 0.01),
        ),
        task(
            &run,
            "j0.s0",
            0,
            "a",
            300,
            5400,
            vec![result("Api::a", 3.0, Passed), result("Api::b", 2.0, Passed)],
            phases(0.0, 0.05, 0.02, 5.0, 0.01),
        ),
        task(
            &run,
            "j1.s0",
            1,
            "a",
            300,
            3000,
            vec![result("u1", 1.0, Passed), result("u2", 1.5, Failed)],
            phases(0.05, 0.1, 0.02, 2.5, 0.02),
        ),
        task(
            &run,
            "j1.s1",
            1,
            "b",
            260,
            2400,
            vec![result("u3", 2.0, Passed)],
            phases(0.01, 0.1, 0.01, 2.0, 0.01),
        ),
        task(
            &run,
            "j1.s2",
            1,
            "b",
            2400,
            2950,
            vec![result("u4", 0.5, Passed)],
            phases(2.14, 0.0, 0.01, 0.5, 0.01),
        ),
    ];
    (run, tasks)
}

pub fn slots() -> BTreeMap<String, u32> {
    BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 1)])
}
