//! Start overhead per shard, per executor: the wall time of running a no-op test
//! (`true`) through each executor, everything included (cgroup, namespaces or
//! container create/start/wait/remove, accounting). Prints p50 and p95.
//!
//! ```sh
//! cargo run -p testfarm-agent --example start_overhead -- [RUNS]   # as root, after `farm image build base`
//! ```
//!
//! Cases: the sandbox on the host as it is (`isolation: none`) and in its default
//! read-only view of the host (namespaces, runtime user); the sandbox in the `base` image; a docker container per
//! shard (the chosen design); `docker exec` in one warm container (the alternative,
//! per job); and cold against warm "workspace", where the workspace is the runtime
//! image: cold = the daemon does not have the image yet (first shard after `farm
//! image build --no-docker` or a prune: the executor imports it from the rootfs),
//! warm = it does. The sandbox has no per-image preparation (its overlay is made per
//! command), so its first run is its cold case.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use testfarm_agent::executor::docker::{self, DockerExecutor};
use testfarm_agent::executor::sandbox::SandboxExecutor;
use testfarm_agent::executor::{Exec, Executor};
use testfarm_agent::image::{ImageCache, LocalImage, DEFAULT_CACHE};
use testfarm_shared::config::{ExecutorKind, Isolation, Limits, Runtime};
use testfarm_shared::task::ExitKind;
use tokio_stream::StreamExt;

struct Setup {
    project: std::path::PathBuf,
    task: std::path::PathBuf,
    log: std::path::PathBuf,
    env: BTreeMap<String, String>,
    limits: Limits,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(case: &str, mut walls: Vec<f64>, mut starts: Vec<f64>) {
    walls.sort_by(f64::total_cmp);
    starts.sort_by(f64::total_cmp);
    let ms = |s: f64| s * 1e3;
    println!(
        "{case:<34} n={:<3} wall p50 {:>7.1} ms  p95 {:>7.1} ms   start p50 {:>7.1} ms  p95 {:>7.1} ms",
        walls.len(),
        ms(percentile(&walls, 0.5)),
        ms(percentile(&walls, 0.95)),
        ms(percentile(&starts, 0.5)),
        ms(percentile(&starts, 0.95)),
    );
}

async fn measure(
    case: &str,
    executor: &dyn Executor,
    setup: &Setup,
    runtime: &Runtime,
    image: Option<&LocalImage>,
    runs: usize,
) -> (f64, f64) {
    let mut walls = Vec::new();
    let mut starts = Vec::new();
    let mut first = (0.0, 0.0);
    for n in 0..runs {
        let name = format!("bench-{}-{n}", case.replace(' ', "-"));
        let began = Instant::now();
        let out = executor
            .run(Exec {
                command: "true",
                env: &setup.env,
                log: &setup.log,
                log_cap: testfarm_agent::log_cap::DEFAULT_CAP,
                timeout: Duration::from_secs(60),
                limits: &setup.limits,
                project_dir: &setup.project,
                task_dir: &setup.task,
                name: &name,
                task_id: "bench",
                runtime,
                image,
                binds: &[],
                stop: None,
            })
            .await;
        let wall = began.elapsed().as_secs_f64();
        assert_eq!(
            out.exit,
            ExitKind::Exited { code: 0 },
            "{case}: {:?}\n{}",
            out.exit,
            std::fs::read_to_string(&setup.log).unwrap_or_default()
        );
        if n == 0 {
            first = (wall, out.start_secs);
        }
        walls.push(wall);
        starts.push(out.start_secs);
    }
    report(case, walls, starts);
    first
}

/// `docker exec true` in one warm container: the per-job alternative.
async fn measure_exec(docker: &bollard::Docker, image: &LocalImage, runs: usize) {
    let body = ContainerCreateBody {
        image: Some(image.docker_ref()),
        cmd: Some(vec!["sleep".into(), "3600".into()]),
        user: Some("65534:65534".into()),
        labels: Some(HashMap::from([("testfarm.agent".to_string(), "bench".to_string())])),
        host_config: Some(bollard::models::HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker.create_container(None, body).await.expect("create").id;
    docker.start_container(&id, None).await.expect("start");
    let mut walls = Vec::new();
    for _ in 0..runs {
        let began = Instant::now();
        let exec = docker
            .create_exec(
                &id,
                CreateExecOptions::<String> {
                    cmd: Some(vec!["/bin/sh".into(), "-c".into(), "true".into()]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("create exec");
        if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await.expect("exec") {
            while output.next().await.is_some() {}
        }
        let code = docker.inspect_exec(&exec.id).await.expect("inspect").exit_code;
        assert_eq!(code, Some(0));
        walls.push(began.elapsed().as_secs_f64());
    }
    let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    let _ = docker.remove_container(&id, Some(options)).await;
    report("docker exec in a warm container", walls, vec![0.0]);
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let cache = ImageCache::new(DEFAULT_CACHE);
    let image = cache
        .resolve("base")
        .expect("build the base image first: farm image build base");
    let agent = format!("bench-{}", std::process::id());
    let parent = testfarm_agent::cgroup_parent(&agent);
    testfarm_agent::cgroup::probe(&parent).expect("cgroups (run as root)");
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().join("project");
    let task = dir.path().join("task");
    for d in [&project, &task] {
        std::fs::create_dir_all(d).unwrap();
        std::os::unix::fs::chown(d, Some(65534), Some(65534)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The temp dir itself is private; the image sandbox and docker bind the two dirs.
    let setup = Setup {
        log: task.join("log.txt"),
        project,
        task,
        env: BTreeMap::new(),
        limits: Limits {
            cpu: Some(1.0),
            memory_bytes: Some(256 << 20),
            pids: Some(64),
            timeout: Duration::from_secs(60),
        },
    };
    println!("{runs} runs of `true` per case; wall = everything the agent does for one command\n");

    let sandbox = SandboxExecutor {
        cgroup_parent: Some(parent.clone()),
        scratch_dir: dir.path().join("sandbox"),
        namespaces: testfarm_agent::namespace::available().map_err(std::sync::Arc::new),
        user_namespaces: false,
        hidden: Vec::new(),
    };
    let open = Runtime {
        isolation: Isolation::None,
        ..Runtime::default()
    };
    let host = Runtime::default();
    let boxed = Runtime {
        executor: ExecutorKind::Sandbox,
        image: Some("base".into()),
        network: None,
        ..Runtime::default()
    };
    measure("sandbox, isolation: none", &sandbox, &setup, &open, None, runs).await;
    measure("sandbox, host read-only (default)", &sandbox, &setup, &host, None, runs).await;
    let (first, _) = measure("sandbox + image", &sandbox, &setup, &boxed, Some(&image), runs).await;
    println!("{:<34} first run {:.1} ms (no per-image preparation)", "", first * 1e3);

    let docker = docker::connect().await.expect("a Docker daemon");
    let executor = Arc::new(DockerExecutor::new(docker.clone(), &agent, Some(parent.clone())));
    let in_docker = Runtime {
        executor: ExecutorKind::Docker,
        image: Some("base".into()),
        network: None,
        ..Runtime::default()
    };
    measure(
        "docker, container per shard",
        executor.as_ref(),
        &setup,
        &in_docker,
        Some(&image),
        runs,
    )
    .await;
    measure_exec(&docker, &image, runs).await;

    // Cold: an image name the daemon has never seen, so the first shard imports it.
    let mut colds = Vec::new();
    for n in 0..3 {
        let cold = LocalImage {
            name: format!("bench-cold-{}-{n}", std::process::id()),
            ..image.clone()
        };
        let (wall, start) = measure(
            &format!("docker cold #{n} (import), then warm"),
            executor.as_ref(),
            &setup,
            &in_docker,
            Some(&cold),
            4,
        )
        .await;
        colds.push((wall, start));
        let _ = docker
            .remove_image(
                &cold.docker_ref(),
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
    }
    for (n, (wall, start)) in colds.iter().enumerate() {
        println!(
            "{:<34} cold run {:.0} ms (start {:.0} ms, import included)",
            format!("docker cold #{n}"),
            wall * 1e3,
            start * 1e3
        );
    }
    testfarm_agent::cgroup::remove_parent(&parent);
}
