//! Test selection on the real MediaWiki 1.45.0 (../shared/mediawiki): `farm select`
//! answers for a one-file change in an extension without running anything — the
//! tests with their reasons, the expected recall — and `farm submit --mode select`
//! runs exactly those tests through a real coordinator and agents.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use testfarm_integration::farm_bin;
use testfarm_integration::mediawiki_kit::{
    compare, farm, install_with_extensions, kit, pipeline, serial_with, EXTENSIONS, HEAVY,
};
use testfarm_integration::record::{self, summary};

const CHANGED: &str = "extensions/Nuke/includes/NukeQueryBuilder.php";

fn select(project: &std::path::Path, extra: &[&str]) -> Value {
    let out = Command::new(farm_bin())
        .args(["select", "--json", "--project-dir"])
        .arg(project)
        .args(["--changed-file", CHANGED])
        .args(extra)
        .output()
        .expect("run farm select");
    assert!(
        out.status.success(),
        "farm select: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("farm select --json prints JSON")
}

#[test]
fn select_names_an_extension_changes_tests_with_reasons_and_select_mode_runs_exactly_them() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let kit = kit();
    let answer = select(&kit.mediawiki(), &[]);
    let suite = answer["suite_files"].as_u64().unwrap();
    let picked = answer["picked"].as_array().unwrap();
    let recall = answer["cut"]["expected_recall"].as_f64().unwrap();
    eprintln!(
        "farm select: {} of {suite} test files for {CHANGED}, expected recall {recall:.3}, {} PHP files read in {:.1} s",
        picked.len(),
        answer["php_files"],
        answer["seconds"].as_f64().unwrap()
    );
    assert!(
        suite > 1_000,
        "core's and the extensions' test files are the suite: {suite}"
    );
    assert!(recall >= 0.95, "the default confidence is reached: {recall}");
    assert!(
        !picked.is_empty() && picked.len() < (suite / 20) as usize,
        "a small pick: {}",
        picked.len()
    );
    // The test that names the changed class comes first, with the reason.
    let first = &picked[0];
    assert!(
        first["file"].as_str().unwrap().starts_with("extensions/Nuke/tests/"),
        "{first}"
    );
    let signals: BTreeSet<&str> = first["why"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["signal"].as_str())
        .collect();
    assert!(
        signals.contains("covers") || signals.contains("references") || signals.contains("name"),
        "a static reason: {first}"
    );
    for p in picked {
        assert!(
            !p["why"].as_array().unwrap().is_empty() || p["probability"].as_f64().unwrap() < 0.05,
            "{p}"
        );
    }
    // A lower confidence picks no more.
    let fewer = select(&kit.mediawiki(), &["--confidence", "0.5"]);
    assert!(fewer["picked"].as_array().unwrap().len() <= picked.len());

    let classes: BTreeSet<String> = picked
        .iter()
        .flat_map(|p| {
            p["classes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
        })
        .collect();
    let nuke_classes: BTreeSet<&String> = picked
        .iter()
        .filter(|p| p["file"].as_str().unwrap().starts_with("extensions/Nuke/tests/"))
        .flat_map(|p| p["classes"].as_array().unwrap().iter())
        .filter_map(|c| classes.get(c.as_str().unwrap()))
        .collect();

    let mut farm = farm("mw-select");
    let out = kit.submit(
        &mut farm,
        &pipeline(),
        &[
            "--mode",
            "select",
            "--changed-file",
            CHANGED,
            "--run",
            "phpunit-extensions",
        ],
    );
    let rec = out.json();
    assert!(
        out.code == 0 || out.code == 1,
        "a verdict, not an infrastructure error: {}",
        summary(&rec)
    );
    let results = record::results(&rec);
    let ran: BTreeSet<String> = results
        .iter()
        .map(|r| r.id.split("::").next().unwrap_or(&r.id).to_lowercase())
        .collect();
    // Exactly what one serial PHPUnit says of the picked classes, on a wiki loading
    // the stage's extensions.
    let wiki = tempfile::tempdir().expect("temp dir");
    let env = install_with_extensions(&kit, wiki.path(), EXTENSIONS);
    let short: BTreeSet<&str> = classes.iter().map(|c| c.rsplit('\\').next().unwrap_or(c)).collect();
    let filter = format!("({})::", short.into_iter().collect::<Vec<_>>().join("|"));
    let (serial, _) = serial_with(
        &kit,
        &[
            "--testsuite",
            "extensions",
            "--exclude-group",
            "Broken",
            "--filter",
            &filter,
        ],
        &env,
    );
    let serial: std::collections::BTreeMap<_, _> = serial
        .into_iter()
        .filter(|(id, _)| classes.contains(&id.split("::").next().unwrap_or(id).to_lowercase()))
        .collect();
    let got: std::collections::BTreeMap<String, String> =
        results.iter().map(|r| (r.id.clone(), r.status.clone())).collect();
    compare(&serial, &got).assert_same("the static pick against serial PHPUnit of its classes");
    assert!(!ran.is_empty(), "the pick ran: {}", summary(&rec));
    let strays: Vec<&String> = ran.iter().filter(|c| !classes.contains(*c)).collect();
    assert!(strays.is_empty(), "only picked classes ran: {strays:?}");
    let concrete: BTreeSet<&String> = nuke_classes.iter().copied().filter(|c| c.ends_with("test")).collect();
    let unrun: Vec<&&String> = concrete.iter().filter(|c| !ran.contains(**c)).collect();
    assert!(
        unrun.is_empty(),
        "every picked Nuke test class ran: {unrun:?} (ran {ran:?})"
    );
    let message = rec["run"]["message"].as_str().unwrap();
    assert!(message.contains("static pick expects to hold"), "{message}");
    assert!(!message.contains("(of ;"), "no empty repository list: {message}");
    // Once the farm has timed those classes, the answer ranks per second and says
    // what the pick costs against the timed suite.
    let timed = select(
        &kit.mediawiki(),
        &["--coordinator", &farm.url(), "--project", "mediawiki"],
    );
    let (picked_secs, suite_secs) = (timed["picked_seconds"].as_f64(), timed["suite_seconds"].as_f64());
    assert!(
        picked_secs.is_some_and(|p| p > 0.0) && suite_secs.is_some_and(|s| s >= picked_secs.unwrap_or(0.0)),
        "seconds from the profile: picked {picked_secs:?} of {suite_secs:?}"
    );
    assert!(
        timed["picked"][0]["seconds"].as_f64().is_some(),
        "{}",
        timed["picked"][0]
    );
    eprintln!(
        "select mode: {} tests of {} classes ran ({} picked), as serial PHPUnit: {message}; timed pick {picked_secs:?} s of {suite_secs:?} s",
        results.len(),
        ran.len(),
        classes.len()
    );
}
