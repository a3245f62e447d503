//! `farm select` on a small git repository the test makes: the pick with its reasons
//! from the code and the history, the cases it leaves to the repository rule, and
//! the errors that name what is wrong.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use testfarm_integration::farm_bin;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// An extension-like repository: two classes (Beta uses Alpha), a test for each, one
/// test that names nothing, and history where BetaTest changed with Beta in all four
/// commits.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"]);
    write(d, "src/Alpha.php", "<?php\nnamespace Ext;\nclass Alpha {}\n");
    write(
        d,
        "src/Beta.php",
        "<?php\nnamespace Ext;\nclass Beta { function a() { return new Alpha(); } }\n",
    );
    write(
        d,
        "tests/phpunit/AlphaTest.php",
        "<?php\nnamespace Ext\\Tests;\nuse Ext\\Alpha;\n/** @covers \\Ext\\Alpha */\nclass AlphaTest { function testA() { new Alpha(); } }\n",
    );
    write(
        d,
        "tests/phpunit/BetaTest.php",
        "<?php\nnamespace Ext\\Tests;\nclass BetaTest { function testB() { new \\Ext\\Beta(); } }\n",
    );
    write(
        d,
        "tests/phpunit/OtherTest.php",
        "<?php\nnamespace Ext\\Tests;\nclass OtherTest {}\n",
    );
    write(d, "extension.json", "{}\n");
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "start"]);
    for i in 0..3 {
        write(
            d,
            "src/Beta.php",
            &format!("<?php\nnamespace Ext;\nclass Beta {{ /* {i} */ function a() {{ return new Alpha(); }} }}\n"),
        );
        write(d, "tests/phpunit/BetaTest.php", &format!("<?php\nnamespace Ext\\Tests;\nclass BetaTest {{ /* {i} */ function testB() {{ new \\Ext\\Beta(); }} }}\n"));
        git(d, &["commit", "-q", "-am", "beta"]);
    }
    dir
}

fn select(dir: &Path, args: &[&str]) -> Output {
    Command::new(farm_bin())
        .arg("select")
        .arg("--project-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run farm select")
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_pick_follows_the_code_and_the_history_with_reasons() {
    let repo = repository();
    let a = json(&select(repo.path(), &["--changed-file", "src/Alpha.php", "--json"]));
    assert_eq!(a["suite_files"], 3);
    let first = &a["picked"][0];
    assert_eq!(first["file"], "tests/phpunit/AlphaTest.php");
    assert_eq!(first["classes"][0], "ext\\tests\\alphatest");
    let signals: Vec<&str> = first["why"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["signal"].as_str().unwrap())
        .collect();
    assert!(signals.contains(&"covers") && signals.contains(&"name"), "{signals:?}");
    // BetaTest reaches Alpha through Beta: two steps.
    let beta = a["picked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["file"] == "tests/phpunit/BetaTest.php");
    if let Some(beta) = beta {
        assert!(beta["why"].to_string().contains("\"distance\":2"), "{beta}");
    }
    assert!(a["cut"]["expected_recall"].as_f64().unwrap() >= 0.95);

    let b = json(&select(repo.path(), &["--changed-file", "src/Beta.php", "--json"]));
    assert_eq!(b["history_commits"], 4);
    let first = &b["picked"][0];
    assert_eq!(first["file"], "tests/phpunit/BetaTest.php");
    assert!(
        first["why"].to_string().contains("\"count\":4"),
        "co-change in all 4 commits: {first}"
    );

    // The text form says the same for people.
    let text = select(repo.path(), &["--changed-file", "src/Beta.php"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("tests/phpunit/BetaTest.php") && text.contains("changed with it in 4 commits"),
        "{text}"
    );
    assert!(text.contains("expected recall"), "{text}");
}

#[test]
fn changes_the_code_map_cannot_follow_are_left_to_the_repository_rule() {
    let repo = repository();
    let out = json(&select(repo.path(), &["--changed-file", "extension.json", "--json"]));
    assert!(out["not_static"].as_str().unwrap().contains("extension.json"), "{out}");
    let text = select(repo.path(), &["--changed-file", "resources/x.js"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("no static pick"));
}

#[test]
fn bad_input_is_named() {
    let repo = repository();
    let out = select(repo.path(), &["--changed-file", "src/Alpha.php", "--confidence", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confidence 1.5"));
    let out = select(repo.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--changed-file"));
    let out = select(Path::new("/nonexistent-farm-dir"), &["--changed-file", "a.php"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-farm-dir"));
}
