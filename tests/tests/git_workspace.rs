//! examples/mediawiki as git repositories (core at the root, each extension its own
//! repository, `file://` URLs): agents mirror them, build a workspace per tree once and
//! reuse it for later shards, and test the change under test, given as a patch or as a
//! ref of one repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{workspace_root, Farm, Options};

const EXTENSIONS: [&str; 3] = ["Echo", "Thanks", "LoginNotify"];
const PATCHED_TEST: &str = "MediaWiki\\Extension\\Thanks\\Tests\\PatchedTest::testThePatchIsApplied";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git(dir: &Path, args: &[&str]) -> String {
    run(Command::new("git")
        .args([
            "-c",
            "user.name=farm",
            "-c",
            "user.email=farm@localhost",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir))
}

/// A test file that fails, under Thanks' unit tests.
fn failing_test_file() -> String {
    "<?php\nnamespace MediaWiki\\Extension\\Thanks\\Tests;\n\nuse PHPUnit\\Framework\\TestCase;\n\n\
     class PatchedTest extends TestCase {\n\tpublic function testThePatchIsApplied() {\n\t\t\
     $this->assertSame( 'patched', 'unpatched' );\n\t}\n}\n"
        .to_string()
}

/// The repositories under `root` (core with the root files, one per extension) and
/// a pipeline naming them by `file://` URL; returns the pipeline's path.
fn make_repos(root: &Path) -> PathBuf {
    let core = root.join("core");
    run(Command::new("cp")
        .arg("-a")
        .arg(workspace_root().join("examples/mediawiki"))
        .arg(&core));
    for ext in EXTENSIONS {
        let dir = root.join(ext);
        std::fs::rename(core.join("extensions").join(ext), &dir).expect("move the extension out");
        git(&dir, &["init", "-q"]);
        git(&dir, &["add", "-A"]);
        git(
            &dir,
            &["commit", "-qm", &format!("{ext} as it is in examples/mediawiki")],
        );
    }
    std::fs::write(core.join(".gitignore"), "/extensions/*/\n").unwrap();
    let yaml = std::fs::read_to_string(core.join("farm.yaml")).unwrap();
    git(&core, &["init", "-q"]);
    git(&core, &["add", "-A"]);
    git(&core, &["commit", "-qm", "core as it is in examples/mediawiki"]);

    let start = yaml.find("repos:").expect("a repos section");
    let end = yaml.find("defaults:").expect("a defaults section");
    let mut repos = format!(
        "repos:\n  core:\n    kind: core\n    path: .\n    git: file://{}\n",
        core.display()
    );
    for ext in EXTENSIONS {
        repos += &format!("  {ext}:\n    git: file://{}\n", root.join(ext).display());
    }
    let pipeline = root.join("pipeline");
    std::fs::create_dir_all(&pipeline).unwrap();
    let path = pipeline.join("farm.yaml");
    std::fs::write(&path, format!("{}{repos}\n{}", &yaml[..start], &yaml[end..])).unwrap();
    path
}

/// Tests (each data set apart) of examples/mediawiki's unit suite, as phpunit lists
/// them.
fn unit_tests() -> usize {
    let list = tempfile::NamedTempFile::new().unwrap();
    run(Command::new("phpunit")
        .args(["-c", "phpunit.xml", "--testsuite", "unit", "--list-tests-xml"])
        .arg(list.path())
        .current_dir(workspace_root().join("examples/mediawiki")));
    let xml = std::fs::read_to_string(list.path()).unwrap();
    xml.lines().filter(|l| l.trim().starts_with("<testCaseMethod")).count()
}

fn usage_warm(t: &Value) -> Option<bool> {
    t["outcome"]["usage"]["workspace_warm"].as_bool()
}

#[test]
fn git_workspaces_are_built_once_per_tree_and_test_the_change() {
    let mut farm = Farm::start("git-ws", Options::default());
    let root = farm.dir().join("repos");
    std::fs::create_dir_all(&root).unwrap();
    let yaml = make_repos(&root);

    // The repositories as they are: passes, every task in a workspace.
    let out = farm.submit(&yaml, &["--only", "phpunit-unit"]);
    let rec = out.json();
    assert_eq!(out.code, 0, "{}", summary(&rec));
    let tests = record::results(&rec).len();
    let listed = unit_tests();
    assert_eq!(tests, 2 * listed, "each unit test once per PHP cell");
    let tasks = record::tasks(&rec);
    let built: Vec<&Value> = tasks.iter().filter(|t| usage_warm(t) == Some(false)).collect();
    let warm: Vec<&Value> = tasks.iter().filter(|t| usage_warm(t) == Some(true)).collect();
    assert_eq!(built.len() + warm.len(), tasks.len(), "every task ran in a workspace");
    assert!(
        !built.is_empty() && built.len() <= 2,
        "each of the 2 agents builds the tree at most once: {} builds",
        built.len()
    );
    let prepare = |ts: &[&Value]| {
        let mut v: Vec<f64> = ts
            .iter()
            .map(|t| t["outcome"]["phases"]["prepare_secs"].as_f64().unwrap())
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (cold, hot) = (prepare(&built), prepare(&warm));
    assert!(
        cold > 5.0 * hot,
        "a warm workspace is cheap: cold p50 {cold:.3}s, warm p50 {hot:.3}s"
    );
    eprintln!(
        "git workspace: {} tasks, {} built it (prepare p50 {cold:.3}s), {} found it warm (p50 {hot:.4}s)",
        tasks.len(),
        built.len(),
        warm.len()
    );

    // The change under test as a patch: a new failing test in Thanks.
    let body = failing_test_file();
    let lines: Vec<String> = body.lines().map(|l| format!("+{l}")).collect();
    let file = "extensions/Thanks/tests/phpunit/unit/PatchedTest.php";
    let patch = format!(
        "diff --git a/{file} b/{file}\nnew file mode 100644\n--- /dev/null\n+++ b/{file}\n@@ -0,0 +1,{} @@\n{}\n",
        lines.len(),
        lines.join("\n")
    );
    let patch_path = farm.dir().join("change.diff");
    std::fs::write(&patch_path, patch).unwrap();
    let out = farm.submit(
        &yaml,
        &["--only", "phpunit-unit", "--patch", &patch_path.display().to_string()],
    );
    let rec = out.json();
    assert_eq!(out.code, 1, "{}", summary(&rec));
    let failed = record::failed_tests(&rec);
    assert_eq!(failed.len(), 2, "the patched test fails in both PHP cells: {failed:?}");
    assert!(failed.iter().all(|f| f.ends_with(PATCHED_TEST)), "{failed:?}");
    assert_eq!(
        git(&root.join("Thanks"), &["status", "--porcelain"]),
        "",
        "the repository is untouched"
    );

    // The change as a ref of one repository.
    let thanks = root.join("Thanks");
    git(&thanks, &["checkout", "-qb", "broken"]);
    std::fs::write(thanks.join("tests/phpunit/unit/PatchedTest.php"), failing_test_file()).unwrap();
    git(&thanks, &["add", "-A"]);
    git(&thanks, &["commit", "-qm", "a failing test"]);
    git(&thanks, &["checkout", "-q", "main"]);
    let out = farm.submit(&yaml, &["--only", "phpunit-unit", "--change", "Thanks=broken"]);
    let rec = out.json();
    assert_eq!(out.code, 1, "{}", summary(&rec));
    assert!(rec["run"]["failed_tests"][0].as_str().unwrap().ends_with(PATCHED_TEST));
    // Without the change, main passes again (its workspace is still there: all warm).
    let out = farm.submit(&yaml, &["--only", "phpunit-unit"]);
    let rec = out.json();
    assert_eq!(out.code, 0, "{}", summary(&rec));
    assert!(
        record::tasks(&rec).iter().all(|t| usage_warm(t) == Some(true)),
        "the same tree again: every task warm"
    );

    // A ref that does not exist is the user's error, before anything runs.
    let out = farm.submit(&yaml, &["--only", "phpunit-unit", "--change", "Thanks=nope"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("repo Thanks") && out.stderr.contains("nope"),
        "{}",
        out.stderr
    );
}
