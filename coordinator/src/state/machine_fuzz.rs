//! The state machine under random commands — what a Forward (any command, from the
//! network), a report (any outcome) or a replay can hand it: runs accepted, leased,
//! completed with random outcomes, lost, planned with random shards, cancelled,
//! drained, quarantined, in any order and for ids that may not exist. Apply must
//! never panic and never fail; a command that does not fit is ignored or rejected.
//! And raw bytes where a command or a report is expected decode to an error, never a
//! panic. `FARM_FUZZ_CASES` sets the sequences (default 64 of up to 123 commands).

use proptest::prelude::*;
use testfarm_shared::plan::PlannedShard;
use testfarm_shared::task::TestResult;

use super::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("FARM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const PIPELINE: &str = "pipeline: p\nmatrix:\n  db: [a, b]\nstages:\n  unit:\n    discover: ls\n    each: \"true\"\n  whole:\n    discover: ls\n    run: \"true\"\n    split: class\n";

fn run(jobs: usize) -> Run {
    let pipeline = testfarm_shared::config::parse_pipeline(PIPELINE, "farm.yaml").unwrap();
    let mut specs = testfarm_shared::matrix::expand(&pipeline, &[]).unwrap();
    specs.truncate(jobs);
    Run {
        max_lost: 1,
        accepted_ms: 1000,
        ..Run::submitted(Mode::Gate, "fuzz", pipeline, "/tmp", specs)
    }
}

fn run_id() -> impl Strategy<Value = String> {
    prop_oneof![9 => (1u64..5).prop_map(|i| format!("r{i}")), 1 => ".{0,6}"]
}

fn task_id() -> impl Strategy<Value = String> {
    let kind = prop_oneof![Just("d".to_string()), (0u32..4).prop_map(|s| format!("s{s}"))];
    prop_oneof![
        9 => (1u64..5, 0usize..3, kind).prop_map(|(r, j, k)| format!("r{r}.j{j}.{k}")),
        1 => ".{0,12}",
    ]
}

fn agent() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a1".to_string(), "a2".to_string(), String::new()])
}

fn test_id() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "C::m", "C::m with data set #1", "C::n", ""]).prop_map(String::from)
}

fn status() -> impl Strategy<Value = TestStatus> {
    prop::sample::select(vec![
        TestStatus::Passed,
        TestStatus::Failed,
        TestStatus::Error,
        TestStatus::Skipped,
        TestStatus::Missing,
        TestStatus::TimedOut,
        TestStatus::MemoryLimit,
    ])
}

fn exit() -> impl Strategy<Value = ExitKind> {
    prop_oneof![
        8 => Just(ExitKind::Exited { code: 0 }),
        2 => (-2i32..3).prop_map(|code| ExitKind::Exited { code }),
        1 => Just(ExitKind::Signalled { signal: 9 }),
        1 => Just(ExitKind::TimedOut),
        1 => Just(ExitKind::MemoryLimit),
        1 => ".{0,8}".prop_map(|message| ExitKind::Infrastructure { message }),
    ]
}

/// Seconds as a report may carry them: mostly sane, sometimes negative, NaN or infinite.
fn seconds() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 0.0f64..10.0,
        1 => -1.0f64..0.0,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn outcome() -> impl Strategy<Value = TaskOutcome> {
    (
        exit(),
        prop::collection::vec(test_id(), 0..6),
        prop::collection::vec((test_id(), status(), seconds()), 0..6),
        seconds(),
    )
        .prop_map(|(exit, discovered, results, run_secs)| {
            let results = results
                .into_iter()
                .map(|(id, status, duration_secs)| TestResult {
                    id,
                    status,
                    duration_secs,
                    message: String::new(),
                })
                .collect();
            let mut o = TaskOutcome::new(exit, discovered, results);
            o.phases.run_secs = run_secs;
            o
        })
}

fn shard() -> impl Strategy<Value = PlannedShard> {
    (
        prop::collection::vec(test_id(), 0..4),
        prop::collection::vec(0.0f64..3.0, 0..4),
    )
        .prop_map(|(tests, estimates)| PlannedShard {
            estimate_secs: estimates.iter().sum(),
            tests,
            estimates,
        })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (0usize..4).prop_map(|jobs| Command::AcceptRun { run: Box::new(run(jobs)) }),
        4 => (task_id(), agent(), 0u64..10_000).prop_map(|(task_id, agent, now_ms)| Command::LeaseTask { task_id, agent, now_ms }),
        2 => (prop::collection::vec((task_id(), agent()), 0..5), 0u64..10_000).prop_map(|(picks, now_ms)| Command::LeaseTasks {
            leases: picks.into_iter().map(|(task_id, agent)| LeasePick { task_id, agent }).collect(),
            now_ms,
        }),
        5 => (task_id(), agent(), 0u32..4, outcome(), 0u64..10_000).prop_map(|(task_id, agent, attempt, outcome, now_ms)| {
            Command::CompleteTask { task_id, agent, attempt, outcome: Box::new(outcome), now_ms }
        }),
        2 => (task_id(), agent()).prop_map(|(task_id, agent)| Command::LoseTask { task_id, agent, reason: "fuzz".into(), now_ms: 5 }),
        4 => (run_id(), 0usize..3, prop::collection::vec(shard(), 0..4)).prop_map(|(run_id, job, shards)| Command::PlanJob {
            run_id, job, shards, now_ms: 7, left_out: None, planned_with: None,
        }),
        1 => (1u64..12).prop_map(|r| Command::CancelRun { run_id: format!("r{r}"), reason: String::new(), now_ms: 9 }),
        1 => (agent(), any::<bool>()).prop_map(|(agent, drained)| Command::SetDrained { agent, drained }),
        1 => (test_id(), any::<bool>()).prop_map(|(test, add)| if add {
            Command::Quarantine {
                project: "p".into(),
                entry: testfarm_shared::quarantine::Entry { test, reason: String::new(), by: String::new(), since_ms: 1 },
            }
        } else {
            Command::Unquarantine { project: "p".into(), test }
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_commands_never_panic_or_fail_apply(commands in prop::collection::vec(command(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = StateMachine::open(Store::open(dir.path()).unwrap()).unwrap();
        // Runs r1..r3 first, so that the random ids mostly name real tasks.
        let runs = (1..4).map(|jobs| Command::AcceptRun { run: Box::new(run(jobs)) });
        for (i, command) in runs.chain(commands).enumerate() {
            let index = i as u64 + 1;
            prop_assert!(sm.apply(index, command).is_ok(), "apply at {index} failed");
            prop_assert_eq!(sm.applied(), index);
        }
        // What was committed reads back; the runs that ended have their verdict.
        sm.reload().unwrap();
        for run in sm.active_runs() {
            prop_assert!(run.finished_ms.is_none());
        }
        for id in ["r1", "r2", "r3"] {
            if let Some(run) = sm.run(id).unwrap() {
                prop_assert_eq!(run.finished_ms.is_some(), run.verdict.is_some(), "{}", id);
                prop_assert!(run.counts.tasks_done <= run.counts.tasks_total + run.counts.tasks_lost, "{:?}", run.counts);
            }
        }
    }

    #[test]
    fn random_bytes_are_no_command_and_no_report(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = crate::codec::decode::<Command>(&bytes);
        if let Ok(report) = <testfarm_proto::TaskReport as prost::Message>::decode(bytes.as_slice()) {
            if let Some(outcome) = report.outcome {
                let _ = TaskOutcome::try_from(outcome);
            }
        }
        if let Ok(spec) = <testfarm_proto::TaskSpec as prost::Message>::decode(bytes.as_slice()) {
            let _ = testfarm_shared::task::TaskSpec::try_from(spec);
        }
    }
}
