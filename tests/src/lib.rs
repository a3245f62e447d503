//! Harness for the cross-process integration tests: real `farm coordinator` and
//! `farm agent` processes on loopback, driven through the `farm` CLI exactly as a user
//! would drive them.
//!
//! A [`Farm`] owns one temporary directory (coordinator data, agent work dirs, one log
//! file per process, the output of every CLI command) and every process it started.
//! Dropping it kills them all, then anything their shards left behind (found by
//! `FARM_SHARD_DIR` in `/proc/*/environ`, and in the agents' cgroups), so no process
//! outlives a test, even one that panicked. When a test panics, the tail of every log
//! is printed and the directory is kept for a look.
//!
//! The `farm` binary is not built by this crate (cargo cannot depend on another
//! package's binary): build it first with `cargo build -p testfarm-cli`.
//!
//! Tests run in parallel: every farm has its own directory and port (bound as port 0),
//! and agent ids carry the test's tag and this process's id, because the agents'
//! cgroups are named after them.
//!
//! A [`Cluster`] is the same for a raft-replicated coordinator: N coordinators, each on
//! a loopback address of its own (so that iptables rules can partition them), and
//! agents that follow the leader. Partition rules are deleted on drop, on a panic too.

pub mod certs;
mod cleanup;
pub mod cli;
pub mod cluster;
pub mod containers;
mod farm;
mod firewall;
pub mod http;
pub mod listener;
pub mod mediawiki_git;
pub mod mediawiki_kit;
pub mod members;
mod process;
pub mod quickstart;
pub mod record;
pub mod rng;
pub mod tiny;

use std::path::{Path, PathBuf};

pub use cluster::{Cluster, ClusterOptions};
pub use farm::{Farm, Options, COMMAND_TIMEOUT};
pub use process::{alive, farm_command_without_tls, Output};

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `tests/fixtures/<name>/farm.yaml`.
pub fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .join("farm.yaml");
    assert!(path.is_file(), "missing fixture {}", path.display());
    path
}

/// The `farm` binary next to the test executable's directory: the test runs from
/// `target/<profile>/deps/`, the binary is `target/<profile>/farm`.
pub fn farm_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // A binary of the workspace (`loadtest`) lives beside it.
    if let Some(beside) = exe.parent().map(|d| d.join("farm")).filter(|p| p.is_file()) {
        return beside;
    }
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps/");
    let bin = profile_dir.join("farm");
    assert!(
        bin.is_file(),
        "the `farm` binary is missing at {}: build it first with `cargo build -p testfarm-cli` \
         (these tests run the real binary; cargo does not build it for a test of another package)",
        bin.display()
    );
    bin
}

/// The command line of an agent: `farm agent --coordinator URLS --id ID --slots N --work-dir DIR`.
pub(crate) fn agent_args(coordinators: &str, id: &str, slots: u32, work_dir: &Path) -> Vec<String> {
    let work_dir = work_dir.display().to_string();
    let slots = slots.to_string();
    [
        "agent",
        "--coordinator",
        coordinators,
        "--id",
        id,
        "--slots",
        &slots,
        "--work-dir",
        &work_dir,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
