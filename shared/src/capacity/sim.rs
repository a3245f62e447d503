//! The discrete-event simulation: runs arrive, jobs are discovered and planned, shards
//! wait in the coordinator's queue order and run on agents' slots.
//!
//! What is modelled, and how it maps to the coordinator (coordinator/src/scheduler.rs,
//! coordinator/src/state/machine.rs):
//!
//! - Queue order: (priority class, run age, shard index with discovery first, task id),
//!   one queue per distinct job label set; an agent takes the smallest key among the
//!   label sets its labels satisfy.
//! - Passes: agents with a free slot, most free slots first, then by id, take one task
//!   each per pass; passes repeat until nothing more is leased. Pools (agents with one
//!   label set) are visited one after another.
//! - Ticks: the scheduler is one task that wakes on every applied change. A tick first
//!   plans every job discovered by then, one after another
//!   ([`Latency::plan_secs`](super::Latency) each), then leases
//!   ([`Latency::dispatch_secs`](super::Latency) later) from the queue and free slots as
//!   they are at that moment. Changes during a tick wake the next one when it ends.
//! - Planning: [`plan`] with slots = the slots of every connected agent whose labels
//!   match the job, and the coordinator's `min_shard` and `max_shards`. The plan
//!   depends only on the tests and the slot count, so each job is planned once per slot
//!   count ([`PlanCache`]), however many runs use it.
//! - Task time: overhead (cold the first time an agent works on a job of a run, warm
//!   after; an agent keeps its [`WARM_WORKSPACES`] most recent workspaces) plus the
//!   discovery time or the shard's real test time.
//! - A slot is busy from lease to the applied report, as the coordinator counts it.
//!
//! Not modelled: lost agents and retries, speculative copies, fair share between
//! submitters, failures (a failing run still runs every shard, as it does for real).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::Split;
use crate::matrix::labels_match;
use crate::plan::{plan, PlanParams};

use super::{JobModel, Workload};

/// How many prepared workspaces an agent keeps warm (most recent first).
pub const WARM_WORKSPACES: usize = 8;

/// A group of identical agents carrying one label set.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub labels: std::collections::BTreeMap<String, String>,
    pub agents: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub pools: Vec<Pool>,
    /// Slots per agent.
    pub slots: usize,
    /// Seconds from 0 until each agent connects, agents numbered in pool order;
    /// agents without an entry are there from the start. Empty for a farm in service;
    /// a replay of `farm up` connects its agents as they did, with the run.
    pub ready_secs: Vec<f64>,
    /// Keep every task in [`SimResult::trace`] (replays; too much for sizing).
    pub trace: bool,
}

/// What one simulation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    /// Feedback time (accepted → verdict) of each run in arrival order, seconds;
    /// infinite for a run that could never finish (no agent matches one of its jobs).
    pub feedback: Vec<f64>,
    /// Slot-seconds of work (overheads included) per pool.
    pub busy_secs: Vec<f64>,
    /// When the last run finished, seconds from 0.
    pub end_secs: f64,
    /// Tasks run (discoveries and shards).
    pub tasks: u64,
    /// Every task as it ran, when [`SimConfig::trace`] asks for it.
    pub trace: Vec<TraceRow>,
    /// Every plan made, when [`SimConfig::trace`] asks for it.
    pub plans: Vec<PlanRow>,
}

/// One job planned in a traced simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRow {
    pub run: u32,
    pub job: u16,
    /// The matching slots the planner was given.
    pub slots: usize,
    pub estimates: Vec<f64>,
}

/// One task of a traced simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceRow {
    pub run: u32,
    pub job: u16,
    /// None for the discovery.
    pub shard: Option<u32>,
    pub agent: u32,
    pub leased_secs: f64,
    pub done_secs: f64,
}

/// One shard of a plan: what the planner expected and what it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardModel {
    pub estimate: f64,
    pub actual: f64,
}

/// Plans by (test set, split, slots): the same job is planned once, however many runs
/// and simulations use it.
/// (test set, split by class, slots, the runner cost's bits): what a plan depends on.
type PlanKey = (usize, bool, usize, Option<(u64, u64)>);

#[derive(Debug)]
pub struct PlanCache {
    min_shard: Duration,
    plans: HashMap<PlanKey, Arc<Vec<ShardModel>>>,
}

impl PlanCache {
    pub fn new(min_shard: Duration) -> PlanCache {
        PlanCache {
            min_shard,
            plans: HashMap::new(),
        }
    }

    /// The shards of `job` planned for `slots` matching slots.
    pub fn get(&mut self, workload: &Workload, job: &JobModel, slots: usize) -> Arc<Vec<ShardModel>> {
        let min_shard = self.min_shard;
        self.plans
            .entry((
                job.tests,
                job.split == Split::Class,
                slots,
                job.planned_with
                    .map(|r| (r.overhead_secs.to_bits(), r.spread.to_bits())),
            ))
            .or_insert_with(|| Arc::new(plan_job(workload, job, slots, min_shard)))
            .clone()
    }
}

/// Cuts a job with the coordinator's planner and prices each shard.
fn plan_job(workload: &Workload, job: &JobModel, slots: usize, min_shard: Duration) -> Vec<ShardModel> {
    let set = &workload.test_sets[job.tests];
    let params = PlanParams {
        slots: slots.max(1),
        min_shard,
        runner: job.planned_with,
        ..PlanParams::default()
    };
    let shards = plan(&set.tests, &set.estimates, job.split, &params);
    let actual: Option<HashMap<&str, f64>> = set
        .actual
        .as_ref()
        .map(|a| set.tests.iter().map(String::as_str).zip(a.iter().copied()).collect());
    shards
        .iter()
        .map(|s| ShardModel {
            estimate: s.estimate_secs,
            actual: match &actual {
                Some(by_id) => s
                    .tests
                    .iter()
                    .map(|t| by_id.get(t.as_str()).copied().unwrap_or(0.0))
                    .sum(),
                None => s.estimate_secs,
            },
        })
        .collect()
}

/// Simulates runs of `workload` arriving at `arrivals` (seconds, ascending).
pub fn simulate(workload: &Workload, arrivals: &[f64], config: &SimConfig, cache: &mut PlanCache) -> SimResult {
    let mut sim = Sim::new(workload, config, cache);
    for agent in 0..sim.agents.len() {
        let at = config.ready_secs.get(agent).copied().unwrap_or(0.0);
        sim.push(micros(at), Event::Ready(agent as u32));
    }
    for (i, &t) in arrivals.iter().enumerate() {
        sim.push(micros(t), Event::Arrive(i as u32));
    }
    sim.runs = vec![RunState::default(); arrivals.len()];
    sim.run_to_end();
    let feedback = sim
        .runs
        .iter()
        .map(|r| match r.finished {
            Some(end) => (end - r.arrived) as f64 / 1e6,
            None => f64::INFINITY,
        })
        .collect();
    SimResult {
        feedback,
        busy_secs: sim.busy.iter().map(|&b| b as f64 / 1e6).collect(),
        end_secs: sim.now as f64 / 1e6,
        tasks: sim.tasks,
        trace: sim.trace.unwrap_or_default(),
        plans: sim.planned.unwrap_or_default(),
    }
}

fn micros(secs: f64) -> u64 {
    (secs.max(0.0) * 1e6).round() as u64
}

/// Marks a discovery task in events (shards carry their index).
const DISCOVERY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive(u32),
    /// The scheduler wakes: plans, then schedules its leasing pass.
    Tick,
    /// The leasing pass of the tick in progress.
    Assign,
    Done {
        agent: u32,
        run: u32,
        job: u16,
        shard: u32,
    },
    /// An agent connects with all its slots free.
    Ready(u32),
}

/// (priority class, run sequence, 0 for discovery else shard index + 1, job rank).
type Key = (u8, u32, u32, u16);

#[derive(Debug, Clone, Default)]
struct RunState {
    arrived: u64,
    unplanned: usize,
    /// Tasks queued or running.
    open: usize,
    finished: Option<u64>,
}

struct Agent {
    pool: usize,
    free: u32,
    /// (run, job) workspaces prepared here, oldest first.
    warm: Vec<(u32, u16)>,
}

struct Sim<'a> {
    workload: &'a Workload,
    cache: &'a mut PlanCache,
    /// The plan of each (run, job) planned and not finished.
    plans: HashMap<(u32, u16), Arc<Vec<ShardModel>>>,
    /// Job → the pools whose agents may run it.
    job_pools: Vec<Vec<usize>>,
    /// Pool → agents connected.
    connected: Vec<usize>,
    priority: u8,
    /// Job index → rank of its task id (`r1.j10` sorts before `r1.j2`, as in the coordinator).
    rank: Vec<u16>,
    job_of_rank: Vec<u16>,
    /// Job → its label set's queue.
    class_of_job: Vec<usize>,
    queues: Vec<BTreeSet<Key>>,
    /// Pool → the queues its agents may take from.
    pool_classes: Vec<Vec<usize>>,
    agents: Vec<Agent>,
    /// Pool → agents with a free slot, most free first, then by id.
    free: Vec<BTreeSet<(Reverse<u32>, u32)>>,
    slots: u32,
    busy: Vec<u64>,
    runs: Vec<RunState>,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    now: u64,
    /// A tick is scheduled or in progress.
    ticking: bool,
    /// A change happened since the current tick started.
    dirty: bool,
    /// Discovered jobs waiting for the next tick to plan them.
    discovered: Vec<(u32, u16)>,
    dispatch: u64,
    plan_delay: u64,
    tasks: u64,
    order_buf: Vec<u32>,
    trace: Option<Vec<TraceRow>>,
    planned: Option<Vec<PlanRow>>,
}

impl<'a> Sim<'a> {
    fn new(workload: &'a Workload, config: &SimConfig, cache: &'a mut PlanCache) -> Sim<'a> {
        let n = workload.jobs.len();
        let mut by_id: Vec<u16> = (0..n as u16).collect();
        by_id.sort_by_key(|&j| format!("j{j}"));
        let mut rank = vec![0u16; n];
        for (r, &j) in by_id.iter().enumerate() {
            rank[j as usize] = r as u16;
        }
        let classes = super::label_sets(workload);
        let class_of_job = workload
            .jobs
            .iter()
            .map(|j| {
                classes
                    .iter()
                    .position(|c| c == &j.labels)
                    .expect("every job has a class")
            })
            .collect();
        let pool_classes = config
            .pools
            .iter()
            .map(|p| {
                (0..classes.len())
                    .filter(|&c| labels_match(&classes[c], &p.labels))
                    .collect()
            })
            .collect();
        let mut agents = Vec::new();
        for (pool, p) in config.pools.iter().enumerate() {
            for _ in 0..p.agents {
                // Connected agents get their free slots from a Ready event at start.
                agents.push(Agent {
                    pool,
                    free: 0,
                    warm: Vec::new(),
                });
            }
        }
        let job_pools = workload
            .jobs
            .iter()
            .map(|j| {
                (0..config.pools.len())
                    .filter(|&p| labels_match(&j.labels, &config.pools[p].labels))
                    .collect()
            })
            .collect();
        Sim {
            workload,
            cache,
            plans: HashMap::new(),
            job_pools,
            connected: vec![0; config.pools.len()],
            priority: workload.mode.priority(),
            rank,
            job_of_rank: by_id,
            class_of_job,
            queues: vec![BTreeSet::new(); classes.len()],
            pool_classes,
            agents,
            free: vec![BTreeSet::new(); config.pools.len()],
            slots: config.slots as u32,
            busy: vec![0; config.pools.len()],
            runs: Vec::new(),
            events: BinaryHeap::new(),
            seq: 0,
            now: 0,
            ticking: false,
            dirty: false,
            discovered: Vec::new(),
            dispatch: micros(workload.latency.dispatch_secs),
            plan_delay: micros(workload.latency.plan_secs),
            tasks: 0,
            order_buf: Vec::new(),
            trace: config.trace.then(Vec::new),
            planned: config.trace.then(Vec::new),
        }
    }

    fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, event)));
    }

    /// A change: the scheduler wakes now, or after the tick in progress.
    fn wake(&mut self) {
        self.dirty = true;
        if !self.ticking {
            self.ticking = true;
            self.push(self.now, Event::Tick);
        }
    }

    /// Plans what was discovered, then leases after the plans and the dispatch delay.
    fn start_tick(&mut self) {
        self.dirty = false;
        let discovered = std::mem::take(&mut self.discovered);
        let planning = self.plan_delay * discovered.len() as u64;
        for (run, job) in discovered {
            self.planned(run, job);
        }
        self.push(self.now + planning + self.dispatch, Event::Assign);
    }

    fn end_tick(&mut self) {
        self.assign();
        self.ticking = false;
        if self.dirty {
            self.wake();
        }
    }

    fn run_to_end(&mut self) {
        while let Some(Reverse((at, _, event))) = self.events.pop() {
            self.now = at;
            match event {
                Event::Arrive(run) => self.arrive(run),
                Event::Tick => self.start_tick(),
                Event::Assign => self.end_tick(),
                Event::Done { agent, run, job, shard } => self.done(agent, run, job, shard),
                Event::Ready(agent) => {
                    self.connected[self.agents[agent as usize].pool] += 1;
                    self.set_free(agent, self.slots);
                    self.wake();
                }
            }
        }
    }

    fn arrive(&mut self, run: u32) {
        let jobs = self.workload.jobs.len();
        self.runs[run as usize] = RunState {
            arrived: self.now,
            unplanned: jobs,
            open: jobs,
            finished: None,
        };
        for job in 0..jobs {
            let key = (self.priority, run, 0, self.rank[job]);
            self.queues[self.class_of_job[job]].insert(key);
        }
        self.wake();
    }

    fn planned(&mut self, run: u32, job: u16) {
        // As the coordinator: the slots of the matching agents it knows now.
        let slots: usize = self.job_pools[job as usize]
            .iter()
            .map(|&p| self.connected[p] * self.slots as usize)
            .sum();
        let plan = self
            .cache
            .get(self.workload, &self.workload.jobs[job as usize], slots.max(1));
        if let Some(rows) = &mut self.planned {
            rows.push(PlanRow {
                run,
                job,
                slots: slots.max(1),
                estimates: plan.iter().map(|s| s.estimate).collect(),
            });
        }
        let shards = plan.len();
        self.plans.insert((run, job), plan);
        let class = self.class_of_job[job as usize];
        for n in 0..shards {
            self.queues[class].insert((self.priority, run, n as u32 + 1, self.rank[job as usize]));
        }
        let state = &mut self.runs[run as usize];
        state.open += shards;
        state.unplanned -= 1;
        self.maybe_finish(run);
    }

    fn done(&mut self, agent: u32, run: u32, job: u16, shard: u32) {
        self.set_free(agent, self.agents[agent as usize].free + 1);
        self.runs[run as usize].open -= 1;
        if shard == DISCOVERY {
            self.discovered.push((run, job));
        } else {
            self.maybe_finish(run);
        }
        self.wake();
    }

    fn maybe_finish(&mut self, run: u32) {
        let state = &mut self.runs[run as usize];
        if state.unplanned == 0 && state.open == 0 && state.finished.is_none() {
            state.finished = Some(self.now);
            for job in 0..self.workload.jobs.len() {
                self.plans.remove(&(run, job as u16));
            }
        }
    }

    fn set_free(&mut self, agent: u32, free: u32) {
        let a = &mut self.agents[agent as usize];
        let pool = a.pool;
        if a.free > 0 {
            self.free[pool].remove(&(Reverse(a.free), agent));
        }
        a.free = free;
        if free > 0 {
            self.free[pool].insert((Reverse(free), agent));
        }
    }

    /// The leasing pass of a tick: passes until nothing more can be leased.
    fn assign(&mut self) {
        for pool in 0..self.free.len() {
            loop {
                if self.pool_classes[pool].iter().all(|&c| self.queues[c].is_empty()) {
                    break;
                }
                let mut order = std::mem::take(&mut self.order_buf);
                order.clear();
                order.extend(self.free[pool].iter().map(|&(_, a)| a));
                if order.is_empty() {
                    self.order_buf = order;
                    break;
                }
                for &agent in &order {
                    match self.pop(pool) {
                        Some(key) => self.start(agent, key),
                        None => break,
                    }
                }
                self.order_buf = order;
            }
        }
    }

    /// The first queued task any agent of `pool` may take.
    fn pop(&mut self, pool: usize) -> Option<Key> {
        let class = *self.pool_classes[pool]
            .iter()
            .filter(|&&c| !self.queues[c].is_empty())
            .min_by_key(|&&c| self.queues[c].first())?;
        self.queues[class].pop_first()
    }

    fn start(&mut self, agent: u32, (_, run, order, rank): Key) {
        let job = self.job_of_rank[rank as usize];
        let model = &self.workload.jobs[job as usize];
        let a = &mut self.agents[agent as usize];
        let workspace = (run, job);
        let overhead = match a.warm.iter().position(|w| *w == workspace) {
            Some(i) => {
                a.warm.remove(i);
                model.overhead.warm_secs
            }
            None => {
                if a.warm.len() >= WARM_WORKSPACES {
                    a.warm.remove(0);
                }
                model.overhead.cold_secs
            }
        };
        a.warm.push(workspace);
        let (work, shard) = if order == 0 {
            (model.discover_secs, DISCOVERY)
        } else {
            (self.plans[&(run, job)][order as usize - 1].actual, order - 1)
        };
        let took = micros(overhead + work);
        let pool = a.pool;
        let free = a.free - 1;
        self.set_free(agent, free);
        self.busy[pool] += took;
        self.tasks += 1;
        if let Some(trace) = &mut self.trace {
            trace.push(TraceRow {
                run,
                job,
                shard: (shard != DISCOVERY).then_some(shard),
                agent,
                leased_secs: self.now as f64 / 1e6,
                done_secs: (self.now + took) as f64 / 1e6,
            });
        }
        self.push(self.now + took, Event::Done { agent, run, job, shard });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::rng::poisson_arrivals;
    use crate::capacity::testing::flat;
    use crate::capacity::Latency;

    fn config(agents: usize, slots: usize) -> SimConfig {
        SimConfig {
            pools: vec![Pool {
                labels: Default::default(),
                agents,
            }],
            slots,
            ready_secs: Vec::new(),
            trace: false,
        }
    }

    fn no_latency(mut w: Workload) -> Workload {
        w.latency = Latency {
            dispatch_secs: 0.0,
            plan_secs: 0.0,
        };
        w
    }

    #[test]
    fn one_run_takes_discovery_plus_its_shards() {
        // 8 tests of 10 s on 4 slots: the planner cuts 10-second shards (each test is
        // above the 2 s floor), 2 rounds of 4 → 20 s, plus 1 s discovery and 0.5 s
        // overhead per task (discovery included).
        let w = no_latency(flat(8, 10.0, 0.5));
        let r = simulate(&w, &[0.0], &config(2, 2), &mut PlanCache::new(Duration::from_secs(2)));
        assert_eq!(r.feedback.len(), 1);
        assert!((r.feedback[0] - (1.5 + 2.0 * 10.5)).abs() < 1e-6, "{:?}", r.feedback);
        assert_eq!(r.tasks, 1 + 8);
    }

    #[test]
    fn deterministic_for_the_same_arrivals() {
        let w = flat(300, 0.7, 0.2);
        let arrivals = poisson_arrivals(30.0, 2.0, 9);
        let run = || {
            simulate(
                &w,
                &arrivals,
                &config(3, 2),
                &mut PlanCache::new(Duration::from_secs(2)),
            )
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn a_later_run_waits_behind_an_earlier_one() {
        let w = no_latency(flat(8, 10.0, 0.0));
        let r = simulate(
            &w,
            &[0.0, 0.5],
            &config(1, 1),
            &mut PlanCache::new(Duration::from_secs(2)),
        );
        // One slot: run 0 (1 s discovery, 80 s) is all done before run 1's shards start.
        assert!((r.feedback[0] - 81.0).abs() < 1e-6, "{:?}", r.feedback);
        assert!(r.feedback[1] > r.feedback[0]);
    }

    #[test]
    fn a_job_no_agent_can_take_never_finishes() {
        let mut w = flat(4, 1.0, 0.0);
        w.jobs[0].labels.insert("php".into(), "8.3".into());
        let r = simulate(&w, &[0.0], &config(2, 2), &mut PlanCache::new(Duration::from_secs(2)));
        assert!(r.feedback[0].is_infinite());
    }

    #[test]
    fn warm_workspaces_pay_the_cold_overhead_once_per_agent() {
        let mut w = no_latency(flat(4, 10.0, 0.0));
        w.jobs[0].overhead = crate::capacity::Overhead {
            cold_secs: 30.0,
            warm_secs: 1.0,
        };
        // One agent, one slot: discovery cold (30 + 1), then 40 s of shards, each
        // with the warm overhead.
        let r = simulate(&w, &[0.0], &config(1, 1), &mut PlanCache::new(Duration::from_secs(2)));
        let shards = (r.tasks - 1) as f64;
        assert!(shards >= 2.0);
        assert!(
            (r.feedback[0] - (31.0 + 40.0 + shards)).abs() < 1e-6,
            "{:?}",
            r.feedback
        );
    }
}
