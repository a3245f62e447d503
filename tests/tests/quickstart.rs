//! The quickstart pipeline (examples/quickstart) on a real coordinator and two real
//! agents: it passes with every test run exactly once, a switched-on failure fails
//! the run with the right names, and a second run is planned from the first run's
//! timings.

use std::collections::BTreeMap;

use serde_json::Value;
use testfarm_integration::quickstart::{assert_each_test_once, quickstart_yaml, stage_tests};
use testfarm_integration::record::{self, summary};
use testfarm_integration::{Farm, Options};

#[test]
fn quickstart_passes() {
    let mut farm = Farm::start("qs-pass", Options::default());
    let out = farm.submit(&quickstart_yaml(), &[]);
    let rec = out.json();
    assert_eq!(out.code, 0, "exit code; {}", summary(&rec));
    assert_eq!(record::verdict(&rec), "passed", "{}", summary(&rec));

    let n = assert_each_test_once(&rec);
    // 24 unit tests on two shells, 6 integration tests on one.
    let expected = 2 * stage_tests("unit").len() + stage_tests("integration").len();
    assert_eq!(n, expected);
    assert_eq!(record::count(&rec, "tests_total"), expected as u64);
    assert_eq!(record::count(&rec, "tests_passed"), expected as u64);
    assert_eq!(record::count(&rec, "tests_failed"), 0);
    assert!(
        record::results(&rec).iter().all(|r| r.status == "passed"),
        "{}",
        summary(&rec)
    );

    let shards = record::shard_tasks(&rec);
    assert!(!shards.is_empty());
    for t in &shards {
        let o = &t["outcome"];
        assert_eq!(t["state"]["state"], "done", "{}", t["id"]);
        assert_eq!(o["exit"]["kind"], "exited", "{}: {}", t["id"], o["exit"]);
        assert_eq!(o["exit"]["code"], 0, "{}: {}", t["id"], o["exit"]);
        assert_eq!(
            o["usage"]["cgroup"], true,
            "shard {} ran without a cgroup: {}",
            t["id"], o["usage"]
        );
        let run_secs = o["phases"]["run_secs"].as_f64().unwrap_or(0.0);
        assert!(run_secs > 0.0, "shard {} has run_secs {run_secs}", t["id"]);
    }
    eprintln!(
        "quickstart: {} tests in {} shards, `farm submit` took {:.2}s",
        n,
        shards.len(),
        out.elapsed.as_secs_f64()
    );
}

#[test]
fn failing_test_fails_the_run() {
    let mut farm = Farm::start("qs-fail", Options::default());
    let out = farm.submit(&quickstart_yaml(), &["--env", "QUICKSTART_FAIL=1"]);
    let rec = out.json();
    assert_eq!(out.code, 1, "exit code; {}", summary(&rec));
    assert_eq!(record::verdict(&rec), "failed", "{}", summary(&rec));
    assert_each_test_once(&rec);

    // test_checksum.sh fails in both unit cells; nothing else fails.
    let jobs = rec["run"]["jobs"].as_array().unwrap().len() as u64;
    let unit_jobs: Vec<u64> = (0..jobs)
        .filter(|&j| rec["run"]["jobs"][j as usize]["spec"]["stage"] == "unit")
        .collect();
    assert_eq!(unit_jobs.len(), 2);
    let mut want: Vec<String> = unit_jobs
        .iter()
        .map(|&j| format!("{} test_checksum.sh", record::job_name(&rec, j)))
        .collect();
    want.sort();
    let mut failed: Vec<String> = rec["run"]["failed_tests"]
        .as_array()
        .expect("failed_tests")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    failed.sort();
    assert_eq!(failed, want, "failed_tests");
    assert!(failed.iter().any(|f| f.contains("shell=sh")));
    assert!(failed.iter().any(|f| f.contains("shell=bash")));

    for r in record::results(&rec) {
        let should_fail = unit_jobs.contains(&r.job) && r.id == "test_checksum.sh";
        let want = if should_fail { "failed" } else { "passed" };
        assert_eq!(r.status, want, "{} in job {} ({})", r.id, r.job, r.task);
    }
    let total = record::count(&rec, "tests_total");
    assert_eq!(record::count(&rec, "tests_failed"), 2);
    assert_eq!(record::count(&rec, "tests_passed"), total - 2);
}

/// One shard's estimate against what its tests took.
struct ShardTiming {
    task: String,
    tests: usize,
    estimate: f64,
    actual: f64,
}

impl ShardTiming {
    fn error(&self) -> f64 {
        (self.estimate - self.actual).abs() / self.actual
    }
}

fn shard_timings(rec: &Value) -> Vec<ShardTiming> {
    record::shard_tasks(rec)
        .into_iter()
        .map(|t| ShardTiming {
            task: t["id"].as_str().unwrap().into(),
            tests: t["work"]["shard"]["tests"].as_array().unwrap().len(),
            estimate: t["work"]["shard"]["estimate_secs"].as_f64().unwrap(),
            actual: t["outcome"]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["duration_secs"].as_f64().unwrap())
                .sum(),
        })
        .collect()
}

fn print_timings(label: &str, timings: &[ShardTiming]) {
    eprintln!("{label}: shard  tests  estimate  actual  error");
    for s in timings {
        eprintln!(
            "  {:<12} {:>3}  {:>7.3}s  {:>6.3}s  {:>5.1}%",
            s.task,
            s.tests,
            s.estimate,
            s.actual,
            100.0 * s.error()
        );
    }
    let (e, a) = totals(timings);
    eprintln!(
        "  total            {e:>7.3}s  {a:>6.3}s  {:>5.1}%",
        100.0 * (e - a).abs() / a
    );
}

fn totals(timings: &[ShardTiming]) -> (f64, f64) {
    (
        timings.iter().map(|s| s.estimate).sum(),
        timings.iter().map(|s| s.actual).sum(),
    )
}

#[test]
fn second_run_is_planned_from_first_run_timings() {
    let mut farm = Farm::start("qs-profile", Options::default());
    let first = farm.submit(&quickstart_yaml(), &[]);
    let first = {
        let rec = first.json();
        assert_eq!(first.code, 0, "first run; {}", summary(&rec));
        rec
    };
    let second = farm.submit(&quickstart_yaml(), &[]);
    let second = {
        let rec = second.json();
        assert_eq!(second.code, 0, "second run; {}", summary(&rec));
        rec
    };
    assert_each_test_once(&second);

    let t1 = shard_timings(&first);
    let t2 = shard_timings(&second);
    print_timings("first run (no profile)", &t1);
    print_timings("second run (planned from the first)", &t2);

    // First run: nothing was known, every test got the default estimate of 1s, which
    // is far off for the quickstart (0.1s to 4s per test).
    for t in record::shard_tasks(&first) {
        for e in t["work"]["shard"]["estimates"].as_array().unwrap() {
            assert_eq!(e.as_f64(), Some(1.0), "first run estimate in {}", t["id"]);
        }
    }
    let (e1, a1) = totals(&t1);
    assert!(
        (e1 - a1).abs() / a1 > 0.10,
        "the first run's total estimate {e1:.3}s is already within 10% of {a1:.3}s: \
         this test could not tell a profile from a guess"
    );
    assert!(
        t1.iter().any(|s| s.actual >= 0.5 && s.error() > 0.20),
        "no first-run shard was off by more than 20%"
    );

    // Second run: each test's estimate comes from what it took in the first run (a
    // moving average of its samples lies between the smallest and the largest), plus
    // the runner's own cost per test, which the first run measured too (its shards'
    // run phase beyond their tests).
    let runner_per_test = record::shard_tasks(&first)
        .iter()
        .map(|t| {
            let run = t["outcome"]["phases"]["run_secs"].as_f64().unwrap_or(0.0);
            let results = t["outcome"]["results"].as_array().map_or(&[][..], |r| r.as_slice());
            let tests: f64 = results.iter().filter_map(|r| r["duration_secs"].as_f64()).sum();
            (run - tests).max(0.0) / results.len().max(1) as f64
        })
        .fold(0.0, f64::max);
    let mut first_durations: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for r in record::results(&first) {
        let stage = first["run"]["jobs"][r.job as usize]["spec"]["stage"]
            .as_str()
            .unwrap()
            .to_string();
        first_durations.entry((stage, r.id)).or_default().push(r.duration_secs);
    }
    for t in record::shard_tasks(&second) {
        let job = t["job"].as_u64().unwrap() as usize;
        let stage = second["run"]["jobs"][job]["spec"]["stage"].as_str().unwrap();
        let shard = &t["work"]["shard"];
        let tests = shard["tests"].as_array().unwrap();
        let estimates = shard["estimates"].as_array().unwrap();
        for (test, est) in tests.iter().zip(estimates) {
            let test = test.as_str().unwrap().to_string();
            let est = est.as_f64().unwrap();
            let samples = &first_durations[&(stage.to_string(), test.clone())];
            let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = samples.iter().copied().fold(0.0, f64::max);
            assert!(
                est >= lo - 1e-3 && est <= hi + runner_per_test + 1e-3,
                "{stage} {test}: estimate {est:.3}s is not from its first-run durations {samples:?} \
                 (+ at most {runner_per_test:.3}s of the runner's per test)"
            );
        }
    }

    for s in &t2 {
        if s.actual >= 0.5 {
            assert!(
                s.error() <= 0.20,
                "second run shard {} estimated {:.3}s, took {:.3}s ({:.1}% off)",
                s.task,
                s.estimate,
                s.actual,
                100.0 * s.error()
            );
        }
    }
    let (e2, a2) = totals(&t2);
    assert!(
        (e2 - a2).abs() / a2 <= 0.10,
        "second run total estimate {e2:.3}s vs actual {a2:.3}s"
    );
}
