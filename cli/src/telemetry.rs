//! Process-wide telemetry: the one Prometheus recorder of this process, shared by the
//! coordinator and agents that `farm up` runs side by side.

use std::sync::OnceLock;

use metrics::counter;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once; later calls return the same handle.
pub fn install_metrics() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0,
            ];
            let bytes = [1e6, 4e6, 16e6, 64e6, 128e6, 256e6, 512e6, 1e9, 2e9, 4e9, 8e9];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    &seconds,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Suffix("_bytes".into()), &bytes)
                });
            match builder.and_then(|b| b.install_recorder()) {
                Ok(handle) => {
                    // Counters exist from the start, so "none lost" reads 0, not absent.
                    for name in [
                        "farm_tasks_leased_total",
                        "farm_tasks_lost_total",
                        "farm_raft_leader_changes_total",
                    ] {
                        counter!(name).absolute(0);
                    }
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!("metrics disabled: {e}");
                    None
                }
            }
        })
        .clone()
}
