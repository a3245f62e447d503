//! Workloads from a recorded run (`farm submit --json`, `.farm/reports/RUN.json`), and
//! the replay that checks the simulation against it: the same run, on the recorded
//! number of agents and slots, arriving once; predicted against measured wall time.
//!
//! From the record: each job's tests with the estimates the planner used (from the
//! recorded shards) and the durations they took (from the results); each job's
//! discovery time; each job's per-shard overhead, measured as lease → applied report
//! minus the shard's test time (delivery, prepare, start, runner, upload); the
//! scheduler's lease latency and planning delay. The discovery order of the tests is not
//! in the record: tests are taken in id order (the order `ls` discovers them in), which
//! only matters for planner ties between equal estimates.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::matrix::labels_match;
use crate::model::{Task, Work};

use super::sim::{simulate, PlanCache, Pool, SimConfig, TraceRow};
use super::{percentile, CapacityError, JobModel, Latency, Overhead, TestSet, Workload};

pub use crate::model::RunRecord;

pub fn parse_record(text: &str) -> Result<RunRecord, CapacityError> {
    serde_json::from_str(text).map_err(|e| {
        CapacityError::Record(format!(
            "not a run record ({e}) (hint: save the output of `farm submit --json`, or use .farm/reports/RUN.json)"
        ))
    })
}

/// A distribution of latencies, seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        Spread {
            n,
            mean: if n == 0 {
                0.0
            } else {
                values.iter().sum::<f64>() / n as f64
            },
            p50: percentile(&values, 0.5),
            p90: percentile(&values, 0.9),
            max: values.last().copied().unwrap_or(0.0),
        }
    }
}

/// What the record says about one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobFacts {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub tests: usize,
    /// Sum of the measured test durations.
    pub test_secs: f64,
    pub shards: usize,
    /// The recorded shards' estimates, in shard order.
    pub shard_estimates: Vec<f64>,
    /// Mean per-shard overhead: lease → applied report minus test time.
    pub overhead_secs: f64,
    /// Of which the agent measured prepare + start + upload (mean per shard).
    pub phases_secs: f64,
    /// Discovery task, lease → applied report.
    pub discover_secs: f64,
}

/// What the record says about the run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub run_id: String,
    pub wall_secs: f64,
    pub agents: Vec<String>,
    /// Most tasks one agent ran at once: its slots, if it was ever full.
    pub slots: usize,
    /// Acceptance → the run's first lease. Beyond the lease latency it is time without
    /// agents: `farm up` connects its agents as the run is submitted.
    pub first_lease_secs: f64,
    /// Acceptance → each agent's first lease: when it was there at the latest.
    pub agent_first_lease_secs: BTreeMap<String, f64>,
    /// Slot free (or task queued) → lease.
    pub lease_latency: Spread,
    /// Discovery result → the job's shards queued.
    pub plan_latency: Spread,
    pub jobs: Vec<JobFacts>,
}

/// The workload of a recorded run, and what the record measured.
pub fn workload_from_record(record: &RunRecord) -> Result<(Workload, Measured), CapacityError> {
    let run = &record.run;
    let finished = run
        .finished_ms
        .ok_or_else(|| CapacityError::Record(format!("run {} has not finished", run.id)))?;
    if run.jobs.is_empty() {
        return Err(CapacityError::Record(format!("run {} has no jobs", run.id)));
    }
    let mut test_sets = Vec::new();
    let mut jobs = Vec::new();
    let mut facts = Vec::new();
    let mut plan_delays = Vec::new();
    for (j, job) in run.jobs.iter().enumerate() {
        let name = job.spec.display_name();
        let stage = run
            .pipeline
            .stages
            .iter()
            .find(|s| s.name == job.spec.stage)
            .ok_or_else(|| CapacityError::Record(format!("job {name} names no stage of the pipeline")))?;
        let mine: Vec<&Task> = record.tasks.iter().filter(|t| t.job == j).collect();
        let mut shards: Vec<(u32, &Task)> = mine
            .iter()
            .filter(|t| matches!(t.work, Work::Shard(_)))
            .map(|t| (shard_index(&t.id), *t))
            .collect();
        shards.sort_by_key(|(n, _)| *n);
        let mut estimates: BTreeMap<String, f64> = BTreeMap::new();
        let mut actual: HashMap<String, f64> = HashMap::new();
        let mut overheads = Vec::new();
        let mut phases = Vec::new();
        let mut shard_estimates = Vec::new();
        for (_, task) in &shards {
            let Work::Shard(shard) = &task.work else { continue };
            shard_estimates.push(shard.estimate_secs);
            for (test, &est) in shard.tests.iter().zip(&shard.estimates) {
                estimates.insert(test.clone(), est);
            }
            let Some(outcome) = &task.outcome else { continue };
            let mut test_secs = 0.0;
            for r in &outcome.results {
                actual.insert(r.id.clone(), r.duration_secs);
                test_secs += r.duration_secs;
            }
            if let (Some(leased), Some(done)) = (task.leased_ms, task.finished_ms) {
                overheads.push((span(leased, done) - test_secs).max(0.0));
                let p = &outcome.phases;
                phases.push(p.prepare_secs + p.start_secs + p.upload_secs);
            }
        }
        let overhead = mean(&overheads);
        let discovery = mine.iter().find(|t| matches!(t.work, Work::Discover));
        let discover_total = discovery
            .and_then(|t| Some(span(t.leased_ms?, t.finished_ms?)))
            .unwrap_or(0.0);
        if let (Some(d), Some(first_queued)) = (
            discovery.and_then(|t| t.finished_ms),
            shards.iter().map(|(_, t)| t.queued_ms).min(),
        ) {
            // A lost shard is queued again later; the first plan is the earliest queue time.
            plan_delays.push(span(d, first_queued));
        }
        let tests: Vec<String> = estimates.keys().cloned().collect();
        let test_secs: f64 = tests.iter().map(|t| actual.get(t).copied().unwrap_or(0.0)).sum();
        let set = TestSet {
            actual: Some(
                tests
                    .iter()
                    .map(|t| actual.get(t).copied().unwrap_or(estimates[t]))
                    .collect(),
            ),
            estimates: estimates.values().copied().collect(),
            tests,
        };
        facts.push(JobFacts {
            name: name.clone(),
            labels: job.spec.labels.clone(),
            tests: set.tests.len(),
            test_secs,
            shards: shards.len(),
            shard_estimates,
            overhead_secs: overhead,
            phases_secs: mean(&phases),
            discover_secs: discover_total,
        });
        jobs.push(JobModel {
            name,
            labels: job.spec.labels.clone(),
            split: stage.split,
            tests: test_sets.len(),
            discover_secs: (discover_total - overhead).max(0.0),
            overhead: Overhead {
                cold_secs: overhead,
                warm_secs: overhead,
            },
            planned_with: job.planned_with,
        });
        test_sets.push(set);
    }
    let first_lease = record
        .tasks
        .iter()
        .filter_map(|t| t.leased_ms)
        .min()
        .unwrap_or(run.accepted_ms);
    let firsts = first_leases(&record.tasks);
    let lease_latency = Spread::of(lease_latencies(&record.tasks, &firsts));
    let plan_latency = Spread::of(plan_delays);
    let agents: BTreeSet<String> = record.tasks.iter().filter_map(|t| t.done_by.clone()).collect();
    let measured = Measured {
        run_id: run.id.clone(),
        wall_secs: span(run.accepted_ms, finished),
        agents: agents.into_iter().collect(),
        slots: most_concurrent(&record.tasks),
        first_lease_secs: span(run.accepted_ms, first_lease),
        agent_first_lease_secs: firsts
            .iter()
            .map(|(agent, &ms)| (agent.to_string(), span(run.accepted_ms, ms)))
            .collect(),
        lease_latency: lease_latency.clone(),
        plan_latency: plan_latency.clone(),
        jobs: facts,
    };
    let workload = Workload {
        name: format!("{} (run {})", run.pipeline.name, run.id),
        mode: run.mode,
        test_sets,
        jobs,
        latency: Latency {
            dispatch_secs: lease_latency.mean,
            plan_secs: plan_latency.mean,
        },
    };
    Ok((workload, measured))
}

fn span(from_ms: u64, to_ms: u64) -> f64 {
    to_ms.saturating_sub(from_ms) as f64 / 1000.0
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// `r68.j1.s12` → 12.
fn shard_index(task_id: &str) -> u32 {
    task_id
        .rsplit_once(".s")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(u32::MAX)
}

/// Each agent's first lease (wall ms).
fn first_leases(tasks: &[Task]) -> BTreeMap<&str, u64> {
    let mut first: BTreeMap<&str, u64> = BTreeMap::new();
    for t in tasks {
        if let (Some(agent), Some(leased)) = (t.done_by.as_deref(), t.leased_ms) {
            let at = first.entry(agent).or_insert(leased);
            *at = (*at).min(leased);
        }
    }
    first
}

/// For every lease: how long after the task could have been leased it was. It could
/// be from when it was queued, or, if later, from the last report its agent made
/// before the lease (the slot it took was busy until then), and not before the agent
/// was there. An agent's first lease measures when it connected, not the scheduler,
/// and is left out.
fn lease_latencies(tasks: &[Task], firsts: &BTreeMap<&str, u64>) -> Vec<f64> {
    let mut finishes: HashMap<&str, Vec<u64>> = HashMap::new();
    for t in tasks {
        if let (Some(agent), Some(done)) = (&t.done_by, t.finished_ms) {
            finishes.entry(agent).or_default().push(done);
        }
    }
    tasks
        .iter()
        .filter_map(|t| {
            let (agent, leased) = (t.done_by.as_deref()?, t.leased_ms?);
            let arrived = *firsts.get(agent)?;
            if leased == arrived {
                return None;
            }
            let freed = finishes
                .get(agent)
                .and_then(|f| f.iter().copied().filter(|&f| f <= leased).max())
                .unwrap_or(0);
            Some(span(t.queued_ms.max(freed).max(arrived), leased))
        })
        .collect()
}

/// The most tasks any agent held at once (lease → report).
fn most_concurrent(tasks: &[Task]) -> usize {
    let mut edges: BTreeMap<&str, Vec<(u64, i32)>> = BTreeMap::new();
    for t in tasks {
        if let (Some(agent), Some(l), Some(f)) = (&t.done_by, t.leased_ms, t.finished_ms) {
            let e = edges.entry(agent).or_default();
            e.push((l, 1));
            e.push((f, -1));
        }
    }
    edges
        .values_mut()
        .map(|e| {
            // A report and a lease in the same millisecond: the slot is free first.
            e.sort();
            e.iter()
                .scan(0i32, |n, (_, d)| {
                    *n += d;
                    Some(*n)
                })
                .max()
                .unwrap_or(0) as usize
        })
        .max()
        .unwrap_or(1)
        .max(1)
}

/// One job of a replay: the recorded plan against the simulator's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReplay {
    pub name: String,
    pub tests: usize,
    pub test_secs: f64,
    pub shards_recorded: usize,
    pub shards_planned: usize,
    /// Slots the simulated planner was given: the agents connected when it planned.
    pub plan_slots: usize,
    /// The simulator cut the same shards (same estimates, same order) as the coordinator.
    pub plan_reproduced: bool,
    pub overhead_secs: f64,
    pub phases_secs: f64,
    pub discover_secs: f64,
}

/// Predicted against measured wall time of a recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub workload: String,
    pub run_id: String,
    pub agents: usize,
    pub slots: usize,
    pub measured_secs: f64,
    pub predicted_secs: f64,
    /// (predicted − measured) / measured × 100.
    pub error_pct: f64,
    /// The design's bound: max(work / slots, longest test) + discovery + one overhead.
    pub lower_bound_secs: f64,
    pub lease_latency: Spread,
    pub plan_latency: Spread,
    /// Acceptance → each agent's first lease, earliest first.
    pub agent_first_lease_secs: Vec<f64>,
    /// When the replay connects each agent: 0, or as late as the record shows it was
    /// absent (work it could take waited for it).
    pub agent_connect_secs: Vec<f64>,
    /// Predicted wall time if the scheduler reacted instantly, and if it only woke on
    /// its 250 ms timer (125 ms mean wait): how much tick latency matters here.
    pub predicted_instant_secs: f64,
    pub predicted_timer_only_secs: f64,
    pub jobs: Vec<JobReplay>,
    /// The simulated tasks, to set beside the record's.
    pub timeline: Vec<TraceRow>,
}

/// Replays a recorded run on its recorded agents (`slots`: per agent, default: the
/// most any agent ran at once) with the coordinator's `min_shard`.
pub fn replay(record: &RunRecord, slots: Option<usize>, min_shard: Duration) -> Result<ReplayReport, CapacityError> {
    let (workload, measured) = workload_from_record(record)?;
    let slots = slots.unwrap_or(measured.slots).max(1);
    // One pool per kind of recorded agent: the agents whose tasks asked for the same
    // labels (merged over every label set they ran; an agent serves all of them), each
    // connecting when the record shows it was there: an agent without a task yet is
    // absent while a task it could take waits longer than a lease takes.
    let waited_ms = (3000.0 * measured.lease_latency.p90).max(10.0) as u64;
    let accepted = record.run.accepted_ms;
    let mut served: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for t in &record.tasks {
        if let (Some(agent), Some(job)) = (t.done_by.as_deref(), workload.jobs.get(t.job)) {
            served.entry(agent).or_default().extend(job.labels.clone());
        }
    }
    let mut kinds: Vec<(BTreeMap<String, String>, Vec<&str>)> = Vec::new();
    for (agent, labels) in &served {
        match kinds.iter_mut().find(|(l, _)| l == labels) {
            Some((_, agents)) => agents.push(agent),
            None => kinds.push((labels.clone(), vec![agent])),
        }
    }
    if kinds.is_empty() {
        kinds.push((BTreeMap::new(), Vec::new()));
    }
    let mut pools = Vec::new();
    let mut ready_secs = Vec::new();
    for (labels, agents) in kinds {
        let tasks: Vec<&Task> = record
            .tasks
            .iter()
            .filter(|t| {
                workload
                    .jobs
                    .get(t.job)
                    .is_some_and(|j| labels_match(&j.labels, &labels))
            })
            .collect();
        let mut ready: Vec<f64> = agents
            .iter()
            .map(|agent| {
                let first = accepted + (measured.agent_first_lease_secs[*agent] * 1000.0).round() as u64;
                let absent_until = tasks
                    .iter()
                    .filter_map(|t| {
                        let until = t.leased_ms?.min(first);
                        (until > t.queued_ms + waited_ms).then_some(until)
                    })
                    .max();
                absent_until.map_or(0.0, |u| (span(accepted, u) - workload.latency.dispatch_secs).max(0.0))
            })
            .collect();
        ready.sort_by(f64::total_cmp);
        ready.resize(agents.len().max(1), 0.0);
        ready_secs.extend(ready);
        pools.push(Pool {
            labels,
            agents: agents.len().max(1),
        });
    }
    let config = SimConfig {
        pools,
        slots,
        ready_secs,
        trace: true,
    };
    let mut cache = PlanCache::new(min_shard);
    let connect = config.ready_secs.clone();
    let predict = |w: &Workload, cache: &mut PlanCache| simulate(w, &[0.0], &config, cache).feedback[0];
    let simulated = simulate(&workload, &[0.0], &config, &mut cache);
    let predicted = simulated.feedback[0];
    let mut variant = workload.clone();
    variant.latency.dispatch_secs = 0.0;
    variant.latency.plan_secs = 0.0;
    let instant = predict(&variant, &mut cache);
    variant.latency.dispatch_secs = 0.125;
    variant.latency.plan_secs = workload.latency.plan_secs + 0.125;
    let timer_only = predict(&variant, &mut cache);

    let mut jobs = Vec::new();
    for (j, facts) in measured.jobs.iter().enumerate() {
        let planned = simulated.plans.iter().find(|p| p.job as usize == j);
        let estimates = planned.map(|p| p.estimates.as_slice()).unwrap_or(&[]);
        let reproduced = estimates.len() == facts.shard_estimates.len()
            && estimates
                .iter()
                .zip(&facts.shard_estimates)
                .all(|(&p, &r)| (p - r).abs() <= 1e-6 * r.abs().max(1.0));
        jobs.push(JobReplay {
            name: facts.name.clone(),
            tests: facts.tests,
            test_secs: facts.test_secs,
            shards_recorded: facts.shards,
            shards_planned: estimates.len(),
            plan_slots: planned.map_or(0, |p| p.slots),
            plan_reproduced: reproduced,
            overhead_secs: facts.overhead_secs,
            phases_secs: facts.phases_secs,
            discover_secs: facts.discover_secs,
        });
    }
    let total_slots: usize = config.pools.iter().map(|p| p.agents * slots).sum();
    let work: f64 = measured.jobs.iter().map(|j| j.test_secs).sum();
    let longest = workload
        .test_sets
        .iter()
        .flat_map(|s| s.actual.iter().flatten().copied())
        .fold(0.0, f64::max);
    let discovery = measured.jobs.iter().map(|j| j.discover_secs).fold(0.0, f64::max);
    let overhead = measured.jobs.iter().map(|j| j.overhead_secs).fold(0.0, f64::max);
    Ok(ReplayReport {
        workload: workload.name.clone(),
        run_id: measured.run_id.clone(),
        agents: measured.agents.len(),
        slots,
        measured_secs: measured.wall_secs,
        predicted_secs: predicted,
        error_pct: if measured.wall_secs > 0.0 {
            (predicted - measured.wall_secs) / measured.wall_secs * 100.0
        } else {
            0.0
        },
        lower_bound_secs: (work / total_slots.max(1) as f64).max(longest) + discovery + overhead,
        agent_first_lease_secs: {
            let mut v: Vec<f64> = measured.agent_first_lease_secs.values().copied().collect();
            v.sort_by(f64::total_cmp);
            v
        },
        agent_connect_secs: connect,
        lease_latency: measured.lease_latency,
        plan_latency: measured.plan_latency,
        predicted_instant_secs: instant,
        predicted_timer_only_secs: timer_only,
        jobs,
        timeline: simulated.trace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_pipeline;
    use crate::matrix::expand;
    use crate::model::{Counts, Job, JobState, Mode, Run, TaskState};
    use crate::plan::{plan, PlanParams};
    use crate::task::{ExitKind, Phases, TaskOutcome, TestResult, TestStatus, Usage};

    fn outcome(results: Vec<(String, f64)>, prepare: f64) -> TaskOutcome {
        TaskOutcome {
            exit: ExitKind::Exited { code: 0 },
            discovered: Vec::new(),
            results: results
                .into_iter()
                .map(|(id, secs)| TestResult {
                    id,
                    status: TestStatus::Passed,
                    duration_secs: secs,
                    message: String::new(),
                })
                .collect(),
            phases: Phases {
                prepare_secs: prepare,
                ..Phases::default()
            },
            usage: Usage::default(),
            log_path: String::new(),
            log_tail: String::new(),
            sent_at_ms: 0,
        }
    }

    fn task(id: &str, job: usize, work: Work, agent: &str, times: (u64, u64, u64), o: TaskOutcome) -> Task {
        Task {
            id: id.into(),
            run_id: "r1".into(),
            job,
            work,
            state: TaskState::Done,
            attempt: 1,
            lost_on: Vec::new(),
            queued_ms: times.0,
            leased_ms: Some(times.1),
            finished_ms: Some(times.2),
            done_by: Some(agent.into()),
            outcome: Some(o),
        }
    }

    /// A hand-made run as the coordinator would have played it: one job of 12 tests
    /// on 2 agents × 1 slot, 0.1 s per-shard overhead, 5 ms scheduler latency, shards
    /// planned with the real planner and leased in queue order to whichever agent
    /// frees first.
    fn hand_made_record() -> RunRecord {
        let pipeline = parse_pipeline(
            "pipeline: p\nstages:\n  unit:\n    discover: ls\n    run: ./t\n",
            "farm.yaml",
        )
        .unwrap();
        let spec = expand(&pipeline, &[]).unwrap().remove(0);
        let tests: Vec<String> = (0..12).map(|i| format!("t{i:02}")).collect();
        let secs: Vec<f64> = (0..12).map(|i| 0.5 + (i % 4) as f64).collect();
        let shards = plan(
            &tests,
            &secs,
            crate::config::Split::Test,
            &PlanParams {
                slots: 2,
                ..PlanParams::default()
            },
        );
        let mut tasks = vec![task(
            "r1.j0.d",
            0,
            Work::Discover,
            "a1",
            (0, 5, 505),
            outcome(Vec::new(), 0.0),
        )];
        let plan_at = 505 + 10;
        let mut free_at = [plan_at, plan_at];
        for (n, shard) in shards.iter().enumerate() {
            let agent = if free_at[0] <= free_at[1] { 0 } else { 1 };
            let leased = free_at[agent] + 5;
            let done = leased + 100 + (shard.estimate_secs * 1000.0).round() as u64;
            free_at[agent] = done;
            let results = shard
                .tests
                .iter()
                .cloned()
                .zip(shard.estimates.iter().copied())
                .collect();
            tasks.push(task(
                &format!("r1.j0.s{n}"),
                0,
                Work::Shard(shard.clone()),
                &format!("a{}", agent + 1),
                (plan_at, leased, done),
                outcome(results, 0.02),
            ));
        }
        let end = free_at[0].max(free_at[1]);
        RunRecord {
            run: Run {
                id: "r1".into(),
                mode: Mode::Gate,
                submitter: "test".into(),
                pipeline,
                project_dir: "/p".into(),
                env: BTreeMap::new(),
                jobs: vec![Job {
                    spec,
                    state: JobState::Planned,
                    tests: 12,
                    shards: shards.len() as u32,
                    left_out: None,
                    planned_with: None,
                    only_tests: None,
                }],
                max_lost: 2,
                accepted_ms: 0,
                finished_ms: Some(end),
                verdict: Some(crate::model::Verdict::Passed),
                message: String::new(),
                counts: Counts::default(),
                failed_tests: Vec::new(),
                selection: Default::default(),
                patch: None,
                tree: String::new(),
                submission: String::new(),
                quarantine: Vec::new(),
                excused: Vec::new(),
                compacted: false,
            },
            tasks,
            trace_id: String::new(),
        }
    }

    #[test]
    fn replay_of_a_hand_made_record_reproduces_its_wall_time() {
        let record = hand_made_record();
        let report = replay(&record, None, Duration::from_secs(2)).unwrap();
        assert_eq!((report.agents, report.slots), (2, 1));
        assert!(report.jobs[0].plan_reproduced, "{:?}", report.jobs);
        assert!((report.jobs[0].overhead_secs - 0.1).abs() < 1e-9);
        assert!(
            (report.lease_latency.mean - 0.005).abs() < 1e-9,
            "{:?}",
            report.lease_latency
        );
        assert!((report.plan_latency.mean - 0.010).abs() < 1e-9);
        assert_eq!(report.agent_first_lease_secs, vec![0.005, 0.520]);
        assert_eq!(report.agent_connect_secs, vec![0.0, 0.0], "a2 was idle, not absent");
        assert!(
            (report.predicted_secs - report.measured_secs).abs() < 0.002,
            "predicted {} measured {}",
            report.predicted_secs,
            report.measured_secs
        );
        assert!(report.lower_bound_secs <= report.measured_secs);
        // (An instant scheduler plans before a2 connects here: a different plan.)
        assert!(report.predicted_instant_secs.is_finite());
        assert!(report.predicted_timer_only_secs > report.predicted_secs);
    }

    #[test]
    fn records_round_trip_through_json_and_bad_ones_say_what_to_save() {
        let record = hand_made_record();
        let json = serde_json::json!({"run": record.run, "tasks": record.tasks}).to_string();
        assert_eq!(parse_record(&json).unwrap().tasks.len(), record.tasks.len());
        let e = parse_record("{\"run\": 1}").unwrap_err().to_string();
        assert!(e.contains("farm submit --json"), "{e}");
        let mut unfinished = record;
        unfinished.run.finished_ms = None;
        assert!(workload_from_record(&unfinished).is_err());
    }
}
