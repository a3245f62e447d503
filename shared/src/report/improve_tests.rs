use super::*;
use crate::report::testdata::{demo, slots, T0};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn report_of(edit: impl FnOnce(&mut Vec<crate::model::Task>)) -> RunReport {
    let (run, mut tasks) = demo("r7", T0);
    edit(&mut tasks);
    RunReport::build(&run, &tasks, &slots())
}

fn set(tasks: &mut [crate::model::Task], test: &str, secs: f64) {
    for t in tasks.iter_mut() {
        for r in t.outcome.as_mut().map(|o| o.results.iter_mut()).into_iter().flatten() {
            if r.id == test {
                r.duration_secs = secs;
            }
        }
    }
}

fn kinds(items: &[Improvement]) -> Vec<(&str, f64)> {
    items.iter().map(|i| (i.kind.as_str(), i.saves_secs)).collect()
}

#[test]
fn a_class_that_bounds_the_run_should_be_split() {
    let r = report_of(|_| {});
    let items = rank(Some(&r), None);
    // Class Api: 5 s on one slot; split, the bound is max(10 s / 3 slots, next unit
    // 2 s, its longest test 3 s) = 3.33 s. The tail: 4.85 idle slot-seconds / 3 lanes,
    // capped at 0.41 s over the bound. Discovery of `api` is 0.2 s of the path.
    let k = kinds(&items);
    assert_eq!(
        k.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        vec!["split", "tail", "discovery"]
    );
    assert!(close(k[0].1, 5.0 - 10.0 / 3.0));
    assert!(close(k[1].1, 0.41));
    assert!(close(k[2].1, 0.2));
    assert_eq!(
        items[0].title,
        "split class Api (api) — it alone bounds the run at 5.00 s"
    );
    assert!(
        items[0].why.contains("longest test in the class 3.00 s"),
        "{}",
        items[0].why
    );
    assert_eq!(items[0].rank, 1);
    assert_eq!(items[0].run_id.as_deref(), Some("r7"));
}

#[test]
fn a_work_bound_run_gets_capacity_with_the_waiting_job_and_its_labels() {
    let r = report_of(|tasks| {
        set(tasks, "Api::a", 1.0);
        set(tasks, "Api::b", 1.0);
    });
    // 7 s of tests over 3 slots = 2.33 s > longest unit 2 s (Api, u3): work-bound.
    // At ceil(7 / 2) = 4 slots the bound is max(1.75 s, 2 s) = 2 s.
    let items = rank(Some(&r), None);
    let cap = items.iter().find(|i| i.kind == "capacity").expect("capacity");
    assert!(close(cap.saves_secs, 7.0 / 3.0 - 2.0));
    assert!(cap
        .title
        .starts_with("add capacity: 1 more slot — the run is bound by its work, 7.00 s over 3 slots; unit waits"));
    assert!(cap
        .why
        .contains("shards of unit waited up to 2.14 s (mean 0.73 s) for an agent slot with labels os=linux"));
    assert!(items.iter().all(|i| i.kind != "split"));
}

#[test]
fn heavy_workspace_preparation_names_the_agents() {
    let r = report_of(|tasks| {
        let t = tasks.iter_mut().find(|t| t.id == "r7.j1.s1").unwrap();
        t.outcome.as_mut().unwrap().phases.prepare_secs = 1.0;
    });
    let items = rank(Some(&r), None);
    let prep = items.iter().find(|i| i.kind == "prepare").expect("prepare");
    // b: 1.0 s of 2.69 s of shard slot time; the 1 s spread over 3 slots.
    assert_eq!(prep.title, "workspace preparation is 37% of shard time on agents b");
    assert!(close(prep.saves_secs, 1.0 / 3.0));
}

#[test]
fn rules_that_find_nothing_yield_nothing() {
    assert!(rank(None, None).is_empty());
    // One agent, one slot, one task: no tail, no capacity advice, nothing to split
    // (the only test is the work), discovery not on the path.
    let (mut run, tasks) = demo("r7", T0);
    let only: Vec<_> = tasks.into_iter().filter(|t| t.id == "r7.j1.s1").collect();
    run.finished_ms = Some(T0 + 2400);
    let r = RunReport::build(&run, &only, &Default::default());
    assert_eq!(r.lanes.len(), 1);
    let items = rank(Some(&r), None);
    assert!(items.is_empty(), "{items:?}");
}

#[test]
fn shards_whose_run_phase_is_mostly_the_runner_get_that_named_first() {
    // Every shard's run phase is 10 s longer than its tests: the runner's own
    // overhead (MediaWiki's bootstrap, paid per shard) dominates the run.
    let r = report_of(|tasks| {
        for t in tasks.iter_mut() {
            if let (crate::model::Work::Shard(_), Some(o)) = (&t.work, t.outcome.as_mut()) {
                o.phases.run_secs += 10.0;
            }
        }
    });
    let items = rank(Some(&r), None);
    assert_eq!(items[0].kind, "runner", "{:?}", kinds(&items));
    let shards = &r.phases.shards;
    assert!(
        shards.runner_secs >= 10.0 * f64::from(shards.tasks) - 1e-9,
        "{shards:?}"
    );
    let slots = f64::from(r.efficiency.slots);
    let per_shard = shards.runner_secs / f64::from(shards.tasks);
    assert!(close(
        items[0].saves_secs,
        (shards.runner_secs - per_shard * slots.min(f64::from(shards.tasks))) / slots
    ));
    assert!(
        items[0].title.starts_with("cut the runner's own overhead"),
        "{}",
        items[0].title
    );
}

#[test]
fn shards_already_in_phpunit_workers_are_not_told_to_use_workers() {
    // The same overhead, but every shard ran in a worker (bootstrapped once per
    // slot): what is left is the shards' own loading, which a serial run pays too.
    let r = report_of(|tasks| {
        for t in tasks.iter_mut() {
            if let (crate::model::Work::Shard(_), Some(o)) = (&t.work, t.outcome.as_mut()) {
                o.phases.run_secs += 10.0;
                o.usage.worker_warm = Some(true);
            }
        }
    });
    assert_eq!(r.phases.shards.worker_tasks, r.phases.shards.tasks);
    let items = rank(Some(&r), None);
    assert!(!items.iter().any(|i| i.kind == "runner"), "{:?}", kinds(&items));
}
