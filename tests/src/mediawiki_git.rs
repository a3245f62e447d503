//! The kit as Gerrit serves MediaWiki: each of core, vendor, the extensions and the
//! skins a git repository of its own (mediawiki/core, mediawiki/vendor,
//! mediawiki/extensions/NAME, mediawiki/skins/NAME under one base), made once per
//! build directory from the unpacked kit, and the gate pipeline that fetches them:
//! examples/mediawiki-checkout/farm.yaml with a `repos:` section, each repo at its
//! Gerrit path with the base at `file://`. The repositories' git directories live
//! beside the kit (`--git-dir`), so the kit's tree stays as other tests use it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::mediawiki_kit::{pipeline, Kit, EXTENSIONS};

/// The skins the kit ships (the `extensions` suite runs their tests too).
pub const SKINS: &[&str] = &["MinervaNeue", "MonoBook", "Timeless", "Vector"];

/// What core's repository leaves to the others or to the install, as core's own
/// .gitignore does (the release tarball the kit comes from has none).
const CORE_EXCLUDES: &str = "/vendor/\n/extensions/*/\n/skins/*/\n/LocalSettings.php\n/cache/*\n!/cache/.htaccess\n";

/// The repositories under `base`: (name, Gerrit path, the kit's directory it holds,
/// the path in a workspace).
fn repos(kit: &Kit) -> Vec<(String, String, PathBuf, String)> {
    let tree = kit.mediawiki();
    let mut out = vec![
        (
            "core".to_string(),
            "mediawiki/core".to_string(),
            tree.clone(),
            ".".to_string(),
        ),
        (
            "vendor".to_string(),
            "mediawiki/vendor".to_string(),
            tree.join("vendor"),
            "vendor".to_string(),
        ),
    ];
    for ext in EXTENSIONS {
        out.push((
            ext.to_string(),
            format!("mediawiki/extensions/{ext}"),
            tree.join("extensions").join(ext),
            format!("extensions/{ext}"),
        ));
    }
    for skin in SKINS {
        out.push((
            skin.to_string(),
            format!("mediawiki/skins/{skin}"),
            tree.join("skins").join(skin),
            format!("skins/{skin}"),
        ));
    }
    out
}

fn git(git_dir: &Path, work_tree: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .arg("--work-tree")
        .arg(work_tree)
        .args(["-c", "user.name=testfarm", "-c", "user.email=testfarm@localhost"])
        .args(args)
        // The same tree gives the same commits, run after run.
        .env("GIT_AUTHOR_DATE", "2025-12-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2025-12-01T00:00:00Z")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        work_tree.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The base directory of the kit's repositories (`BASE/mediawiki/core.git`, …), made
/// on first use.
pub fn repositories(kit: &Kit) -> PathBuf {
    let base = kit.root.join("git");
    let ready = base.join(".farm-ready-1");
    if ready.exists() {
        return base;
    }
    let _ = std::fs::remove_dir_all(&base);
    for (name, at, tree, _) in repos(kit) {
        assert!(tree.is_dir(), "the kit has no {} for repo {name}", tree.display());
        let git_dir = base.join(format!("{at}.git"));
        std::fs::create_dir_all(&git_dir).expect("git dir");
        git(&git_dir, &tree, &["init", "-q", "-b", "master"]);
        if name == "core" {
            std::fs::write(git_dir.join("info/exclude"), CORE_EXCLUDES).expect("core's excludes");
        }
        git(&git_dir, &tree, &["add", "-A"]);
        git(
            &git_dir,
            &tree,
            &["commit", "-qm", &format!("{at} as MediaWiki 1.45.0 ships it")],
        );
    }
    std::fs::write(&ready, "").expect("mark the repositories ready");
    base
}

/// The gate pipeline: examples/mediawiki-checkout/farm.yaml with every repository
/// from git under `base`, written into `dir`. Submit it with
/// `--env FARM_PIPELINE_DIR=` [`pipeline_dir`] so its tools are the example's.
pub fn gate_pipeline(kit: &Kit, base: &Path, dir: &Path) -> PathBuf {
    let mut yaml = std::fs::read_to_string(pipeline()).expect("read the checkout pipeline");
    assert!(
        !yaml.contains("\nrepos:"),
        "the checkout pipeline has no repos of its own"
    );
    yaml.push_str("\n# The gate from git, one repository per Gerrit project.\nrepos:\n");
    for (name, at, _, path) in repos(kit) {
        let url = format!("file://{}", base.join(format!("{at}.git")).display());
        yaml.push_str(&format!("  {name}:\n"));
        match name.as_str() {
            "core" => yaml.push_str("    kind: core\n"),
            // Everything depends on vendor: a change there selects every test.
            "vendor" => yaml.push_str("    path: vendor\n    namespace: \"\"\n"),
            _ if path.starts_with("skins/") => yaml.push_str("    kind: skin\n"),
            _ => {}
        }
        yaml.push_str(&format!("    git: {url}\n"));
    }
    std::fs::create_dir_all(dir).expect("pipeline dir");
    let file = dir.join("farm.yaml");
    std::fs::write(&file, yaml).expect("write the gate pipeline");
    file
}

/// The directory of the checkout pipeline's tools, for `FARM_PIPELINE_DIR`.
pub fn pipeline_dir() -> PathBuf {
    pipeline().parent().expect("pipeline dir").to_path_buf()
}
