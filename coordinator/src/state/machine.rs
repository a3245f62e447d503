//! `apply(index, command)`: the only writer of replicated state.
//!
//! Deterministic — the same commands in the same order give the same state on every
//! node — and idempotent by index: a command at or below the applied index is skipped,
//! so replaying a log after a crash applies nothing twice. Each apply is one atomic
//! sled batch that includes the new applied index.
//!
//! Active runs and their tasks are also held in memory (the scheduler scans them);
//! finished runs live only in sled.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use testfarm_shared::config::{RunMode, Stage};
use testfarm_shared::install::{self, Install};
use testfarm_shared::inventory::{self, CachedInventory};
use testfarm_shared::plan::PlannedShard;
use testfarm_shared::profile::{RunnerProfile, TestProfile};
use testfarm_shared::quarantine;
use testfarm_shared::select::LeftOut;
use testfarm_shared::task::{ExitKind, TaskKind, TaskOutcome, TaskSpec, TestStatus};

use super::model::*;
use crate::store::{Batch, Store, StoreError};

/// Queue order: priority class, then run age, then task order within the run.
pub type QueueKey = (u8, u64, u32, String);

pub struct StateMachine {
    store: Store,
    applied: u64,
    runs: BTreeMap<String, Run>,
    tasks: HashMap<String, Task>,
    queue: BTreeSet<QueueKey>,
    /// Agents leased nothing new (`farm drain`).
    drained: BTreeSet<String>,
}

pub fn profile_key(project: &str, stage: &str, test: &str) -> String {
    format!("profile/{project}/{stage}/{test}")
}

/// Where a drained agent is kept: `drained/AGENT`.
const DRAINED: &str = "drained/";

/// Where the run a client's submission id became is kept.
/// The finished runs of `store` not yet compacted: (id, finished at). Read from a
/// clone of the store handle, so that retention does not hold the state machine
/// (and with it the raft loop's applies) while it reads every run.
pub fn finished_runs(store: &Store) -> Result<Vec<(String, u64)>, StoreError> {
    Ok(store
        .scan::<Run>("run/")?
        .into_iter()
        .filter(|(_, r)| !r.compacted)
        .filter_map(|(_, r)| Some((r.id, r.finished_ms?)))
        .collect())
}

/// `quarantine/PROJECT/TEST`: project names hold no `/` (config::is_name), tests may.
const QUARANTINE: &str = "quarantine/";

fn quarantine_key(project: &str, test: &str) -> String {
    format!("{QUARANTINE}{project}/{test}")
}

fn submission_key(id: &str) -> String {
    format!("submission/{id}")
}

/// Where a stage's [`RunnerProfile`] is kept.
pub fn runner_key(project: &str, stage: &str) -> String {
    format!("runner/{project}/{stage}")
}

fn inventory_key(run_id: &str, job: usize) -> String {
    format!("inv/{run_id}/{job}")
}

/// Index number of a run id `r<index>`, for queue order.
fn run_seq(run_id: &str) -> u64 {
    run_id.trim_start_matches('r').parse().unwrap_or(u64::MAX)
}

impl StateMachine {
    /// Loads the applied index and every active run with its tasks.
    pub fn open(store: Store) -> Result<StateMachine, StoreError> {
        let applied = store.get::<u64>("meta/applied")?.unwrap_or(0);
        let mut sm = StateMachine {
            store,
            applied,
            runs: BTreeMap::new(),
            tasks: HashMap::new(),
            queue: BTreeSet::new(),
            drained: BTreeSet::new(),
        };
        for (key, _) in sm.store.scan::<bool>(DRAINED)? {
            sm.drained.insert(key.trim_start_matches(DRAINED).to_string());
        }
        for (_, run) in sm.store.scan::<Run>("run/")? {
            if run.finished_ms.is_some() {
                continue;
            }
            for (_, task) in sm.store.scan::<Task>(&format!("task/{}.", run.id))? {
                if task.state == TaskState::Queued {
                    sm.queue.insert(queue_key(&run, &task));
                }
                sm.tasks.insert(task.id.clone(), task);
            }
            sm.runs.insert(run.id.clone(), run);
        }
        Ok(sm)
    }

    pub fn applied(&self) -> u64 {
        self.applied
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn active_runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.values()
    }

    pub fn active_run(&self, id: &str) -> Option<&Run> {
        self.runs.get(id)
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    pub fn active_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    pub fn queue(&self) -> &BTreeSet<QueueKey> {
        &self.queue
    }

    /// Agents leased nothing new (`farm drain`).
    /// The quarantine of `project`, in test order.
    pub fn quarantine(&self, project: &str) -> Result<Vec<quarantine::Entry>, StoreError> {
        let entries = self.store.scan::<quarantine::Entry>(&quarantine_key(project, ""))?;
        Ok(entries.into_iter().map(|(_, e)| e).collect())
    }

    /// Every project's quarantine: (project, entry), by project and test.
    pub fn quarantines(&self) -> Result<Vec<(String, quarantine::Entry)>, StoreError> {
        let entries = self.store.scan::<quarantine::Entry>(QUARANTINE)?;
        Ok(entries
            .into_iter()
            .map(|(key, e)| {
                let project = key[QUARANTINE.len()..]
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                (project, e)
            })
            .collect())
    }

    pub fn drained(&self) -> &BTreeSet<String> {
        &self.drained
    }

    /// A run, active or finished.
    pub fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        match self.runs.get(id) {
            Some(run) => Ok(Some(run.clone())),
            None => self.store.get(&format!("run/{id}")),
        }
    }

    /// All tasks of a run, from disk (complete for finished runs too).
    pub fn run_tasks(&self, id: &str) -> Result<Vec<Task>, StoreError> {
        Ok(self
            .store
            .scan::<Task>(&format!("task/{id}."))?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }

    /// Discovered test ids of a job.
    pub fn inventory(&self, run_id: &str, job: usize) -> Result<Vec<String>, StoreError> {
        Ok(self.store.get(&inventory_key(run_id, job))?.unwrap_or_default())
    }

    /// Moves the applied index over a log entry that carries no command (a new
    /// leader's empty entry, a membership change).
    pub fn advance_to(&mut self, index: u64) -> Result<(), StoreError> {
        if index > self.applied {
            self.applied = index;
            let mut batch = Batch::default();
            batch.put("meta/applied", &index);
            self.store.commit(batch)?;
        }
        Ok(())
    }

    /// Applies the command at `index`. Commands at or below the applied index were
    /// applied before (a replay after a crash) and are skipped.
    pub fn apply(&mut self, index: u64, command: Command) -> Result<(Applied, Option<StateEvent>), StoreError> {
        if index <= self.applied {
            return Ok((Applied::Ignored(format!("index {index} already applied")), None));
        }
        if let Err(invalid) = validate(&command) {
            self.advance_to(index)?;
            return Ok((Applied::Rejected(invalid.to_string()), None));
        }
        let mut tx = Tx {
            batch: Batch::default(),
            dirty_runs: BTreeSet::new(),
            dirty_tasks: BTreeSet::new(),
            event: None,
        };
        let applied = match command {
            Command::AcceptRun { run } => self.accept_run(&mut tx, index, *run),
            Command::PlanJob {
                run_id,
                job,
                shards,
                now_ms,
                left_out,
                planned_with,
            } => self.plan_job(&mut tx, &run_id, job, shards, (left_out, planned_with), now_ms),
            Command::LeaseTask { task_id, agent, now_ms } => self.lease(&mut tx, &task_id, &agent, now_ms),
            Command::LeaseTasks { leases, now_ms } => Applied::LeasedMany(
                leases
                    .iter()
                    .map(|l| self.lease(&mut tx, &l.task_id, &l.agent, now_ms))
                    .collect(),
            ),
            Command::CompleteTask {
                task_id,
                agent,
                attempt,
                outcome,
                now_ms,
            } => self.complete(&mut tx, &task_id, &agent, attempt, *outcome, now_ms)?,
            Command::LoseTask {
                task_id,
                agent,
                reason,
                now_ms,
            } => self.lose(&mut tx, &task_id, &agent, &reason, now_ms),
            Command::CancelRun { run_id, reason, now_ms } => self.cancel_run(&mut tx, &run_id, &reason, now_ms)?,
            Command::Quarantine { project, entry } => {
                let key = quarantine_key(&project, &entry.test);
                let was = self.store.get::<quarantine::Entry>(&key)?.is_some();
                tx.batch.put(&key, &entry);
                Applied::Quarantined { was }
            }
            Command::CompactRuns { run_ids } => self.compact(&mut tx, &run_ids)?,
            Command::Unquarantine { project, test } => {
                let key = quarantine_key(&project, &test);
                let was = self.store.get::<quarantine::Entry>(&key)?.is_some();
                tx.batch.remove(&key);
                Applied::Quarantined { was }
            }
            Command::SetDrained { agent, drained } => {
                let key = format!("{DRAINED}{agent}");
                let was = if drained {
                    tx.batch.put(&key, &true);
                    !self.drained.insert(agent)
                } else {
                    tx.batch.remove(&key);
                    self.drained.remove(&agent)
                };
                Applied::Drained { was }
            }
        };
        self.applied = index;
        tx.batch.put("meta/applied", &index);
        for id in &tx.dirty_tasks {
            if let Some(task) = self.tasks.get(id) {
                tx.batch.put(&format!("task/{id}"), task);
            }
        }
        let mut finished = Vec::new();
        for id in &tx.dirty_runs {
            if let Some(run) = self.runs.get(id) {
                tx.batch.put(&format!("run/{id}"), run);
                if run.finished_ms.is_some() {
                    finished.push(id.clone());
                }
            }
        }
        self.store.commit(tx.batch)?;
        for id in finished {
            self.forget(&id);
        }
        Ok((applied, tx.event))
    }

    /// Drops what is in memory and loads the state as committed to the store: after an
    /// apply that failed half-way, memory holds changes the store never got.
    pub fn reload(&mut self) -> Result<(), StoreError> {
        *self = StateMachine::open(self.store.clone())?;
        Ok(())
    }

    fn forget(&mut self, run_id: &str) {
        self.runs.remove(run_id);
        self.tasks.retain(|_, t| t.run_id != run_id);
        self.queue.retain(|k| k.3.split('.').next() != Some(run_id));
    }

    fn accept_run(&mut self, tx: &mut Tx, index: u64, mut run: Run) -> Applied {
        // A submission seen before (its client retried through another member after
        // losing the answer): the run it became, and nothing new.
        let submission = (!run.submission.is_empty()).then(|| submission_key(&run.submission));
        if let Some(key) = &submission {
            match self.store.get::<String>(key) {
                Ok(Some(run_id)) => return Applied::SubmissionSeen { run_id },
                Ok(None) => {}
                Err(e) => return Applied::Rejected(format!("cannot read submission {}: {e}", run.submission)),
            }
        }
        run.id = format!("r{index}");
        run.quarantine = match self.quarantine(&run.pipeline.project) {
            Ok(entries) => entries,
            Err(e) => return Applied::Rejected(format!("cannot read the quarantine of {}: {e}", run.pipeline.project)),
        };
        if let Some(key) = &submission {
            tx.batch.put(key, &run.id);
        }
        let mut discoveries = 0;
        for job in 0..run.jobs.len() {
            // The same tree listed the same way as at the job's last discovery: its
            // list stands, and the job goes straight to planning.
            if let Some(fingerprint) = inventory::fingerprint(&run, job) {
                let key = inventory::cache_key(&run.pipeline.project, &run.jobs[job].spec.display_name());
                if let Ok(Some(cached)) = self.store.get::<CachedInventory>(&key) {
                    if cached.fingerprint == fingerprint && !cached.tests.is_empty() {
                        run.jobs[job].state = JobState::Discovered;
                        run.jobs[job].tests = cached.tests.len() as u32;
                        run.counts.tests_total += cached.tests.len() as u32;
                        tx.batch.put(&inventory_key(&run.id, job), &cached.tests);
                        continue;
                    }
                }
            }
            discoveries += 1;
            let task = Task {
                id: format!("{}.j{job}.d", run.id),
                run_id: run.id.clone(),
                job,
                work: Work::Discover,
                state: TaskState::Queued,
                attempt: 0,
                lost_on: Vec::new(),
                queued_ms: run.accepted_ms,
                leased_ms: None,
                finished_ms: None,
                done_by: None,
                outcome: None,
            };
            self.queue.insert(queue_key(&run, &task));
            tx.dirty_tasks.insert(task.id.clone());
            self.tasks.insert(task.id.clone(), task);
        }
        run.counts.tasks_total = discoveries;
        let run_id = run.id.clone();
        tx.touch_run(&run_id);
        self.runs.insert(run_id.clone(), run);
        Applied::RunAccepted { run_id }
    }

    fn plan_job(
        &mut self,
        tx: &mut Tx,
        run_id: &str,
        job: usize,
        shards: Vec<PlannedShard>,
        (left_out, planned_with): (Option<LeftOut>, Option<testfarm_shared::plan::RunnerCost>),
        now_ms: u64,
    ) -> Applied {
        let Some(run) = self.runs.get_mut(run_id) else {
            return Applied::Ignored(format!("run {run_id} is not active"));
        };
        if run.jobs.get(job).map(|j| j.state) != Some(JobState::Discovered) {
            return Applied::Ignored(format!("job {job} of {run_id} is not waiting for a plan"));
        }
        run.jobs[job].state = JobState::Planned;
        run.jobs[job].shards = shards.len() as u32;
        run.jobs[job].left_out = left_out;
        run.jobs[job].planned_with = planned_with;
        let nothing_to_run = shards.is_empty();
        run.counts.tasks_total += shards.len() as u32;
        let run = run.clone();
        for (n, shard) in shards.into_iter().enumerate() {
            let task = Task {
                id: format!("{run_id}.j{job}.s{n}"),
                run_id: run_id.into(),
                job,
                work: Work::Shard(shard),
                state: TaskState::Queued,
                attempt: 0,
                lost_on: Vec::new(),
                queued_ms: now_ms,
                leased_ms: None,
                finished_ms: None,
                done_by: None,
                outcome: None,
            };
            self.queue.insert(queue_key(&run, &task));
            tx.dirty_tasks.insert(task.id.clone());
            self.tasks.insert(task.id.clone(), task);
        }
        tx.touch_run(run_id);
        if nothing_to_run {
            // A selection may leave a job with no test: it is done at once.
            self.maybe_finish(tx, run_id, now_ms);
        }
        Applied::Planned
    }

    fn lease(&mut self, tx: &mut Tx, task_id: &str, agent: &str, now_ms: u64) -> Applied {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return Applied::Ignored(format!("task {task_id} is not active"));
        };
        if task.state != TaskState::Queued {
            return Applied::Ignored(format!("task {task_id} is not queued"));
        }
        let run = &self.runs[&task.run_id];
        self.queue.remove(&queue_key(run, task));
        task.state = TaskState::Leased {
            agent: agent.into(),
            since_ms: now_ms,
        };
        task.leased_ms = Some(now_ms);
        task.attempt += 1;
        tx.dirty_tasks.insert(task_id.into());
        let Some(spec) = task_spec(run, task) else {
            return Applied::Ignored(format!("task {task_id} has no stage in its run"));
        };
        Applied::Leased {
            attempt: task.attempt,
            spec: Box::new(spec),
        }
    }

    fn complete(
        &mut self,
        tx: &mut Tx,
        task_id: &str,
        agent: &str,
        attempt: u32,
        mut outcome: TaskOutcome,
        now_ms: u64,
    ) -> Result<Applied, StoreError> {
        let Some(task) = self.tasks.get(task_id) else {
            return Ok(Applied::Completed { applied: false });
        };
        // A task done or cancelled takes no report: a copy of the one applied (a retry
        // whose acknowledgement was lost) or one that came too late.
        if matches!(task.state, TaskState::Done | TaskState::Cancelled) {
            return Ok(Applied::Completed { applied: false });
        }
        // Only the holder of the current lease reports.
        let refused = match &task.state {
            TaskState::Leased { agent: holder, .. } if holder != agent => {
                Some(ReportRefused::OtherAgent { holder: holder.clone() })
            }
            TaskState::Leased { .. } if task.attempt != attempt => {
                Some(ReportRefused::StaleAttempt { current: task.attempt })
            }
            TaskState::Leased { .. } => None,
            _ => Some(ReportRefused::NotLeased { attempt }),
        };
        if let Some(refused) = refused {
            return Ok(Applied::ReportRefused(refused));
        }
        if let ExitKind::Infrastructure { message } = &outcome.exit {
            let reason = format!("infrastructure failure: {message}");
            self.lose(tx, task_id, agent, &reason, now_ms);
            return Ok(Applied::Completed { applied: true });
        }
        let task = self.tasks.get_mut(task_id).expect("checked above");
        if let TaskState::Leased { since_ms, .. } = task.state {
            outcome.phases.queued_secs = since_ms.saturating_sub(task.queued_ms) as f64 / 1000.0;
        }
        task.state = TaskState::Done;
        task.finished_ms = Some(now_ms);
        task.done_by = Some(agent.into());
        tx.dirty_tasks.insert(task_id.into());
        let (run_id, job) = (task.run_id.clone(), task.job);
        let work = task.work.clone();
        let run = self.runs.get_mut(&run_id).expect("active task has an active run");
        run.counts.tasks_done += 1;
        tx.touch_run(&run_id);
        let mut failed_now = Vec::new();
        match work {
            Work::Discover => match (&outcome.exit, outcome.discovered.is_empty()) {
                (ExitKind::Exited { code: 0 }, false) => {
                    let mut seen = BTreeSet::new();
                    let tests: Vec<String> = outcome
                        .discovered
                        .iter()
                        .filter(|t| seen.insert(t.as_str()))
                        .cloned()
                        .collect();
                    run.jobs[job].state = JobState::Discovered;
                    run.jobs[job].tests = tests.len() as u32;
                    run.counts.tests_total += tests.len() as u32;
                    tx.batch.put(&inventory_key(&run_id, job), &tests);
                    if let Some(fingerprint) = inventory::fingerprint(run, job) {
                        let key = inventory::cache_key(&run.pipeline.project, &run.jobs[job].spec.display_name());
                        tx.batch.put(&key, &CachedInventory { fingerprint, tests });
                    }
                    outcome.discovered = Vec::new(); // kept once, under inv/
                }
                (ExitKind::Exited { code: 0 }, true) => {
                    let message = format!(
                        "job {} discovered no tests: its `discover` command printed nothing (a stage whose tests are missing never passes silently)",
                        run.jobs[job].spec.display_name()
                    );
                    finish(run, Verdict::Error, message, now_ms);
                }
                (exit, _) => {
                    let message = format!(
                        "job {}: `discover` failed ({}) on agent {agent}; log tail:\n{}",
                        run.jobs[job].spec.display_name(),
                        exit.describe(),
                        outcome.log_tail
                    );
                    finish(run, Verdict::Error, message, now_ms);
                }
            },
            Work::Shard(_) => {
                let stage = run.jobs[job].spec.stage.clone();
                let project = run.pipeline.project.clone();
                // Tests timed before this run: (count, estimated secs, actual secs).
                let mut timed = (0usize, 0.0f64, 0.0f64);
                for result in &outcome.results {
                    match result.status {
                        TestStatus::Passed => run.counts.tests_passed += 1,
                        TestStatus::Skipped => run.counts.tests_skipped += 1,
                        _ => {
                            let name = format!("{} {}", run.jobs[job].spec.display_name(), result.id);
                            // A quarantined test's failure is kept, and its profile
                            // records it below, but it does not fail the run.
                            if let Some(entry) = quarantine::covering(&run.quarantine, &result.id) {
                                run.counts.tests_excused += 1;
                                if run.excused.len() < 100 {
                                    let entry = entry.test.clone();
                                    run.excused.push(quarantine::Excused { name, entry });
                                }
                            } else {
                                run.counts.tests_failed += 1;
                                if run.failed_tests.len() < 100 {
                                    run.failed_tests.push(name.clone());
                                }
                                failed_now.push(name);
                            }
                        }
                    }
                    if result.status == TestStatus::Skipped {
                        continue;
                    }
                    let key = profile_key(&project, &stage, &result.id);
                    let mut profile: TestProfile = self.store.get(&key)?.unwrap_or_default();
                    let finished = matches!(
                        result.status,
                        TestStatus::Passed | TestStatus::Failed | TestStatus::Error
                    );
                    if let (true, Some(before)) = (finished, profile.estimate()) {
                        timed.0 += 1;
                        timed.1 += before.as_secs_f64();
                        timed.2 += result.duration_secs;
                    }
                    profile.record(
                        finished.then(|| Duration::from_secs_f64(result.duration_secs)),
                        result.status.is_failure(),
                    );
                    tx.batch.put(&key, &profile);
                }
                if matches!(outcome.exit, ExitKind::Exited { .. }) && !outcome.results.is_empty() {
                    let key = runner_key(&project, &stage);
                    let mut runner: RunnerProfile = self.store.get(&key)?.unwrap_or_default();
                    let tests: f64 = outcome.results.iter().map(|r| r.duration_secs).sum();
                    let classes =
                        testfarm_shared::runner_cost::class_count(outcome.results.iter().map(|r| r.id.as_str()));
                    runner.record(outcome.phases.run_secs - tests, outcome.results.len(), classes);
                    // How well the shard was estimated, once nearly all of it was timed.
                    if timed.0 * 10 >= outcome.results.len() * 9 {
                        runner.record_spread(timed.1, timed.2);
                    }
                    tx.batch.put(&key, &runner);
                }
                if !matches!(outcome.exit, ExitKind::Exited { code: 0 })
                    && !outcome.results.iter().any(|r| r.status.is_failure())
                {
                    // The runner failed though no test did: that fails the run too.
                    run.counts.tests_failed += 1;
                    let name = format!(
                        "{} (runner of shard {task_id}: {})",
                        run.jobs[job].spec.display_name(),
                        outcome.exit.describe()
                    );
                    run.failed_tests.push(name.clone());
                    failed_now.push(name);
                }
            }
        }
        self.tasks.get_mut(task_id).expect("exists").outcome = Some(outcome);
        self.maybe_finish(tx, &run_id, now_ms);
        tx.event = Some(StateEvent {
            run_id: run_id.clone(),
            failed_tests: failed_now,
            finished: self.run_finished(&run_id),
        });
        Ok(Applied::Completed { applied: true })
    }

    fn lose(&mut self, tx: &mut Tx, task_id: &str, agent: &str, reason: &str, now_ms: u64) -> Applied {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return Applied::Ignored(format!("task {task_id} is not active"));
        };
        if !matches!(&task.state, TaskState::Leased { agent: a, .. } if a == agent) {
            return Applied::Ignored(format!("task {task_id} is not leased to {agent}"));
        }
        task.lost_on.push(agent.into());
        tx.dirty_tasks.insert(task_id.into());
        let run_id = task.run_id.clone();
        let run = self.runs.get_mut(&run_id).expect("active task has an active run");
        run.counts.tasks_lost += 1;
        tx.touch_run(&run_id);
        if task.lost_on.len() as u32 > run.max_lost {
            let message = format!(
                "infrastructure error: task {task_id} ({}) was lost {} times, on agents {} (last: {reason}); at most {} losses are retried",
                run.jobs[task.job].spec.display_name(),
                task.lost_on.len(),
                task.lost_on.join(", "),
                run.max_lost
            );
            task.state = TaskState::Cancelled;
            finish(run, Verdict::Error, message, now_ms);
        } else {
            task.state = TaskState::Queued;
            task.queued_ms = now_ms;
            let key = queue_key(run, task);
            self.queue.insert(key);
        }
        self.maybe_finish(tx, &run_id, now_ms);
        tx.event = Some(StateEvent {
            run_id: run_id.clone(),
            failed_tests: Vec::new(),
            finished: self.run_finished(&run_id),
        });
        Applied::Lost
    }

    fn cancel_run(&mut self, tx: &mut Tx, run_id: &str, reason: &str, now_ms: u64) -> Result<Applied, StoreError> {
        let Some(run) = self.runs.get_mut(run_id) else {
            // Finished runs leave memory: its verdict stands, as the store has it.
            return Ok(match self.run(run_id)? {
                Some(run) => Applied::Cancelled {
                    cancelled: false,
                    verdict: run.verdict.map_or("", |v| v.as_str()).to_string(),
                },
                None => Applied::Ignored(format!("no run `{run_id}`")),
            });
        };
        let message = if reason.is_empty() {
            "cancelled".to_string()
        } else {
            format!("cancelled: {reason}")
        };
        finish(run, Verdict::Cancelled, message, now_ms);
        self.maybe_finish(tx, run_id, now_ms);
        tx.event = Some(StateEvent {
            run_id: run_id.into(),
            failed_tests: Vec::new(),
            finished: true,
        });
        Ok(Applied::Cancelled {
            cancelled: true,
            verdict: Verdict::Cancelled.as_str().into(),
        })
    }

    /// Drops the tasks and test lists of finished runs, keeping each run's record as
    /// its summary. Runs still active (in memory) or unknown are left alone.
    fn compact(&mut self, tx: &mut Tx, run_ids: &[String]) -> Result<Applied, StoreError> {
        let mut runs = 0;
        for id in run_ids {
            if self.runs.contains_key(id) {
                continue;
            }
            let Some(mut run) = self.store.get::<Run>(&format!("run/{id}"))? else {
                continue;
            };
            if run.finished_ms.is_none() || run.compacted {
                continue;
            }
            for key in self.store.keys(&format!("task/{id}."))? {
                tx.batch.remove(&key);
            }
            for job in 0..run.jobs.len() {
                tx.batch.remove(&inventory_key(id, job));
            }
            // A client retries a submit within a minute, not after the retention.
            if !run.submission.is_empty() {
                tx.batch.remove(&submission_key(&run.submission));
            }
            run.compacted = true;
            tx.batch.put(&format!("run/{id}"), &run);
            runs += 1;
        }
        Ok(Applied::Compacted { runs })
    }

    /// The finished runs not yet compacted: (id, finished at), for retention.
    pub fn finished_runs(&self) -> Result<Vec<(String, u64)>, StoreError> {
        finished_runs(&self.store)
    }

    /// Of `running` (an agent's tasks), those nobody wants any more: cancelled, done
    /// (by another agent), or of a run that has ended and left memory.
    pub fn unwanted<'a>(&self, running: &'a [String]) -> Vec<&'a String> {
        running
            .iter()
            .filter(|id| {
                self.tasks
                    .get(id.as_str())
                    .is_none_or(|t| matches!(t.state, TaskState::Done | TaskState::Cancelled))
            })
            .collect()
    }

    fn run_finished(&self, run_id: &str) -> bool {
        self.runs.get(run_id).is_none_or(|r| r.finished_ms.is_some())
    }

    /// Gives the verdict once every job is planned and every task done; cancels the
    /// rest of a run that already ended in error.
    fn maybe_finish(&mut self, tx: &mut Tx, run_id: &str, now_ms: u64) {
        let run = self.runs.get_mut(run_id).expect("active");
        if run.finished_ms.is_none() {
            let all_planned = run.jobs.iter().all(|j| j.state == JobState::Planned);
            let all_done = self
                .tasks
                .values()
                .filter(|t| t.run_id == run_id)
                .all(|t| t.state == TaskState::Done);
            if !(all_planned && all_done) {
                return;
            }
            let verdict = if run.counts.tests_failed > 0 {
                Verdict::Failed
            } else {
                Verdict::Passed
            };
            let mut message = match verdict {
                Verdict::Passed => format!("{} tests passed", run.counts.tests_passed),
                _ => format!("{} of {} tests failed", run.counts.tests_failed, run.counts.tests_total),
            };
            if let Some(excused) = quarantine::verdict_note(&run.excused, run.counts.tests_excused) {
                message += &format!("; {excused}");
            }
            if let Some(left) = left_out_summary(run) {
                message += &format!("; {left}");
            }
            finish(run, verdict, message, now_ms);
        }
        for task in self.tasks.values_mut().filter(|t| t.run_id == run_id) {
            if matches!(task.state, TaskState::Queued | TaskState::Leased { .. }) {
                task.state = TaskState::Cancelled;
                tx.dirty_tasks.insert(task.id.clone());
            }
        }
        tx.touch_run(run_id);
    }
}

struct Tx {
    batch: Batch,
    dirty_runs: BTreeSet<String>,
    dirty_tasks: BTreeSet<String>,
    event: Option<StateEvent>,
}

impl Tx {
    fn touch_run(&mut self, run_id: &str) {
        self.dirty_runs.insert(run_id.into());
        if self.event.is_none() {
            self.event = Some(StateEvent {
                run_id: run_id.into(),
                failed_tests: Vec::new(),
                finished: false,
            });
        }
    }
}

/// What a select run left out, summed over its jobs, for the verdict's message.
fn left_out_summary(run: &Run) -> Option<String> {
    let jobs: Vec<&LeftOut> = run.jobs.iter().filter_map(|j| j.left_out.as_ref()).collect();
    if jobs.is_empty() {
        return None;
    }
    let tests: u32 = jobs.iter().map(|l| l.tests).sum();
    let risky: u32 = jobs.iter().map(|l| l.with_failures).sum();
    let expected: f64 = jobs.iter().map(|l| l.expected_failures).sum();
    // A pipeline without `repos:` owns its tests under no name.
    let repos: BTreeSet<&str> = jobs
        .iter()
        .flat_map(|l| l.repos.iter().map(String::as_str))
        .filter(|r| !r.is_empty())
        .collect();
    let recall = jobs
        .iter()
        .filter_map(|l| l.expected_recall)
        .reduce(f64::min)
        .map(|r| {
            format!(
                "; the static pick expects to hold {:.1}% of the tests this change affects",
                100.0 * r
            )
        })
        .unwrap_or_default();
    Some(if tests == 0 {
        format!("select left nothing out{recall}")
    } else {
        let of = if repos.is_empty() {
            String::new()
        } else {
            format!("of {}; ", repos.into_iter().collect::<Vec<_>>().join(", "))
        };
        format!(
            "select left out {tests} tests ({of}{risky} of them failed in their recorded history, \
             ≈{expected:.2} failures expected among them){recall}"
        )
    })
}

fn finish(run: &mut Run, verdict: Verdict, message: String, now_ms: u64) {
    if run.finished_ms.is_none() {
        run.verdict = Some(verdict);
        run.message = message;
        run.finished_ms = Some(now_ms);
    }
}

fn queue_key(run: &Run, task: &Task) -> QueueKey {
    let order = match &task.work {
        Work::Discover => 0,
        Work::Shard(_) => task
            .id
            .rsplit('s')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .map_or(u32::MAX, |n| n + 1),
    };
    (run.mode.priority(), run_seq(&run.id), order, task.id.clone())
}

/// What an agent needs to run a task.
/// None when the task's job or its stage is not in the run (a command [`validate`]
/// would have rejected).
pub fn task_spec(run: &Run, task: &Task) -> Option<TaskSpec> {
    let job = run.jobs.get(task.job)?;
    let stage: &Stage = run.pipeline.stages.iter().find(|s| s.name == job.spec.stage)?;
    let mut env = stage.env.clone();
    env.extend(run.env.clone());
    let kind = match &task.work {
        Work::Discover => TaskKind::Discover {
            command: stage.discover.clone(),
            phpunit: match &stage.mode {
                RunMode::Phpunit(p) => Some(p.clone()),
                _ => None,
            },
        },
        Work::Shard(shard) => TaskKind::Shard {
            mode: stage.mode.clone(),
            tests: shard.tests.clone(),
            estimate_secs: shard.estimate_secs,
        },
    };
    let workspace = run.workspace();
    let services = stage.services_in(&job.spec.cell);
    let install = stage.install.as_ref().map(|command| {
        let workspace_key = workspace.as_ref().map(|w| w.key());
        let tree = install::tree_of(&install::TreeOf {
            workspace_key: workspace_key.as_deref(),
            project_dir: &run.project_dir,
            fingerprint: &run.tree,
            run_id: &run.id,
            env: &run.env,
        });
        Install {
            key: install::install_key(&tree, command, &job.spec.cell, &services, &stage.runtime),
            command: command.clone(),
        }
    });
    Some(TaskSpec {
        run_id: run.id.clone(),
        task_id: task.id.clone(),
        project: run.pipeline.project.clone(),
        stage: stage.name.clone(),
        job_name: job.spec.display_name(),
        cell: job.spec.cell.clone(),
        project_dir: run.project_dir.clone(),
        env,
        limits: stage.limits.clone(),
        kind,
        trace_parent: testfarm_shared::trace::task_traceparent(run, &task.id, task.attempt),
        runtime: stage.runtime.clone(),
        workspace,
        services,
        install,
        tools: stage.tools.clone(),
    })
}

/// Why a command cannot be applied whatever the state: it contradicts itself. Every
/// replica rejects it alike and goes on (a command comes from a peer or a forward,
/// and no input may stop a replica).
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("a run with no jobs")]
    NoJobs,
    #[error("repo {repo}: path `{path}` {why}")]
    RepoPath {
        repo: String,
        path: String,
        why: &'static str,
    },
    #[error("job {job} names stage `{stage}`, which pipeline `{pipeline}` does not have")]
    UnknownStage {
        job: usize,
        stage: String,
        pipeline: String,
    },
    #[error("shard {0} has not one estimate per test")]
    ShardEstimates(usize),
    #[error("report of task {task}: {field} is not a finite, non-negative number of seconds")]
    Measurement { task: String, field: String },
    #[error("an agent id of 1 to 200 bytes")]
    AgentId,
    #[error(transparent)]
    Quarantine(#[from] quarantine::EntryError),
    #[error("{0} runs in one compaction, at most {max}", max = testfarm_shared::retention::BATCH)]
    CompactionTooBig(usize),
    #[error("{count} {what}, at most {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
}

/// Leases one [`Command::LeaseTasks`] may carry: a pass gives each agent at most one,
/// so this is thousands of agents' worth, and an entry stays far below the message cap.
pub const MAX_LEASES_PER_ENTRY: usize = 10_000;

pub fn validate(command: &Command) -> Result<(), Invalid> {
    match command {
        Command::AcceptRun { run } => {
            if run.jobs.is_empty() {
                return Err(Invalid::NoJobs);
            }
            for repo in &run.pipeline.repos {
                if let Some(why) = testfarm_shared::workspace::path_problem(&repo.path) {
                    return Err(Invalid::RepoPath {
                        repo: repo.name.clone(),
                        path: repo.path.clone(),
                        why,
                    });
                }
            }
            for (job, spec) in run.jobs.iter().map(|j| &j.spec).enumerate() {
                if !run.pipeline.stages.iter().any(|s| s.name == spec.stage) {
                    return Err(Invalid::UnknownStage {
                        job,
                        stage: spec.stage.clone(),
                        pipeline: run.pipeline.name.clone(),
                    });
                }
            }
            Ok(())
        }
        Command::PlanJob { shards, .. } => match shards.iter().position(|s| s.tests.len() != s.estimates.len()) {
            Some(n) => Err(Invalid::ShardEstimates(n)),
            None => Ok(()),
        },
        Command::CompleteTask { task_id, outcome, .. } => match outcome.bad_measurement() {
            Some(field) => Err(Invalid::Measurement {
                task: task_id.clone(),
                field,
            }),
            None => Ok(()),
        },
        Command::LeaseTask { .. } | Command::LoseTask { .. } | Command::CancelRun { .. } => Ok(()),
        Command::LeaseTasks { leases, .. } if leases.len() > MAX_LEASES_PER_ENTRY => Err(Invalid::TooMany {
            what: "leases in one entry",
            count: leases.len(),
            max: MAX_LEASES_PER_ENTRY,
        }),
        Command::LeaseTasks { .. } => Ok(()),
        Command::SetDrained { agent, .. } if agent.is_empty() || agent.len() > 200 => Err(Invalid::AgentId),
        Command::SetDrained { .. } => Ok(()),
        Command::Quarantine { project, entry } => Ok(quarantine::check(project, &entry.test, &entry.reason)?),
        Command::Unquarantine { project, test } => Ok(quarantine::check(project, test, "")?),
        Command::CompactRuns { run_ids } if run_ids.len() > testfarm_shared::retention::BATCH => {
            Err(Invalid::CompactionTooBig(run_ids.len()))
        }
        Command::CompactRuns { .. } => Ok(()),
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "machine_fuzz.rs"]
mod fuzz;
