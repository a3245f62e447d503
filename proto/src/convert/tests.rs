//! Every domain value survives the wire: domain → message → domain is the identity,
//! over values with every optional part set and every variant of every enum.

use std::collections::BTreeMap;

use testfarm_shared::config::{parse_pipeline, Limits, RunMode};
use testfarm_shared::model::{self, Counts, Job, JobState, Mode, Run, Task, TaskState, Verdict, Work};
use testfarm_shared::task::{ExitKind, TaskKind, TaskOutcome, TaskSpec, TestResult, TestStatus};
use testfarm_shared::{install, matrix, phpunit, plan, quarantine, runtime, select, service, workspace};

use super::*;
use crate as wire;

fn phpunit() -> phpunit::Phpunit {
    phpunit::Phpunit {
        command: "php vendor/bin/phpunit".into(),
        config: "phpunit.xml.dist".into(),
        testsuite: Some("core:unit".into()),
        group: vec!["Database".into()],
        exclude_group: vec!["Broken".into()],
        workers: true,
    }
}

fn spec(kind: TaskKind) -> TaskSpec {
    TaskSpec {
        run_id: "r7".into(),
        task_id: "r7.j1.s2".into(),
        project: "mediawiki".into(),
        stage: "unit".into(),
        job_name: "unit[db=mysql]".into(),
        cell: BTreeMap::from([("db".into(), "mysql".into())]),
        project_dir: "/srv/mw".into(),
        env: BTreeMap::from([("A".into(), "1".into()), ("B".into(), "two".into())]),
        limits: Limits {
            cpu: Some(1.5),
            memory_bytes: Some(1 << 30),
            pids: None,
            timeout: std::time::Duration::from_millis(90_500),
        },
        kind,
        trace_parent: "00-abc-def-01".into(),
        runtime: runtime::Runtime {
            executor: runtime::ExecutorKind::Docker,
            image: Some("php82".into()),
            network: Some(runtime::Network::None),
            // Not a valid pipeline (an image always isolates), but the wire keeps it.
            isolation: runtime::Isolation::None,
        },
        workspace: Some(workspace::Workspace {
            repos: vec![workspace::Checkout {
                name: "core".into(),
                path: ".".into(),
                url: "file:///r/core".into(),
                commit: "a".repeat(40),
            }],
            patch: Some("--- a/x\n+++ b/x\n".into()),
        }),
        services: service::Service::ALL.to_vec(),
        install: Some(install::Install {
            command: "php maintenance/install.php".into(),
            key: "0123456789abcdef".into(),
        }),
        tools: vec!["php".into(), "git".into()],
    }
}

fn round_trip_spec(s: TaskSpec) {
    let back = TaskSpec::try_from(wire::TaskSpec::from(&s)).unwrap();
    assert_eq!(back, s);
}

#[test]
fn a_task_spec_of_every_kind_and_mode_survives_the_wire() {
    round_trip_spec(spec(TaskKind::Discover {
        command: "ls".into(),
        phpunit: Some(phpunit()),
    }));
    for mode in [
        RunMode::Junit { command: "run".into() },
        RunMode::Each {
            command: "sh $FARM_TEST_ID".into(),
        },
        RunMode::Phpunit(phpunit()),
    ] {
        round_trip_spec(spec(TaskKind::Shard {
            mode,
            tests: vec!["A::b".into(), "A::c with data set #1".into()],
            estimate_secs: 2.25,
        }));
    }
    let mut bare = spec(TaskKind::Discover {
        command: "ls".into(),
        phpunit: None,
    });
    bare.workspace = None;
    bare.install = None;
    bare.services.clear();
    bare.runtime = runtime::Runtime::default();
    round_trip_spec(bare);
}

fn outcome(exit: ExitKind) -> TaskOutcome {
    let mut o = TaskOutcome::new(
        exit,
        vec!["t1".into()],
        [
            TestStatus::Passed,
            TestStatus::Failed,
            TestStatus::Error,
            TestStatus::Skipped,
            TestStatus::Missing,
            TestStatus::TimedOut,
            TestStatus::MemoryLimit,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, status)| TestResult {
            id: format!("T::t{i}"),
            status,
            duration_secs: i as f64 / 8.0,
            message: if i > 0 { "why".into() } else { String::new() },
        })
        .collect(),
    );
    o.phases.prepare_secs = 0.5;
    o.phases.run_secs = 3.0;
    o.usage.cpu_secs = 2.5;
    o.usage.peak_pids = 12;
    o.usage.executor = "sandbox".into();
    o.usage.install_warm = Some(true);
    o.log_path = "/w/log.txt".into();
    o.log_tail = "last line".into();
    o.sent_at_ms = 42;
    o
}

#[test]
fn an_outcome_of_every_exit_and_status_survives_the_wire() {
    for exit in [
        ExitKind::Exited { code: 3 },
        ExitKind::Signalled { signal: 9 },
        ExitKind::TimedOut,
        ExitKind::MemoryLimit,
        ExitKind::Infrastructure {
            message: "no docker".into(),
        },
    ] {
        let o = outcome(exit);
        assert_eq!(TaskOutcome::try_from(wire::TaskOutcome::from(&o)).unwrap(), o);
    }
}

const PIPELINE: &str = r#"
pipeline: mw
project: mediawiki
matrix:
  db: [sqlite, mysql]
  php: ["8.2"]
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
    limits: { cpu: 2, memory: 1GiB, timeout: 10m }
  shell:
    discover: ls tests
    each: sh tests/$FARM_TEST_ID
    image: base
    split: class
"#;

fn run() -> Run {
    let pipeline = parse_pipeline(PIPELINE, "farm.yaml").unwrap();
    let spec = matrix::JobSpec {
        stage: "unit".into(),
        cell: BTreeMap::from([("db".into(), "sqlite".into())]),
        labels: BTreeMap::from([("php".into(), "8.2".into())]),
    };
    let job = |state, left_out, planned_with, only_tests| Job {
        spec: spec.clone(),
        state,
        tests: 10,
        shards: 2,
        left_out,
        planned_with,
        only_tests,
    };
    Run {
        id: "r7".into(),
        mode: Mode::Select,
        submitter: "ci".into(),
        pipeline,
        project_dir: "/srv/mw".into(),
        env: BTreeMap::from([("X".into(), "y".into())]),
        jobs: vec![
            job(JobState::Discovering, None, None, None),
            job(
                JobState::Planned,
                Some(select::LeftOut {
                    tests: 5,
                    with_failures: 1,
                    expected_failures: 0.25,
                    repos: vec!["Echo".into()],
                    kept_by: select::Reason::ALL.into_iter().zip(1..).collect(),
                    expected_recall: Some(0.97),
                }),
                Some(plan::RunnerCost {
                    overhead_secs: 0.15,
                    spread: 0.1,
                }),
                Some(vec!["A::b".into()]),
            ),
            job(JobState::Discovered, None, None, None),
        ],
        max_lost: 2,
        accepted_ms: 1000,
        finished_ms: Some(5000),
        verdict: Some(Verdict::Cancelled),
        message: "cancelled: superseded".into(),
        counts: Counts {
            tasks_total: 3,
            tasks_done: 2,
            tests_total: 10,
            tests_passed: 7,
            tests_failed: 1,
            tests_skipped: 1,
            tasks_lost: 1,
            tests_excused: 1,
        },
        failed_tests: vec!["unit[db=sqlite] A::c".into()],
        selection: select::Selection {
            changed_files: vec!["includes/Title.php".into()],
            repos: vec!["Echo".into()],
            filter: Some("Title".into()),
            pick: Some(select::Pick {
                classes: vec!["titletest".into()],
                expected_recall: 0.99,
                left_out_files: 12,
            }),
        },
        patch: Some("diff".into()),
        tree: "f00d".into(),
        submission: "s-1".into(),
        quarantine: vec![quarantine::Entry {
            test: "A::d".into(),
            reason: "flaky".into(),
            by: "ops".into(),
            since_ms: 900,
        }],
        excused: vec![quarantine::Excused {
            name: "unit[db=sqlite] A::d".into(),
            entry: "A::d".into(),
        }],
        compacted: true,
    }
}

fn task(work: Work, state: TaskState, outcome: Option<TaskOutcome>) -> Task {
    Task {
        id: "r7.j1.s0".into(),
        run_id: "r7".into(),
        job: 1,
        work,
        state,
        attempt: 2,
        lost_on: vec!["a1".into()],
        queued_ms: 1100,
        leased_ms: Some(1200),
        finished_ms: outcome.as_ref().map(|_| 3000),
        done_by: outcome.as_ref().map(|_| "a2".to_string()),
        outcome,
    }
}

#[test]
fn a_run_record_survives_the_wire() {
    let shard = Work::Shard(plan::PlannedShard {
        tests: vec!["A::b".into(), "A::c".into()],
        estimates: vec![0.5, 1.5],
        estimate_secs: 2.0,
    });
    let tasks = vec![
        task(
            Work::Discover,
            TaskState::Done,
            Some(outcome(ExitKind::Exited { code: 0 })),
        ),
        task(shard.clone(), TaskState::Queued, None),
        task(
            shard.clone(),
            TaskState::Leased {
                agent: "a2".into(),
                since_ms: 1200,
            },
            None,
        ),
        task(shard, TaskState::Cancelled, None),
    ];
    let mut r = run();
    let wire = run::record(&r, &tasks, "ab".repeat(16));
    assert_eq!(wire.run.as_ref().unwrap().jobs[0].display_name, "unit[db=sqlite]");
    let back = run::from_record(wire).unwrap();
    assert_eq!(back.run, r);
    assert_eq!(back.tasks, tasks);
    assert_eq!(back.trace_id, "ab".repeat(16));
    // A run still going: no verdict, no finish.
    (r.verdict, r.finished_ms, r.mode) = (None, None, model::Mode::Gate);
    let back = run::from_record(run::record(&r, &[], String::new())).unwrap();
    assert_eq!(back.run, r);
}

#[test]
fn a_message_missing_a_part_or_with_an_unknown_value_is_named() {
    let s = spec(TaskKind::Discover {
        command: "ls".into(),
        phpunit: None,
    });
    let mut m = wire::TaskSpec::from(&s);
    m.kind = None;
    assert_eq!(TaskSpec::try_from(m).unwrap_err().to_string(), "kind: missing");
    let mut m = wire::TaskSpec::from(&s);
    m.services = vec![99];
    assert_eq!(
        TaskSpec::try_from(m).unwrap_err().to_string(),
        "services: unknown value 99"
    );
    let mut o = wire::TaskOutcome::from(&outcome(ExitKind::TimedOut));
    o.results[3].status = 42;
    assert_eq!(
        TaskOutcome::try_from(o).unwrap_err().to_string(),
        "results.3.status: unknown value 42"
    );
    let mut o = wire::TaskOutcome::from(&outcome(ExitKind::TimedOut));
    o.results[2].duration_secs = -1.0;
    assert_eq!(
        TaskOutcome::try_from(o).unwrap_err().to_string(),
        "results.2.duration_secs: not a finite, non-negative number of seconds"
    );
    let mut o = wire::TaskOutcome::from(&outcome(ExitKind::TimedOut));
    o.phases.as_mut().unwrap().run_secs = f64::NAN;
    assert_eq!(
        TaskOutcome::try_from(o).unwrap_err().to_string(),
        "phases.run_secs: not a finite, non-negative number of seconds"
    );
    let mut rec = run::record(&run(), &[], String::new());
    rec.run.as_mut().unwrap().jobs[2].state = 17;
    assert_eq!(
        run::from_record(rec).unwrap_err().to_string(),
        "run.jobs.2.state: unknown value 17"
    );
}
