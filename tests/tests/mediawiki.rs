//! examples/mediawiki through a real coordinator and two real agents with Debian's
//! php and phpunit: the gate over php × db, a failure in one cell, a select run for a
//! change in one extension, and the second run cutting the biggest class by data set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use testfarm_integration::http::get_json;
use testfarm_integration::mediawiki_kit::junit_outcomes;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{workspace_root, Farm, Options};

const BIG_CLASS: &str = "MediaWiki\\Tests\\Unit\\Structure\\ScopeStructureTest";
const FAILING: &str = "MediaWiki\\Extension\\Thanks\\Tests\\ThanksFormatterTest::testFormatsThankedUser";
const THANKS: &str = "MediaWiki\\Extension\\Thanks\\";
const LOGIN_NOTIFY: &str = "MediaWiki\\Extension\\LoginNotify\\";

fn example() -> PathBuf {
    workspace_root().join("examples/mediawiki")
}

fn pipeline() -> PathBuf {
    example().join("farm.yaml")
}

/// The tests phpunit itself runs for `args` (`Class::method`, each data set apart,
/// named as the farm names them), from its own JUnit: what the farm's jobs must add up
/// to.
fn phpunit_runs(args: &[&str]) -> BTreeSet<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("junit.xml");
    let out = Command::new("phpunit")
        .args(["-c", "phpunit.xml"])
        .args(args)
        .arg("--log-junit")
        .arg(&junit)
        .env("MW_DB_DIR", dir.path())
        .current_dir(example())
        .output()
        .expect("run phpunit (apt-get install phpunit)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let xml = std::fs::read_to_string(&junit).expect("phpunit wrote its JUnit");
    junit_outcomes(&xml, &example()).into_keys().collect()
}

fn job_stage(rec: &Value, job: u64) -> String {
    rec["run"]["jobs"][job as usize]["spec"]["stage"]
        .as_str()
        .unwrap_or("?")
        .to_string()
}

/// Result ids per job.
fn ids_by_job(rec: &Value) -> BTreeMap<u64, Vec<String>> {
    let mut out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for r in record::results(rec) {
        out.entry(r.job).or_default().push(r.id);
    }
    out
}

/// Shards of `stage` holding a test of `class`: (estimate of the shard, the class's
/// tests in it with their estimates).
fn class_shards(rec: &Value, stage: &str, class: &str) -> Vec<(u64, f64, Vec<f64>)> {
    let mut out = Vec::new();
    for t in record::shard_tasks(rec) {
        let job = t["job"].as_u64().unwrap();
        if job_stage(rec, job) != stage {
            continue;
        }
        let shard = &t["work"]["shard"];
        let tests = shard["tests"].as_array().unwrap();
        let estimates = shard["estimates"].as_array().unwrap();
        let mine: Vec<f64> = tests
            .iter()
            .zip(estimates)
            .filter(|(id, _)| id.as_str().unwrap().starts_with(&format!("{class}::")))
            .map(|(_, e)| e.as_f64().unwrap())
            .collect();
        if !mine.is_empty() {
            out.push((job, shard["estimate_secs"].as_f64().unwrap(), mine));
        }
    }
    out
}

#[test]
fn the_gate_passes_over_php_and_db_and_the_second_run_splits_the_biggest_class() {
    let mut farm = Farm::start(
        "mw-gate",
        Options {
            http: true,
            ..Options::default()
        },
    );
    let first = farm.submit(&pipeline(), &["--mode", "gate"]);
    let rec = first.json();
    assert_eq!(first.code, 0, "{}", summary(&rec));
    let jobs = rec["run"]["jobs"].as_array().unwrap();
    // composer-test, phpunit-unit and phpunit.databaseless per PHP; npm-test once;
    // phpunit.database in every cell: 2 PHP × (MariaDB, PostgreSQL, SQLite).
    assert_eq!(jobs.len(), 2 + 1 + 2 + 2 + 6, "{}", summary(&rec));

    // What ran is what phpunit itself lists, once per job, all passed.
    let unit = phpunit_runs(&["--testsuite", "unit"]);
    let databaseless = phpunit_runs(&["--testsuite", "integration", "--exclude-group", "Database"]);
    let database = phpunit_runs(&["--testsuite", "integration", "--group", "Database"]);
    assert!(unit.iter().any(|t| t.starts_with(BIG_CLASS)), "{unit:?}");
    assert!(!database.is_empty() && !databaseless.is_empty());
    for (job, ids) in ids_by_job(&rec) {
        let stage = job_stage(&rec, job);
        let want = match stage.as_str() {
            "phpunit-unit" => &unit,
            "phpunit.databaseless" => &databaseless,
            "phpunit.database" => &database,
            _ => continue,
        };
        let got: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(got.len(), ids.len(), "a test ran twice in job {job}");
        assert_eq!(&got, want, "job {job} ({stage})");
    }
    let results = record::results(&rec);
    assert!(results.iter().all(|r| r.status == "passed"), "{}", summary(&rec));
    assert_database_cells_ran_on_their_installs(&rec);
    let node_tests: BTreeSet<&str> = results
        .iter()
        .filter(|r| job_stage(&rec, r.job) == "npm-test")
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        node_tests.contains("extensions/Echo/tests/node/badge.test.js") && node_tests.len() == 3,
        "npm-test ran the JavaScript tests: {node_tests:?}"
    );
    eprintln!(
        "mediawiki gate: {} jobs, {} results, `farm submit` {:.2}s",
        jobs.len(),
        results.len(),
        first.elapsed.as_secs_f64()
    );

    // The big class's real time, per unit job, from the first run's JUnit.
    let mut class_secs: BTreeMap<u64, f64> = BTreeMap::new();
    for r in &results {
        if job_stage(&rec, r.job) == "phpunit-unit" && r.id.starts_with(BIG_CLASS) {
            *class_secs.entry(r.job).or_default() += r.duration_secs;
        }
    }
    let unit_total: f64 = results
        .iter()
        .filter(|r| job_stage(&rec, r.job) == "phpunit-unit")
        .map(|r| r.duration_secs)
        .sum();
    let big_total: f64 = class_secs.values().sum();
    assert!(
        big_total > 0.4 * unit_total,
        "{BIG_CLASS} should dominate the unit suite: {big_total:.2}s of {unit_total:.2}s"
    );

    let second = farm.submit(&pipeline(), &["--mode", "gate"]);
    let rec2 = second.json();
    assert_eq!(second.code, 0, "{}", summary(&rec2));
    let shards = class_shards(&rec2, "phpunit-unit", BIG_CLASS);
    let mut per_job: BTreeMap<u64, Vec<(f64, Vec<f64>)>> = BTreeMap::new();
    for (job, shard_secs, mine) in shards {
        per_job.entry(job).or_default().push((shard_secs, mine));
    }
    assert_eq!(per_job.len(), 2, "both unit jobs hold the class");
    for (job, shards) in &per_job {
        assert!(
            shards.len() >= 2,
            "job {job}: {BIG_CLASS} is cut on the second run: {shards:?}"
        );
        let estimated: f64 = shards.iter().flat_map(|(_, m)| m).sum();
        let measured = class_secs.values().sum::<f64>() / class_secs.len() as f64;
        assert!(
            (estimated - measured).abs() < 0.35 * measured,
            "job {job}: the class is estimated from the recorded timings: {estimated:.2}s against \
             {measured:.2}s measured"
        );
        eprintln!(
            "second run, job {job}: {BIG_CLASS} ({estimated:.2}s estimated) in {} shards of {:?}s",
            shards.len(),
            shards
                .iter()
                .map(|(s, _)| (s * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }

    // The capacity model replays the run on its agents: the same two agents serve jobs
    // with and without database services (one pool, not one per label set).
    let saved = farm.dir().join("mediawiki-run.json");
    std::fs::write(&saved, &second.stdout).expect("save the record");
    let replay = farm.farm(&["capacity", "--replay", &saved.display().to_string(), "--json"]);
    assert_eq!(replay.code, 0, "farm capacity --replay: {}", replay.stderr);
    let report = replay.json();
    assert_eq!(report["agents"], 2, "{report}");
    let (measured, predicted) = (
        report["measured_secs"].as_f64().unwrap(),
        report["predicted_secs"].as_f64().unwrap(),
    );
    eprintln!(
        "mediawiki replay: measured {measured:.2}s, predicted {predicted:.2}s, error {:+.1}%",
        (predicted - measured) / measured * 100.0
    );
    assert!(
        (predicted - measured).abs() <= 0.15 * measured,
        "predicted {predicted:.2}s against measured {measured:.2}s"
    );

    // The reports agree with the runs: test time from the JUnit, the big class on top
    // of the profile, the extensions by name, a ranked list of improvements.
    let run_id = rec2["run"]["id"].as_str().unwrap();
    let api = get_json(&farm.http_url(), &format!("/api/runs/{run_id}"));
    let junit_secs: f64 = record::results(&rec2).iter().map(|r| r.duration_secs).sum();
    let reported = api["efficiency"]["total_test_secs"].as_f64().unwrap();
    assert!((reported - junit_secs).abs() < 1e-6, "{reported} against {junit_secs}");
    let saves: Vec<f64> = api["improvements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["saves_secs"].as_f64().unwrap())
        .collect();
    assert!(!saves.is_empty() && saves.windows(2).all(|w| w[0] >= w[1]), "{saves:?}");
    let profile = get_json(&farm.http_url(), "/api/profiles/mediawiki");
    let top_unit = profile["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["stage"] == "phpunit-unit")
        .expect("unit classes in the profile");
    assert_eq!(top_unit["name"], BIG_CLASS, "{top_unit}");
    let extensions: BTreeSet<&str> = profile["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for ext in ["Echo", "Thanks", "LoginNotify"] {
        assert!(extensions.contains(ext), "{ext} in {extensions:?}");
    }
    eprintln!(
        "mediawiki report {run_id}: top improvement: {}",
        api["improvements"][0]["title"].as_str().unwrap_or("?")
    );
}

/// Every `phpunit.database` cell ran against its own server (the PHP tests compare the
/// database they are connected to with FARM_DB_NAME) and the install the farm made for
/// it: the installer's tests passed, not skipped, in each of the six cells; the install
/// ran at most once per agent and cell, and later tasks found it warm.
fn assert_database_cells_ran_on_their_installs(rec: &Value) {
    const INSTALLED: &str = "MediaWiki\\Tests\\Integration\\Installer\\InstallerTest::testInstallIsForThisDatabase";
    const BACKEND: &str = "MediaWiki\\Tests\\Integration\\Database\\TestDatabaseTest::testBackendMatchesEnvironment";
    let jobs = rec["run"]["jobs"].as_array().unwrap();
    let mut cells = BTreeSet::new();
    for r in record::results(rec) {
        if job_stage(rec, r.job) == "phpunit.database" && (r.id == INSTALLED || r.id == BACKEND) {
            assert_eq!(r.status, "passed", "{} in job {}", r.id, r.job);
            cells.insert((r.job, r.id));
        }
    }
    let database_jobs: Vec<u64> = (0..jobs.len() as u64)
        .filter(|j| job_stage(rec, *j) == "phpunit.database")
        .collect();
    assert_eq!(cells.len(), 2 * database_jobs.len(), "{cells:?}");
    let dbs: BTreeSet<&str> = database_jobs
        .iter()
        .map(|j| jobs[*j as usize]["spec"]["cell"]["db"].as_str().unwrap())
        .collect();
    assert_eq!(dbs, BTreeSet::from(["mysql", "postgres", "sqlite"]));

    let mut cold: BTreeMap<String, usize> = BTreeMap::new();
    let (mut warm, mut tasks) = (0, 0);
    for t in record::tasks(rec) {
        let job = t["job"].as_u64().unwrap();
        if !database_jobs.contains(&job) || t["done_by"].is_null() {
            continue;
        }
        tasks += 1;
        match t["outcome"]["usage"]["install_warm"].as_bool() {
            Some(true) => warm += 1,
            Some(false) => {
                let cell = jobs[job as usize]["spec"]["cell"].to_string();
                let agent = t["done_by"].as_str().unwrap().to_string();
                *cold.entry(format!("{agent} {cell}")).or_default() += 1;
            }
            None => panic!("task {} of a stage with an install says nothing of it", t["id"]),
        }
    }
    assert!(
        cold.values().all(|n| *n == 1),
        "one install per agent and cell: {cold:?}"
    );
    assert!(warm > 0, "later tasks reuse the install: {warm} warm of {tasks}");
    eprintln!(
        "installs: {} made (agent × cell), {warm} of {tasks} phpunit.database tasks found theirs warm",
        cold.len()
    );
}

#[test]
fn a_failing_test_in_one_cell_fails_the_gate_and_names_the_test() {
    let mut farm = Farm::start("mw-fail", Options::default());
    let out = farm.submit(&pipeline(), &["--mode", "gate", "--env", "MW_FAIL_CELL=8.2-jit/sqlite"]);
    let rec = out.json();
    assert_eq!(out.code, 1, "{}", summary(&rec));
    assert_eq!(record::verdict(&rec), "failed");
    let failed = record::failed_tests(&rec);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].ends_with(FAILING), "{failed:?}");
    assert!(
        failed[0].contains("[db=sqlite,php=8.2-jit]"),
        "only that cell: {failed:?}"
    );
    let message = rec["run"]["message"].as_str().unwrap();
    assert!(message.starts_with("1 of "), "{message}");
}

#[test]
fn select_for_a_change_in_one_extension_runs_it_and_its_dependents_only() {
    let mut farm = Farm::start("mw-select", Options::default());
    // Options that choose a subset belong to select mode.
    let out = farm.submit(&pipeline(), &["--changed-file", "extensions/Thanks/extension.json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("need --mode select"), "{}", out.stderr);

    let out = farm.submit(
        &pipeline(),
        &["--mode", "select", "--changed-file", "extensions/Thanks/extension.json"],
    );
    let rec = out.json();
    assert_eq!(out.code, 0, "{}", summary(&rec));
    let results = record::results(&rec);
    let ran: BTreeSet<&str> = results.iter().map(|r| r.id.as_str()).collect();
    assert!(ran.iter().any(|id| id.starts_with(THANKS)), "Thanks ran: {ran:?}");
    assert!(
        ran.iter().any(|id| id.starts_with(LOGIN_NOTIFY)),
        "LoginNotify requires Thanks (extension.json), so it ran: {ran:?}"
    );
    // PHPUnit ids by namespace, JavaScript test files by path.
    let strays: Vec<&&str> = ran
        .iter()
        .filter(|id| {
            !id.starts_with(THANKS)
                && !id.starts_with(LOGIN_NOTIFY)
                && !id.starts_with("extensions/Thanks/")
                && !id.starts_with("extensions/LoginNotify/")
        })
        .collect();
    assert!(strays.is_empty(), "only Thanks and its dependents: {strays:?}");
    let message = rec["run"]["message"].as_str().unwrap();
    assert!(message.contains("select left out"), "{message}");
    let left: u64 = rec["run"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["left_out"]["tests"].as_u64().unwrap_or(0))
        .sum();
    assert!(left > ran.len() as u64, "most of the project is left out: {left}");
    eprintln!("select: {} tests ran, {left} left out: {message}", ran.len());
}
