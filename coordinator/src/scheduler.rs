//! The leader's scheduler: plans discovered jobs, hands queued tasks to agents with
//! free slots and matching labels, and gives back tasks whose agent went quiet.
//! See ../shared/DESIGN.md, "Scheduling".
//!
//! Agents and their lease streams are soft state, rebuilt after a restart when agents
//! register again; every decision that must survive (a lease, a loss) is a command.
//! A lease expires when its agent has not sent a heartbeat for `lease_timeout`, or
//! when its heartbeats stop listing the task (the assignment never arrived).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testfarm_proto::TaskAssignment;
use testfarm_shared::matrix::labels_match;
use testfarm_shared::plan::{choose_warm, plan_failed_first, PlanParams};
use testfarm_shared::profile::RunnerProfile;
use testfarm_shared::profile::{fill_estimates, TestProfile};
use testfarm_shared::select::{select, RepoGraph};

/// How far down the queue an agent looks for a task whose workspace it has warm.
const WARM_WINDOW: usize = 64;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::node::{now_ms, Node};
use crate::raft::ProposeError;
use crate::state::machine::{profile_key, runner_key};
use crate::state::{Applied, Command, JobState, LeasePick, Run, TaskState};

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub lease_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub min_shard: Duration,
}

pub type AssignmentSender = mpsc::Sender<Result<TaskAssignment, Status>>;

pub struct AgentEntry {
    pub labels: BTreeMap<String, String>,
    pub slots: u32,
    pub executors: Vec<String>,
    pub last_seen: Instant,
    /// Tasks the agent said it runs in its last heartbeat, and when (wall ms).
    pub running: HashSet<String>,
    pub heartbeat_ms: u64,
    pub stream: Option<AssignmentSender>,
}

/// Registered agents: leader-only soft state.
#[derive(Default)]
pub struct Agents {
    inner: Mutex<HashMap<String, AgentEntry>>,
}

impl Agents {
    pub fn register(&self, id: &str, labels: BTreeMap<String, String>, slots: u32, executors: Vec<String>) {
        let mut agents = self.inner.lock().expect("agents lock");
        let entry = agents.entry(id.to_string()).or_insert_with(|| AgentEntry {
            labels: BTreeMap::new(),
            slots: 0,
            executors: Vec::new(),
            last_seen: Instant::now(),
            running: HashSet::new(),
            heartbeat_ms: 0,
            stream: None,
        });
        entry.labels = labels;
        entry.slots = slots.max(1);
        entry.executors = executors;
        entry.last_seen = Instant::now();
    }

    /// Attaches a lease stream; false if the agent is unknown (it must register).
    pub fn attach(&self, id: &str, stream: AssignmentSender) -> bool {
        let mut agents = self.inner.lock().expect("agents lock");
        match agents.get_mut(id) {
            Some(entry) => {
                entry.stream = Some(stream);
                entry.last_seen = Instant::now();
                true
            }
            None => false,
        }
    }

    /// Records a heartbeat; false if the agent is unknown (it must register).
    pub fn heartbeat(&self, id: &str, running: Vec<String>) -> bool {
        let mut agents = self.inner.lock().expect("agents lock");
        match agents.get_mut(id) {
            Some(entry) => {
                entry.last_seen = Instant::now();
                entry.running = running.into_iter().collect();
                entry.heartbeat_ms = now_ms();
                true
            }
            None => false,
        }
    }

    /// Total slots of connected agents, and how many agents are connected.
    pub fn capacity(&self) -> (u64, u64) {
        let agents = self.inner.lock().expect("agents lock");
        let live = agents
            .values()
            .filter(|a| a.stream.as_ref().is_some_and(|s| !s.is_closed()));
        live.fold((0, 0), |(slots, n), a| (slots + u64::from(a.slots), n + 1))
    }

    pub fn is_registered(&self, id: &str) -> bool {
        self.inner.lock().expect("agents lock").contains_key(id)
    }

    pub fn clear(&self) {
        self.inner.lock().expect("agents lock").clear();
    }

    /// Every registered agent, by id (`drained` left false: the state machine knows).
    pub fn snapshot(&self) -> Vec<testfarm_proto::AgentStatus> {
        let agents = self.inner.lock().expect("agents lock");
        let mut out: Vec<_> = agents
            .iter()
            .map(|(id, a)| testfarm_proto::AgentStatus {
                id: id.clone(),
                labels: a.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                slots: a.slots,
                running: a.running.len() as u32,
                connected: a.stream.as_ref().is_some_and(|s| !s.is_closed()),
                last_seen_secs: a.last_seen.elapsed().as_secs_f64(),
                drained: false,
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

pub struct Scheduler {
    pub node: Arc<Node>,
    pub agents: Arc<Agents>,
    pub config: SchedulerConfig,
    started: Instant,
}

impl Scheduler {
    pub fn new(node: Arc<Node>, agents: Arc<Agents>, config: SchedulerConfig) -> Scheduler {
        Scheduler {
            node,
            agents,
            config,
            started: Instant::now(),
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut was_leader = false;
        loop {
            // Registered before the tick, so an apply during the tick is not missed.
            let changed = self.node.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let leader = self.node.is_leader();
            if leader && !was_leader {
                // Soft state starts over: agents re-register here, and every lease
                // gets a full timeout before it can expire.
                self.started = Instant::now();
                tracing::info!("leader: scheduling");
            }
            if was_leader && !leader {
                // Agents follow the leader: close their streams so they reconnect there.
                self.agents.clear();
            }
            was_leader = leader;
            if leader {
                if let Err(e) = self.tick().await {
                    tracing::warn!("scheduler: {e}");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = changed => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    async fn tick(&self) -> Result<(), ProposeError> {
        self.plan_discovered().await?;
        self.expire_leases().await?;
        self.assign().await?;
        Ok(())
    }

    /// Cuts every discovered job into shards from the timing profiles.
    async fn plan_discovered(&self) -> Result<(), ProposeError> {
        let pending: Vec<_> = self.node.read(|sm| {
            sm.active_runs()
                .flat_map(|run| {
                    run.jobs
                        .iter()
                        .enumerate()
                        .filter(|(_, j)| j.state == JobState::Discovered)
                        .map(|(i, j)| {
                            let stage = run.pipeline.stages.iter().find(|s| s.name == j.spec.stage).cloned();
                            (
                                run.id.clone(),
                                i,
                                run.pipeline.project.clone(),
                                j.spec.labels.clone(),
                                stage,
                                (!run.selection.is_empty()).then(|| {
                                    (
                                        RepoGraph {
                                            repos: run.pipeline.repos.clone(),
                                        },
                                        run.selection.clone(),
                                    )
                                }),
                                j.only_tests.clone(),
                            )
                        })
                })
                .collect()
        });
        for (run_id, job, project, labels, stage, selection, only_tests) in pending {
            let Some(stage) = stage else { continue };
            let (tests, store) = self.node.read(|sm| (sm.inventory(&run_id, job), sm.store().clone()));
            let profile_of = |t: &str| {
                store
                    .get::<TestProfile>(&profile_key(&project, &stage.name, t))
                    .ok()
                    .flatten()
            };
            let (mut tests, left_out) = match &selection {
                None => (tests?, None),
                Some((graph, selection)) => {
                    let (kept, left) = select(&tests?, graph, selection, |t| profile_of(t).map(|p| p.history()));
                    (kept, Some(left))
                }
            };
            if let Some(only) = &only_tests {
                let only: HashSet<&str> = only.iter().map(String::as_str).collect();
                tests.retain(|t| only.contains(t.as_str()));
            }
            let runner = store
                .get::<RunnerProfile>(&runner_key(&project, &stage.name))
                .ok()
                .flatten()
                .unwrap_or_default();
            // Each test costs its own time and its share of the runner's (per test, and
            // per class on its class's first test).
            let profiles: Vec<Option<TestProfile>> = tests.iter().map(|t| profile_of(t)).collect();
            let measured: Vec<Option<f64>> = profiles
                .iter()
                .map(|p| p.as_ref().and_then(|p| p.estimate()).map(|d| d.as_secs_f64()))
                .collect();
            let timed: f64 = measured.iter().flatten().sum();
            let own = fill_estimates(measured, stage.default_estimate);
            let own_total: f64 = own.iter().sum();
            let timed_share = if own_total > 0.0 { timed / own_total } else { 0.0 };
            let estimates = runner.charge(&tests, &own);
            let slots = self.matching_slots(&labels).max(1);
            let params = PlanParams::for_stage(slots, self.config.min_shard, &runner, timed_share);
            let failed_last: Vec<bool> = profiles
                .iter()
                .map(|p| p.as_ref().is_some_and(|p| p.history().failed_last))
                .collect();
            let shards = plan_failed_first(&tests, &estimates, &failed_last, stage.split, &params);
            tracing::info!(run = %run_id, job, tests = tests.len(), shards = shards.len(), slots, min_shard = ?params.min_shard, runner = ?params.runner, timed_share, "planned");
            self.node
                .propose(Command::PlanJob {
                    run_id,
                    job,
                    shards,
                    now_ms: now_ms(),
                    left_out,
                    planned_with: params.runner,
                })
                .await?;
        }
        Ok(())
    }

    fn matching_slots(&self, labels: &BTreeMap<String, String>) -> usize {
        let drained = self.node.read(|sm| sm.drained().clone());
        let agents = self.agents.inner.lock().expect("agents lock");
        agents
            .iter()
            .filter(|(id, a)| labels_match(labels, &a.labels) && !drained.contains(*id))
            .map(|(_, a)| a.slots as usize)
            .sum()
    }

    async fn expire_leases(&self) -> Result<(), ProposeError> {
        let leased: Vec<(String, String, u64)> = self.node.read(|sm| {
            sm.active_tasks()
                .filter_map(|t| match &t.state {
                    TaskState::Leased { agent, since_ms } => Some((t.id.clone(), agent.clone(), *since_ms)),
                    _ => None,
                })
                .collect()
        });
        let timeout = self.config.lease_timeout;
        let mut lost = Vec::new();
        {
            let agents = self.agents.inner.lock().expect("agents lock");
            for (task, agent, since_ms) in leased {
                let reason = match agents.get(&agent) {
                    None if self.started.elapsed() > timeout => Some(format!(
                        "agent {agent} has not registered for {}s",
                        timeout.as_secs_f64()
                    )),
                    None => None,
                    Some(a) if a.last_seen.elapsed() > timeout => Some(format!(
                        "no heartbeat from agent {agent} for {:.1}s",
                        a.last_seen.elapsed().as_secs_f64()
                    )),
                    Some(a) if a.heartbeat_ms > since_ms + timeout.as_millis() as u64 && !a.running.contains(&task) => {
                        Some(format!("agent {agent} does not report running it"))
                    }
                    Some(_) => None,
                };
                if let Some(reason) = reason {
                    lost.push((task, agent, reason));
                }
            }
        }
        for (task_id, agent, reason) in lost {
            tracing::warn!(task = %task_id, agent = %agent, "lease expired: {reason}");
            let applied = self
                .node
                .propose(Command::LoseTask {
                    task_id,
                    agent,
                    reason,
                    now_ms: now_ms(),
                })
                .await?;
            if applied == Applied::Lost {
                crate::metrics::task_lost();
            }
        }
        Ok(())
    }

    /// Hands queued tasks to agents with free slots, one per agent per pass so that
    /// work spreads over agents.
    async fn assign(&self) -> Result<(), ProposeError> {
        loop {
            let mut picks = self.pick();
            if picks.is_empty() {
                return Ok(());
            }
            // One entry for the whole pass: every lease commits with one round trip.
            // Past what one entry may carry, the rest go in the next pass's entry.
            picks.truncate(crate::state::machine::MAX_LEASES_PER_ENTRY);
            let leases = picks
                .iter()
                .map(|(task_id, agent, _)| LeasePick {
                    task_id: task_id.clone(),
                    agent: agent.clone(),
                })
                .collect();
            let applied = self
                .node
                .propose(Command::LeaseTasks {
                    leases,
                    now_ms: now_ms(),
                })
                .await?;
            let Applied::LeasedMany(each) = applied else {
                tracing::warn!("leases not applied: {applied:?}");
                return Ok(());
            };
            for ((task_id, agent, stream), applied) in picks.into_iter().zip(each) {
                if let Applied::Leased { attempt, spec } = applied {
                    crate::metrics::task_leased();
                    let assignment = TaskAssignment {
                        task_id: task_id.clone(),
                        attempt,
                        spec: Some(spec.as_ref().into()),
                    };
                    // A send that fails leaves the lease to expire and be retried.
                    if stream.send(Ok(assignment)).await.is_err() {
                        tracing::warn!(task = %task_id, agent = %agent, "lease stream closed; the lease will expire");
                    } else {
                        tracing::debug!(task = %task_id, agent = %agent, attempt, "leased");
                    }
                }
            }
        }
    }

    fn pick(&self) -> Vec<(String, String, AssignmentSender)> {
        let agents = self.agents.inner.lock().expect("agents lock");
        self.node.read(|sm| {
            let mut busy: HashMap<&str, u32> = HashMap::new();
            for t in sm.active_tasks() {
                if let TaskState::Leased { agent, .. } = &t.state {
                    *busy.entry(agent.as_str()).or_default() += 1;
                }
            }
            let mut live: Vec<(&String, &AgentEntry)> = agents
                .iter()
                .filter(|(id, a)| a.stream.as_ref().is_some_and(|s| !s.is_closed()) && !sm.drained().contains(*id))
                .collect();
            live.sort_by_key(|(id, a)| {
                (
                    std::cmp::Reverse(a.slots.saturating_sub(busy.get(id.as_str()).copied().unwrap_or(0))),
                    id.as_str(),
                )
            });
            // What each agent has warm (an install, a git workspace: a task of the
            // run with the same warm key done or running there): those agents get the
            // key's next tasks first.
            let mut keys = WarmKeys::default();
            let mut warm: HashSet<(&str, &str, u32)> = HashSet::new();
            for t in sm.active_tasks() {
                let on = match &t.state {
                    TaskState::Leased { agent, .. } => Some(agent.as_str()),
                    _ => t.done_by.as_deref(),
                };
                let (Some(agent), Some(run)) = (on, sm.active_run(&t.run_id)) else {
                    continue;
                };
                if let Some(key) = keys.of(run, t.job) {
                    warm.insert((agent, t.run_id.as_str(), key));
                }
            }
            let mut taken: HashSet<&str> = HashSet::new();
            let mut picks = Vec::new();
            for (id, agent) in &live {
                if busy.get(id.as_str()).copied().unwrap_or(0) >= agent.slots {
                    continue;
                }
                // Eligible tasks in queue order, up to a window: (task, class, warm).
                let mut candidates: Vec<(&str, u8, bool)> = Vec::new();
                for key in sm.queue() {
                    let task_id = key.3.as_str();
                    if taken.contains(task_id) {
                        continue;
                    }
                    let Some(task) = sm.task(task_id) else {
                        continue;
                    };
                    let Some(run) = sm.active_run(&task.run_id) else {
                        continue;
                    };
                    let labels = &run.jobs[task.job].spec.labels;
                    if !labels_match(labels, &agent.labels) {
                        continue;
                    }
                    // Retry lost work elsewhere when another agent could take it.
                    if task.lost_on.contains(id)
                        && live
                            .iter()
                            .any(|(other, a)| !task.lost_on.contains(other) && labels_match(labels, &a.labels))
                    {
                        continue;
                    }
                    let key_of_task = keys.of(run, task.job);
                    let is_warm = key_of_task.is_some_and(|k| warm.contains(&(id.as_str(), task.run_id.as_str(), k)));
                    candidates.push((task_id, key.0, is_warm));
                    if is_warm || candidates.len() >= WARM_WINDOW || key_of_task.is_none() {
                        break;
                    }
                }
                let classes: Vec<(u8, bool)> = candidates.iter().map(|c| (c.1, c.2)).collect();
                if let Some(i) = choose_warm(&classes, WARM_WINDOW) {
                    let task_id = candidates[i].0;
                    taken.insert(task_id);
                    picks.push((task_id.to_string(), (*id).clone(), agent.stream.clone().expect("live")));
                }
            }
            picks
        })
    }
}

/// [`Run::warm_key`] per (run, job) of one scheduler pass, as small numbers: each
/// computed once, compared without allocating.
#[derive(Default)]
struct WarmKeys<'s> {
    by_job: HashMap<(&'s str, usize), Option<u32>>,
    ids: HashMap<String, u32>,
}

impl<'s> WarmKeys<'s> {
    fn of(&mut self, run: &'s Run, job: usize) -> Option<u32> {
        if let Some(known) = self.by_job.get(&(run.id.as_str(), job)) {
            return *known;
        }
        let next = self.ids.len() as u32;
        let id = run.warm_key(job).map(|k| *self.ids.entry(k).or_insert(next));
        self.by_job.insert((run.id.as_str(), job), id);
        id
    }
}
