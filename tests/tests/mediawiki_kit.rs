//! The real MediaWiki 1.45.0 (../shared/mediawiki) through a real coordinator and two
//! real agents, with examples/mediawiki-checkout/farm.yaml pointed at the kit's tree:
//! test for test, data set for data set, what one serial PHPUnit run says.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use testfarm_integration::mediawiki_kit::{
    compare, farm, install_with_extensions, junit_outcomes, kit, pipeline, serial, serial_with, Kit, DATABASE_GROUP,
    EXTENSIONS, HEAVY,
};
use testfarm_integration::record::{self, summary};
use testfarm_integration::Farm;

const BIG_METHOD: &str = "ScopeStructureTest::testAutoloadNoFileScope";

fn submit(farm: &mut Farm, kit: &Kit, extra: &[&str]) -> Value {
    let out = kit.submit(farm, &pipeline(), extra);
    let rec = out.json();
    // The kit's one known failure of core:unit (the test expects an unreadable file;
    // root reads it) does not fail here: the sandbox runs tests as user 65534.
    assert_eq!(out.code, 0, "{}", summary(&rec));
    rec
}

fn farm_outcomes(rec: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in record::results(rec) {
        assert!(
            out.insert(r.id.clone(), r.status.clone()).is_none(),
            "{} reported twice",
            r.id
        );
    }
    out
}

/// Shards holding data sets of the big method: their count.
fn shards_with(rec: &Value, method: &str) -> usize {
    record::shard_tasks(rec)
        .iter()
        .filter(|t| {
            t["work"]["shard"]["tests"].as_array().is_some_and(|tests| {
                tests
                    .iter()
                    .any(|id| id.as_str().is_some_and(|id| id.starts_with(method)))
            })
        })
        .count()
}

#[test]
fn core_unit_through_the_farm_equals_one_serial_phpunit_data_set_for_data_set() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let kit = kit();
    let (reference, serial_wall) = serial(&kit, &["--testsuite", "core:unit", "--exclude-group", "Broken"]);
    assert!(
        reference.len() > 18_000,
        "the serial run reported {} cases",
        reference.len()
    );
    let mut farm = farm("mw-kit-unit");
    for round in ["first (no timings)", "second (timed)"] {
        let rec = submit(&mut farm, &kit, &["--mode", "gate", "--run", "phpunit-unit"]);
        let got = farm_outcomes(&rec);
        let c = compare(&reference, &got);
        let statuses: BTreeSet<&str> = got.values().map(String::as_str).collect();
        eprintln!(
            "core:unit, {round} run: {} farm results ({statuses:?}) against {} serial cases; \
             serial wall {:.1}s; {} shards, {} holding {BIG_METHOD}; same outcome: {}; \
             serial method-level cases matched by their data sets: {:?}; root-only failures \
             passed as 65534: {:?}",
            got.len(),
            reference.len(),
            serial_wall.as_secs_f64(),
            record::shard_tasks(&rec).len(),
            shards_with(&rec, BIG_METHOD),
            reference.len() - c.only_serial.len() - c.status_differs.len() - c.expanded.len() - c.root_only.len(),
            c.expanded,
            c.root_only
        );
        c.assert_same(&format!("core:unit, {round} run"));
        let root_only = usize::from(nix::unistd::geteuid().is_root());
        assert_eq!(
            c.root_only.len(),
            root_only,
            "the known root-only failure failed serially (as root) and passed in the sandbox: {:?}",
            c.root_only
        );
        assert!(!got.values().any(|s| s == "missing"), "nothing missing");
        assert!(record::shard_tasks(&rec).len() >= 3, "the suite is split");
        // Every shard ran in a PHPUnit worker of its agent's; on the second run the
        // workers the first started (bootstrapped once) serve again.
        let warm: Vec<Option<bool>> = record::shard_tasks(&rec)
            .iter()
            .map(|t| t["outcome"]["usage"]["worker_warm"].as_bool())
            .collect();
        assert!(warm.iter().all(Option::is_some), "every shard in a worker: {warm:?}");
        assert!(
            warm.iter().filter(|w| **w == Some(true)).count() >= warm.len() - 2,
            "at most one worker start per agent: {warm:?}"
        );
        if round.starts_with("second") {
            assert!(
                shards_with(&rec, BIG_METHOD) >= 2,
                "on the timed run the method with 3,214 data sets is cut by data set"
            );
        }
    }
}

/// Quibble's two phpunit passes over core's integration suite: the farm's install step
/// makes a wiki per agent and backend, and every task gets a copy of its database. On
/// SQLite both passes equal a serial run on the tree's own wiki case for case; on
/// MariaDB and PostgreSQL (the agents' own servers) `@group Database` equals one plain
/// phpunit over the group on the same server.
#[test]
fn core_integration_with_and_without_the_database_on_three_backends_equals_serial_phpunit() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let kit = kit();
    let (databaseless, wall_a) = serial(
        &kit,
        &["--testsuite", "core:integration", "--exclude-group", "Broken,Database"],
    );
    let (database, wall_b) = serial(&kit, DATABASE_GROUP);
    let mut farm = farm("mw-kit-int");
    let out = kit.submit(&mut farm, &pipeline(), &["--mode", "gate", "--run", "phpunit"]);
    let rec = out.json();
    // The serial references on MariaDB and PostgreSQL: one plain phpunit each, on the
    // same agents' servers, on a wiki made by the same install step.
    let serial_run = kit.submit(&mut farm, &testfarm_integration::fixture("mediawiki-serial"), &[]);
    assert_eq!(serial_run.code, 0, "{}", summary(&serial_run.json()));
    let on_server = |db: &str| {
        let name = format!("junit-{db}.xml");
        let files = farm.task_files(&name);
        assert_eq!(files.len(), 1, "the serial run on {db} wrote {} {name}", files.len());
        let xml = std::fs::read_to_string(&files[0].1).expect("read the serial JUnit");
        junit_outcomes(&xml, &kit.mediawiki())
    };
    let jobs = rec["run"]["jobs"].as_array().unwrap();
    // Without the database once; `@group Database` on SQLite, MariaDB and PostgreSQL.
    assert_eq!(jobs.len(), 4, "{}", summary(&rec));
    for job in 0..jobs.len() as u64 {
        let spec = &jobs[job as usize]["spec"];
        let stage = spec["stage"].as_str().unwrap().to_string();
        let db = spec["cell"]["db"].as_str().unwrap_or("?").to_string();
        let got: BTreeMap<String, String> = record::results(&rec)
            .into_iter()
            .filter(|r| r.job == job)
            .map(|r| (r.id, r.status))
            .collect();
        let failing: Vec<&String> = got
            .iter()
            .filter(|(_, s)| *s != "passed" && *s != "skipped")
            .map(|(id, _)| id)
            .collect();
        assert!(!got.values().any(|s| s == "missing"), "{stage} [{db}]: nothing missing");
        if db != "sqlite" {
            let reference = on_server(&db);
            eprintln!(
                "{stage} [{db}]: {} farm results against {} serial cases on the same server; not passed: {failing:?}",
                got.len(),
                reference.len()
            );
            compare(&reference, &got).assert_same(&format!("{stage} [{db}]"));
            continue;
        }
        let (reference, wall) = if stage == "phpunit.database" {
            (&database, wall_b)
        } else {
            (&databaseless, wall_a)
        };
        let c = compare(reference, &got);
        eprintln!(
            "{stage} [sqlite]: {} farm results against {} serial cases (serial wall {:.1}s); farm failures: {failing:?}",
            got.len(),
            reference.len(),
            wall.as_secs_f64()
        );
        assert!(got.len() > 500, "{stage} ran its suite: {}", got.len());
        c.assert_same(&format!("{stage} [sqlite]"));
    }
    // The install ran once per agent and backend, and later tasks found it warm.
    let warm: Vec<bool> = record::tasks(&rec)
        .iter()
        .filter_map(|t| t["outcome"]["usage"]["install_warm"].as_bool())
        .collect();
    assert!(
        warm.iter().filter(|w| !**w).count() <= 2 * 3,
        "one install per agent and backend: {warm:?}"
    );
    // Every shard ran in a PHPUnit worker: at most one started per agent and job
    // (each job's stage and cell make a worker key of their own).
    let workers: Vec<Option<bool>> = record::shard_tasks(&rec)
        .iter()
        .map(|t| t["outcome"]["usage"]["worker_warm"].as_bool())
        .collect();
    assert!(
        workers.iter().all(Option::is_some),
        "every shard in a worker: {workers:?}"
    );
    let started = workers.iter().filter(|w| **w == Some(false)).count();
    assert!(started <= 2 * jobs.len(), "{started} worker starts: {workers:?}");
    eprintln!(
        "phpunit passes: `farm submit` {:.1}s, installs warm {}/{}, workers warm {}/{}",
        out.elapsed.as_secs_f64(),
        warm.iter().filter(|w| **w).count(),
        warm.len(),
        workers.len() - started,
        workers.len()
    );
}

/// The gated extensions' own suites (MediaWiki's `extensions` suite, 19 of the kit's
/// extensions and its skins), on a wiki that loads them: test for test what a
/// serial run on a wiki made the same way says.
#[test]
fn the_extensions_suites_through_the_farm_equal_serial_phpunit() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let kit = kit();
    let wiki = tempfile::tempdir().expect("temp dir");
    let env = install_with_extensions(&kit, wiki.path(), EXTENSIONS);
    let (reference, wall) = serial_with(&kit, &["--testsuite", "extensions", "--exclude-group", "Broken"], &env);
    let mut per_extension: BTreeMap<String, usize> = BTreeMap::new();
    for o in reference.values() {
        if let Some(ext) = o.file.as_deref().and_then(|f| f.strip_prefix("extensions/")) {
            *per_extension
                .entry(ext.split('/').next().unwrap_or("?").to_string())
                .or_default() += 1;
        }
    }
    let mut farm = farm("mw-kit-ext");
    let out = kit.submit(
        &mut farm,
        &pipeline(),
        &["--mode", "gate", "--run", "phpunit-extensions"],
    );
    let rec = out.json();
    let got = farm_outcomes(&rec);
    let c = compare(&reference, &got);
    let failing: Vec<&String> = got
        .iter()
        .filter(|(_, s)| *s != "passed" && *s != "skipped")
        .map(|(id, _)| id)
        .collect();
    eprintln!(
        "extensions: {} farm results against {} serial cases (serial wall {:.1}s, farm {:.1}s); per extension {per_extension:?}; \
         farm failures: {failing:?}",
        got.len(),
        reference.len(),
        wall.as_secs_f64(),
        out.elapsed.as_secs_f64()
    );
    assert!(
        per_extension.len() >= 10,
        "at least 10 extensions' suites ran: {per_extension:?}"
    );
    c.assert_same("extensions");
}

/// Quibble's composer-test lint over a part of the tree (select mode, ids containing
/// `includes/api/`): each file's `php -l` verdict, as the farm reports it, is what
/// `php -l` says of it run directly.
#[test]
fn the_lint_stage_gives_each_file_the_verdict_of_php_lint() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let kit = kit();
    let mut farm = farm("mw-kit-lint");
    let out = kit.submit(
        &mut farm,
        &pipeline(),
        &[
            "--mode",
            "select",
            "--run",
            "composer-test",
            "--filter",
            "includes/api/",
        ],
    );
    let rec = out.json();
    let got = farm_outcomes(&rec);
    assert!(got.len() > 150, "the API module files were linted: {}", got.len());
    let mut differ = Vec::new();
    for (file, status) in &got {
        assert!(file.contains("includes/api/") && file.ends_with(".php"), "{file}");
        let lint = std::process::Command::new("php")
            .arg("-l")
            .arg(file)
            .current_dir(kit.mediawiki())
            .output()
            .expect("php -l");
        let want = if lint.status.success() { "passed" } else { "failed" };
        if status != want {
            differ.push((file.clone(), status.clone(), want));
        }
    }
    eprintln!(
        "composer-test lint of includes/api/: {} files, {} shards, `farm submit` {:.1}s",
        got.len(),
        record::shard_tasks(&rec).len(),
        out.elapsed.as_secs_f64()
    );
    assert!(differ.is_empty(), "farm against php -l: {differ:?}");
}
