use super::*;
use testfarm_shared::config::parse_pipeline;
use testfarm_shared::matrix::expand;
use testfarm_shared::task::TestResult;

const PIPELINE: &str = "pipeline: p\nstages:\n  unit:\n    discover: ls\n    each: \"true\"\n";

fn run() -> Run {
    let pipeline = parse_pipeline(PIPELINE, "farm.yaml").unwrap();
    let jobs = expand(&pipeline, &[]).unwrap();
    Run {
        max_lost: 1,
        accepted_ms: 1000,
        ..Run::submitted(Mode::Gate, "t", pipeline, "/tmp", jobs)
    }
}

fn outcome(discovered: &[&str], results: &[(&str, TestStatus, f64)]) -> Box<TaskOutcome> {
    Box::new(TaskOutcome::new(
        ExitKind::Exited { code: 0 },
        discovered.iter().map(|s| s.to_string()).collect(),
        results
            .iter()
            .map(|(id, status, secs)| TestResult {
                id: id.to_string(),
                status: *status,
                duration_secs: *secs,
                message: String::new(),
            })
            .collect(),
    ))
}

struct Harness {
    sm: StateMachine,
    index: u64,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let sm = StateMachine::open(Store::open(dir.path()).unwrap()).unwrap();
        Harness {
            sm,
            index: 0,
            _dir: dir,
        }
    }
    fn apply(&mut self, c: Command) -> Applied {
        self.index += 1;
        self.sm.apply(self.index, c).unwrap().0
    }
}

fn lease(h: &mut Harness, task: &str, agent: &str) -> u32 {
    match h.apply(Command::LeaseTask {
        task_id: task.into(),
        agent: agent.into(),
        now_ms: 2000,
    }) {
        Applied::Leased { attempt, .. } => attempt,
        other => panic!("not leased: {other:?}"),
    }
}

/// Leases job 0's discovery of `run_id` to a1 and reports `tests` from it.
fn discover(h: &mut Harness, run_id: &str, tests: &[&str]) {
    let d = format!("{run_id}.j0.d");
    let attempt = lease(h, &d, "a1");
    h.apply(Command::CompleteTask {
        task_id: d,
        agent: "a1".into(),
        attempt,
        outcome: outcome(tests, &[]),
        now_ms: 2500,
    });
}

/// Accepts a run, discovers a, b and plans them as one shard; returns the run id.
fn planned(h: &mut Harness) -> String {
    let Applied::RunAccepted { run_id } = h.apply(Command::AcceptRun { run: Box::new(run()) }) else {
        panic!()
    };
    discover(h, &run_id, &["a", "b"]);
    assert_eq!(h.sm.inventory(&run_id, 0).unwrap(), vec!["a", "b"]);
    let shard = PlannedShard {
        tests: vec!["a".into(), "b".into()],
        estimates: vec![1.0, 1.0],
        estimate_secs: 2.0,
    };
    assert_eq!(
        h.apply(Command::PlanJob {
            run_id: run_id.clone(),
            job: 0,
            shards: vec![shard],
            now_ms: 3000,
            left_out: None,
            planned_with: None,
        }),
        Applied::Planned
    );
    run_id
}

#[test]
fn a_run_goes_from_accepted_to_verdict_and_feeds_profiles() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    let s = format!("{run_id}.j0.s0");
    let attempt = lease(&mut h, &s, "a1");
    let done = h.apply(Command::CompleteTask {
        task_id: s.clone(),
        agent: "a1".into(),
        attempt,
        outcome: outcome(&[], &[("a", TestStatus::Passed, 0.5), ("b", TestStatus::Failed, 1.5)]),
        now_ms: 4000,
    });
    assert_eq!(done, Applied::Completed { applied: true });
    let run = h.sm.run(&run_id).unwrap().unwrap();
    assert_eq!(run.verdict, Some(Verdict::Failed));
    assert_eq!(run.failed_tests, vec!["unit b"]);
    let tasks = h.sm.run_tasks(&run_id).unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.state == TaskState::Done));
    let p: TestProfile = h.sm.store().get(&profile_key("p", "unit", "b")).unwrap().unwrap();
    assert_eq!(p.estimate(), Some(Duration::from_secs_f64(1.5)));
    assert!(p.failed_last());
    assert_eq!(h.sm.active_runs().count(), 0, "finished runs leave memory");
}

#[test]
fn a_second_report_is_acknowledged_but_not_applied() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    let s = format!("{run_id}.j0.s0");
    let attempt = lease(&mut h, &s, "a1");
    let report = Command::CompleteTask {
        task_id: s.clone(),
        agent: "a1".into(),
        attempt,
        outcome: outcome(&[], &[("a", TestStatus::Passed, 0.5), ("b", TestStatus::Passed, 0.5)]),
        now_ms: 4000,
    };
    assert_eq!(h.apply(report.clone()), Applied::Completed { applied: true });
    assert_eq!(h.apply(report), Applied::Completed { applied: false });
    let p: TestProfile = h.sm.store().get(&profile_key("p", "unit", "a")).unwrap().unwrap();
    assert_eq!(p.samples, 1);
    assert_eq!(h.sm.run(&run_id).unwrap().unwrap().counts.tests_passed, 2);
}

#[test]
fn only_the_holder_of_the_current_lease_reports() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    let s = format!("{run_id}.j0.s0");
    let first = lease(&mut h, &s, "a1");
    let report = |agent: &str, attempt: u32| Command::CompleteTask {
        task_id: s.clone(),
        agent: agent.into(),
        attempt,
        outcome: outcome(&[], &[("a", TestStatus::Passed, 0.5), ("b", TestStatus::Passed, 0.5)]),
        now_ms: 4000,
    };
    assert_eq!(
        h.apply(report("intruder", first)),
        Applied::ReportRefused(ReportRefused::OtherAgent { holder: "a1".into() })
    );
    assert_eq!(
        h.apply(report("a1", first + 1)),
        Applied::ReportRefused(ReportRefused::StaleAttempt { current: first })
    );
    // The lease is lost: a1's late report no longer counts, nor once a2 holds it.
    h.apply(Command::LoseTask {
        task_id: s.clone(),
        agent: "a1".into(),
        reason: "lease expired".into(),
        now_ms: 5000,
    });
    assert_eq!(
        h.apply(report("a1", first)),
        Applied::ReportRefused(ReportRefused::NotLeased { attempt: first })
    );
    let second = lease(&mut h, &s, "a2");
    assert_eq!(
        h.apply(report("a2", first)),
        Applied::ReportRefused(ReportRefused::StaleAttempt { current: second })
    );
    let run = h.sm.run(&run_id).unwrap().unwrap();
    assert_eq!(run.counts.tests_passed, 0, "no refused report put a result in the run");
    assert!(h
        .sm
        .store()
        .get::<TestProfile>(&profile_key("p", "unit", "a"))
        .unwrap()
        .is_none());
    assert_eq!(h.apply(report("a2", second)), Applied::Completed { applied: true });
    assert_eq!(h.sm.run(&run_id).unwrap().unwrap().counts.tests_passed, 2);
}

#[test]
fn replaying_applied_indexes_changes_nothing_and_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let run_id;
    {
        let mut sm = StateMachine::open(Store::open(dir.path()).unwrap()).unwrap();
        let (Applied::RunAccepted { run_id: id }, _) =
            sm.apply(1, Command::AcceptRun { run: Box::new(run()) }).unwrap()
        else {
            panic!()
        };
        run_id = id;
        let (again, _) = sm.apply(1, Command::AcceptRun { run: Box::new(run()) }).unwrap();
        assert!(matches!(again, Applied::Ignored(_)));
    }
    let sm = StateMachine::open(Store::open(dir.path()).unwrap()).unwrap();
    assert_eq!(sm.applied(), 1);
    assert_eq!(sm.active_runs().count(), 1);
    assert_eq!(sm.queue().len(), 1);
    assert!(sm.task(&format!("{run_id}.j0.d")).is_some());
}

#[test]
fn lost_work_is_retried_then_ends_the_run_naming_shard_and_agents() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    let s = format!("{run_id}.j0.s0");
    lease(&mut h, &s, "a1");
    assert_eq!(
        h.apply(Command::LoseTask {
            task_id: s.clone(),
            agent: "a1".into(),
            reason: "lease expired".into(),
            now_ms: 5000
        }),
        Applied::Lost
    );
    assert_eq!(h.sm.task(&s).unwrap().state, TaskState::Queued);
    // A loss reported by an agent that does not hold the lease is ignored.
    lease(&mut h, &s, "a2");
    assert!(matches!(
        h.apply(Command::LoseTask {
            task_id: s.clone(),
            agent: "a1".into(),
            reason: "x".into(),
            now_ms: 5100
        }),
        Applied::Ignored(_)
    ));
    h.apply(Command::LoseTask {
        task_id: s.clone(),
        agent: "a2".into(),
        reason: "lease expired".into(),
        now_ms: 6000,
    });
    let run = h.sm.run(&run_id).unwrap().unwrap();
    assert_eq!(run.verdict, Some(Verdict::Error));
    assert!(run.message.contains(&s), "{}", run.message);
    assert!(run.message.contains("a1, a2"), "{}", run.message);
}

#[test]
fn a_discovery_that_finds_nothing_is_an_error_not_a_pass() {
    let mut h = Harness::new();
    let Applied::RunAccepted { run_id } = h.apply(Command::AcceptRun { run: Box::new(run()) }) else {
        panic!()
    };
    discover(&mut h, &run_id, &[]);
    let run = h.sm.run(&run_id).unwrap().unwrap();
    assert_eq!(run.verdict, Some(Verdict::Error));
    assert!(run.message.contains("discovered no tests"));
}

#[test]
fn a_job_of_the_same_tree_listed_the_same_way_reuses_its_last_list() {
    let mut h = Harness::new();
    let accept = |h: &mut Harness, tree: &str| {
        let mut r = run();
        r.tree = tree.into();
        let Applied::RunAccepted { run_id } = h.apply(Command::AcceptRun { run: Box::new(r) }) else {
            panic!()
        };
        run_id
    };
    let first = accept(&mut h, "dir-1");
    discover(&mut h, &first, &["a", "b"]);

    // The same tree: discovered at once from the cache, no discovery task.
    let second = accept(&mut h, "dir-1");
    assert_eq!(h.sm.inventory(&second, 0).unwrap(), vec!["a", "b"]);
    assert!(h.sm.task(&format!("{second}.j0.d")).is_none(), "no discovery");
    assert_eq!(h.sm.run(&second).unwrap().unwrap().jobs[0].state, JobState::Discovered);

    // Another tree, or none said: discovered again.
    let third = accept(&mut h, "dir-2");
    assert!(h.sm.task(&format!("{third}.j0.d")).is_some());
    let fourth = accept(&mut h, "");
    assert!(h.sm.task(&format!("{fourth}.j0.d")).is_some());
}

#[test]
fn a_command_that_contradicts_itself_is_rejected_and_the_machine_goes_on() {
    let mut h = Harness::new();
    let mut bad = run();
    bad.jobs[0].spec.stage = "no-such-stage".into();
    let Applied::Rejected(reason) = h.apply(Command::AcceptRun { run: Box::new(bad) }) else {
        panic!("a job naming a stage the pipeline lacks is rejected")
    };
    assert!(reason.contains("no-such-stage"), "{reason}");
    assert_eq!(h.sm.active_runs().count(), 0, "nothing of it was kept");
    let before = h.sm.applied();
    let mut empty = run();
    empty.jobs.clear();
    assert!(matches!(
        h.apply(Command::AcceptRun { run: Box::new(empty) }),
        Applied::Rejected(_)
    ));
    assert!(
        h.sm.applied() > before,
        "a rejected command still moves the applied index"
    );
    // And the next good command is applied as ever.
    let run_id = planned(&mut h);
    assert!(h.sm.active_runs().any(|r| r.id == run_id));
}

#[test]
fn a_report_with_a_negative_or_nan_duration_is_rejected_and_the_task_stays_leased() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    let s = format!("{run_id}.j0.s0");
    let attempt = lease(&mut h, &s, "a1");
    for (secs, field) in [(-0.5, "results.1.duration_secs"), (f64::NAN, "results.1.duration_secs")] {
        let report = Command::CompleteTask {
            task_id: s.clone(),
            agent: "a1".into(),
            attempt,
            outcome: outcome(&[], &[("a", TestStatus::Passed, 0.1), ("b", TestStatus::Passed, secs)]),
            now_ms: 4000,
        };
        let Applied::Rejected(reason) = h.apply(report) else {
            panic!("a duration of {secs} s is rejected")
        };
        assert!(reason.contains(field), "{reason}");
    }
    let run = h.sm.run(&run_id).unwrap().unwrap();
    assert!(run.verdict.is_none(), "the run waits for a report it can use");
    assert!(
        h.sm.store()
            .get::<TestProfile>(&profile_key("p", "unit", "a"))
            .unwrap()
            .is_none(),
        "no profile took the rejected report's figures"
    );
    let good = Command::CompleteTask {
        task_id: s,
        agent: "a1".into(),
        attempt,
        outcome: outcome(&[], &[("a", TestStatus::Passed, 0.1), ("b", TestStatus::Passed, 0.2)]),
        now_ms: 4100,
    };
    assert_eq!(h.apply(good), Applied::Completed { applied: true });
}

#[test]
fn reload_drops_what_only_memory_held() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    h.sm.runs.get_mut(&run_id).unwrap().message = "half-done".into();
    h.sm.reload().unwrap();
    assert_eq!(h.sm.runs[&run_id].message, "", "the store's copy is back");
}

#[test]
fn a_submission_retried_is_the_run_it_became_even_after_a_restart() {
    let mut h = Harness::new();
    let named = |id: &str| Run {
        submission: id.into(),
        ..run()
    };
    let Applied::RunAccepted { run_id: first } = h.apply(Command::AcceptRun {
        run: Box::new(named("s-1")),
    }) else {
        panic!()
    };
    let Applied::SubmissionSeen { run_id: again } = h.apply(Command::AcceptRun {
        run: Box::new(named("s-1")),
    }) else {
        panic!()
    };
    assert_eq!(again, first, "the retry answers with the first run");
    assert_eq!(h.sm.active_runs().count(), 1, "and makes no second");
    // Another submission, and runs without an id, are runs of their own.
    let Applied::RunAccepted { run_id: other } = h.apply(Command::AcceptRun {
        run: Box::new(named("s-2")),
    }) else {
        panic!()
    };
    assert_ne!(other, first);
    for _ in 0..2 {
        h.apply(Command::AcceptRun { run: Box::new(run()) });
    }
    assert_eq!(h.sm.active_runs().count(), 4);
    // What a replica reloads from its store still knows the submission.
    let store = h.sm.store().clone();
    h.sm = StateMachine::open(store).unwrap();
    let Applied::SubmissionSeen { run_id: late } = h.apply(Command::AcceptRun {
        run: Box::new(named("s-1")),
    }) else {
        panic!()
    };
    assert_eq!(late, first);
}

#[test]
fn a_cancelled_run_ends_at_once_and_takes_no_result_after() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    let s = format!("{run_id}.j0.s0");
    let attempt = lease(&mut h, &s, "a1");
    let running = vec![s.clone()];
    assert!(h.sm.unwanted(&running).is_empty(), "a leased task is wanted");
    let cancel = Command::CancelRun {
        run_id: run_id.clone(),
        reason: "superseded by patch set 2".into(),
        now_ms: 3500,
    };
    assert_eq!(
        h.apply(cancel.clone()),
        Applied::Cancelled {
            cancelled: true,
            verdict: "cancelled".into()
        }
    );
    let run = h.sm.run(&run_id).unwrap().unwrap();
    assert_eq!(run.verdict, Some(Verdict::Cancelled));
    assert_eq!(run.message, "cancelled: superseded by patch set 2");
    assert_eq!(run.finished_ms, Some(3500));
    assert_eq!(h.sm.unwanted(&running), vec![&s], "its agent is told to stop it");
    // The shard's result arrives anyway: acknowledged, never applied.
    let late = h.apply(Command::CompleteTask {
        task_id: s.clone(),
        agent: "a1".into(),
        attempt,
        outcome: outcome(&[], &[("a", TestStatus::Failed, 0.5), ("b", TestStatus::Passed, 0.5)]),
        now_ms: 4000,
    });
    assert_eq!(late, Applied::Completed { applied: false });
    let run = h.sm.run(&run_id).unwrap().unwrap();
    assert_eq!((run.counts.tests_passed, run.counts.tests_failed), (0, 0));
    assert_eq!(run.verdict, Some(Verdict::Cancelled), "the verdict stands");
    let shard =
        h.sm.run_tasks(&run_id)
            .unwrap()
            .into_iter()
            .find(|t| t.id == s)
            .unwrap();
    assert_eq!(shard.state, TaskState::Cancelled);
    // Cancelling an ended run changes nothing and says so; an unknown one is ignored.
    assert_eq!(
        h.apply(cancel),
        Applied::Cancelled {
            cancelled: false,
            verdict: "cancelled".into()
        }
    );
    assert!(matches!(
        h.apply(Command::CancelRun {
            run_id: "r999".into(),
            reason: String::new(),
            now_ms: 5000
        }),
        Applied::Ignored(_)
    ));
}

#[test]
fn a_drain_is_replicated_state_that_outlives_a_restart() {
    let mut h = Harness::new();
    let drain = |drained| Command::SetDrained {
        agent: "a1".into(),
        drained,
    };
    assert_eq!(h.apply(drain(true)), Applied::Drained { was: false });
    assert_eq!(h.apply(drain(true)), Applied::Drained { was: true });
    assert!(h.sm.drained().contains("a1"));
    let store = h.sm.store().clone();
    h.sm = StateMachine::open(store).unwrap();
    assert!(h.sm.drained().contains("a1"), "reloaded from the store");
    assert_eq!(h.apply(drain(false)), Applied::Drained { was: true });
    let store = h.sm.store().clone();
    h.sm = StateMachine::open(store).unwrap();
    assert!(h.sm.drained().is_empty());
    let bad = Command::SetDrained {
        agent: String::new(),
        drained: true,
    };
    assert!(validate(&bad).is_err());
}

fn quarantine(test: &str) -> Command {
    Command::Quarantine {
        project: "p".into(),
        entry: testfarm_shared::quarantine::Entry {
            test: test.into(),
            reason: "flaky".into(),
            by: "ops".into(),
            since_ms: 500,
        },
    }
}

/// Runs the planned shard of `run_id` (a, b) to these statuses; the run after it.
fn run_shard(h: &mut Harness, run_id: &str, a: TestStatus, b: TestStatus) -> Run {
    let s = format!("{run_id}.j0.s0");
    let attempt = lease(h, &s, "a1");
    h.apply(Command::CompleteTask {
        task_id: s,
        agent: "a1".into(),
        attempt,
        outcome: outcome(&[], &[("a", a, 0.1), ("b", b, 0.1)]),
        now_ms: 4000,
    });
    h.sm.run(run_id).unwrap().unwrap()
}

/// Runs the planned shard of `run_id` with `a` failing and `b` passing.
fn a_fails(h: &mut Harness, run_id: &str) -> Run {
    run_shard(h, run_id, TestStatus::Failed, TestStatus::Passed)
}

#[test]
fn a_quarantined_failure_is_kept_but_does_not_fail_runs_accepted_after_the_quarantine() {
    let mut h = Harness::new();
    let before = planned(&mut h);
    assert_eq!(h.apply(quarantine("a")), Applied::Quarantined { was: false });
    assert_eq!(h.apply(quarantine("a")), Applied::Quarantined { was: true }, "replaced");
    let after = planned(&mut h);

    let run = a_fails(&mut h, &before);
    assert_eq!(
        run.verdict,
        Some(Verdict::Failed),
        "the run took the quarantine as it stood: none"
    );

    let run = a_fails(&mut h, &after);
    assert_eq!(run.verdict, Some(Verdict::Passed), "{}", run.message);
    assert_eq!(
        (
            run.counts.tests_failed,
            run.counts.tests_excused,
            run.counts.tests_passed
        ),
        (0, 1, 1)
    );
    assert_eq!(run.excused.len(), 1);
    assert_eq!(run.excused[0].entry, "a");
    assert!(run.failed_tests.is_empty());
    assert!(
        run.message.contains("1 quarantined test failed and did not count (a)"),
        "{}",
        run.message
    );
    let profile: TestProfile = h.sm.store().get(&profile_key("p", "unit", "a")).unwrap().unwrap();
    assert!(profile.failed_last(), "the failure still feeds the flaky history");

    // Out of quarantine again: the next run fails on it.
    assert_eq!(
        h.apply(Command::Unquarantine {
            project: "p".into(),
            test: "a".into()
        }),
        Applied::Quarantined { was: true }
    );
    assert!(h.sm.quarantine("p").unwrap().is_empty());
    let third = planned(&mut h);
    assert_eq!(a_fails(&mut h, &third).verdict, Some(Verdict::Failed));
}

#[test]
fn a_quarantine_survives_a_restart_and_a_bad_one_is_rejected() {
    let mut h = Harness::new();
    h.apply(quarantine("A::m"));
    h.sm.reload().unwrap();
    let all = h.sm.quarantines().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].0.as_str(), all[0].1.test.as_str()), ("p", "A::m"));
    let bad = Command::Quarantine {
        project: "../etc".into(),
        entry: testfarm_shared::quarantine::Entry {
            test: "x".into(),
            reason: String::new(),
            by: String::new(),
            since_ms: 0,
        },
    };
    assert!(matches!(h.apply(bad), Applied::Rejected(why) if why.starts_with("project:")));
    assert_eq!(h.sm.quarantines().unwrap().len(), 1);
}

#[test]
fn a_compacted_run_keeps_its_summary_and_drops_its_tasks_and_test_lists() {
    let mut h = Harness::new();
    let old = planned(&mut h);
    run_shard(&mut h, &old, TestStatus::Passed, TestStatus::Passed);
    let Applied::RunAccepted { run_id: named } = h.apply(Command::AcceptRun {
        run: Box::new(Run {
            submission: "s-9".into(),
            ..run()
        }),
    }) else {
        panic!()
    };
    h.apply(Command::CancelRun {
        run_id: named.clone(),
        reason: String::new(),
        now_ms: 4500,
    });
    assert!(h.sm.store().get::<String>("submission/s-9").unwrap().is_some());
    h.apply(Command::CompactRuns { run_ids: vec![named] });
    assert!(
        h.sm.store().get::<String>("submission/s-9").unwrap().is_none(),
        "a compacted run's submission id goes with it"
    );
    let active = planned(&mut h);
    assert_eq!(h.sm.run_tasks(&old).unwrap().len(), 2);
    assert_eq!(
        h.sm.finished_runs().unwrap(),
        [(old.clone(), 4000)],
        "only the finished, not compacted"
    );

    let applied = h.apply(Command::CompactRuns {
        run_ids: vec![old.clone(), active.clone(), "r404".into()],
    });
    assert_eq!(
        applied,
        Applied::Compacted { runs: 1 },
        "the active and the unknown are left"
    );
    let run = h.sm.run(&old).unwrap().unwrap();
    assert!(run.compacted);
    assert_eq!(run.verdict, Some(Verdict::Passed));
    assert_eq!(run.counts.tests_passed, 2, "the summary stays");
    assert!(h.sm.run_tasks(&old).unwrap().is_empty());
    assert!(h.sm.inventory(&old, 0).unwrap().is_empty());
    assert_eq!(h.sm.run_tasks(&active).unwrap().len(), 2);
    assert!(h.sm.finished_runs().unwrap().is_empty(), "compacted once");
    assert_eq!(
        h.apply(Command::CompactRuns { run_ids: vec![old] }),
        Applied::Compacted { runs: 0 }
    );
    let too_many = (0..201).map(|i| format!("r{i}")).collect();
    assert!(matches!(
        h.apply(Command::CompactRuns { run_ids: too_many }),
        Applied::Rejected(_)
    ));
}

/// A pass of the scheduler commits its leases as one entry: each is applied as a lone
/// lease would be, in order, so a task picked twice is leased once and the second is
/// ignored, and a task that is not queued is ignored without stopping the rest.
#[test]
fn many_leases_in_one_entry_apply_each_as_alone() {
    let mut h = Harness::new();
    let run_id = planned(&mut h);
    let other = planned(&mut h);
    let (s, t) = (format!("{run_id}.j0.s0"), format!("{other}.j0.s0"));
    let pick = |task: &str, agent: &str| LeasePick {
        task_id: task.into(),
        agent: agent.into(),
    };
    let applied = h.apply(Command::LeaseTasks {
        leases: vec![pick(&s, "a1"), pick(&s, "a2"), pick("r99.j0.s0", "a2"), pick(&t, "a3")],
        now_ms: 5000,
    });
    let Applied::LeasedMany(each) = applied else {
        panic!("{applied:?}")
    };
    assert!(matches!(each[0], Applied::Leased { attempt: 1, .. }), "{each:?}");
    assert!(matches!(each[1], Applied::Ignored(_)), "{each:?}");
    assert!(matches!(each[2], Applied::Ignored(_)), "{each:?}");
    assert!(matches!(each[3], Applied::Leased { attempt: 1, .. }), "{each:?}");
    let holder = |task: &str| match &h.sm.task(task).expect("active").state {
        TaskState::Leased { agent, since_ms } => (agent.clone(), *since_ms),
        other => panic!("{other:?}"),
    };
    assert_eq!(holder(&s), ("a1".to_string(), 5000));
    assert_eq!(holder(&t), ("a3".to_string(), 5000));
    // More than an entry may carry is rejected, and the machine goes on.
    let too_many = (0..=MAX_LEASES_PER_ENTRY)
        .map(|i| pick(&format!("r1.j0.s{i}"), "a1"))
        .collect();
    assert!(matches!(
        h.apply(Command::LeaseTasks {
            leases: too_many,
            now_ms: 6000
        }),
        Applied::Rejected(_)
    ));
}
