use std::time::Duration;

use super::*;
use crate::report::testdata::{demo, slots, T0};
use crate::task::TestStatus;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The demo run with `u2` passing or failing, `u1` failing or not, `u3` taking `u3`
/// seconds, and the given env.
fn variant(n: u64, u2_fails: bool, u1_fails: bool, u3: f64, env: &[(&str, &str)]) -> (Run, Vec<Task>) {
    let (mut run, mut tasks) = demo(&format!("r{n}"), T0 + n * 100_000);
    run.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for t in &mut tasks {
        for r in t.outcome.as_mut().map(|o| o.results.iter_mut()).into_iter().flatten() {
            match r.id.as_str() {
                "u1" if u1_fails => r.status = TestStatus::Failed,
                "u2" if !u2_fails => r.status = TestStatus::Passed,
                "u3" => r.duration_secs = u3,
                _ => {}
            }
        }
    }
    (run, tasks)
}

/// Profiles folded from the runs in order, as the state machine folds them.
fn profiles_of(runs: &[(Run, Vec<Task>)]) -> Vec<ProfileEntry> {
    let mut map: BTreeMap<(String, String), TestProfile> = BTreeMap::new();
    for (run, tasks) in runs {
        for t in tasks {
            for r in t.outcome.iter().flat_map(|o| o.results.iter()) {
                let stage = run.jobs[t.job].spec.stage.clone();
                map.entry((stage, r.id.clone()))
                    .or_default()
                    .record(Some(Duration::from_secs_f64(r.duration_secs)), r.status.is_failure());
            }
        }
    }
    map.into_iter()
        .map(|((stage, test), profile)| ProfileEntry { stage, test, profile })
        .collect()
}

fn five_runs() -> Vec<(Run, Vec<Task>)> {
    let fail = [("QUICKSTART_FAIL", "1")];
    let mut runs = vec![
        variant(1, true, false, 2.0, &[]),
        variant(2, false, false, 2.0, &[]),
        variant(3, true, false, 2.0, &[]),
        variant(4, false, false, 5.0, &[]),
        // Another environment: u1's failure here is not flakiness.
        variant(5, false, true, 5.0, &fail),
    ];
    // A run of another project is not read.
    let (mut other, tasks) = variant(6, true, true, 9.0, &[]);
    other.pipeline.project = "other".into();
    runs.push((other, tasks));
    runs
}

fn report(opts: &ProfileOptions) -> ProfileReport {
    let runs = five_runs();
    let profiles = profiles_of(&runs[..5]);
    ProfileReport::build("demo", &profiles, &runs, &slots(), opts)
}

#[test]
fn time_per_stage_extension_and_class_is_the_mean_per_run() {
    let p = report(&ProfileOptions::default());
    let ids: Vec<&str> = p.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, vec!["r1", "r2", "r3", "r4", "r5"]);
    assert_eq!(p.tests, 6);
    // unit: 1 + 1.5 + u3 + 0.5 → 5, 5, 5, 8, 8; api: 5 every run.
    let stages: Vec<(&str, f64)> = p.stages.iter().map(|s| (s.name.as_str(), s.secs_per_run)).collect();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].0, "unit");
    assert!(close(stages[0].1, 6.2) && close(stages[1].1, 5.0));
    assert!(close(p.stages[0].share, 6.2 / 11.2));
    assert_eq!(p.stages[0].tests, 4);
    assert_eq!((p.extensions.len(), p.extensions[0].name.as_str()), (1, "(none)"));
    let api = p.classes.iter().find(|c| c.name == "Api").expect("class Api");
    assert_eq!((api.stage.as_str(), api.tests), ("api", 2));
    assert!(close(api.secs_per_run, 5.0));
}

#[test]
fn wall_percentiles_over_runs_and_jobs() {
    let p = report(&ProfileOptions::default());
    assert_eq!(p.run_wall.count, 5);
    assert!(close(p.run_wall.p50, 5.41) && close(p.run_wall.p99, 5.41));
    let api = p.jobs.iter().find(|j| j.job == "api").expect("job api");
    assert!(close(api.wall.p50, 5.3) && close(api.test_secs_mean, 5.0));
    assert_eq!(api.wall.count, 5);
    // Only the newest `recent_runs` are read.
    let p = report(&ProfileOptions {
        recent_runs: 2,
        ..ProfileOptions::default()
    });
    assert_eq!(p.runs.len(), 2);
    assert_eq!(p.runs[0].run_id, "r4");
}

#[test]
fn a_test_twice_as_slow_as_its_median_is_a_trend_since_the_run_it_started() {
    let p = report(&ProfileOptions::default());
    assert_eq!(p.trends.len(), 1, "{:?}", p.trends);
    let t = &p.trends[0];
    assert_eq!((t.stage.as_str(), t.test.as_str()), ("unit", "u3"));
    assert!(close(t.median_secs, 2.0) && close(t.now_secs, 5.0) && close(t.ratio, 2.5));
    assert_eq!(t.slow_samples, 2);
    assert_eq!(t.since_run.as_deref(), Some("r4"));
}

#[test]
fn flaky_means_passed_and_failed_with_the_same_pipeline_directory_and_env() {
    let p = report(&ProfileOptions::default());
    assert_eq!(p.flaky.len(), 1, "{:?}", p.flaky);
    let f = &p.flaky[0];
    assert_eq!(
        (f.job.as_str(), f.test.as_str(), f.runs, f.failed),
        ("unit", "u2", 4, 2)
    );
    assert_eq!(f.failed_runs, vec!["r1", "r3"]);
}

#[test]
fn stable_tests_have_no_failure_in_their_last_n_runs() {
    let p = report(&ProfileOptions {
        stable_runs: 3,
        ..ProfileOptions::default()
    });
    let stable: Vec<&str> = p.stable.iter().map(|s| s.test.as_str()).collect();
    // u1 failed in r5, u2 in r3; the rest never failed. Most expensive first.
    assert_eq!(stable, vec!["u3", "Api::a", "Api::b", "u4"]);
    assert_eq!(p.stable_count, 4);
    assert_eq!(p.stable[0].runs_without_failure, 5);
    assert!(close(p.stable[0].ewma_secs, 4.25));
    assert_eq!(report(&ProfileOptions::default()).stable_count, 0);
}

#[test]
fn improvements_come_from_the_latest_run_and_the_profile() {
    let p = report(&ProfileOptions::default());
    let kinds: Vec<(&str, f64)> = p.improvements.iter().map(|i| (i.kind.as_str(), i.saves_secs)).collect();
    // flaky u2: 2 of 4 runs × p50 wall 5.41 s; regression u3: 3 s extra over 3 slots;
    // tail of r5: b/0 idle 5.4 − 2.95 = 2.45 s and a/1 2.4 s, over 3 slots, capped
    // at the run's 0.41 s over its bound (5.0 s: class Api and u3 tie at 5 s).
    assert_eq!(kinds[0].0, "flaky");
    assert!(close(kinds[0].1, 0.5 * 5.41));
    assert_eq!(kinds[1].0, "regression");
    assert!(close(kinds[1].1, 1.0));
    assert!(p.improvements[1]
        .title
        .contains("u3 (unit) is 2.5× slower since run r4"));
    assert_eq!(kinds[2].0, "tail");
    assert!(close(kinds[2].1, 0.41));
    let ranks: Vec<u32> = p.improvements.iter().map(|i| i.rank).collect();
    assert_eq!(ranks, (1..=p.improvements.len() as u32).collect::<Vec<_>>());
    assert!(p.improvements.windows(2).all(|w| w[0].saves_secs >= w[1].saves_secs));
}
