//! Helpers for the executor tests (tests/tests/containers.rs): the runtime image they
//! need, copies of the `containers` fixture rewritten per case, the docker CLI, and
//! the agents' cgroup files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::farm_bin;

/// Builds runtime image `name` (`farm image build`) once per test process: a no-op
/// when the cache already has it, a debootstrap (~30 s for `base`) otherwise. Panics
/// with the command's output when it cannot.
pub fn ensure_image(name: &str) {
    static BUILT: Mutex<BTreeMap<String, Result<(), String>>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let result = built.entry(name.to_string()).or_insert_with(|| {
        let out = Command::new(farm_bin())
            .args(["image", "build", name])
            .env("NO_COLOR", "1")
            .output()
            .map_err(|e| format!("cannot run farm image build: {e}"))?;
        if out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
            Ok(())
        } else {
            Err(format!(
                "`farm image build {name}` failed ({}); it needs root, debootstrap and a Debian mirror:\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(why) = result {
        panic!("{why}");
    }
}

/// Copies `tests/fixtures/<name>` to `dest` (created world-readable: the commands run
/// as the runtime user) with each `(from, to)` replaced in its farm.yaml; returns the
/// copy's farm.yaml.
pub fn fixture_copy(name: &str, dest: &Path, replace: &[(&str, &str)]) -> PathBuf {
    let src = crate::fixture(name);
    let src_dir = src.parent().expect("fixture dir");
    copy_dir(src_dir, dest);
    let yaml = dest.join("farm.yaml");
    let mut text = fs::read_to_string(&yaml).expect("read farm.yaml copy");
    for (from, to) in replace {
        assert!(text.contains(from), "`{from}` not in {}", yaml.display());
        text = text.replace(from, to);
    }
    fs::write(&yaml, text).expect("write farm.yaml copy");
    yaml
}

fn copy_dir(src: &Path, dest: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dest).expect("create fixture copy");
    fs::set_permissions(dest, fs::Permissions::from_mode(0o755)).expect("chmod fixture copy");
    for entry in fs::read_dir(src).expect("read fixture").flatten() {
        let to = dest.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            // fs::copy keeps the mode (run-checks.sh stays executable).
            fs::copy(entry.path(), &to).expect("copy fixture file");
        }
    }
}

/// `docker <args>`: stdout, trimmed; panics when docker fails.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("run the docker CLI");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Ids of the containers labelled with this agent (`running`: only running ones).
pub fn agent_containers(agent_id: &str, running: bool) -> Vec<String> {
    let filter = format!("label=testfarm.agent={agent_id}");
    let mut args = vec!["ps", "-q", "--no-trunc", "--filter", filter.as_str()];
    if !running {
        args.push("-a");
    }
    docker(&args).lines().map(String::from).collect()
}

/// Running containers of this agent that run shards (not discovery): (id, task).
pub fn shard_containers(agent_id: &str) -> Vec<(String, String)> {
    let filter = format!("label=testfarm.agent={agent_id}");
    docker(&[
        "ps",
        "--no-trunc",
        "--filter",
        &filter,
        "--format",
        "{{.ID}} {{.Label \"testfarm.task\"}}",
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .filter(|(_, task)| !task.ends_with(".d"))
    .map(|(id, task)| (id.to_string(), task.to_string()))
    .collect()
}

/// Whether docker knows this container at all.
pub fn container_exists(id: &str) -> bool {
    Command::new("docker")
        .args(["inspect", id])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `/sys/fs/cgroup/<controller>/testfarm/<agent>/<group>/<container>`: the
/// container's own cgroup below the agent's per-container group.
pub fn container_cgroup(controller: &str, agent_id: &str, container: &str) -> Option<PathBuf> {
    let agent = Path::new("/sys/fs/cgroup")
        .join(controller)
        .join("testfarm")
        .join(agent_id);
    fs::read_dir(&agent)
        .ok()?
        .flatten()
        .map(|e| e.path().join(container))
        .find(|p| p.is_dir())
}

/// A cgroup file's first line.
pub fn read_trimmed(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .trim()
        .to_string()
}
