//! Benchmark: real MediaWiki suites (../shared/mediawiki) run serially by one
//! `phpunit` and through the farm on 2 agents × 1 slot, alternating A B A B on the
//! same machine, with the ratio of their walls: core:unit, and core's `@group
//! Database` on SQLite (the farm's `phpunit.database` stage, its sqlite cell, on
//! wikis its install step made; the serial run on the kit's own SQLite wiki). The
//! farm's timing profile is warmed by one run of each first (the gate's steady state:
//! every run but the first is planned from measured timings). Also: the farm's
//! makespan against its lower bound, max(total test time / slots, longest uncuttable
//! test) + one shard's overhead; the runner's own overhead per shard; where the
//! farm's wall went (client, run, busiest slot); and the machine's own ceiling for any
//! split in two: two serial runs of the suite at once against one alone (two halves
//! can do no better than two wholes do side by side).
//!
//! `cargo build --release -p testfarm-cli && cargo bench -p testfarm-integration --bench mediawiki`
//! FARM_BENCH_ROUNDS=N (default 2) sets the A B pairs.

use std::time::Instant;

use serde_json::Value;
use testfarm_integration::mediawiki_kit::{farm, install_with_extensions, kit, pipeline, Kit, DATABASE_GROUP};
use testfarm_integration::record::{self, summary};
use testfarm_integration::Farm;

const SLOTS: usize = 2;
const TARGET: f64 = 1.8;

/// One suite, both ways.
struct Suite {
    name: &'static str,
    serial_args: &'static [&'static str],
    farm_args: &'static [&'static str],
    cases: usize,
    /// Two serial runs at once need a wiki each (the suite writes to its database).
    own_wiki: bool,
}

const SUITES: &[Suite] = &[
    Suite {
        name: "core:unit",
        serial_args: &["--testsuite", "core:unit", "--exclude-group", "Broken"],
        farm_args: &["--mode", "gate", "--run", "phpunit-unit"],
        cases: 18_666,
        own_wiki: false,
    },
    Suite {
        name: "core @group Database, SQLite",
        serial_args: DATABASE_GROUP,
        farm_args: &["--mode", "gate", "--run", "phpunit.database", "--cell", "db=sqlite"],
        cases: 1_109,
        own_wiki: true,
    },
];

/// One serial phpunit of the suite on the kit's own wiki: its wall.
fn serial(kit: &Kit, suite: &Suite) -> f64 {
    serial_at_once(kit, suite, &[Vec::new()])
}

/// Two serial runs at once (each on a wiki of its own where the suite needs one): the
/// slower one's wall.
fn serial_pair(kit: &Kit, suite: &Suite) -> f64 {
    let wikis: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().expect("temp dir")).collect();
    let envs: Vec<Vec<(String, String)>> = wikis
        .iter()
        .map(|d| {
            if suite.own_wiki {
                install_with_extensions(kit, &d.path().join("wiki"), &[])
            } else {
                Vec::new()
            }
        })
        .collect();
    // The wikis' directories live until both runs are done.
    let wall = serial_at_once(kit, suite, &envs);
    drop(wikis);
    wall
}

/// One serial phpunit of the suite per environment, all at once: the wall until the
/// last has finished.
fn serial_at_once(kit: &Kit, suite: &Suite, envs: &[Vec<(String, String)>]) -> f64 {
    let tmp: Vec<tempfile::TempDir> = envs.iter().map(|_| tempfile::tempdir().expect("temp dir")).collect();
    let started = Instant::now();
    let children: Vec<std::process::Child> = tmp
        .iter()
        .zip(envs)
        .map(|(d, env)| {
            kit.phpunit()
                .args(suite.serial_args)
                .env("TMPDIR", d.path())
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("run phpunit")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("phpunit");
        check_serial(suite, &out);
    }
    started.elapsed().as_secs_f64()
}

fn check_serial(suite: &Suite, out: &std::process::Output) {
    let text = String::from_utf8_lossy(&out.stdout);
    let n = suite.cases;
    assert!(
        text.contains(&format!("Tests: {n},")) || text.contains(&format!("OK ({n} ")),
        "serial {}: {text}",
        suite.name
    );
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Where a farm run's wall went: before the coordinator accepted it (the client's
/// start, fingerprint, submit), accepted to finished, and after (the verdict reaching
/// the client); and within the run, the busiest slot's time from lease to report.
struct Timeline {
    before: f64,
    run: f64,
    after: f64,
    busiest_slot: f64,
}

impl std::fmt::Display for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "client before accept {:.2}s, run {:.2}s (busiest slot {:.2}s leased), after finish {:.2}s",
            self.before, self.run, self.busiest_slot, self.after
        )
    }
}

fn timeline(rec: &Value, start_ms: f64, end_ms: f64) -> Timeline {
    let run = record::run(rec);
    let ms = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let (accepted, finished) = (ms(run, "accepted_ms"), ms(run, "finished_ms"));
    let mut slots: std::collections::BTreeMap<String, f64> = Default::default();
    for t in record::tasks(rec) {
        let agent = t["done_by"].as_str().unwrap_or("").to_string();
        *slots.entry(agent).or_default() += (ms(t, "finished_ms") - ms(t, "leased_ms")) / 1000.0;
    }
    Timeline {
        before: (accepted - start_ms) / 1000.0,
        run: (finished - accepted) / 1000.0,
        after: (end_ms - finished) / 1000.0,
        busiest_slot: slots.values().copied().fold(0.0, f64::max),
    }
}

fn through_farm(farm: &mut Farm, kit: &Kit, suite: &Suite) -> (f64, Value) {
    let started = Instant::now();
    let start_ms = now_ms();
    let out = kit.submit(farm, &pipeline(), suite.farm_args);
    let secs = started.elapsed().as_secs_f64();
    let rec = out.json();
    eprintln!("  farm: {}", timeline(&rec, start_ms, now_ms()));
    // Tasks besides the shards (discovery, install), and when the run finished: what
    // the run's wall holds besides its slots' shards.
    let accepted = record::run(&rec)["accepted_ms"].as_f64().unwrap_or(0.0);
    let at = |v: &Value| (v.as_f64().unwrap_or(accepted) - accepted) / 1000.0;
    for t in record::tasks(&rec).iter().filter(|t| t["work"].get("shard").is_none()) {
        eprintln!(
            "    {:<12} leased {:>5.2}s done {:>5.2}s (not a shard)",
            t["id"].as_str().unwrap_or("?"),
            at(&t["leased_ms"]),
            at(&t["finished_ms"])
        );
    }
    eprintln!(
        "    run finished {:.2}s after it was accepted",
        at(&record::run(&rec)["finished_ms"])
    );
    // The client's last step alone: fetching and printing a finished record.
    let run_id = record::run(&rec)["id"].as_str().unwrap_or("").to_string();
    let url = farm.url();
    for (what, args) in [
        (
            "farm watch --json of the finished run",
            vec!["watch", &run_id, "--coordinator", &url, "--json"],
        ),
        (
            "farm watch of the finished run (summary)",
            vec!["watch", &run_id, "--coordinator", &url],
        ),
        (
            "farm status (the CLI's own start)",
            vec!["status", "--coordinator", &url],
        ),
    ] {
        let started = Instant::now();
        let out = farm.farm(&args);
        eprintln!("    {what}: exit {}, {:.2}s", out.code, started.elapsed().as_secs_f64());
    }
    let results = record::results(&rec);
    assert_eq!(results.len(), suite.cases, "{}: {}", suite.name, summary(&rec));
    assert!(!results.iter().any(|r| r.status == "missing"), "{}", summary(&rec));
    (secs, rec)
}

/// One line per shard of a run, in lease order: where it ran, what the planner
/// estimated, what its run phase and its tests took, its tests and classes — how
/// well the plan balanced the slots.
fn shard_lines(rec: &Value) -> Vec<String> {
    let accepted = record::run(rec)["accepted_ms"].as_f64().unwrap_or(0.0);
    record::shards_in_lease_order(rec)
        .iter()
        .map(|t| {
            let results = t["outcome"]["results"].as_array().cloned().unwrap_or_default();
            let tests: f64 = results.iter().filter_map(|r| r["duration_secs"].as_f64()).sum();
            let classes = testfarm_shared::runner_cost::class_count(results.iter().filter_map(|r| r["id"].as_str()));
            let at = |k: &str| (t[k].as_f64().unwrap_or(accepted) - accepted) / 1000.0;
            let phase = |k: &str| t["outcome"]["phases"][k].as_f64().unwrap_or(0.0);
            let (prepare, start, run, upload) = (
                phase("prepare_secs"),
                phase("start_secs"),
                phase("run_secs"),
                phase("upload_secs"),
            );
            // Lease to applied result, less what the agent measured: the lease's way
            // to the agent and the result's through raft and apply.
            let rest = at("finished_ms") - at("leased_ms") - prepare - start - run - upload;
            format!(
                "    {:<12} {:<4} leased {:>5.2}s done {:>5.2}s  estimate {:>5.2}s  prepare {:.2}s start {:.2}s \
                 run {:>5.2}s (tests {:>5.2}s) upload {:.2}s else {:.2}s  {:>5} tests in {:>4} classes",
                t["id"].as_str().unwrap_or("?"),
                t["done_by"].as_str().unwrap_or("?").rsplit('-').next().unwrap_or("?"),
                at("leased_ms"),
                at("finished_ms"),
                t["work"]["shard"]["estimate_secs"].as_f64().unwrap_or(0.0),
                prepare,
                start,
                run,
                tests,
                upload,
                rest,
                results.len(),
                classes
            )
        })
        .collect()
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
    let mut lines = Vec::new();
    for suite in SUITES {
        let (warm_up, _) = through_farm(&mut farm, &kit, suite);
        eprintln!("{}: warm-up farm run (no timings yet): {warm_up:.2}s", suite.name);
        let (solo, pair) = (serial(&kit, suite), serial_pair(&kit, suite));
        let ceiling = 2.0 * solo / pair;
        eprintln!(
            "{}: one serial phpunit {solo:.2}s, two at once {pair:.2}s: no split in two beats {ceiling:.2}x here",
            suite.name
        );
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut last = Value::Null;
        for round in 1..=rounds {
            let s = serial(&kit, suite);
            let (f, rec) = through_farm(&mut farm, &kit, suite);
            let (total, longest, overhead, shards) = anatomy(&rec);
            let bound = (total / SLOTS as f64).max(longest) + overhead;
            eprintln!(
                "{} round {round}: A serial phpunit {s:.2}s   B farm {f:.2}s   ratio {:.2}x   \
                 makespan {f:.2}s against lower bound {bound:.2}s ({shards} shards, runner overhead {overhead:.2}s per shard)",
                suite.name,
                s / f
            );
            for line in shard_lines(&rec) {
                eprintln!("{line}");
            }
            a.push(s);
            b.push(f);
            last = rec;
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let ratio = mean(&a) / mean(&b);
        let (total, longest, overhead, shards) = anatomy(&last);
        lines.push(format!(
            "{} {} cases: serial {:.2}s, farm 2x1 {:.2}s (mean of {rounds}): {ratio:.2}x (target >= {TARGET}x: {}; \
             this machine's ceiling for a split in two {ceiling:.2}x, reached {:.0}%); \
             last run: {total:.2}s of test time, longest test {longest:.2}s, {shards} shards, \
             runner overhead {overhead:.2}s per shard, lower bound {:.2}s",
            suite.name,
            suite.cases,
            mean(&a),
            mean(&b),
            if ratio >= TARGET { "met" } else { "NOT met" },
            100.0 * ratio / ceiling,
            (total / SLOTS as f64).max(longest) + overhead
        ));
    }
    for line in lines {
        println!("{line}");
    }
}
