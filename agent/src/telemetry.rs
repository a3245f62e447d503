//! The agent's metrics (rendered at its `/metrics` when started with `--http`):
//! what it ran, how long each phase took, what the cgroups measured, and how often a
//! report had to be retried. Labels stay bounded: task kind, exit kind, test status.

use axum::routing::get;
use axum::Router;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::PrometheusHandle;
use testfarm_shared::task::{ExitKind, TaskOutcome, TaskSpec};
use testfarm_shared::trace::{parse_traceparent, span_id, SpanRecord};
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
        counter!("farm_agent_tests_total", "status" => r.status.as_str()).increment(1);
    }
}

/// The agent's spans of one task, under the task span named by its traceparent:
/// "execute" with its phases, laid out from when the task started here.
pub fn agent_spans(agent: &str, spec: &TaskSpec, outcome: &TaskOutcome, started_ns: u64) -> Vec<SpanRecord> {
    let Some((trace, parent)) = parse_traceparent(&spec.trace_parent) else {
        return Vec::new();
    };
    let p = &outcome.phases;
    let secs = |s: f64| (s * 1e9) as u64;
    let execute = span_id(&trace, &format!("agent/{agent}/{}", spec.trace_parent));
    let total = secs(p.prepare_secs + p.start_secs + p.run_secs);
    let mut spans = vec![SpanRecord {
        trace_id: trace,
        span_id: execute,
        parent: Some(parent),
        name: format!("execute {} on {agent}", spec.task_id),
        start_ns: started_ns,
        end_ns: started_ns + total,
        attributes: vec![
            ("farm.agent".into(), agent.into()),
            ("farm.task".into(), spec.task_id.clone()),
        ],
        error: matches!(outcome.exit, ExitKind::Infrastructure { .. }),
    }];
    let mut at = started_ns;
    for (name, s) in [
        ("prepare", p.prepare_secs),
        ("start", p.start_secs),
        ("run", p.run_secs),
    ] {
        spans.push(SpanRecord {
            trace_id: trace,
            span_id: span_id(&trace, &format!("agent/{agent}/{}/{name}", spec.trace_parent)),
            parent: Some(execute),
            name: name.into(),
            start_ns: at,
            end_ns: at + secs(s),
            attributes: Vec::new(),
            error: false,
        });
        at += secs(s);
    }
    spans
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
