//! Retention, on the leader: every so often the finished runs past the configured
//! count and age are compacted to their summary, one `CompactRuns` command per batch
//! (every replica applies it; see `testfarm_shared::retention`).

use std::sync::Arc;
use std::time::Duration;

use testfarm_shared::retention::{to_compact, Retention};
use tokio_util::sync::CancellationToken;

use crate::node::{now_ms, Node};
use crate::state::{Applied, Command};

pub async fn run(node: Arc<Node>, retention: Retention, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if !node.is_leader() {
            continue;
        }
        let store = node.read(|sm| sm.store().clone());
        let finished = match crate::state::machine::finished_runs(&store) {
            Ok(finished) => finished,
            Err(e) => {
                tracing::warn!("retention: cannot read the finished runs: {e}");
                continue;
            }
        };
        let run_ids = to_compact(finished, now_ms(), &retention);
        if run_ids.is_empty() {
            continue;
        }
        let (first, count) = (run_ids[0].clone(), run_ids.len());
        match node.propose(Command::CompactRuns { run_ids }).await {
            Ok(Applied::Compacted { runs }) => {
                tracing::info!(runs, first = %first, "retention: finished runs compacted to their summary")
            }
            Ok(other) => tracing::warn!(count, "retention: compaction not applied: {other:?}"),
            Err(e) => tracing::warn!(count, "retention: compaction not proposed: {e}"),
        }
    }
}
