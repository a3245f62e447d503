//! The agent's metrics (rendered at its `/metrics` when started with `--http`):
//! what it ran, how long each phase took, what the cgroups measured, and how often a
//! report had to be retried. Labels stay bounded: task kind, exit kind, test status.

use axum::routing::get;
use axum::Router;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::PrometheusHandle;
use testfarm_shared::task::{ExitKind, TaskOutcome, TestStatus};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub fn task_finished(outcome: &TaskOutcome, discover: bool) {
    let kind = if discover { "discover" } else { "shard" };
    let exit = match outcome.exit {
        ExitKind::Exited { code: 0 } => "ok",
        ExitKind::Exited { .. } => "nonzero",
        ExitKind::Signalled { .. } => "signalled",
        ExitKind::TimedOut => "timed_out",
        ExitKind::MemoryLimit => "memory_limit",
        ExitKind::Infrastructure { .. } => "infrastructure",
    };
    counter!("farm_agent_tasks_total", "kind" => kind, "exit" => exit).increment(1);
    let p = &outcome.phases;
    histogram!("farm_agent_task_prepare_seconds", "kind" => kind).record(p.prepare_secs);
    histogram!("farm_agent_task_start_seconds", "kind" => kind).record(p.start_secs);
    histogram!("farm_agent_task_run_seconds", "kind" => kind).record(p.run_secs);
    if outcome.usage.cgroup {
        histogram!("farm_agent_task_cpu_seconds", "kind" => kind).record(outcome.usage.cpu_secs);
        histogram!("farm_agent_task_peak_memory_bytes", "kind" => kind).record(outcome.usage.peak_memory_bytes as f64);
    }
    for r in &outcome.results {
        let status = match r.status {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Error => "error",
            TestStatus::Skipped => "skipped",
            TestStatus::Missing => "missing",
            TestStatus::TimedOut => "timed_out",
            TestStatus::MemoryLimit => "memory_limit",
        };
        counter!("farm_agent_tests_total", "status" => status).increment(1);
    }
}

pub fn report_retried() {
    counter!("farm_agent_report_retries_total").increment(1);
}

pub fn slots(total: u32, busy: usize) {
    gauge!("farm_agent_slots_total").set(f64::from(total));
    gauge!("farm_agent_slots_in_use").set(busy as f64);
}

/// Serves `/metrics` until `shutdown`.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle, shutdown: CancellationToken) {
    let app = Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!("agent HTTP server failed: {e}");
    }
}
