//! `farm select evaluate` on real extension histories (../shared/selection): the
//! replay reproduces the shelf's published baseline figures exactly (same changes,
//! same suites, same picks), so the farm's own figures beside them are measured on
//! the same ground; and the farm's selector beats co-change history where the
//! history is long enough to learn from.

use std::process::Command;

use serde_json::Value;
use testfarm_integration::{farm_bin, workspace_root};

fn evaluate(bundles: &[&str], extra: &[&str]) -> Vec<Value> {
    let shelf = workspace_root().join("../shared/selection");
    let mut cmd = Command::new(farm_bin());
    cmd.args(["select", "evaluate", "--json"]).args(extra);
    for b in bundles {
        let path = shelf.join(format!("{b}.bundle"));
        assert!(path.is_file(), "the selection shelf is missing {}", path.display());
        cmd.arg(path);
    }
    let out = cmd.output().expect("run farm select evaluate");
    assert!(
        out.status.success(),
        "farm select evaluate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn curve<'a>(repo: &'a Value, selector: &str) -> &'a Value {
    repo["curves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["selector"] == selector)
        .unwrap()
}

/// (recall, share, hit) of a selector's first operating point, in percent, one decimal.
fn first_point(repo: &Value, selector: &str) -> (f64, f64, f64) {
    let p = &curve(repo, selector)["points"][0];
    let pct = |k: &str| (p[k].as_f64().unwrap() * 1000.0).round() / 10.0;
    (pct("recall"), pct("share"), pct("hit"))
}

fn recall_at(repo: &Value, selector: &str, budget: f64) -> f64 {
    curve(repo, selector)["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["share"].as_f64().unwrap() <= budget + 1e-12)
        .map(|p| p["recall"].as_f64().unwrap())
        .fold(0.0, f64::max)
}

#[test]
fn the_replay_reproduces_the_published_baselines_and_the_farm_beats_co_change() {
    let repos = evaluate(&["ConfirmEdit", "Nuke"], &[]);
    let (confirm, nuke) = (&repos[0], &repos[1]);
    // ../shared/selection/README.md, "Baseline figures", measured independently.
    assert_eq!(confirm["scored"], 134);
    assert_eq!(first_point(confirm, "name"), (61.9, 5.0, 76.1));
    assert_eq!(first_point(confirm, "co-change"), (93.0, 44.9, 96.3));
    assert_eq!(first_point(confirm, "union"), (94.4, 45.1, 97.8));
    assert_eq!(nuke["scored"], 16);
    assert_eq!(first_point(nuke, "co-change"), (90.9, 68.9, 93.8));
    assert_eq!(first_point(nuke, "name"), (54.5, 31.3, 68.8));

    for budget in [0.05, 0.1, 0.25, 0.5, 1.0] {
        let farm = recall_at(confirm, "farm", budget).max(recall_at(confirm, "farm-p", budget));
        let cochange = recall_at(confirm, "co-change", budget);
        eprintln!(
            "ConfirmEdit at {:.0}%: farm {:.1}%, co-change {:.1}%",
            100.0 * budget,
            100.0 * farm,
            100.0 * cochange
        );
        assert!(farm > cochange, "at {budget}: farm {farm} against co-change {cochange}");
    }
    // The stated risk is near what happened at the default confidence.
    let calibration = confirm["calibration"].as_array().unwrap();
    let at95 = calibration.iter().find(|c| c[0].as_f64() == Some(0.95)).unwrap();
    let (stated, reached) = (at95[1].as_f64().unwrap(), at95[2].as_f64().unwrap());
    assert!(
        (stated - reached).abs() < 0.05,
        "stated {stated} against reached {reached}"
    );
    // Every miss at that confidence is listed with its rank.
    for miss in confirm["misses"].as_array().unwrap() {
        assert!(
            miss["rank"].as_u64().unwrap() > miss["picked"].as_u64().unwrap(),
            "{miss}"
        );
    }
}

#[test]
fn merges_are_scored_as_what_they_brought_in() {
    let without = &evaluate(&["Nuke"], &[])[0];
    let with = &evaluate(&["Nuke"], &["--merges"])[0];
    assert_eq!(without["merges"], 69, "the README's count of first-parent merges");
    assert!(
        with["scored"].as_u64().unwrap() > without["scored"].as_u64().unwrap(),
        "merged changes add scored changes: {} against {}",
        with["scored"],
        without["scored"]
    );
}

#[test]
fn a_path_that_is_no_repository_is_named() {
    let out = Command::new(farm_bin())
        .args(["select", "evaluate", "/nonexistent/Repo.bundle"])
        .output()
        .expect("run farm");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/Repo.bundle") && err.contains("no such"),
        "{err}"
    );
}
