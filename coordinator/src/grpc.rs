//! gRPC services: convert wire messages to domain types and delegate. No decisions
//! are made here; errors become `tonic::Status` only at this edge.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use testfarm_proto::agent_service_server::AgentService;
use testfarm_proto::convert;
use testfarm_proto::farm_server::Farm;
use testfarm_proto::*;
use testfarm_shared::access::Grant;
use testfarm_shared::config::{parse_pipeline, Pipeline};
use testfarm_shared::matrix::{expand, only_cells, stage_named};
use testfarm_shared::select::{Pick, RepoGraph, Selection};
use testfarm_shared::task::TaskOutcome;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::node::{now_ms, Node};
use crate::raft::ProposeError;
use crate::scheduler::{Agents, SchedulerConfig};
use crate::state::{Applied, Command, Mode, Run, TaskState};
use crate::store::StoreError;
use testfarm_shared::{quarantine, rerun};

#[derive(Clone)]
pub struct Services {
    pub node: Arc<Node>,
    pub agents: Arc<Agents>,
    pub config: SchedulerConfig,
    pub max_lost: u32,
    pub logs: Arc<crate::logs::Logs>,
    /// What each Farm call's caller may do; with TLS, each agent call must come
    /// from its agent's certificate (crate::auth).
    pub access: crate::auth::Access,
}

pub(crate) fn internal(e: StoreError) -> Status {
    Status::internal(e.to_string())
}

/// The metadata key that tells a client where the leader is.
pub const LEADER_KEY: &str = "x-farm-leader";

/// How long an agent's registration waits for an election's outcome.
const ELECTION_WAIT: Duration = Duration::from_secs(2);

pub(crate) fn not_leader(leader: Option<String>) -> Status {
    let mut status = Status::unavailable(match &leader {
        Some(addr) => format!("this coordinator is not the leader; the leader is {addr}"),
        None => "no leader is elected yet; try again".to_string(),
    });
    if let Some(addr) = leader.and_then(|a| a.parse().ok()) {
        status.metadata_mut().insert(LEADER_KEY, addr);
    }
    status
}

fn proposal(e: ProposeError) -> Status {
    match e {
        ProposeError::NotLeader { leader } => not_leader(leader),
        ProposeError::NoLeader | ProposeError::Dropped => not_leader(None),
        other => Status::internal(other.to_string()),
    }
}

impl Services {
    /// Agents talk to the leader only (it holds their streams and decides leases).
    pub(crate) fn require_leader(&self) -> Result<(), Status> {
        let role = self.node.role();
        if role.is_leader {
            Ok(())
        } else {
            Err(not_leader(role.leader_addr))
        }
    }

    /// [`Services::require_leader`] for an agent opening a session: while no leader
    /// is known (an election runs), waits up to [`ELECTION_WAIT`] for the outcome, so
    /// that the agent is sent to the new leader the moment there is one instead of
    /// retrying on its own back-off (the nemesis measured leases up to a second late).
    pub(crate) async fn require_leader_waiting(&self) -> Result<(), Status> {
        let mut changes = self.node.role_changes();
        let deadline = tokio::time::Instant::now() + ELECTION_WAIT;
        loop {
            let role = changes.borrow_and_update().clone();
            if role.is_leader {
                return Ok(());
            }
            if role.leader_addr.is_some() {
                return Err(not_leader(role.leader_addr));
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Err(not_leader(None)),
            }
        }
    }

    /// Proposes a run (`what`: run or rerun, for messages) and answers with its id.
    async fn accept(&self, run: Run, what: &str) -> Result<Response<SubmitReply>, Status> {
        let (mode, jobs) = (run.mode, run.jobs.len() as u32);
        let unconfined: Vec<String> = run
            .pipeline
            .stages
            .iter()
            .filter(|s| !s.runtime.confined())
            .map(|s| s.name.clone())
            .collect();
        match self
            .node
            .propose(Command::AcceptRun { run: Box::new(run) })
            .await
            .map_err(proposal)?
        {
            Applied::RunAccepted { run_id } => {
                crate::metrics::run_accepted(mode);
                tracing::info!(run = %run_id, jobs, "{what} accepted");
                if !unconfined.is_empty() {
                    tracing::warn!(run = %run_id, stages = ?unconfined, "isolation: none: these stages run on the agents' hosts as the agents' user, unconfined");
                }
                Ok(Response::new(SubmitReply { run_id, jobs }))
            }
            // A retried submission: its run was accepted (and counted) before.
            Applied::SubmissionSeen { run_id } => {
                tracing::info!(run = %run_id, "{what} submitted again: the run it became");
                Ok(Response::new(SubmitReply { run_id, jobs }))
            }
            Applied::Rejected(reason) => Err(Status::invalid_argument(format!("the {what} was rejected: {reason}"))),
            other => Err(Status::internal(format!("unexpected apply result {other:?}"))),
        }
    }

    async fn run_caught_up(&self, run_id: &str) -> Result<Option<testfarm_shared::model::Run>, Status> {
        if let Some(run) = self.node.read(|sm| sm.run(run_id)).map_err(internal)? {
            return Ok(Some(run));
        }
        if self.node.linearizable().await.is_err() {
            // No leader confirms what was committed: the run may be one the cluster
            // acknowledged that this member has not applied yet. Saying "no run"
            // would end a client that was told it exists (the nemesis saw it).
            return Err(Status::unavailable(format!(
                "run `{run_id}` is not known to this member and no leader answers to say whether it exists; \
                 ask again or ask another member"
            )));
        }
        self.node.read(|sm| sm.run(run_id)).map_err(internal)
    }
}

#[tonic::async_trait]
impl Farm for Services {
    async fn submit(&self, request: Request<SubmitRequest>) -> Result<Response<SubmitReply>, Status> {
        let caller = self.access.caller(&request)?;
        let req = request.into_inner();
        let file = if req.pipeline_path.is_empty() {
            "farm.yaml"
        } else {
            req.pipeline_path.as_str()
        };
        let pipeline = parse_pipeline(&req.pipeline_yaml, file).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let mode = Mode::parse(&req.mode).ok_or_else(|| {
            Status::invalid_argument(format!("unknown mode `{}` (use gate, check or select)", req.mode))
        })?;
        caller.require(Grant::Submit(mode))?;
        let mut pipeline = pipeline;
        let selection = selection(&mut pipeline, &req, mode)?;
        pin_commits(&mut pipeline, &req.repo_commits, !req.patch.is_empty())?;
        let jobs = expand(&pipeline, &req.only_stages)
            .and_then(|jobs| only_cells(&pipeline, jobs, &req.only_cells))
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if req.project_dir.is_empty() {
            return Err(Status::invalid_argument(
                "project_dir is empty: name the directory the stages run in",
            ));
        }
        let run = Run {
            env: req.env.into_iter().collect::<BTreeMap<_, _>>(),
            max_lost: self.max_lost,
            accepted_ms: now_ms(),
            selection,
            patch: Some(req.patch.clone()).filter(|p| !p.is_empty()),
            tree: req.tree_fingerprint.clone(),
            submission: submission_id(&req.submission_id)?,
            ..Run::submitted(mode, &req.submitter, pipeline, &req.project_dir, jobs)
        };
        self.accept(run, "run").await
    }

    type WatchRunStream = ReceiverStream<Result<RunEvent, Status>>;

    async fn watch_run(&self, request: Request<WatchRunRequest>) -> Result<Response<Self::WatchRunStream>, Status> {
        self.access.require(&request, Grant::Read)?;
        let run_id = request.into_inner().run_id;
        // Subscribe before the first read, so no change between them is missed.
        let mut events = self.node.subscribe();
        let Some(first) = self.run_caught_up(&run_id).await? else {
            return Err(Status::not_found(format!("no run `{run_id}`")));
        };
        let (tx, rx) = mpsc::channel(256);
        let node = self.node.clone();
        tokio::spawn(async move {
            let opening = RunEvent {
                failed_tests: first.failed_tests.clone(),
                ..run_event(&first, "")
            };
            if tx.send(Ok(opening)).await.is_err() || first.finished_ms.is_some() {
                return;
            }
            loop {
                let failed = match events.recv().await {
                    Ok(e) if e.run_id == run_id => e.failed_tests,
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Vec::new(),
                    Err(_) => return,
                };
                let Ok(Some(run)) = node.read(|sm| sm.run(&run_id)) else {
                    return;
                };
                // Each failing test reaches watchers as it is reported.
                for name in &failed {
                    let mut event = run_event(&run, name);
                    event.verdict.clear();
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
                if tx.send(Ok(run_event(&run, ""))).await.is_err() || run.finished_ms.is_some() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn cancel(&self, request: Request<CancelRequest>) -> Result<Response<CancelReply>, Status> {
        self.access.require(&request, Grant::Admin)?;
        let req = request.into_inner();
        if req.reason.len() > 1000 {
            return Err(Status::invalid_argument("reason: at most 1000 bytes"));
        }
        let command = Command::CancelRun {
            run_id: req.run_id.clone(),
            reason: req.reason,
            now_ms: now_ms(),
        };
        match self.node.propose(command).await.map_err(proposal)? {
            Applied::Cancelled { cancelled, verdict } => {
                if cancelled {
                    tracing::info!(run = %req.run_id, "run cancelled");
                }
                Ok(Response::new(CancelReply { cancelled, verdict }))
            }
            Applied::Ignored(why) => Err(Status::not_found(why)),
            other => Err(Status::internal(format!("unexpected apply result {other:?}"))),
        }
    }

    async fn rerun(&self, request: Request<RerunRequest>) -> Result<Response<SubmitReply>, Status> {
        let caller = self.access.caller(&request)?;
        let req = request.into_inner();
        let old = self
            .run_caught_up(&req.run_id)
            .await?
            .ok_or_else(|| Status::not_found(format!("no run `{}`", req.run_id)))?;
        caller.require(Grant::Submit(old.mode))?;
        if old.finished_ms.is_none() {
            return Err(Status::failed_precondition(format!(
                "run {} has not finished: rerun it once it has (or cancel it first)",
                old.id
            )));
        }
        let tasks = self.node.read(|sm| sm.run_tasks(&old.id)).map_err(internal)?;
        let only = if req.failed_only {
            let only = rerun::failed_tests(&tasks);
            if only.is_empty() {
                return Err(Status::failed_precondition(format!(
                    "run {} has no failed test to rerun (verdict {})",
                    old.id,
                    old.verdict.map_or("none", |v| v.as_str())
                )));
            }
            Some(only)
        } else {
            None
        };
        let run = rerun::run_of(&old, only.as_ref(), now_ms(), submission_id(&req.submission_id)?);
        tracing::info!(of = %old.id, failed_only = req.failed_only, "rerun");
        self.accept(run, "rerun").await
    }

    async fn quarantine(&self, request: Request<QuarantineRequest>) -> Result<Response<QuarantineReply>, Status> {
        self.access.require(&request, Grant::Admin)?;
        let req = request.into_inner();
        quarantine::check(&req.project, &req.test, &req.reason).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let test = req.test.trim().to_string();
        let command = if req.remove {
            Command::Unquarantine {
                project: req.project.clone(),
                test: test.clone(),
            }
        } else {
            let entry = quarantine::Entry {
                test: test.clone(),
                reason: req.reason,
                by: req.by,
                since_ms: now_ms(),
            };
            Command::Quarantine {
                project: req.project.clone(),
                entry,
            }
        };
        match self.node.propose(command).await.map_err(proposal)? {
            Applied::Quarantined { was } => {
                tracing::info!(project = %req.project, %test, remove = req.remove, "quarantine");
                Ok(Response::new(QuarantineReply { was_quarantined: was }))
            }
            Applied::Rejected(why) => Err(Status::invalid_argument(why)),
            other => Err(Status::internal(format!("unexpected apply result {other:?}"))),
        }
    }

    async fn list_quarantine(
        &self,
        request: Request<ListQuarantineRequest>,
    ) -> Result<Response<ListQuarantineReply>, Status> {
        self.access.require(&request, Grant::Read)?;
        let project = request.into_inner().project;
        // What the leader committed a moment ago, on a follower too.
        let _ = self.node.linearizable().await;
        let entries = self.node.read(|sm| sm.quarantines()).map_err(internal)?;
        let tests = entries
            .into_iter()
            .filter(|(p, _)| project.is_empty() || *p == project)
            .map(|(project, e)| QuarantinedTest {
                project,
                test: e.test,
                reason: e.reason,
                by: e.by,
                since_ms: e.since_ms,
            })
            .collect();
        Ok(Response::new(ListQuarantineReply { tests }))
    }

    type WatchLogStream = ReceiverStream<Result<LogData, Status>>;

    async fn watch_log(&self, request: Request<WatchLogRequest>) -> Result<Response<Self::WatchLogStream>, Status> {
        self.access.require(&request, Grant::Read)?;
        crate::log_service::watch(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn drain(&self, request: Request<DrainRequest>) -> Result<Response<DrainReply>, Status> {
        self.access.require(&request, Grant::Admin)?;
        let req = request.into_inner();
        let known =
            self.agents.is_registered(&req.agent_id) || self.node.read(|sm| sm.drained().contains(&req.agent_id));
        if !req.undrain && !known {
            let agents: Vec<String> = self.agents.snapshot().into_iter().map(|a| a.id).collect();
            return Err(Status::not_found(format!(
                "no agent `{}` is registered (agents: {})",
                req.agent_id,
                agents.join(", ")
            )));
        }
        let command = Command::SetDrained {
            agent: req.agent_id.clone(),
            drained: !req.undrain,
        };
        let was_drained = match self.node.propose(command).await.map_err(proposal)? {
            Applied::Drained { was } => was,
            Applied::Rejected(why) => return Err(Status::invalid_argument(why)),
            other => return Err(Status::internal(format!("unexpected apply result {other:?}"))),
        };
        let running = self.node.read(|sm| {
            sm.active_tasks()
                .filter(|t| matches!(&t.state, TaskState::Leased { agent, .. } if *agent == req.agent_id))
                .count() as u32
        });
        tracing::info!(agent = %req.agent_id, drained = !req.undrain, running, "drain");
        Ok(Response::new(DrainReply { was_drained, running }))
    }

    async fn status(&self, request: Request<StatusRequest>) -> Result<Response<StatusReply>, Status> {
        self.access.require(&request, Grant::Read)?;
        let (active_runs, queued, applied, leases, queue_head, drained) = self.node.read(|sm| {
            let runs: Vec<_> = sm.active_runs().map(convert::run::summary).collect();
            let mut leases: Vec<Lease> = sm
                .active_tasks()
                .filter_map(|t| match &t.state {
                    TaskState::Leased { agent, since_ms } => Some(Lease {
                        task: t.id.clone(),
                        run: t.run_id.clone(),
                        agent: agent.clone(),
                        since_ms: *since_ms,
                        attempt: t.attempt,
                    }),
                    _ => None,
                })
                .collect();
            leases.sort_by_key(|l| l.since_ms);
            // The head of the queue, in the order tasks are leased (gate runs first).
            let queue: Vec<QueuedTask> = sm
                .queue()
                .iter()
                .filter_map(|key| sm.task(&key.3))
                .filter(|t| t.state == TaskState::Queued)
                .take(STATUS_QUEUE_HEAD)
                .map(|t| QueuedTask {
                    task: t.id.clone(),
                    run: t.run_id.clone(),
                    queued_ms: t.queued_ms,
                })
                .collect();
            (
                runs,
                sm.queue().len(),
                sm.applied(),
                leases,
                queue,
                sm.drained().clone(),
            )
        });
        let mut agents = self.agents.snapshot();
        for a in &mut agents {
            a.drained = drained.contains(&a.id);
        }
        Ok(Response::new(StatusReply {
            raft: Some(crate::raft_service::role_message(&self.node.role())),
            applied_index: applied,
            queued_tasks: queued as u64,
            queue_head,
            leases,
            active_runs,
            agents,
        }))
    }

    async fn get_run(&self, request: Request<GetRunRequest>) -> Result<Response<RunRecord>, Status> {
        self.access.require(&request, Grant::Read)?;
        let run_id = request.into_inner().run_id;
        let run = self
            .run_caught_up(&run_id)
            .await?
            .ok_or_else(|| Status::not_found(format!("no run `{run_id}`")))?;
        let tasks = self.node.read(|sm| sm.run_tasks(&run_id)).map_err(internal)?;
        let trace_id = testfarm_shared::trace::hex(&testfarm_shared::trace::run_trace_id(&run));
        Ok(Response::new(convert::run::record(&run, &tasks, trace_id)))
    }

    async fn get_profile(&self, request: Request<GetProfileRequest>) -> Result<Response<ProfileReport>, Status> {
        self.access.require(&request, Grant::Read)?;
        let req = request.into_inner();
        let mut opts = crate::report_data::profile_options(req.recent_runs as usize, req.stable_runs as usize);
        if req.max_rows > 0 {
            opts.max_rows = (req.max_rows as usize).min(100_000);
        }
        let (node, slots) = (self.node.clone(), crate::report_data::agent_slots(&self.agents));
        let project = req.project.clone();
        let report =
            tokio::task::spawn_blocking(move || crate::report_data::profile_report(&node, &project, &opts, &slots))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(internal)?
                .ok_or_else(|| {
                    Status::not_found(format!("no runs or timing profiles for project `{}`", req.project))
                })?;
        Ok(Response::new((&report).into()))
    }
}

/// How many of the queue's first tasks `farm status` lists.
const STATUS_QUEUE_HEAD: usize = 20;

/// A client's submission id, checked: short, and of characters any store key holds.
fn submission_id(id: &str) -> Result<String, Status> {
    if testfarm_shared::model::is_submission_id(id) {
        Ok(id.to_string())
    } else {
        Err(Status::invalid_argument(format!(
            "submission_id: at most {} characters of A-Z, a-z, 0-9, `-` and `_`",
            testfarm_shared::model::SUBMISSION_ID_MAX
        )))
    }
}

fn run_event(run: &Run, failed_test: &str) -> RunEvent {
    RunEvent {
        run_id: run.id.clone(),
        tasks_total: run.counts.tasks_total,
        tasks_done: run.counts.tasks_done,
        tests_total: run.counts.tests_total,
        tests_passed: run.counts.tests_passed,
        tests_failed: run.counts.tests_failed,
        failed_test: failed_test.into(),
        verdict: run.verdict.map(|v| v.as_str().to_string()).unwrap_or_default(),
        message: run.message.clone(),
        elapsed_ms: run.finished_ms.unwrap_or_else(now_ms).saturating_sub(run.accepted_ms),
        failed_tests: Vec::new(),
        tests_excused: run.counts.tests_excused,
    }
}

#[tonic::async_trait]
impl AgentService for Services {
    async fn register(&self, request: Request<RegisterRequest>) -> Result<Response<RegisterReply>, Status> {
        crate::auth::speaks_for(self.access.tls, &request, &request.get_ref().agent_id)?;
        self.require_leader_waiting().await?;
        let req = request.into_inner();
        if req.agent_id.is_empty() {
            return Err(Status::invalid_argument("agent_id is empty"));
        }
        self.agents.register(
            &req.agent_id,
            req.labels.into_iter().collect(),
            req.slots,
            req.executors,
        );
        tracing::info!(agent = %req.agent_id, slots = req.slots, "agent registered");
        self.node.changed.notify_waiters();
        Ok(Response::new(RegisterReply {
            heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
            lease_timeout_ms: self.config.lease_timeout.as_millis() as u64,
        }))
    }

    type LeaseStream = ReceiverStream<Result<TaskAssignment, Status>>;

    async fn lease(&self, request: Request<LeaseRequest>) -> Result<Response<Self::LeaseStream>, Status> {
        crate::auth::speaks_for(self.access.tls, &request, &request.get_ref().agent_id)?;
        self.require_leader()?;
        let agent_id = request.into_inner().agent_id;
        let (tx, rx) = mpsc::channel(64);
        if !self.agents.attach(&agent_id, tx) {
            return Err(Status::failed_precondition(format!(
                "agent `{agent_id}` is not registered: call Register first"
            )));
        }
        self.node.changed.notify_waiters();
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Result<Response<HeartbeatReply>, Status> {
        crate::auth::speaks_for(self.access.tls, &request, &request.get_ref().agent_id)?;
        self.require_leader()?;
        let req = request.into_inner();
        let stop_tasks: Vec<String> = self
            .node
            .read(|sm| sm.unwanted(&req.running_tasks).into_iter().cloned().collect());
        let known = self.agents.heartbeat(&req.agent_id, req.running_tasks);
        Ok(Response::new(HeartbeatReply { known, stop_tasks }))
    }

    async fn report_task(&self, request: Request<TaskReport>) -> Result<Response<ReportAck>, Status> {
        crate::auth::speaks_for(self.access.tls, &request, &request.get_ref().agent_id)?;
        let req = request.into_inner();
        let outcome = req
            .outcome
            .ok_or_else(|| Status::invalid_argument(format!("outcome of task {}: missing", req.task_id)))?;
        let mut outcome = TaskOutcome::try_from(outcome)
            .map_err(|e| Status::invalid_argument(format!("outcome of task {}: {e}", req.task_id)))?;
        let now = now_ms();
        outcome.phases.upload_secs = now.saturating_sub(outcome.sent_at_ms) as f64 / 1000.0;
        let shard = !req.task_id.ends_with(".d");
        let (task, agent, attempt) = (req.task_id.clone(), req.agent_id.clone(), req.attempt);
        let command = Command::CompleteTask {
            task_id: req.task_id,
            agent: req.agent_id,
            attempt: req.attempt,
            outcome: Box::new(outcome.clone()),
            now_ms: now,
        };
        let applied = match self.node.propose(command).await.map_err(proposal)? {
            Applied::Completed { applied } => applied,
            Applied::ReportRefused(why) => {
                crate::metrics::report_refused(why.label());
                tracing::warn!(task = %task, agent = %agent, attempt, "report refused: {why}");
                return Err(Status::failed_precondition(format!(
                    "report of task {task} attempt {attempt} from agent {agent} refused: {why}"
                )));
            }
            Applied::Rejected(why) => return Err(Status::invalid_argument(why)),
            _ => false,
        };
        if applied && !outcome.is_infrastructure_failure() {
            crate::metrics::task_completed(&outcome, shard);
        }
        Ok(Response::new(ReportAck { applied }))
    }

    async fn append_log(&self, request: Request<LogChunk>) -> Result<Response<LogAck>, Status> {
        crate::auth::speaks_for(self.access.tls, &request, &request.get_ref().agent_id)?;
        self.require_leader()?;
        crate::log_service::append(self, request.into_inner()).map(Response::new)
    }
}

/// The selection of a submit request, checked against the pipeline; `--skip` applied
/// to the pipeline's stages and the client's extension.json requirements merged into
/// its repos (then checked again as a graph).
fn selection(pipeline: &mut Pipeline, req: &SubmitRequest, mode: Mode) -> Result<Selection, Status> {
    for stage in &req.skip_stages {
        if !pipeline.stages.iter().any(|s| stage_named(&s.name, stage)) {
            let known: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
            return Err(Status::invalid_argument(format!(
                "--skip {stage}: no such stage (stages: {})",
                known.join(", ")
            )));
        }
    }
    pipeline
        .stages
        .retain(|s| !req.skip_stages.iter().any(|n| stage_named(&s.name, n)));
    if !req.repo_requires.is_empty() {
        for (name, needs) in &req.repo_requires {
            let needs = needs.names.clone();
            if let Some(repo) = pipeline.repos.iter_mut().find(|r| r.name == *name) {
                for n in needs {
                    if !repo.requires.contains(&n) {
                        repo.requires.push(n);
                    }
                }
            }
        }
        RepoGraph::new(pipeline.repos.clone())
            .map_err(|e| Status::invalid_argument(format!("{e} (with the requirements in extension.json)")))?;
    }
    let selection = Selection {
        changed_files: req.changed_files.clone(),
        repos: req.repos.clone(),
        filter: Some(req.test_filter.clone()).filter(|f| !f.is_empty()),
        pick: req.static_pick.as_ref().map(|p| Pick {
            classes: p.classes.clone(),
            expected_recall: p.expected_recall,
            left_out_files: p.left_out_files,
        }),
    };
    if let Some(pick) = &selection.pick {
        if !(0.0..=1.0).contains(&pick.expected_recall) {
            return Err(Status::invalid_argument(format!(
                "static_pick.expected_recall: {} is not a share between 0 and 1",
                pick.expected_recall
            )));
        }
    }
    if selection.is_empty() {
        return Ok(selection);
    }
    if mode != Mode::Select {
        return Err(Status::invalid_argument(
            "--changed-file, --ext and --filter choose a subset: they need --mode select",
        ));
    }
    // A static pick names its tests itself; the repository rule needs the repos.
    let by_repository = selection.pick.is_none() && !selection.changed_files.is_empty();
    if (by_repository || !selection.repos.is_empty()) && pipeline.repos.is_empty() {
        return Err(Status::invalid_argument(
            "--changed-file and --ext need the pipeline's `repos:` (which repository owns which path and tests)",
        ));
    }
    for name in &selection.repos {
        if !pipeline.repos.iter().any(|r| &r.name == name) {
            let known: Vec<&str> = pipeline.repos.iter().map(|r| r.name.as_str()).collect();
            return Err(Status::invalid_argument(format!(
                "--ext {name}: no such repo (repos: {})",
                known.join(", ")
            )));
        }
    }
    Ok(selection)
}

/// Pins every git repository to the commit the client resolved, so that every shard
/// of the run tests the same tree.
fn pin_commits(
    pipeline: &mut Pipeline,
    commits: &std::collections::HashMap<String, String>,
    patch: bool,
) -> Result<(), Status> {
    let from_git = pipeline.repos.iter().any(|r| r.git.is_some());
    if patch && !from_git {
        return Err(Status::invalid_argument(
            "a patch is applied to a git workspace: the pipeline's repos need `git` URLs \
             (for a local checkout, apply it there; --patch with --mode select only selects)",
        ));
    }
    for repo in pipeline.repos.iter_mut().filter(|r| r.git.is_some()) {
        match commits.get(&repo.name) {
            Some(c) if testfarm_shared::workspace::is_commit(c) => repo.commit = Some(c.clone()),
            Some(c) => {
                return Err(Status::invalid_argument(format!(
                    "repo {}: `{c}` is not a 40-hex commit",
                    repo.name
                )))
            }
            None => {
                return Err(Status::invalid_argument(format!(
                    "repo {}: no commit given for its ref (`farm submit` resolves them with git ls-remote)",
                    repo.name
                )))
            }
        }
    }
    Ok(())
}
