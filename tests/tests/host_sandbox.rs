//! The sandbox's default for a stage without a runtime image, on a real agent and the
//! real kernel (tests/fixtures/host_sandbox): a shard runs as the runtime user in its
//! own namespaces, cannot reach a TCP server on the host's loopback, cannot write the
//! project directory (not even a world-writable part of it) or the host's filesystem,
//! and has a private /tmp without the agent's other task directories; `isolation: none` runs the same kind of checks on the host
//! as the agent's user and says so in the task log. An agent that is not root gives
//! the same view through a user namespace.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use testfarm_integration::containers::fixture_copy;
use testfarm_integration::listener::CountingListener;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{Farm, Options, Output};

/// Every task log of the farm, for a failure's message.
fn logs(farm: &Farm) -> String {
    farm.task_files("log.txt")
        .into_iter()
        .map(|(_, p)| {
            format!(
                "== {}\n{}",
                p.display(),
                std::fs::read_to_string(&p).unwrap_or_default()
            )
        })
        .collect()
}

/// The fixture copied to `project`, with its world-writable `open/`, and a marker
/// file in the host's /tmp; removes the marker when dropped.
struct Project {
    yaml: PathBuf,
    open: PathBuf,
    marker: String,
}

impl Project {
    fn new(project: &Path, tag: &str) -> Project {
        let yaml = fixture_copy("host_sandbox", project, &[]);
        let open = project.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let marker = format!("farm-host-marker-{tag}-{}", std::process::id());
        std::fs::write(std::env::temp_dir().join(&marker), "host").unwrap();
        Project { yaml, open, marker }
    }

    /// `farm submit` of `stage`, told the listener's port and the marker's name.
    fn submit(&self, farm: &mut Farm, stage: &str, listener: &CountingListener) -> Output {
        let port = format!("LISTENER_PORT={}", listener.port);
        let marker = format!("HOST_MARKER={}", self.marker);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("this host's name");
        let host = format!("AGENT_HOSTNAME={}", host.trim());
        farm.submit(
            &self.yaml,
            &["--only", stage, "--env", &port, "--env", &marker, "--env", &host],
        )
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(std::env::temp_dir().join(&self.marker));
    }
}

/// The `checks` stage passed whole, unseen by the listener and the project.
fn assert_confined(farm: &Farm, out: &Output, listener: &CountingListener, project: &Project, cgroup: bool) {
    let rec = out.json();
    assert_eq!(out.code, 0, "{}\nlogs:\n{}", summary(&rec), logs(farm));
    let rows = record::results(&rec);
    assert_eq!(rows.len(), 11, "{rows:?}");
    assert!(rows.iter().all(|r| r.status == "passed"), "{rows:?}");
    for task in record::shard_tasks(&rec) {
        let u = &task["outcome"]["usage"];
        assert_eq!(u["executor"], "sandbox", "{u}");
        assert_eq!(u["cgroup"], cgroup, "{u}");
    }
    assert_eq!(
        listener.settled(1),
        0,
        "the sandboxed shard reached the host's listener"
    );
    assert!(!project.open.join("probe").exists(), "a probe file reached the project");
}

#[test]
fn a_stage_without_an_image_is_sandboxed_by_default_and_none_opts_out() {
    let listener = CountingListener::start();
    let mut farm = Farm::start(
        "host-sandbox",
        Options {
            agents: 1,
            ..Options::default()
        },
    );
    let project = Project::new(&farm.dir().join("project"), "root");

    let started = Instant::now();
    let out = project.submit(&mut farm, "checks", &listener);
    assert_confined(&farm, &out, &listener, &project, true);
    eprintln!("sandboxed: 11 checks passed in {:.1}s", started.elapsed().as_secs_f64());

    let out = project.submit(&mut farm, "open", &listener);
    let rec = out.json();
    assert_eq!(out.code, 0, "{}\nlogs:\n{}", summary(&rec), logs(&farm));
    let rows = record::results(&rec);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r.status == "passed"), "{rows:?}");
    assert_eq!(
        listener.settled(1),
        1,
        "the control (isolation: none) reached the host's listener"
    );
    let task = &record::shard_tasks(&rec)[0];
    let log = std::fs::read_to_string(task["outcome"]["log_path"].as_str().unwrap()).unwrap();
    assert!(
        log.contains("farm: WARNING: isolation: none"),
        "the opt-out is not in the task log: {log}"
    );
}

#[test]
fn an_agent_that_is_not_root_confines_through_a_user_namespace() {
    let listener = CountingListener::start();
    let mut farm = Farm::start(
        "host-sandbox-userns",
        Options {
            agents: 0,
            ..Options::default()
        },
    );
    farm.add_agent_as(65534, 65534);
    farm.wait_for_agents(1);
    // A project the agent's user can read: outside the farm's private dir.
    let outside = tempfile::tempdir().unwrap();
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let project = Project::new(&outside.path().join("project"), "userns");
    let out = project.submit(&mut farm, "checks", &listener);
    assert_confined(&farm, &out, &listener, &project, false);
}
