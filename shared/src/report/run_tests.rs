use super::*;
use crate::model::TaskState;
use crate::report::testdata::{demo, slots, T0};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn lane_ids(report: &RunReport) -> Vec<(String, u32, Vec<String>)> {
    report
        .lanes
        .iter()
        .map(|l| {
            let ids = l
                .tasks
                .iter()
                .map(|t| t.task_id.trim_start_matches("r7.").to_string())
                .collect();
            (l.agent.clone(), l.slot, ids)
        })
        .collect()
}

#[test]
fn tasks_are_packed_into_slot_lanes_per_agent() {
    let (run, tasks) = demo("r7", T0);
    let report = RunReport::build(&run, &tasks, &slots());
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        lane_ids(&report),
        vec![
            ("a".into(), 0, s(&["j0.d", "j0.s0"])),
            ("a".into(), 1, s(&["j1.s0"])),
            ("b".into(), 0, s(&["j1.d", "j1.s1", "j1.s2"])),
        ]
    );
    let shard = &report.lanes[0].tasks[1];
    assert!(close(shard.start_secs, 0.3) && close(shard.end_secs, 5.4));
    assert_eq!((shard.tests, shard.failed, shard.status.as_str()), (2, 0, "passed"));
    assert_eq!(report.lanes[1].tasks[0].status, "failed");
    assert!(close(report.lanes[2].busy_secs, 0.15 + 2.14 + 0.55));
}

#[test]
fn an_agent_with_more_known_slots_than_used_gets_empty_lanes() {
    let (run, tasks) = demo("r7", T0);
    let mut known = slots();
    known.insert("b".into(), 3);
    let report = RunReport::build(&run, &tasks, &known);
    assert_eq!(report.lanes.len(), 5);
    assert_eq!(report.efficiency.slots, 5);
    // Unknown slot counts: as many lanes as the busiest moment needed.
    let report = RunReport::build(&run, &tasks, &BTreeMap::new());
    assert_eq!(report.lanes.len(), 3);
}

#[test]
fn efficiency_is_measured_against_the_lower_bound() {
    let (run, tasks) = demo("r7", T0);
    let e = RunReport::build(&run, &tasks, &slots()).efficiency;
    assert!(close(e.total_test_secs, 10.0));
    assert_eq!(e.slots, 3);
    assert!(close(e.work_per_slot_secs, 10.0 / 3.0));
    // `api` keeps classes together, so the class Api (3 s + 2 s) is the longest unit.
    let unit = e.longest_unit.expect("a longest unit");
    assert_eq!(
        (unit.kind.as_str(), unit.name.as_str(), unit.job.as_str()),
        ("class", "Api", "api")
    );
    assert!(close(unit.secs, 5.0) && close(unit.next_secs, 2.0));
    assert_eq!(e.bound_by, Some(Bound::LongestUnit));
    assert!(close(e.lower_bound_secs, 5.0));
    assert!(close(e.wall_secs, 5.41));
    assert!(close(e.efficiency, 5.0 / 5.41));
    assert!(close(e.overhead_secs, 0.41));
}

#[test]
fn the_critical_path_walks_back_through_dependencies() {
    let (run, tasks) = demo("r7", T0);
    let report = RunReport::build(&run, &tasks, &slots());
    let path: Vec<(&str, Option<&str>, f64)> = report
        .critical_path
        .segments
        .iter()
        .map(|s| (s.kind.as_str(), s.task_id.as_deref(), s.secs))
        .collect();
    assert_eq!(
        path,
        vec![
            ("wait", None, 0.1),
            ("discover", Some("r7.j0.d"), 0.2),
            ("shard", Some("r7.j0.s0"), 5.1)
        ]
    );
    assert!(close(report.critical_path.secs, 5.4));
    let critical: Vec<&str> = report
        .lane_tasks()
        .filter(|(_, t)| t.critical)
        .map(|(_, t)| t.task_id.as_str())
        .collect();
    assert_eq!(critical, vec!["r7.j0.d", "r7.j0.s0"]);
}

#[test]
fn phases_add_up_per_kind_and_agent() {
    let (run, tasks) = demo("r7", T0);
    let report = RunReport::build(&run, &tasks, &slots());
    let s = &report.phases.shards;
    assert_eq!(s.tasks, 4);
    assert!(close(s.queued_secs, 2.2));
    assert!(close(s.prepare_secs, 0.25));
    assert!(close(s.start_secs, 0.06));
    assert!(close(s.run_secs, 10.0));
    assert!(close(s.upload_secs, 0.05));
    assert!(close(s.slot_secs, 10.49));
    assert!(close(s.other_secs, 0.13));
    assert_eq!(report.phases.discovery.tasks, 2);
    let a = &report.agents[0];
    assert_eq!((a.agent.as_str(), a.slots, a.tasks), ("a", 2, 3));
    assert!(close(a.shard_phases.prepare_secs, 0.15));
    assert!(close(a.prepare_share, 0.15 / 7.8));
}

#[test]
fn jobs_slowest_tests_and_failures_with_log_excerpts() {
    let (run, tasks) = demo("r7", T0);
    let report = RunReport::build(&run, &tasks, &slots());
    let unit = &report.jobs[1];
    assert_eq!((unit.name.as_str(), unit.tests, unit.shards), ("unit", 4, 3));
    assert_eq!((unit.passed, unit.failed, unit.skipped), (3, 1, 0));
    assert!(close(unit.test_secs, 5.0));
    assert!(close(unit.start_secs, 0.1) && close(unit.end_secs, 3.0) && close(unit.wall_secs, 2.9));
    assert!(close(unit.queued_max_secs, 2.14));
    assert!(close(unit.queued_mean_secs, 2.2 / 3.0));
    let slow: Vec<(&str, f64)> = report.slowest.iter().map(|t| (t.test.as_str(), t.secs)).collect();
    assert_eq!(&slow[..3], &[("Api::a", 3.0), ("Api::b", 2.0), ("u3", 2.0)]);
    assert_eq!(report.failures.len(), 1);
    let f = &report.failures[0];
    assert_eq!(f.test.as_deref(), Some("u2"));
    assert_eq!(
        (f.status.as_str(), f.agent.as_str(), f.task_id.as_str()),
        ("failed", "a", "r7.j1.s0")
    );
    assert_eq!(f.message, "expected 2");
    assert_eq!(f.log_excerpt, "--- u2\nboom");
}

#[test]
fn a_running_task_reaches_to_the_latest_event() {
    let (mut run, mut tasks) = demo("r7", T0);
    run.finished_ms = None;
    run.verdict = None;
    let last = tasks.iter_mut().find(|t| t.id == "r7.j0.s0").unwrap();
    last.state = TaskState::Leased {
        agent: "a".into(),
        since_ms: T0 + 300,
    };
    last.finished_ms = None;
    last.outcome = None;
    let report = RunReport::build(&run, &tasks, &slots());
    // The latest event is j1.s0's report at 3000.
    assert!(close(report.wall_secs, 3.0));
    let running = report.lane_tasks().find(|(_, t)| t.task_id == "r7.j0.s0").unwrap().1;
    assert_eq!(running.status, "running");
    assert!(close(running.end_secs, 3.0));
}

#[test]
fn runner_failures_without_a_failing_test_are_listed() {
    let (run, mut tasks) = demo("r7", T0);
    let t = tasks.iter_mut().find(|t| t.id == "r7.j1.s1").unwrap();
    t.outcome.as_mut().unwrap().exit = ExitKind::Signalled { signal: 9 };
    let report = RunReport::build(&run, &tasks, &slots());
    let runner = report
        .failures
        .iter()
        .find(|f| f.status == "runner")
        .expect("runner failure");
    assert_eq!(
        (runner.test.as_deref(), runner.message.as_str()),
        (None, "killed by signal 9")
    );
}
