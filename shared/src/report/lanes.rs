//! Where a run's tasks sit in time: each done (or running) task placed from its lease
//! to its report, packed first-fit into slot lanes per agent, and the critical path
//! walked back through those lanes. Used by [`super::run::RunReport::build`].
//!
//! Critical path: walking back from the task that ended last, each step goes to what
//! the task waited for — its job's discovery or the task before it on its lane,
//! whichever ended later — and records the gaps in between as waits. The segments add
//! up to the run's wall time.

use std::collections::BTreeMap;

use super::run::{CriticalPath, PathSegment};
use super::secs_between;
use crate::model::{Run, Task, TaskState, Work};
use crate::task::TaskOutcome;

/// Gaps shorter than this (ms) between dependent tasks are not waits.
const GAP_MS: u64 = 20;

/// A task placed in time (wall-clock Unix ms) and on a lane of its agent.
pub(super) struct Placed<'a> {
    pub(super) task: &'a Task,
    pub(super) agent: String,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) running: bool,
    pub(super) lane: usize,
}

/// The end of the report's time axis: the verdict, else the latest event recorded.
pub(super) fn horizon(run: &Run, tasks: &[Task]) -> u64 {
    if let Some(done) = run.finished_ms {
        return done;
    }
    tasks
        .iter()
        .flat_map(|t| [t.finished_ms, t.leased_ms, Some(t.queued_ms)])
        .flatten()
        .chain([run.accepted_ms])
        .max()
        .unwrap_or(run.accepted_ms)
}

pub(super) fn kind(task: &Task) -> &'static str {
    match task.work {
        Work::Discover => "discover",
        Work::Shard(_) => "shard",
    }
}

/// Milliseconds the agent accounted for (everything on the slot but lease delivery
/// and result parsing).
pub(super) fn accounted_ms(o: &TaskOutcome) -> u64 {
    let p = &o.phases;
    ((p.prepare_secs + p.start_secs + p.run_secs + p.upload_secs) * 1000.0).round() as u64
}

/// Done tasks (and running ones, up to `horizon`) with their agent and span.
pub(super) fn place(tasks: &[Task], horizon: u64) -> Vec<Placed<'_>> {
    let mut placed: Vec<Placed> = tasks
        .iter()
        .filter_map(|t| {
            let (agent, start, end, running) = match (&t.state, t.finished_ms, &t.done_by) {
                (TaskState::Done, Some(end), Some(agent)) => {
                    let work = t.outcome.as_ref().map_or(0, accounted_ms);
                    let start = t.leased_ms.unwrap_or(end.saturating_sub(work)).min(end);
                    (agent.clone(), start, end, false)
                }
                (TaskState::Leased { agent, since_ms }, _, _) => {
                    (agent.clone(), *since_ms, horizon.max(*since_ms), true)
                }
                _ => return None,
            };
            Some(Placed {
                task: t,
                agent,
                start,
                end,
                running,
                lane: 0,
            })
        })
        .collect();
    placed.sort_by(|a, b| (&a.agent, a.start, &a.task.id).cmp(&(&b.agent, b.start, &b.task.id)));
    placed
}

/// First-fit lanes per agent; returns the lane count per agent.
pub(super) fn pack_lanes(placed: &mut [Placed], slots: &BTreeMap<String, u32>) -> BTreeMap<String, usize> {
    let mut ends: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for p in placed.iter_mut() {
        let lanes = ends
            .entry(p.agent.clone())
            .or_insert_with(|| vec![0; slots.get(&p.agent).copied().unwrap_or(1).max(1) as usize]);
        let lane = match lanes.iter().position(|&end| end <= p.start) {
            Some(lane) => lane,
            None => {
                lanes.push(0);
                lanes.len() - 1
            }
        };
        lanes[lane] = p.end;
        p.lane = lane;
    }
    ends.into_iter().map(|(agent, lanes)| (agent, lanes.len())).collect()
}

pub(super) fn critical_path(run: &Run, placed: &[Placed], names: &[String]) -> CriticalPath {
    let t0 = run.accepted_ms;
    let rel = |ms: u64| secs_between(t0, ms);
    let Some(last) = (0..placed.len()).max_by_key(|&i| (placed[i].end, placed[i].start)) else {
        return CriticalPath::default();
    };
    let wait = |from: u64, to: u64, note: &str| PathSegment {
        kind: "wait".into(),
        task_id: None,
        job_name: None,
        agent: None,
        start_secs: rel(from),
        end_secs: rel(to),
        secs: secs_between(from, to),
        note: note.into(),
    };
    let mut segments = Vec::new();
    let end = run.finished_ms.unwrap_or(placed[last].end);
    if end > placed[last].end + GAP_MS {
        segments.push(wait(placed[last].end, end, "from the last report to the verdict"));
    }
    let mut cur = last;
    loop {
        let p = &placed[cur];
        let note = match p.task.work {
            Work::Discover => "discovery".to_string(),
            Work::Shard(ref s) => super::count(s.tests.len(), "test"),
        };
        segments.push(PathSegment {
            kind: kind(p.task).into(),
            task_id: Some(p.task.id.clone()),
            job_name: names.get(p.task.job).cloned(),
            agent: Some(p.agent.clone()),
            start_secs: rel(p.start),
            end_secs: rel(p.end),
            secs: secs_between(p.start, p.end),
            note,
        });
        let before = |q: &Placed| q.end <= p.start + GAP_MS && q.start < p.start;
        let discovery = (0..placed.len()).filter(|&i| {
            let q = &placed[i];
            matches!(p.task.work, Work::Shard(_))
                && matches!(q.task.work, Work::Discover)
                && q.task.job == p.task.job
                && before(q)
        });
        let same_lane = (0..placed.len()).filter(|&i| {
            let q = &placed[i];
            q.agent == p.agent && q.lane == p.lane && before(q)
        });
        let pred = discovery.chain(same_lane).max_by_key(|&i| placed[i].end);
        match pred {
            Some(i) => {
                if placed[i].end + GAP_MS < p.start {
                    segments.push(wait(placed[i].end, p.start, "waiting in the queue"));
                }
                cur = i;
            }
            None => {
                if p.start > t0 + GAP_MS {
                    segments.push(wait(t0, p.start, "from acceptance to the first lease"));
                }
                break;
            }
        }
    }
    segments.reverse();
    CriticalPath {
        secs: segments.iter().map(|s| s.secs).sum(),
        segments,
    }
}
