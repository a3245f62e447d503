//! A PHPUnit shard on this agent: finds the file of each of its classes in the
//! checkout, and writes the shard's manifest, suite file and configuration into the
//! task directory (the design is in `testfarm_shared::phpunit`).

use crate::error::AgentError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use testfarm_shared::phpunit::{self, locate, Phpunit, Roots};
use testfarm_shared::task::{TestResult, TestStatus};

/// Directories never searched for test classes: dependencies and tools' state.
const SKIPPED_DIRS: &[&str] = &["vendor", "node_modules"];

/// The roots of `project` as test ids name them.
pub fn roots(project: &Path) -> Roots {
    let given = project.display().to_string();
    let resolved = std::fs::canonicalize(project)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| given.clone());
    Roots { given, resolved }
}

#[derive(Serialize)]
struct Manifest {
    classes: Vec<ManifestClass>,
}

#[derive(Serialize)]
struct ManifestClass {
    class: String,
    file: String,
    /// The tests' ids, with the root as PHP sees it here.
    tests: Vec<String>,
}

/// What [`write_shard`] could not place: the shard's tests whose class is in no file
/// of the checkout, each an `error` result naming why.
pub type Unlocated = Vec<TestResult>;

/// Writes the shard's files into `task_dir` for `tests` (ids with [`phpunit::ROOT`]).
/// An error is the agent's (it could not read or write); a class the checkout lacks
/// is the tree's, and its tests come back as errors.
pub fn write_shard(
    task_dir: &Path,
    project: &Path,
    stage: &Phpunit,
    tests: &[String],
    roots: &Roots,
) -> Result<Unlocated, AgentError> {
    let config_path = project.join(&stage.config);
    let config_dir = config_path.parent().unwrap_or(project).to_path_buf();
    let xml = std::fs::read_to_string(&config_path)
        .map_err(AgentError::io("read the stage's PHPUnit configuration", &config_path))?;
    let suite_file = task_dir.join(phpunit::SHARD_SUITE_FILE);
    let config = phpunit::shard_config(
        &xml,
        &config_path.display().to_string(),
        &config_dir.display().to_string(),
        &stage.suites(),
        &suite_file.display().to_string(),
    )?;

    // The shard's classes, in the order of their first test.
    let mut order: Vec<&str> = Vec::new();
    let mut by_class: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for id in tests {
        let class = phpunit::class_of(id);
        let entry = by_class.entry(class).or_default();
        if entry.is_empty() {
            order.push(class);
        }
        entry.push(id);
    }
    let files = locate_classes(&config_dir, by_class.keys().copied())?;
    let mut manifest = Manifest { classes: Vec::new() };
    let mut unlocated = Vec::new();
    for class in order {
        let ids = &by_class[class];
        match files.get(class) {
            Some(Located::One(file)) => manifest.classes.push(ManifestClass {
                class: class.to_string(),
                file: file.display().to_string(),
                tests: ids.iter().map(|id| roots.localize(id)).collect(),
            }),
            other => {
                let why = match other {
                    Some(Located::Many(files)) => format!(
                        "farm: class {class} is declared in more than one file: {}",
                        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
                    ),
                    _ => format!(
                        "farm: class {class} is in no file {}.php under {} that declares it (PHPUnit takes a class from the file named after it)",
                        locate::short_name(class),
                        config_dir.display()
                    ),
                };
                unlocated.extend(ids.iter().map(|id| TestResult {
                    id: id.to_string(),
                    status: TestStatus::Error,
                    duration_secs: 0.0,
                    message: why.clone(),
                }));
            }
        }
    }
    let write = |path: PathBuf, text: &str| std::fs::write(&path, text).map_err(AgentError::io("write", &path));
    let manifest = serde_json::to_string(&manifest).map_err(|source| AgentError::Encode {
        what: "the shard manifest",
        source,
    })?;
    write(task_dir.join(phpunit::SHARD_MANIFEST_FILE), &manifest)?;
    write(suite_file, phpunit::SHARD_SUITE_SOURCE)?;
    write(task_dir.join(phpunit::SHARD_CONFIG_FILE), &config)?;
    Ok(unlocated)
}

/// Writes a PHPUnit worker's files into its directory `dir`: the suite file, the
/// worker's bootstrap and its configuration (the stage's, booting the worker; see
/// `testfarm_shared::phpunit::worker_config`). Returns the stage's own bootstrap,
/// which the worker loads first (`FARM_STAGE_BOOTSTRAP`).
pub fn write_worker(dir: &Path, project: &Path, stage: &Phpunit) -> Result<Option<String>, AgentError> {
    let config_path = project.join(&stage.config);
    let config_dir = config_path.parent().unwrap_or(project).to_path_buf();
    let xml = std::fs::read_to_string(&config_path)
        .map_err(AgentError::io("read the stage's PHPUnit configuration", &config_path))?;
    let suite_file = dir.join(phpunit::SHARD_SUITE_FILE);
    let bootstrap_file = dir.join(phpunit::WORKER_BOOTSTRAP_FILE);
    let (config, stage_bootstrap) = phpunit::worker_config(
        &xml,
        &config_path.display().to_string(),
        &config_dir.display().to_string(),
        &stage.suites(),
        &suite_file.display().to_string(),
        &bootstrap_file.display().to_string(),
    )?;
    let write = |path: PathBuf, text: &str| std::fs::write(&path, text).map_err(AgentError::io("write", &path));
    write(suite_file, phpunit::SHARD_SUITE_SOURCE)?;
    write(bootstrap_file, phpunit::WORKER_BOOTSTRAP_SOURCE)?;
    write(dir.join(phpunit::SHARD_CONFIG_FILE), &config)?;
    Ok(stage_bootstrap)
}

enum Located {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

/// The file of each class: among the files under `root` named after the class, the
/// one whose source declares it.
fn locate_classes<'a>(
    root: &Path,
    classes: impl Iterator<Item = &'a str>,
) -> Result<BTreeMap<&'a str, Located>, AgentError> {
    let mut by_short: BTreeMap<String, Vec<&'a str>> = BTreeMap::new();
    for class in classes {
        by_short
            .entry(format!("{}.php", locate::short_name(class)))
            .or_default()
            .push(class);
    }
    let mut candidates: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let names: BTreeSet<&str> = by_short.keys().map(String::as_str).collect();
    walk(root, &names, &mut candidates).map_err(AgentError::io("search for test classes in", root))?;
    let mut out = BTreeMap::new();
    for (name, classes) in by_short {
        let files = candidates.remove(&name).unwrap_or_default();
        let sources: Vec<(PathBuf, String)> = files
            .into_iter()
            .filter_map(|f| std::fs::read_to_string(&f).ok().map(|s| (f, s)))
            .collect();
        for class in classes {
            let mut found: Vec<PathBuf> = sources
                .iter()
                .filter(|(_, source)| locate::declares(source, class))
                .map(|(f, _)| f.clone())
                .collect();
            match found.len() {
                0 => {}
                1 => {
                    out.insert(class, Located::One(found.remove(0)));
                }
                _ => {
                    out.insert(class, Located::Many(found));
                }
            }
        }
    }
    Ok(out)
}

fn walk(dir: &Path, names: &BTreeSet<&str>, found: &mut BTreeMap<String, Vec<PathBuf>>) -> std::io::Result<()> {
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                walk(&entry.path(), names, found)?;
            }
        } else if names.contains(name) {
            found.entry(name.to_string()).or_default().push(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> Phpunit {
        Phpunit {
            command: "phpunit".into(),
            config: "phpunit.xml".into(),
            testsuite: Some("unit".into()),
            group: vec![],
            exclude_group: vec![],
            workers: true,
        }
    }

    #[test]
    fn a_shard_names_its_classes_files_and_tests() {
        let tmp = std::env::temp_dir().join(format!("farm-phpunit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let project = tmp.join("proj");
        let task = tmp.join("task");
        std::fs::create_dir_all(project.join("tests/a")).unwrap();
        std::fs::create_dir_all(project.join("tests/b")).unwrap();
        std::fs::create_dir_all(project.join("vendor/x")).unwrap();
        std::fs::create_dir_all(&task).unwrap();
        std::fs::write(project.join("phpunit.xml"), "<phpunit bootstrap=\"b.php\"/>").unwrap();
        std::fs::write(
            project.join("tests/a/FooTest.php"),
            "<?php\nnamespace A;\nclass FooTest {}\n",
        )
        .unwrap();
        std::fs::write(
            project.join("tests/b/FooTest.php"),
            "<?php\nnamespace B;\nclass FooTest {}\n",
        )
        .unwrap();
        std::fs::write(project.join("vendor/x/GoneTest.php"), "<?php\nclass GoneTest {}\n").unwrap();
        let roots = roots(&project);
        let tests = vec![
            "B\\FooTest::testX with data set \"{root}/data.txt\"".to_string(),
            "A\\FooTest::testY".to_string(),
            "GoneTest::testZ".to_string(),
        ];
        let unlocated = write_shard(&task, &project, &stage(), &tests, &roots).unwrap();
        assert_eq!(unlocated.len(), 1);
        assert_eq!(unlocated[0].id, "GoneTest::testZ");
        assert!(
            unlocated[0].message.contains("no file GoneTest.php"),
            "{}",
            unlocated[0].message
        );
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(task.join(phpunit::SHARD_MANIFEST_FILE)).unwrap()).unwrap();
        let classes = manifest["classes"].as_array().unwrap();
        assert_eq!(classes.len(), 2);
        assert_eq!(classes[0]["class"], "B\\FooTest");
        assert!(classes[0]["file"].as_str().unwrap().ends_with("tests/b/FooTest.php"));
        assert_eq!(
            classes[0]["tests"][0].as_str().unwrap(),
            format!("B\\FooTest::testX with data set \"{}/data.txt\"", roots.resolved)
        );
        assert!(classes[1]["file"].as_str().unwrap().ends_with("tests/a/FooTest.php"));
        let config = std::fs::read_to_string(task.join(phpunit::SHARD_CONFIG_FILE)).unwrap();
        assert!(
            config.contains(&format!("bootstrap=\"{}/b.php\"", project.display())),
            "{config}"
        );
        assert!(config.contains("FarmShardSuite.php</file>"), "{config}");
        assert!(task.join(phpunit::SHARD_SUITE_FILE).exists());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
