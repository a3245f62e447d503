//! Reads the records the reports need and hands them to `testfarm_shared::report`:
//! the thin I/O shell shared by the HTTP pages ([`crate::http::reports`]) and the
//! gRPC `GetProfile`. See ../shared/DESIGN.md, "Reports and telemetry".
//!
//! A single run is read under the state machine's lock (it is small); a profile reads
//! many runs, so it clones the store handle and scans outside the lock (finished runs
//! never change).

use std::collections::BTreeMap;

use testfarm_shared::model::{Run, Task};
use testfarm_shared::profile::TestProfile;
use testfarm_shared::report::html::IndexEntry;
use testfarm_shared::report::improve;
use testfarm_shared::report::profile::{ProfileEntry, ProfileOptions, ProfileReport};
use testfarm_shared::report::run::RunReport;

use crate::node::Node;
use crate::scheduler::Agents;
use crate::store::{Store, StoreError};

/// Slot counts of the registered agents, for the lanes of the timeline.
pub fn agent_slots(agents: &Agents) -> BTreeMap<String, u32> {
    agents.snapshot().into_iter().map(|a| (a.id, a.slots)).collect()
}

/// Profile options with these counts (0: the default).
pub fn profile_options(recent_runs: usize, stable_runs: usize) -> ProfileOptions {
    let d = ProfileOptions::default();
    ProfileOptions {
        recent_runs: if recent_runs > 0 { recent_runs } else { d.recent_runs },
        stable_runs: if stable_runs > 0 { stable_runs } else { d.stable_runs },
        ..d
    }
}

fn run_seq(id: &str) -> u64 {
    id.trim_start_matches('r').parse().unwrap_or(u64::MAX)
}

/// The run report of `run_id` with its improvements (the run and its project's
/// profile); None if there is no such run.
pub fn run_report(node: &Node, run_id: &str, slots: &BTreeMap<String, u32>) -> Result<Option<RunReport>, StoreError> {
    let (run, tasks) = node.read(|sm| (sm.run(run_id), sm.run_tasks(run_id)));
    let Some(run) = run? else { return Ok(None) };
    let tasks = tasks?;
    let mut report = RunReport::build(&run, &tasks, slots);
    let profile = profile_report(node, &run.pipeline.project, &ProfileOptions::default(), slots)?;
    report.improvements = improve::rank(Some(&report), profile.as_ref());
    Ok(Some(report))
}

/// The profile report of `project`; None if it has neither a profile nor a run.
pub fn profile_report(
    node: &Node,
    project: &str,
    opts: &ProfileOptions,
    slots: &BTreeMap<String, u32>,
) -> Result<Option<ProfileReport>, StoreError> {
    let store = node.read(|sm| sm.store().clone());
    let profiles = profiles(&store, project)?;
    let runs = recent_runs(&store, project, opts.recent_runs)?;
    if profiles.is_empty() && runs.is_empty() {
        return Ok(None);
    }
    Ok(Some(ProfileReport::build(project, &profiles, &runs, slots, opts)))
}

fn profiles(store: &Store, project: &str) -> Result<Vec<ProfileEntry>, StoreError> {
    let prefix = format!("profile/{project}/");
    Ok(store
        .scan::<TestProfile>(&prefix)?
        .into_iter()
        .filter_map(|(key, profile)| {
            // Stage names have no `/`; test ids may.
            let (stage, test) = key[prefix.len()..].split_once('/')?;
            Some(ProfileEntry {
                stage: stage.into(),
                test: test.into(),
                profile,
            })
        })
        .collect())
}

/// The newest `limit` finished runs of `project` with their tasks, oldest first.
fn recent_runs(store: &Store, project: &str, limit: usize) -> Result<Vec<(Run, Vec<Task>)>, StoreError> {
    let mut runs: Vec<Run> = store
        .scan::<Run>("run/")?
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.pipeline.project == project && r.finished_ms.is_some())
        .collect();
    runs.sort_by_key(|r| run_seq(&r.id));
    let skip = runs.len().saturating_sub(limit);
    runs.into_iter()
        .skip(skip)
        .map(|run| {
            let tasks = store
                .scan::<Task>(&format!("task/{}.", run.id))?
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            Ok((run, tasks))
        })
        .collect()
}

/// The newest `limit` runs, newest first, for the index page.
pub fn index(node: &Node, limit: usize) -> Result<Vec<IndexEntry>, StoreError> {
    let store = node.read(|sm| sm.store().clone());
    let mut runs: Vec<Run> = store.scan::<Run>("run/")?.into_iter().map(|(_, r)| r).collect();
    runs.sort_by_key(|r| std::cmp::Reverse(run_seq(&r.id)));
    runs.truncate(limit);
    Ok(runs.iter().map(IndexEntry::of).collect())
}
