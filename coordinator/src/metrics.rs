//! Prometheus metrics of a coordinator (`metrics` crate, rendered at `/metrics`).
//!
//! Counters are recorded where a decision is proposed and applied (the scheduler for
//! leases and losses, the report handler for completions), so each event is counted
//! once in the cluster, by the node that made it. Gauges are read from the state on
//! each scrape. Labels stay bounded: priority class, stage label set, mode, verdict,
//! status — never run ids or test ids.

use std::sync::Arc;

use metrics::{counter, gauge, histogram};
use testfarm_shared::model::{Mode, Run, Verdict};
use testfarm_shared::task::TaskOutcome;

use crate::node::Node;
use crate::scheduler::Agents;
use crate::state::TaskState;

fn class(mode: Mode) -> &'static str {
    mode.as_str()
}

pub fn task_leased() {
    counter!("farm_tasks_leased_total").increment(1);
}

pub fn task_lost() {
    counter!("farm_tasks_lost_total").increment(1);
}

/// A call refused by its service's gate (crate::auth): a certificate whose role may
/// not call the service, or an agent speaking for another agent id.
pub fn call_refused(service: &'static str) {
    counter!("farm_calls_refused_total", "service" => service).increment(1);
}

/// A task report refused because its agent does not hold the task's current lease
/// (`reason`: not_leased, other_agent, stale_attempt).
pub fn report_refused(reason: &'static str) {
    counter!("farm_reports_refused_total", "reason" => reason).increment(1);
}

/// A committed command every replica rejected (it did not decode, contradicted
/// itself, or its apply failed).
pub fn command_rejected() {
    counter!("farm_raft_commands_rejected_total").increment(1);
}

pub fn leader_changed() {
    counter!("farm_raft_leader_changes_total").increment(1);
}

pub fn proposal(seconds: f64) {
    histogram!("farm_raft_proposal_seconds").record(seconds);
}

/// A task result that was applied (not a duplicate report).
pub fn task_completed(outcome: &TaskOutcome, shard: bool) {
    let kind = if shard { "shard" } else { "discover" };
    counter!("farm_tasks_completed_total", "kind" => kind).increment(1);
    let p = &outcome.phases;
    histogram!("farm_task_queue_seconds", "kind" => kind).record(p.queued_secs);
    histogram!("farm_task_prepare_seconds", "kind" => kind).record(p.prepare_secs);
    histogram!("farm_task_start_seconds", "kind" => kind).record(p.start_secs);
    histogram!("farm_task_run_seconds", "kind" => kind).record(p.run_secs);
    histogram!("farm_task_upload_seconds", "kind" => kind).record(p.upload_secs);
    let wall = p.prepare_secs + p.start_secs + p.run_secs + p.upload_secs;
    histogram!("farm_task_wall_seconds", "kind" => kind).record(wall);
    // Real figures: the shard's cgroup's, or a worker's child's own (its rusage).
    if outcome.usage.cgroup || outcome.usage.worker_warm.is_some() {
        histogram!("farm_task_cpu_seconds", "kind" => kind).record(outcome.usage.cpu_secs);
        histogram!("farm_task_peak_memory_bytes", "kind" => kind).record(outcome.usage.peak_memory_bytes as f64);
    }
    for r in &outcome.results {
        counter!("farm_tests_total", "status" => r.status.as_str()).increment(1);
    }
}

pub fn run_finished(run: &Run) {
    let mode = class(run.mode);
    let verdict = match run.verdict {
        Some(Verdict::Passed) => "passed",
        Some(Verdict::Failed) => "failed",
        Some(Verdict::Cancelled) => "cancelled",
        _ => "error",
    };
    counter!("farm_runs_finished_total", "mode" => mode, "verdict" => verdict).increment(1);
    if let Some(end) = run.finished_ms {
        histogram!("farm_run_wall_seconds", "mode" => mode).record(end.saturating_sub(run.accepted_ms) as f64 / 1000.0);
    }
}

pub fn run_accepted(mode: Mode) {
    counter!("farm_runs_accepted_total", "mode" => class(mode)).increment(1);
}

/// Gauges read from the state at scrape time.
pub fn refresh_gauges(node: &Arc<Node>, agents: &Agents) {
    let role = node.role();
    gauge!("farm_raft_term").set(role.term as f64);
    gauge!("farm_raft_commit_index").set(role.commit as f64);
    gauge!("farm_raft_applied_index").set(role.applied as f64);
    gauge!("farm_raft_apply_lag").set(role.commit.saturating_sub(role.applied) as f64);
    gauge!("farm_raft_is_leader").set(if role.is_leader { 1.0 } else { 0.0 });
    gauge!("farm_raft_members").set(role.voters.len() as f64);
    let (slots, connected) = agents.capacity();
    gauge!("farm_agent_slots").set(slots as f64);
    gauge!("farm_agents_connected").set(connected as f64);
    let (queued, leased) = node.read(|sm| {
        let mut queued: std::collections::BTreeMap<(&'static str, String), u64> = Default::default();
        for key in sm.queue() {
            let Some(task) = sm.task(&key.3) else { continue };
            let Some(run) = sm.active_run(&task.run_id) else {
                continue;
            };
            let labels = &run.jobs[task.job].spec.labels;
            let set: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            *queued.entry((class(run.mode), set.join(","))).or_default() += 1;
        }
        let leased = sm
            .active_tasks()
            .filter(|t| matches!(t.state, TaskState::Leased { .. }))
            .count();
        (queued, leased)
    });
    // Only the leader's view is current; followers report zero rather than stale queues.
    let leader = role.is_leader;
    for class in ["gate", "check", "select"] {
        let total: u64 = queued.iter().filter(|((c, _), _)| *c == class).map(|(_, n)| *n).sum();
        gauge!("farm_queue_depth_total", "class" => class).set(if leader { total as f64 } else { 0.0 });
    }
    for ((class, labels), n) in &queued {
        gauge!("farm_queue_depth", "class" => *class, "labels" => labels.clone()).set(if leader {
            *n as f64
        } else {
            0.0
        });
    }
    gauge!("farm_agent_slots_busy").set(if leader { leased as f64 } else { 0.0 });
}
