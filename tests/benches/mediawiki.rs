//! Benchmark: the real MediaWiki core:unit suite (../shared/mediawiki) run serially by
//! one `phpunit` and through the farm on 2 agents × 1 slot, alternating A B A B on
//! the same machine, with the ratio of their walls. The farm's timing profile is
//! warmed by one run first (the gate's steady state: every run but the first is
//! planned from measured timings). Also: the farm's makespan against its lower bound,
//! max(total test time / slots, longest uncuttable test) + one shard's overhead, and
//! the runner's own overhead per shard.
//!
//! `cargo build --release -p testfarm-cli && cargo bench -p testfarm-integration --bench mediawiki`
//! FARM_BENCH_ROUNDS=N (default 2) sets the A B pairs.

use std::time::Instant;

use serde_json::Value;
use testfarm_integration::mediawiki_kit::{farm, kit, pipeline, Kit};
use testfarm_integration::record::{self, summary};
use testfarm_integration::Farm;

const SLOTS: usize = 2;
const TARGET: f64 = 1.8;

fn serial(kit: &Kit) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let out = kit
        .phpunit()
        .args(["--testsuite", "core:unit", "--exclude-group", "Broken"])
        .env("TMPDIR", dir.path())
        .output()
        .expect("run phpunit");
    let secs = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Tests: 18666") || text.contains("OK (18666"),
        "serial run: {text}"
    );
    secs
}

fn through_farm(farm: &mut Farm, kit: &Kit) -> (f64, Value) {
    let started = Instant::now();
    let out = kit.submit(farm, &pipeline(), &["--mode", "gate", "--run", "phpunit-unit"]);
    let secs = started.elapsed().as_secs_f64();
    let rec = out.json();
    let results = record::results(&rec);
    assert_eq!(results.len(), 18_666, "{}", summary(&rec));
    assert!(!results.iter().any(|r| r.status == "missing"), "{}", summary(&rec));
    (secs, rec)
}

/// (total test secs, longest test secs, per-shard runner overhead: mean, shards).
fn anatomy(rec: &Value) -> (f64, f64, f64, usize) {
    let results = record::results(rec);
    let total: f64 = results.iter().map(|r| r.duration_secs).sum();
    let longest = results.iter().map(|r| r.duration_secs).fold(0.0, f64::max);
    let shards = record::shard_tasks(rec);
    let mut overhead = 0.0;
    for t in &shards {
        let run = t["outcome"]["phases"]["run_secs"].as_f64().unwrap_or(0.0);
        let tests: f64 = t["outcome"]["results"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["duration_secs"].as_f64()).sum())
            .unwrap_or(0.0);
        overhead += (run - tests).max(0.0);
    }
    (total, longest, overhead / shards.len().max(1) as f64, shards.len())
}

fn main() {
    let rounds: usize = std::env::var("FARM_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let kit = kit();
    let mut farm = farm("mw-bench");
    let (warm_up, _) = through_farm(&mut farm, &kit);
    eprintln!("warm-up farm run (no timings yet): {warm_up:.2}s");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut last = Value::Null;
    for round in 1..=rounds {
        let s = serial(&kit);
        let (f, rec) = through_farm(&mut farm, &kit);
        let (total, longest, overhead, shards) = anatomy(&rec);
        let bound = (total / SLOTS as f64).max(longest) + overhead;
        eprintln!(
            "round {round}: A serial phpunit {s:.2}s   B farm {f:.2}s   ratio {:.2}x   \
             makespan {f:.2}s against lower bound {bound:.2}s ({shards} shards, runner overhead {overhead:.2}s per shard)",
            s / f
        );
        a.push(s);
        b.push(f);
        last = rec;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&a) / mean(&b);
    let (total, longest, overhead, shards) = anatomy(&last);
    println!(
        "core:unit 18,666 cases: serial {:.2}s, farm 2x1 {:.2}s (mean of {rounds}): {ratio:.2}x (target >= {TARGET}x: {}); \
         last run: {total:.2}s of test time, longest test {longest:.2}s, {shards} shards, \
         runner overhead {overhead:.2}s per shard, lower bound {:.2}s",
        mean(&a),
        mean(&b),
        if ratio >= TARGET { "met" } else { "NOT met" },
        (total / SLOTS as f64).max(longest) + overhead
    );
}
