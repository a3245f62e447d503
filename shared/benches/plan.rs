//! Planning 100k tests: the time to estimate and cut a MediaWiki-sized job into
//! shards, against a baseline measured in the same run (sorting the same estimates,
//! the least any longest-first planner must do). Run with `cargo bench -p testfarm-shared`.
//!
//! Workload: the real per-test durations of MediaWiki core's unit and integration
//! suites (../shared/data/mw-core-testcases.tsv, 20,667 cases), repeated under five
//! "extension" prefixes to 100k+ tests; synthetic skewed durations if the file is absent.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use testfarm_shared::config::Split;
use testfarm_shared::plan::{plan, PlanParams};
use testfarm_shared::profile::{estimate_tests, TestProfile};

fn workload() -> (Vec<String>, HashMap<String, TestProfile>, &'static str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/mw-core-testcases.tsv");
    let mut cases: Vec<(String, f64)> = Vec::new();
    let source = match std::fs::read_to_string(path) {
        Ok(text) => {
            for line in text.lines().skip(1) {
                let cols: Vec<&str> = line.split('\t').collect();
                if cols.len() >= 5 {
                    cases.push((format!("{}::{}", cols[2], cols[3]), cols[4].parse().unwrap_or(0.001)));
                }
            }
            "MediaWiki core test cases ×5"
        }
        Err(_) => {
            for i in 0..20_000u64 {
                let secs = 0.001 * (1 + (i * 2_654_435_761) % 97) as f64 * if i % 1000 == 0 { 50.0 } else { 1.0 };
                cases.push((format!("Class{}::test{i}", i / 20), secs));
            }
            "synthetic skewed durations ×5"
        }
    };
    let mut tests = Vec::new();
    let mut profiles = HashMap::new();
    for ext in 0..5 {
        for (id, secs) in &cases {
            let id = format!("Ext{ext}\\{id}");
            // Leave every 10th test unknown, so the median fallback is exercised.
            if tests.len() % 10 != 0 {
                let mut p = TestProfile::default();
                p.record(Some(Duration::from_secs_f64(*secs)), false);
                profiles.insert(id.clone(), p);
            }
            tests.push(id);
        }
    }
    (tests, profiles, source)
}

fn time<R>(runs: usize, mut f: impl FnMut() -> R) -> Duration {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[runs / 2]
}

fn main() {
    let (tests, profiles, source) = workload();
    let estimates = estimate_tests(
        &tests,
        |t| profiles.get(t).and_then(TestProfile::estimate).map(|d| d.as_secs_f64()),
        Duration::from_secs(1),
    );
    println!("planning {} tests ({source})", tests.len());

    let baseline = time(11, || {
        let mut v = estimates.clone();
        v.sort_by(|a, b| b.total_cmp(a));
        v
    });
    let params = PlanParams {
        slots: 200,
        min_shard: Duration::from_secs(2),
        ..PlanParams::default()
    };
    let estimate = time(11, || {
        estimate_tests(
            &tests,
            |t| profiles.get(t).and_then(TestProfile::estimate).map(|d| d.as_secs_f64()),
            Duration::from_secs(1),
        )
    });
    let by_test = time(11, || plan(&tests, &estimates, Split::Test, &params));
    let by_class = time(11, || plan(&tests, &estimates, Split::Class, &params));
    let shards = plan(&tests, &estimates, Split::Test, &params);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("baseline  sort estimates        {:>8.2} ms", ms(baseline));
    println!(
        "estimate  profiles → estimates  {:>8.2} ms  ({:.1}x baseline)",
        ms(estimate),
        ms(estimate) / ms(baseline)
    );
    println!(
        "plan      split by test         {:>8.2} ms  ({:.1}x baseline), {} shards",
        ms(by_test),
        ms(by_test) / ms(baseline),
        shards.len()
    );
    println!(
        "plan      split by class        {:>8.2} ms  ({:.1}x baseline)",
        ms(by_class),
        ms(by_class) / ms(baseline)
    );
    let total = ms(estimate) + ms(by_test);
    println!(
        "estimate + plan, 100k tests: {total:.2} ms (target: well under 100 ms) {}",
        if total < 100.0 { "OK" } else { "OVER TARGET" }
    );
}
