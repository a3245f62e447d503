//! The privileged part of the sandbox: one cgroup per shard, with the stage's limits,
//! read back for usage and torn down (with everything still in it) when the shard ends.
//!
//! Kept behind a narrow interface ([`ShardCgroup`], [`probe`], [`reap`]) so that the
//! rest of the agent never touches cgroupfs (STYLE.md, habit 12).
//!
//! Layout: every shard group lives under one parent that this agent owns,
//! `<parent>/<name>` (e.g. `testfarm/agent-1/r12.3.4-a1`). On cgroup v1 that path
//! exists once per controller (`/sys/fs/cgroup/memory/<parent>/<name>`, `.../cpu/...`,
//! `.../cpuacct/...`, `.../pids/...`); cgroups-rs creates v1 groups at each
//! controller's root, which is why the full relative path is passed as the group name
//! (see DEPENDENCIES.md, "cgroups, learned the hard way"). On v2 it is one directory
//! under `/sys/fs/cgroup`.
//!
//! Limits and membership go through cgroups-rs; usage counters are read straight
//! from the files, because the crate's accessors are v1/v2-inconsistent there.

use crate::error::AgentError;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::cpu::CpuController;
use cgroups_rs::cpuacct::CpuAcctController;
use cgroups_rs::memory::MemController;
use cgroups_rs::pid::PidController;
use cgroups_rs::{Cgroup, CgroupPid, Controller, MaxValue};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testfarm_shared::config::Limits;
use testfarm_shared::task::Usage;

/// CFS period for the cpu quota: quota = cores × period.
const CPU_PERIOD_US: u64 = 100_000;
/// The kernel rejects a CFS quota below 1ms.
const CPU_MIN_QUOTA_US: i64 = 1_000;
/// `kill_all` gives up after this many rounds of "read members, SIGKILL them".
const KILL_ROUNDS: usize = 50;
const KILL_ROUND_PAUSE: Duration = Duration::from_millis(10);

/// The v1 controllers a shard group is made in. `cpu` limits, `cpuacct` accounts.
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];
/// The v2 controllers a shard group needs (cpu accounting is always on in v2).
const V2_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// What went wrong with a shard's cgroup; each says what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("invalid cgroup path `{path}`: {why}")]
    InvalidName { path: String, why: &'static str },
    #[error("cannot limit {what} for cgroup `{path}`: the `{controller}` controller is not available on this host")]
    MissingController {
        path: String,
        what: &'static str,
        controller: &'static str,
    },
    #[error("cannot create cgroup directory {dir}")]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create cgroup `{path}` (v2)")]
    CreateV2 {
        path: String,
        #[source]
        source: Box<cgroups_rs::error::Error>,
    },
    #[error("cannot set {what} = {value} in {dir}")]
    SetLimit {
        what: &'static str,
        value: String,
        dir: PathBuf,
        #[source]
        source: Box<cgroups_rs::error::Error>,
    },
    #[error("cannot add process {pid} to cgroup `{path}`")]
    AddProcess {
        pid: u32,
        path: String,
        #[source]
        source: Box<cgroups_rs::error::Error>,
    },
}

/// What a shard's cgroup used, read after (or while) it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupUsage {
    pub cpu_secs: f64,
    pub peak_memory_bytes: u64,
    /// Processes the kernel OOM-killed at this group's memory limit (v1
    /// `memory.oom_control` `oom_kill`, v2 `memory.events` `oom_kill`).
    pub oom_kills: u64,
    /// Whether the kernel has an `oom_kill` counter at all. When it does not (v1 before
    /// Linux 4.13), `oom_kills` is 0 and [`CgroupUsage::hit_memory_limit`] falls back to
    /// `memory_failcnt`.
    pub oom_kill_counted: bool,
    /// v1 `memory.failcnt`: how often usage hit the limit (reclaim included, so on its
    /// own it does not mean something was killed). 0 on v2.
    pub memory_failcnt: u64,
    /// v2 `pids.peak` where the kernel has it (Linux 6.1+); 0 otherwise (v1 has none:
    /// callers sample [`ShardCgroup::pids_current`]).
    pub peak_pids: u64,
}

impl CgroupUsage {
    /// Whether the group's memory limit killed something. `sigkilled`: the main
    /// process died of SIGKILL (or a shell reported a child that did, status 137).
    /// The failcnt fallback is only used on kernels without an `oom_kill` counter.
    pub fn hit_memory_limit(&self, sigkilled: bool) -> bool {
        self.oom_kills > 0 || (!self.oom_kill_counted && sigkilled && self.memory_failcnt > 0)
    }
}

/// What the task report carries (`cgroup: true`: the figures are real).
impl From<CgroupUsage> for Usage {
    fn from(u: CgroupUsage) -> Usage {
        Usage {
            cpu_secs: u.cpu_secs,
            peak_memory_bytes: u.peak_memory_bytes,
            cgroup: true,
            peak_pids: u.peak_pids,
            oom_kills: u.oom_kills,
            executor: String::new(),
            workspace_warm: None,
            install_warm: None,
            worker_warm: None,
        }
    }
}

/// One shard's cgroup, `<parent>/<name>` under every controller it uses.
#[derive(Debug)]
pub struct ShardCgroup {
    cg: Cgroup,
    /// `<parent>/<name>`, relative to the hierarchy (or each v1 controller) root.
    path: String,
    v2: bool,
}

impl ShardCgroup {
    /// Creates the group with the limits: memory hard limit (and the same value for
    /// memory+swap on v1, or no swap on v2, so swap cannot dodge it; ignored where the
    /// kernel has no swap accounting), cpu quota = cores × 100ms per 100ms, pids.max.
    /// A limit whose controller is missing is an error; accounting is best effort.
    pub fn create(parent: &str, name: &str, limits: &Limits) -> Result<Self, CgroupError> {
        let path = join_path(parent, name)?;
        let group = Self::load(&path);

        if group.v2 {
            group.cg.create().map_err(|source| CgroupError::CreateV2 {
                path: path.clone(),
                source: Box::new(source),
            })?;
        } else {
            for sub in group.cg.subsystems() {
                let dir = sub.to_controller().path();
                if let Err(source) = fs::create_dir_all(dir) {
                    group.remove_dirs();
                    return Err(CgroupError::Create {
                        dir: dir.to_path_buf(),
                        source,
                    });
                }
            }
        }

        if let Err(e) = group.apply(limits) {
            group.remove_dirs();
            return Err(e);
        }
        Ok(group)
    }

    /// A handle on `path` (which may or may not exist), restricted to the controllers
    /// that shard groups use and this host has.
    fn load(path: &str) -> Self {
        let hier = cgroups_rs::hierarchies::auto();
        let v2 = hier.v2();
        let wanted: &[&str] = if v2 { &V2_CONTROLLERS } else { &V1_CONTROLLERS };
        let available: Vec<String> = hier
            .subsystems()
            .iter()
            .map(|s| s.controller_name())
            .filter(|n| wanted.contains(&n.as_str()))
            .collect();
        let cg = Cgroup::load_with_specified_controllers(hier, path, available);
        ShardCgroup {
            cg,
            path: path.to_string(),
            v2,
        }
    }

    fn apply(&self, limits: &Limits) -> Result<(), CgroupError> {
        if let Some(bytes) = limits.memory_bytes {
            let mem = self.require::<MemController>("memory", "memory")?;
            let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
            mem.set_limit(bytes)
                .map_err(|source| self.set_error("memory limit", bytes, mem.path(), source))?;
            // Without this, a v1 group on a host with swap could page out instead of
            // being OOM-killed. Absent when swap accounting is off: nothing to dodge.
            if self.v2 {
                if mem.path().join("memory.swap.max").exists() {
                    let _ = mem.set_memswap_limit(0);
                }
            } else if mem.path().join("memory.memsw.limit_in_bytes").exists() {
                let _ = mem.set_memswap_limit(bytes);
            }
        }
        if let Some(cores) = limits.cpu {
            let cpu = self.require::<CpuController>("cpu", "cpu")?;
            let quota = ((cores * CPU_PERIOD_US as f64).round() as i64).max(CPU_MIN_QUOTA_US);
            cpu.set_cfs_quota_and_period(Some(quota), Some(CPU_PERIOD_US))
                .map_err(|source| {
                    let value = format!("{quota}us per {CPU_PERIOD_US}us");
                    self.set_error("cpu quota", value, cpu.path(), source)
                })?;
        }
        if let Some(max) = limits.pids {
            let pids = self.require::<PidController>("pids", "pids")?;
            let max = i64::try_from(max).unwrap_or(i64::MAX);
            pids.set_pid_max(MaxValue::Value(max))
                .map_err(|source| self.set_error("pids.max", max, pids.path(), source))?;
        }
        Ok(())
    }

    fn require<'a, T>(&'a self, what: &'static str, controller: &'static str) -> Result<&'a T, CgroupError>
    where
        &'a T: From<&'a cgroups_rs::Subsystem>,
        T: Controller + cgroups_rs::ControllIdentifier,
    {
        self.cg
            .controller_of::<T>()
            .ok_or_else(|| CgroupError::MissingController {
                path: self.path.clone(),
                what,
                controller,
            })
    }

    fn set_error(
        &self,
        what: &'static str,
        value: impl ToString,
        dir: &Path,
        source: cgroups_rs::error::Error,
    ) -> CgroupError {
        CgroupError::SetLimit {
            what,
            value: value.to_string(),
            dir: dir.to_path_buf(),
            source: Box::new(source),
        }
    }

    /// `<parent>/<name>`, relative to the cgroup root(s).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Moves process `pid` (all its threads) into the group, in every controller.
    pub fn add_process(&self, pid: u32) -> Result<(), CgroupError> {
        self.cg
            .add_task_by_tgid(CgroupPid::from(u64::from(pid)))
            .map_err(|source| CgroupError::AddProcess {
                pid,
                path: self.path.clone(),
                source: Box::new(source),
            })
    }

    /// Cpu seconds, peak memory and OOM kills so far. Counters that cannot be read
    /// (controller missing, old kernel) read as 0.
    pub fn usage(&self) -> CgroupUsage {
        let mut usage = CgroupUsage::default();
        if self.v2 {
            // One directory for all controllers in v2.
            let dir = self.v2_dir();
            usage.cpu_secs = read_keyed(&dir.join("cpu.stat"), "usage_usec").map_or(0.0, |us| us as f64 / 1e6);
            usage.peak_memory_bytes = read_u64(&dir.join("memory.peak")).unwrap_or(0);
            let events = read_keyed(&dir.join("memory.events"), "oom_kill");
            usage.oom_kill_counted = events.is_some();
            usage.oom_kills = events.unwrap_or(0);
            usage.peak_pids = read_u64(&dir.join("pids.peak")).unwrap_or(0);
        } else {
            if let Some(acct) = self.cg.controller_of::<CpuAcctController>() {
                usage.cpu_secs = read_u64(&acct.path().join("cpuacct.usage")).map_or(0.0, |ns| ns as f64 / 1e9);
            }
            if let Some(mem) = self.cg.controller_of::<MemController>() {
                let dir = mem.path();
                usage.peak_memory_bytes = read_u64(&dir.join("memory.max_usage_in_bytes")).unwrap_or(0);
                let kills = read_keyed(&dir.join("memory.oom_control"), "oom_kill");
                usage.oom_kill_counted = kills.is_some();
                usage.oom_kills = kills.unwrap_or(0);
                usage.memory_failcnt = read_u64(&dir.join("memory.failcnt")).unwrap_or(0);
            }
        }
        usage
    }

    /// The number of processes (tasks) in the group now (`pids.current`, which counts
    /// sub-groups too, e.g. a container's group below this one).
    pub fn pids_current(&self) -> Option<u64> {
        let dir = if self.v2 {
            self.v2_dir()
        } else {
            self.cg.controller_of::<PidController>()?.path().to_path_buf()
        };
        read_u64(&dir.join("pids.current"))
    }

    /// The group's directory in one v1 controller (`memory`, `cpu`, `pids`, ...), or
    /// the v2 directory.
    pub fn dir(&self, controller: &str) -> PathBuf {
        if self.v2 {
            self.v2_dir()
        } else {
            Path::new(cgroups_rs::hierarchies::UNIFIED_MOUNTPOINT)
                .join(controller)
                .join(&self.path)
        }
    }

    fn v2_dir(&self) -> PathBuf {
        Path::new(cgroups_rs::hierarchies::UNIFIED_MOUNTPOINT).join(&self.path)
    }

    /// Pids of the processes in the group (union over the v1 controllers, since a
    /// process could have been moved out of one of them).
    pub fn pids(&self) -> Vec<u32> {
        self.cg
            .procs()
            .into_iter()
            .filter_map(|p| u32::try_from(p.pid).ok())
            .filter(|&p| p != 0)
            .collect()
    }

    /// SIGKILLs every process still in the group, again until it is empty (a process
    /// may fork while it is being killed), for at most 50 rounds of 10ms. Blocking.
    pub fn kill_all(&self) {
        if self.v2 {
            // cgroup.kill (Linux 5.14+) kills atomically, forks included.
            let _ = fs::write(self.v2_dir().join("cgroup.kill"), "1");
        }
        for _ in 0..KILL_ROUNDS {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let Ok(raw) = i32::try_from(pid) else {
                    continue;
                };
                // ESRCH: already gone; anything else we cannot do better about.
                let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
            }
            std::thread::sleep(KILL_ROUND_PAUSE);
        }
        let left = self.pids();
        if !left.is_empty() {
            tracing::warn!(cgroup = %self.path, ?left, "processes survived SIGKILL in cgroup");
        }
    }

    /// Kills what remains, then removes the group's directories.
    pub fn destroy(self) {
        self.kill_all();
        self.remove_dirs();
    }

    fn remove_dirs(&self) {
        if let Err(e) = self.cg.delete() {
            tracing::warn!(cgroup = %self.path, error = %e, "cannot remove cgroup");
        }
    }
}

/// `<parent>/<name>`, refusing anything that could leave the agent's parent.
fn join_path(parent: &str, name: &str) -> Result<String, CgroupError> {
    let path = format!("{}/{}", parent.trim_matches('/'), name);
    let invalid = |why| CgroupError::InvalidName {
        path: path.clone(),
        why,
    };
    if name.is_empty() || name.contains('/') {
        return Err(invalid("the name must be one non-empty path component"));
    }
    if parent.trim_matches('/').is_empty() {
        return Err(invalid("the parent must not be the cgroup root"));
    }
    if path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(invalid("empty, `.` and `..` components are not allowed"));
    }
    Ok(path)
}

/// Once per agent: can this host give shards cgroups? Creates and removes a probe
/// group under `parent`. `Err` says why not (not root, controller missing, read-only
/// cgroupfs, ...); the agent then runs shards without cgroups (`Usage::cgroup` false).
pub fn probe(parent: &str) -> Result<(), AgentError> {
    let euid = nix::unistd::geteuid();
    let unavailable = |why: String| AgentError::Unavailable {
        what: "cgroups for shards".into(),
        why,
    };
    if !euid.is_root() {
        return Err(unavailable(format!("the agent does not run as root (euid {euid})")));
    }
    let hier = cgroups_rs::hierarchies::auto();
    let (version, wanted): (&str, &[&str]) = if hier.v2() {
        ("v2", &V2_CONTROLLERS)
    } else {
        ("v1", &V1_CONTROLLERS)
    };
    let have: Vec<String> = hier.subsystems().iter().map(|s| s.controller_name()).collect();
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !have.iter().any(|h| h == w))
        .collect();
    if !missing.is_empty() {
        return Err(unavailable(format!(
            "cgroup {version} controller(s) missing: {}",
            missing.join(", ")
        )));
    }
    let limits = Limits {
        cpu: Some(1.0),
        memory_bytes: Some(64 << 20),
        pids: Some(64),
        timeout: Duration::from_secs(1),
    };
    let name = format!("probe-{}", std::process::id());
    let group = ShardCgroup::create(parent, &name, &limits).map_err(|e| AgentError::Cgroup { why: error_chain(&e) })?;
    group.destroy();
    Ok(())
}

/// Removes leftover shard groups under `parent` (after an agent crash), killing their
/// processes. Only call it when no shard of this agent is running.
pub fn reap(parent: &str) {
    let parent = parent.trim_matches('/');
    if parent.is_empty() {
        return;
    }
    let probe = ShardCgroup::load(parent);
    let parent_dirs: Vec<PathBuf> = if probe.v2 {
        vec![probe.v2_dir()]
    } else {
        probe
            .cg
            .subsystems()
            .iter()
            .map(|s| s.to_controller().path().to_path_buf())
            .collect()
    };
    let mut names: Vec<String> = parent_dirs
        .iter()
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let Ok(path) = join_path(parent, &name) else {
            continue;
        };
        tracing::info!(cgroup = %path, "removing leftover shard cgroup");
        ShardCgroup::load(&path).destroy();
    }
}

/// Removes the agent's own parent group and everything under it (agent shutdown).
pub fn remove_parent(parent: &str) {
    reap(parent);
    if !parent.trim_matches('/').is_empty() {
        ShardCgroup::load(parent.trim_matches('/')).destroy();
    }
}

/// An error and its sources, `a: b: c` (for the CLI's messages).
pub fn error_chain_of(e: &dyn std::error::Error) -> String {
    error_chain(e)
}

/// An error and its sources, `a: b: c`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file (`key value` per line).
fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "testfarm-test";

    fn limits(memory: Option<u64>, cpu: Option<f64>, pids: Option<u64>) -> Limits {
        Limits {
            cpu,
            memory_bytes: memory,
            pids,
            timeout: Duration::from_secs(10),
        }
    }

    /// None (after a note) when this host cannot give cgroups.
    fn available() -> bool {
        match probe(PARENT) {
            Ok(()) => true,
            Err(why) => {
                eprintln!("skipping cgroup test: {why}");
                false
            }
        }
    }

    #[test]
    fn names_cannot_escape_the_parent() {
        for (parent, name) in [
            ("testfarm", ""),
            ("testfarm", "a/b"),
            ("testfarm", ".."),
            ("", "x"),
            ("/", "x"),
            ("testfarm/../etc", "x"),
            ("a//b", "x"),
        ] {
            assert!(join_path(parent, name).is_err(), "{parent:?} + {name:?} accepted");
        }
        assert_eq!(
            join_path("/testfarm/agent-1/", "r1.2-a1").unwrap(),
            "testfarm/agent-1/r1.2-a1"
        );
    }

    #[test]
    fn keyed_files_parse() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("memory.oom_control");
        fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(read_keyed(&f, "oom_kill"), Some(2));
        assert_eq!(read_keyed(&f, "under_oom"), Some(0));
        assert_eq!(read_keyed(&f, "missing"), None);
    }

    #[test]
    fn memory_limit_fallback_needs_sigkill() {
        let mut u = CgroupUsage {
            memory_failcnt: 5,
            ..Default::default()
        };
        assert!(!u.hit_memory_limit(false));
        assert!(u.hit_memory_limit(true));
        u.oom_kill_counted = true;
        assert!(!u.hit_memory_limit(true), "exact counter says no kill");
        u.oom_kills = 1;
        assert!(u.hit_memory_limit(false));
    }

    #[test]
    fn create_sets_limits_and_destroy_removes() {
        if !available() {
            return;
        }
        let name = format!("limits-{}", std::process::id());
        let group = ShardCgroup::create(PARENT, &name, &limits(Some(64 << 20), Some(0.5), Some(20))).unwrap();
        let path = group.path().to_string();
        let dirs: Vec<PathBuf> = group
            .cg
            .subsystems()
            .iter()
            .map(|s| s.to_controller().path().to_path_buf())
            .collect();
        let usage = group.usage();
        let read = |file: &str| -> Option<String> {
            dirs.iter()
                .find_map(|d| fs::read_to_string(d.join(file)).ok())
                .map(|s| s.trim().to_string())
        };
        let (mem, quota, pids) = if group.v2 {
            (read("memory.max"), read("cpu.max"), read("pids.max"))
        } else {
            (
                read("memory.limit_in_bytes"),
                read("cpu.cfs_quota_us"),
                read("pids.max"),
            )
        };
        group.destroy();

        assert_eq!(mem.as_deref(), Some("67108864"));
        assert!(quota.unwrap().starts_with("50000"));
        assert_eq!(pids.as_deref(), Some("20"));
        assert_eq!(usage.oom_kills, 0);
        assert!(dirs.iter().all(|d| !d.exists()), "{path} left behind");
    }

    #[test]
    fn reap_kills_and_removes_leftovers() {
        if !available() {
            return;
        }
        // Its own parent: reaping the shared one would kill other tests' groups.
        let parent = format!("{PARENT}/reap-{}", std::process::id());
        let group = ShardCgroup::create(&parent, "left-over", &limits(None, None, None)).unwrap();
        let mut child = std::process::Command::new("sleep").arg("300").spawn().unwrap();
        group.add_process(child.id()).unwrap();
        assert_eq!(group.pids(), vec![child.id()]);
        drop(group); // the agent "crashed"

        reap(&parent);
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
        let again = ShardCgroup::load(&format!("{parent}/left-over"));
        assert!(!again.cg.exists(), "leftover group not removed");
        ShardCgroup::load(&parent).remove_dirs();
    }

    #[test]
    fn missing_parent_is_fine_to_reap() {
        reap(&format!("{PARENT}/never-made-{}", std::process::id()));
    }
}
