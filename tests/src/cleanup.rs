//! Teardown after a test: whatever the agents' shards left running, and the agents'
//! cgroups (an agent removes its shard groups, but not its own parent group, and
//! nothing at all when it is killed).

use std::fs;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::process::is_zombie;

/// SIGKILLs every process whose environment places it in a shard directory under
/// `dir` (the agents set `FARM_SHARD_DIR` for every command they start; their
/// children inherit it), until none is left.
pub(crate) fn kill_shard_leftovers(dir: &Path) {
    let marker = format!("FARM_SHARD_DIR={}", dir.display());
    for _ in 0..20 {
        let mut found = 0;
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(environ) = fs::read(entry.path().join("environ")) else {
                continue;
            };
            let ours = environ.split(|&b| b == 0).any(|var| var.starts_with(marker.as_bytes()));
            if ours && !is_zombie(pid) {
                found += 1;
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if found == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILLs the database servers the agents started under `dir` (their command
/// lines name their data directories under `<agent work dir>/services/`): they run in
/// sessions of their own, as `nobody`, so a killed agent leaves them running.
pub(crate) fn kill_service_leftovers(dir: &Path) {
    let marker = format!("{}/", dir.display());
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline);
        if text.contains(&marker) && text.contains("/services/") && !is_zombie(pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Force-removes the containers labelled with this agent (the docker executor's;
/// the daemon keeps them running when the agent is killed). Quiet without docker.
pub(crate) fn remove_agent_containers(agent_id: &str) {
    let filter = format!("label=testfarm.agent={agent_id}");
    let Ok(out) = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
    else {
        return;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    if !ids.is_empty() {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", "-v"])
            .args(&ids)
            .output();
    }
}

/// Removes `testfarm/<agent>` in every cgroup hierarchy (v1 controllers and v2),
/// killing what is still inside. The agent removes its shard groups itself, but not
/// its parent group, and nothing at all when it is killed.
pub(crate) fn remove_agent_cgroups(agent_id: &str) {
    let root = Path::new("/sys/fs/cgroup");
    let mut bases = vec![root.to_path_buf()];
    bases.extend(fs::read_dir(root).into_iter().flatten().flatten().map(|e| e.path()));
    for base in bases {
        let group = base.join("testfarm").join(agent_id);
        if group.is_dir() {
            remove_cgroup_tree(&group);
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_cgroup_tree(&entry.path());
        }
    }
    for _ in 0..50 {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
