//! `farm coordinator` and `farm agent`: long-running processes until SIGINT/SIGTERM.

use std::io::Write;
use testfarm_proto::tls::{Role, Tls};

use testfarm_coordinator::CoordinatorConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::args::{AgentArgs, CoordinatorArgs, TimingArgs};
use crate::error::CliError;

pub fn coordinator_config(data_dir: std::path::PathBuf, t: &TimingArgs) -> CoordinatorConfig {
    CoordinatorConfig {
        data_dir,
        lease_timeout: t.lease_timeout,
        heartbeat_interval: t.heartbeat,
        max_lost: t.max_lost,
        min_shard: t.min_shard,
        metrics: crate::telemetry::install_metrics(),
        ..CoordinatorConfig::default()
    }
}

fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        t.cancel();
    });
    token
}

pub async fn coordinator(args: CoordinatorArgs, tls: Option<Tls>) -> Result<(), CliError> {
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Infrastructure(e.to_string()))?;
    println!("farm coordinator listening on {addr}");
    let _ = std::io::stdout().flush();
    if let Some(path) = &args.addr_file {
        // Written whole then renamed, so a reader never sees half an address.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, addr.to_string())
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    let mut config = coordinator_config(args.data_dir, &args.timing);
    config.node_id = args.id;
    config.peers = args.peers.unwrap_or_default();
    config.join = args.join;
    config.snapshot_every = args.snapshot_every;
    config.raft_tick = args.raft_tick;
    config.logs = testfarm_coordinator::logs::LogConfig {
        cap: args.log_cap,
        max_logs: args.max_logs,
    };
    config.retention = testfarm_shared::retention::Retention {
        keep_runs: args.keep_runs,
        keep_for: args.keep_for,
    };
    config.retention_every = args.retention_every;
    config.tls = tls;
    if let Some(path) = &args.access {
        let text =
            std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("--access {}: {e}", path.display())))?;
        config.access = Some(testfarm_shared::access::parse_policy(
            &text,
            &path.display().to_string(),
        )?);
    }
    let http = match &args.http {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
            println!(
                "farm coordinator HTTP on http://{}",
                l.local_addr().map_err(|e| CliError::Infrastructure(e.to_string()))?
            );
            Some(l)
        }
        None => None,
    };
    testfarm_coordinator::serve(config, listener, http, shutdown_on_signal())
        .await
        .map_err(|e| CliError::Infrastructure(e.to_string()))
}

pub fn default_agent_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "agent".into());
    format!("{}-{}", host.trim(), std::process::id())
}

pub async fn agent(args: AgentArgs, tls: Option<Tls>) -> Result<(), CliError> {
    let id = args.id.unwrap_or_else(default_agent_id);
    if let Some(tls) = &tls {
        match tls.peer() {
            Some(peer) if peer.role == Role::Agent && peer.name == id => {}
            other => {
                return Err(CliError::Usage(format!(
                "--tls {}: {} is no certificate of agent `{id}` (issue one with `farm certs issue --role agent {id}`)",
                tls.dir().display(),
                other.map_or("this".to_string(), |p| p.to_string())
            )))
            }
        }
    }
    std::fs::create_dir_all(&args.work_dir)
        .map_err(|e| CliError::Usage(format!("cannot create work dir {}: {e}", args.work_dir.display())))?;
    let work_dir = args
        .work_dir
        .canonicalize()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let coordinators = args
        .coordinator
        .split(',')
        .filter(|u| !u.is_empty())
        .map(|u| {
            if u.contains("://") {
                u.to_string()
            } else {
                format!("http://{u}")
            }
        })
        .collect();
    let http = match &args.http {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
            println!(
                "farm agent HTTP on http://{}",
                l.local_addr().map_err(|e| CliError::Infrastructure(e.to_string()))?
            );
            crate::telemetry::install_metrics().map(|handle| (l, handle))
        }
        None => None,
    };
    let setup = testfarm_agent::AgentSetup {
        coordinators,
        id,
        labels: args.labels.into_iter().collect(),
        slots: args.slots,
        work_dir,
        http,
        image_cache: args.executors.image_cache,
        docker: !args.executors.no_docker,
        log_cap: args.executors.task_log_cap,
        tls,
    };
    testfarm_agent::run(setup, shutdown_on_signal()).await;
    Ok(())
}
