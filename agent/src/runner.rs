//! Runs one task on this agent: prepares its directory, runs the discovery or the
//! shard in the stage's executor (sandbox or docker, with its runtime image), and
//! turns what happened into a [`TaskOutcome`].
//! See ../shared/DESIGN.md, "Data flow of one run", step 6.

use crate::error::AgentError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testfarm_shared::config::{ExecutorKind, RunMode};
use testfarm_shared::junit::parse_junit;
use testfarm_shared::task::{
    reconcile, ExitKind, Phases, TaskKind, TaskOutcome, TaskSpec, TestResult, TestStatus, Usage,
};
use tokio_util::sync::CancellationToken;

use crate::executor::docker::DockerExecutor;
use crate::executor::sandbox::SandboxExecutor;
use crate::executor::{infrastructure, Bind, Exec, Executor, ProcessOutcome};
use crate::image::{ImageCache, LocalImage};
use crate::install::Installs;
use crate::namespace::give_to_runtime_user;
use crate::phpunit_worker::{ShardRequest, Worker, WorkerKey, WorkerProcess, Workers};
use crate::service::{Provided, Services, Template};

/// Where and how this agent runs tasks.
#[derive(Debug, Clone)]
pub struct Runner {
    /// Per-task directories (logs, test-id files, JUnit) live under here.
    pub work_dir: PathBuf,
    pub sandbox: SandboxExecutor,
    /// None: no Docker daemon here (the agent does not advertise `executor.docker`).
    pub docker: Option<Arc<DockerExecutor>>,
    /// Runtime images built on this host.
    pub images: ImageCache,
    /// Git mirrors and workspaces (for pipelines whose repos come from git).
    pub workspaces: Arc<crate::workspace::Workspaces>,
    /// Database servers for stages with `services:`.
    pub services: Arc<Services>,
    /// Install steps done on this agent.
    pub installs: Arc<Installs>,
    /// PHPUnit workers, bootstrapped once and serving many shards ([`crate::phpunit_worker`]).
    pub workers: Arc<Workers>,
    /// The most a task's log keeps of its commands' output ([`crate::log_cap`]).
    pub log_cap: u64,
}

const LOG_TAIL_LINES: usize = 30;

impl Runner {
    /// The executors this agent has, by name (for registration).
    pub fn executors(&self) -> Vec<String> {
        let mut out = vec![ExecutorKind::Sandbox.as_str().to_string()];
        if self.docker.is_some() {
            out.push(ExecutorKind::Docker.as_str().to_string());
        }
        out
    }

    fn executor(&self, kind: ExecutorKind) -> Option<&dyn Executor> {
        match kind {
            ExecutorKind::Sandbox => Some(&self.sandbox),
            ExecutorKind::Docker => self.docker.as_deref().map(|d| d as &dyn Executor),
        }
    }

    /// An outcome with nothing in it yet.
    pub fn empty_outcome(&self) -> TaskOutcome {
        TaskOutcome {
            exit: ExitKind::Exited { code: 0 },
            discovered: Vec::new(),
            results: Vec::new(),
            phases: Phases::default(),
            usage: Usage::default(),
            log_path: String::new(),
            log_tail: String::new(),
            sent_at_ms: 0,
        }
    }

    /// The directory of a task attempt: its log, scratch space and results.
    fn task_dir(&self, task_id: &str, attempt: u32) -> PathBuf {
        self.work_dir.join("tasks").join(format!("{task_id}-a{attempt}"))
    }

    /// Where a task attempt's log is written while it runs.
    pub fn log_path(&self, task_id: &str, attempt: u32) -> PathBuf {
        self.task_dir(task_id, attempt).join("log.txt")
    }

    /// Runs the task; `stop` cancelled kills what runs and starts nothing more.
    pub async fn run(&self, spec: &TaskSpec, attempt: u32, stop: &CancellationToken) -> TaskOutcome {
        let prepare_started = Instant::now();
        let dir = self.task_dir(&spec.task_id, attempt);
        let log = self.log_path(&spec.task_id, attempt);
        let mut project = PathBuf::from(&spec.project_dir);
        let mut outcome = self.empty_outcome();
        outcome.log_path = log.display().to_string();
        outcome.usage.executor = spec.runtime.executor.as_str().into();
        let Some(executor) = self.executor(spec.runtime.executor) else {
            outcome.exit = ExitKind::Infrastructure {
                message: format!(
                    "this agent has no {} executor (no Docker daemon reachable at its start)",
                    spec.runtime.executor.as_str()
                ),
            };
            return outcome;
        };
        let image = match &spec.runtime.image {
            None => None,
            Some(name) => match self.images.resolve(name) {
                Some(image) => Some(image),
                None => {
                    outcome.exit = ExitKind::Infrastructure {
                        message: format!(
                            "runtime image `{name}` is not built on this agent (in {}; hint: farm image build {name})",
                            self.images.dir.display()
                        ),
                    };
                    return outcome;
                }
            },
        };
        if let Some(ws) = &spec.workspace {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                outcome.exit = ExitKind::Infrastructure {
                    message: format!("cannot create task directory {}: {e}", dir.display()),
                };
                return outcome;
            }
            match self.workspaces.prepare(ws, &log).await {
                Ok(prepared) => {
                    append_log(
                        &log,
                        &format!(
                            "farm: workspace {} ({})",
                            prepared.dir.display(),
                            if prepared.warm { "warm" } else { "built" }
                        ),
                    );
                    outcome.usage.workspace_warm = Some(prepared.warm);
                    project = prepared.dir;
                }
                Err(why) => {
                    append_log(&log, &format!("farm: workspace: {why}"));
                    outcome.exit = ExitKind::Infrastructure {
                        message: format!("workspace: {why}"),
                    };
                    return outcome;
                }
            }
        }
        if let Err(why) = prepare(&dir, &project, spec.runtime.confined()) {
            outcome.exit = ExitKind::Infrastructure {
                message: why.to_string(),
            };
            return outcome;
        }
        if !spec.runtime.confined() {
            let network = if spec.runtime.network_off() {
                "its own loopback"
            } else {
                "the host's network"
            };
            append_log(
                &log,
                &format!("farm: WARNING: isolation: none — this task's commands run on the host as the agent's user, with everything that user may write writable and {network}"),
            );
            tracing::warn!(task = %spec.task_id, "isolation: none: running on the host as the agent's user");
        }
        let mut env = spec.env.clone();
        env.insert("FARM_RUN_ID".into(), spec.run_id.clone());
        env.insert("FARM_TASK_ID".into(), spec.task_id.clone());
        env.insert("FARM_STAGE".into(), spec.stage.clone());
        env.insert("FARM_SHARD_DIR".into(), dir.display().to_string());
        // Temporary files of concurrent tasks never meet (MediaWiki keeps its cache
        // under $TMPDIR), and go with the task directory.
        env.entry("TMPDIR".into())
            .or_insert_with(|| dir.join(TASK_TMP).display().to_string());
        for (axis, value) in &spec.cell {
            env.insert(
                format!("FARM_AXIS_{}", axis.to_uppercase().replace(['-', '.'], "_")),
                value.clone(),
            );
        }
        let name = format!("{}-a{attempt}", spec.task_id);
        let mut ctx = Ctx {
            stop,
            executor,
            image: image.as_ref(),
            name: name.clone(),
            spec,
            dir: &dir,
            log: &log,
            log_cap: self.log_cap,
            project: &project,
            binds: Vec::new(),
        };
        // The install step (once per key on this agent), then the task's own database,
        // a copy of the install's.
        let installed = match &spec.install {
            None => None,
            Some(install) => match self.install(&ctx, install, &env, &mut outcome).await {
                Ok(installed) => Some(installed),
                Err(failed) => {
                    failed.apply(spec, &mut outcome);
                    outcome.phases.prepare_secs = prepare_started.elapsed().as_secs_f64();
                    outcome.log_tail = tail(&log, LOG_TAIL_LINES);
                    return outcome;
                }
            },
        };
        if let Some(dir) = &installed {
            env.insert("FARM_INSTALL_DIR".into(), dir.files.display().to_string());
            ctx.binds.push(Bind {
                path: dir.files.clone(),
                writable: false,
            });
        }
        if let TaskKind::Shard {
            mode: RunMode::Phpunit(phpunit),
            tests,
            ..
        } = &spec.kind
        {
            if phpunit.workers {
                let key = worker_key(spec, &project, installed.as_ref());
                let asked = Instant::now();
                match self.worker(&ctx, phpunit, key, &env, installed.as_ref()).await {
                    Some(mut worker) => {
                        // A worker's start and bootstrap are its first shard's start.
                        let waited = asked.elapsed().as_secs_f64();
                        outcome.phases.prepare_secs = prepare_started.elapsed().as_secs_f64() - waited;
                        outcome.phases.start_secs += waited;
                        outcome.usage.worker_warm = Some(worker.served > 0);
                        ctx.phpunit_shard(phpunit, tests, env, &mut outcome, Some(&mut worker))
                            .await;
                        self.workers.give_back(worker);
                        outcome.log_tail = tail(&log, LOG_TAIL_LINES);
                        return outcome;
                    }
                    None if ctx.stop.is_cancelled() => {
                        outcome.exit = ExitKind::Infrastructure {
                            message: crate::process::STOPPED.into(),
                        };
                        return outcome;
                    }
                    None => {}
                }
            }
        }
        let db = testfarm_shared::service::database_name("t", &name);
        let provided = match self
            .provide_all(spec, installed.as_ref(), &db, &dir, &log, &mut env, &mut ctx.binds)
            .await
        {
            Ok(provided) => provided,
            Err(why) => {
                append_log(&log, &format!("farm: {why}"));
                outcome.exit = ExitKind::Infrastructure {
                    message: why.to_string(),
                };
                return outcome;
            }
        };
        outcome.phases.prepare_secs = prepare_started.elapsed().as_secs_f64();
        match &spec.kind {
            TaskKind::Discover { command, phpunit } => ctx.discover(command, phpunit.as_ref(), env, &mut outcome).await,
            TaskKind::Shard {
                mode: RunMode::Junit { command },
                tests,
                ..
            } => ctx.junit_shard(command, tests, env, &mut outcome).await,
            TaskKind::Shard {
                mode: RunMode::Each { command },
                tests,
                ..
            } => ctx.each_shard(command, tests, env, &mut outcome).await,
            TaskKind::Shard {
                mode: RunMode::Phpunit(phpunit),
                tests,
                ..
            } => ctx.phpunit_shard(phpunit, tests, env, &mut outcome, None).await,
        }
        self.release(provided, &log).await;
        outcome.log_tail = tail(&log, LOG_TAIL_LINES);
        outcome
    }

    /// A PHPUnit worker for the task's key: an idle one, or one started now (its
    /// services provided for its whole life). None when the key's workers do not
    /// start here (said in the task log once per try): the shard then runs in a
    /// process of its own.
    async fn worker(
        &self,
        ctx: &Ctx<'_>,
        stage: &testfarm_shared::phpunit::Phpunit,
        key: WorkerKey,
        env: &BTreeMap<String, String>,
        installed: Option<&crate::install::InstallDir>,
    ) -> Option<Worker> {
        if let Some(worker) = self.workers.take(key) {
            append_log(
                ctx.log,
                &format!(
                    "farm: PHPUnit worker {} (warm, {} shards served)",
                    worker.name, worker.served
                ),
            );
            return Some(worker);
        }
        if self.workers.is_broken(key) {
            return None;
        }
        let started = Instant::now();
        let spec = ctx.spec;
        let failed = |why: &dyn std::fmt::Display| {
            append_log(
                ctx.log,
                &format!("farm: {why}; this shard runs in a phpunit process of its own"),
            );
            None
        };
        let (name, dir) = match self.workers.new_dir() {
            Ok(made) => made,
            Err(why) => return failed(&why),
        };
        let stage_bootstrap = match prepare(&dir, ctx.project, spec.runtime.confined())
            .and_then(|()| crate::phpunit::write_worker(&dir, ctx.project, stage))
        {
            Ok(b) => b,
            Err(why) => return failed(&why),
        };
        let log = dir.join("log.txt");
        let mut wenv = env.clone();
        for per_task in WORKER_PER_TASK_ENV {
            wenv.remove(*per_task);
        }
        wenv.insert("FARM_SHARD_DIR".into(), dir.display().to_string());
        if env.get("TMPDIR").map(PathBuf::from) == Some(ctx.dir.join(TASK_TMP)) {
            wenv.insert("TMPDIR".into(), dir.join(TASK_TMP).display().to_string());
        }
        wenv.insert(
            "FARM_WORKER_SOCKET".into(),
            dir.join("worker.sock").display().to_string(),
        );
        wenv.insert(
            "FARM_WORKER_IDLE".into(),
            crate::phpunit_worker::IDLE.as_secs().to_string(),
        );
        wenv.insert("FARM_STAGE_BOOTSTRAP".into(), stage_bootstrap.unwrap_or_default());
        let mut binds: Vec<Bind> = installed
            .map(|d| Bind {
                path: d.files.clone(),
                writable: false,
            })
            .into_iter()
            .collect();
        let db = testfarm_shared::service::database_name("w", &name);
        let provided = match self
            .provide_all(spec, installed, &db, &dir, &log, &mut wenv, &mut binds)
            .await
        {
            Ok(provided) => provided,
            Err(why) => {
                let _ = std::fs::remove_dir_all(&dir);
                return failed(&why);
            }
        };
        let command = if spec.tools.is_empty() {
            stage.run_command()
        } else {
            with_tool_check(&spec.tools, &dir.join(MISSING_TOOLS), &stage.run_command())
        };
        let runner = self.clone();
        let (kind, limits, runtime, project) = (
            spec.runtime.executor,
            spec.limits.clone(),
            spec.runtime.clone(),
            ctx.project.to_path_buf(),
        );
        let image = ctx.image.cloned();
        let (wname, wdir, wlog, log_cap) = (name.clone(), dir.clone(), log.clone(), self.log_cap);
        let process: WorkerProcess = Box::new(move |stop| {
            Box::pin(async move {
                let Some(executor) = runner.executor(kind) else {
                    return infrastructure("the stage's executor is gone", 0.0);
                };
                let outcome = executor
                    .run(Exec {
                        command: &command,
                        env: &wenv,
                        log: &wlog,
                        log_cap,
                        timeout: WORKER_LIFETIME,
                        limits: &limits,
                        project_dir: &project,
                        task_dir: &wdir,
                        name: &wname,
                        task_id: &wname,
                        runtime: &runtime,
                        image: image.as_ref(),
                        binds: &binds,
                        stop: Some(&stop),
                    })
                    .await;
                runner.release(provided, &wlog).await;
                let last_words = tail(&wlog, 5).replace('\n', " | ");
                ProcessOutcome {
                    exit: match outcome.exit {
                        ExitKind::Infrastructure { message } => ExitKind::Infrastructure {
                            message: format!("{message}; its last words: {last_words}"),
                        },
                        ExitKind::Exited { code } if code != 0 => ExitKind::Infrastructure {
                            message: format!("exit code {code}; its last words: {last_words}"),
                        },
                        other => other,
                    },
                    ..outcome
                }
            })
        });
        match self
            .workers
            .start(key, name, dir, process, ctx.spec.limits.timeout, ctx.stop)
            .await
        {
            Ok(worker) => {
                append_log(
                    ctx.log,
                    &format!(
                        "farm: PHPUnit worker {} started and bootstrapped in {:.2}s",
                        worker.name,
                        started.elapsed().as_secs_f64()
                    ),
                );
                Some(worker)
            }
            Err(why) => failed(&why),
        }
    }

    /// The stage's services for one task or worker: a database `db` each (a copy of
    /// the install's where there is one; SQLite's under `dir`), their variables added to
    /// `env` and their sockets to `binds`. On a failure, what was provided is released.
    #[allow(clippy::too_many_arguments)]
    async fn provide_all(
        &self,
        spec: &TaskSpec,
        installed: Option<&crate::install::InstallDir>,
        db: &str,
        dir: &Path,
        log: &Path,
        env: &mut BTreeMap<String, String>,
        binds: &mut Vec<Bind>,
    ) -> Result<Vec<Provided>, AgentError> {
        let mut provided = Vec::new();
        for service in &spec.services {
            let template = installed.map(|d| Template {
                name: d.database.clone(),
                sqlite_dir: d.sqlite.clone(),
            });
            match self
                .services
                .provide(*service, db, &dir.join("db"), template.as_ref(), log)
                .await
            {
                Ok(p) => {
                    env.extend(p.env.clone());
                    binds.extend(p.binds.iter().cloned());
                    provided.push(p);
                }
                Err(why) => {
                    self.release(provided, log).await;
                    return Err(why);
                }
            }
        }
        Ok(provided)
    }

    async fn release(&self, provided: Vec<Provided>, log: &Path) {
        for p in provided {
            self.services.release(p, log).await;
        }
    }

    /// The install step of `install`: warm when this agent did it already, else run
    /// now (in the task's executor, with the install's own database) and kept.
    async fn install(
        &self,
        ctx: &Ctx<'_>,
        install: &testfarm_shared::install::Install,
        env: &BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
    ) -> Result<crate::install::InstallDir, InstallFailed> {
        let dir = self.installs.dir(install);
        let _guard = self.installs.lock(install).await;
        if self.installs.is_ready(&dir) {
            append_log(ctx.log, &format!("farm: install {} (warm)", install.key));
            outcome.usage.install_warm = Some(true);
            return Ok(dir);
        }
        outcome.usage.install_warm = Some(false);
        for (service, database) in self.installs.evict(install) {
            self.services.drop_database(service, &database, ctx.log).await;
        }
        let infra = |why: AgentError| InstallFailed::Infrastructure(why.to_string());
        self.installs.reset(&dir).map_err(infra)?;
        if ctx.spec.runtime.confined() {
            give_to_runtime_user(&dir.files).map_err(infra)?;
        }
        let mut env = env.clone();
        env.insert("FARM_INSTALL_DIR".into(), dir.files.display().to_string());
        let mut binds = ctx.binds.clone();
        binds.push(Bind {
            path: dir.files.clone(),
            writable: true,
        });
        // The install's database stays: it is the template of every task's.
        let service = ctx.spec.services.first().copied();
        if let Some(service) = service {
            let p = self
                .services
                .provide(service, &dir.database, &dir.sqlite, None, ctx.log)
                .await
                .map_err(|e| infra(e.during(format!("install {}", install.key))))?;
            env.extend(p.env.clone());
            binds.extend(p.binds.iter().cloned());
        }
        append_log(ctx.log, &format!("farm: install {}: {}", install.key, install.command));
        let install_ctx = Ctx {
            binds,
            name: format!("{}.install", ctx.name),
            ..ctx.borrowed()
        };
        let p = install_ctx
            .execute(&install.command, &env, ctx.spec.limits.timeout, "")
            .await;
        // The install's wall is in the prepare phase; counted in the run phase too, it
        // read as the runner's overhead and the planner charged it to every shard.
        outcome.usage.absorb(&p.usage);
        match p.exit {
            ExitKind::Exited { code: 0 } => {
                self.installs.mark_ready(&dir, service).map_err(infra)?;
                Ok(dir)
            }
            ExitKind::Infrastructure { message } => Err(InstallFailed::Infrastructure(message)),
            exit => {
                append_log(
                    ctx.log,
                    &format!(
                        "farm: the install step `{}` failed ({})",
                        install.command,
                        exit.describe()
                    ),
                );
                Err(InstallFailed::Failed(exit))
            }
        }
    }
}

/// Why a task's install step did not give it an install.
enum InstallFailed {
    /// The agent could not run it: retried elsewhere.
    Infrastructure(String),
    /// It ran and failed (exit code, timeout, memory): the tree's fault, so every test
    /// of the task fails with it, and a discovery fails its job.
    Failed(ExitKind),
}

impl InstallFailed {
    fn apply(self, spec: &TaskSpec, outcome: &mut TaskOutcome) {
        match self {
            InstallFailed::Infrastructure(message) => outcome.exit = ExitKind::Infrastructure { message },
            InstallFailed::Failed(exit) => {
                let why = format!(
                    "the stage's install step failed ({}), so this test did not run",
                    exit.describe()
                );
                if let TaskKind::Shard { tests, .. } = &spec.kind {
                    outcome.results = tests
                        .iter()
                        .map(|id| TestResult {
                            id: id.clone(),
                            status: TestStatus::Error,
                            duration_secs: 0.0,
                            message: why.clone(),
                        })
                        .collect();
                }
                outcome.exit = exit;
            }
        }
    }
}

/// The task's own temporary directory, under its task directory: `$TMPDIR`.
const TASK_TMP: &str = "tmp";

/// Variables of a task that a worker does not share: each shard's child gets its own.
const WORKER_PER_TASK_ENV: &[&str] = &["FARM_RUN_ID", "FARM_TASK_ID"];

/// The longest a worker lives (it exits long before, idle).
const WORKER_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What shapes a bootstrapped PHPUnit for this task: its workers serve only shards
/// with the same. The tree is the workspace's commits and patch, or the install's key
/// (which holds the project directory's fingerprint), or else the run itself (a
/// project directory may change between runs, and nothing else here says whether it
/// did).
fn worker_key(spec: &TaskSpec, project: &Path, installed: Option<&crate::install::InstallDir>) -> WorkerKey {
    let tree = match (&spec.workspace, &spec.install) {
        (Some(ws), _) => serde_json::to_string(ws).unwrap_or_default(),
        (None, Some(install)) => install.key.clone(),
        (None, None) => spec.run_id.clone(),
    };
    let phpunit = match &spec.kind {
        TaskKind::Shard {
            mode: RunMode::Phpunit(p),
            ..
        } => Some(p),
        _ => None,
    };
    WorkerKey::of(&(
        tree,
        project,
        &spec.stage,
        &spec.cell,
        &spec.env,
        &spec.limits,
        &spec.runtime,
        &spec.services,
        &spec.tools,
        phpunit,
        installed.map(|d| &d.files),
    ))
}

/// The task directory, writable by the runtime user when the commands are confined
/// (they are not root there).
fn prepare(dir: &Path, project: &Path, isolated: bool) -> Result<(), AgentError> {
    if !project.is_dir() {
        return Err(AgentError::Unavailable {
            what: format!("project directory {}", project.display()),
            why: "it does not exist here".into(),
        });
    }
    let tmp = dir.join(TASK_TMP);
    std::fs::create_dir_all(&tmp).map_err(AgentError::io("create the task directory", &tmp))?;
    if isolated {
        give_to_runtime_user(&dir.join(TASK_TMP))?;
        give_to_runtime_user(dir)?;
    }
    Ok(())
}

struct Ctx<'a> {
    /// The task's stop (see [`Runner::run`]).
    stop: &'a CancellationToken,
    executor: &'a dyn Executor,
    image: Option<&'a LocalImage>,
    /// `<task>-a<attempt>`: names cgroups and containers (with a per-test suffix).
    name: String,
    spec: &'a TaskSpec,
    dir: &'a Path,
    log: &'a Path,
    log_cap: u64,
    project: &'a Path,
    /// Mounted into an image or container besides the project and task directories.
    binds: Vec<Bind>,
}

/// Marks, in the task directory, the tools a command found missing.
const MISSING_TOOLS: &str = ".farm-missing-tools";

impl<'a> Ctx<'a> {
    /// A copy for another command of the same task.
    fn borrowed(&self) -> Ctx<'a> {
        Ctx {
            stop: self.stop,
            executor: self.executor,
            image: self.image,
            name: self.name.clone(),
            spec: self.spec,
            dir: self.dir,
            log: self.log,
            log_cap: self.log_cap,
            project: self.project,
            binds: self.binds.clone(),
        }
    }

    /// Runs one command in the stage's executor; `suffix` tells the commands of one
    /// task apart (each mode: one per test).
    async fn execute(
        &self,
        command: &str,
        env: &BTreeMap<String, String>,
        timeout: Duration,
        suffix: &str,
    ) -> ProcessOutcome {
        let name = format!("{}{suffix}", self.name);
        if self.stop.is_cancelled() {
            return infrastructure(crate::process::STOPPED, 0.0);
        }
        if self.spec.runtime.image.is_some() && self.image.is_none() {
            return infrastructure("the runtime image went missing", 0.0);
        }
        let marker = self.dir.join(MISSING_TOOLS);
        let checked;
        let command = if self.spec.tools.is_empty() {
            command
        } else {
            checked = with_tool_check(&self.spec.tools, &marker, command);
            checked.as_str()
        };
        let outcome = self
            .executor
            .run(Exec {
                command,
                env,
                log: self.log,
                log_cap: self.log_cap,
                timeout,
                limits: &self.spec.limits,
                project_dir: self.project,
                task_dir: self.dir,
                name: &name,
                task_id: &self.spec.task_id,
                runtime: &self.spec.runtime,
                image: self.image,
                binds: &self.binds,
                stop: Some(self.stop),
            })
            .await;
        if self.spec.tools.is_empty() {
            return outcome;
        }
        match std::fs::read_to_string(&marker) {
            Ok(missing) => {
                let _ = std::fs::remove_file(&marker);
                let missing: Vec<String> = missing.split_whitespace().map(|t| format!("`{t}`")).collect();
                let place = match &self.spec.runtime.image {
                    Some(image) => format!("in runtime image `{image}`"),
                    None => "on this agent".to_string(),
                };
                infrastructure(
                    format!(
                        "stage `{}` needs {}, not found {place} (PATH={}); hint: install it there, or run the stage where it is",
                        self.spec.stage,
                        missing.join(", "),
                        crate::process::BASE_PATH
                    ),
                    outcome.start_secs,
                )
            }
            Err(_) => outcome,
        }
    }

    async fn discover(
        &self,
        command: &str,
        phpunit: Option<&testfarm_shared::phpunit::Phpunit>,
        mut env: BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
    ) {
        let out = self.dir.join("discovered.txt");
        env.insert("FARM_DISCOVERED_FILE".into(), out.display().to_string());
        // stdout is the list; stderr goes to the log.
        let wrapped = format!("exec >\"$FARM_DISCOVERED_FILE\"\n{command}");
        let p = self.execute(&wrapped, &env, self.spec.limits.timeout, "").await;
        absorb(outcome, &p);
        outcome.exit = p.exit;
        if let (ExitKind::Exited { code: 0 }, Some(phpunit)) = (&outcome.exit, phpunit) {
            let list = self.dir.join(testfarm_shared::phpunit::LIST_FILE);
            let parsed = std::fs::read_to_string(&list)
                .map_err(|e| format!("PHPUnit wrote no test list at {}: {e}", list.display()))
                .and_then(|xml| {
                    let roots = crate::phpunit::roots(self.project);
                    testfarm_shared::phpunit::parse_list(&xml, &list.display().to_string(), phpunit, &roots)
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(ids) => outcome.discovered = ids,
                Err(message) => {
                    append_log(self.log, &format!("farm: {message}"));
                    outcome.exit = ExitKind::Infrastructure { message }
                }
            }
        } else if outcome.exit == (ExitKind::Exited { code: 0 }) {
            match std::fs::read_to_string(&out) {
                Ok(text) => {
                    outcome.discovered = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect()
                }
                Err(e) => {
                    outcome.exit = ExitKind::Infrastructure {
                        message: format!("cannot read {}: {e}", out.display()),
                    }
                }
            }
        }
    }

    async fn junit_shard(
        &self,
        command: &str,
        tests: &[String],
        env: BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
    ) {
        if let Some((reported, exit)) = self.run_for_junit(command, tests, env, outcome).await {
            outcome.results = reconcile(tests, reported, &exit);
            outcome.exit = exit;
        }
    }

    /// Runs `command` with the shard's ids in `$FARM_TEST_IDS_FILE` and reads the
    /// JUnit it wrote to `$FARM_JUNIT_PATH` (none read is no results). None when the
    /// agent could not even start it (`outcome.exit` says why).
    async fn run_for_junit(
        &self,
        command: &str,
        tests: &[String],
        mut env: BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
    ) -> Option<(Vec<TestResult>, ExitKind)> {
        let ids = self.dir.join("tests.txt");
        let junit = self.dir.join("junit.xml");
        if let Err(e) = std::fs::write(&ids, tests.join("\n") + "\n") {
            outcome.exit = ExitKind::Infrastructure {
                message: format!("cannot write {}: {e}", ids.display()),
            };
            return None;
        }
        env.insert("FARM_TEST_IDS_FILE".into(), ids.display().to_string());
        env.insert("FARM_JUNIT_PATH".into(), junit.display().to_string());
        let p = self.execute(command, &env, self.spec.limits.timeout, "").await;
        absorb(outcome, &p);
        let reported = match std::fs::read_to_string(&junit) {
            Ok(xml) => match parse_junit(&xml, &junit.display().to_string()) {
                Ok(results) => results,
                Err(e) => {
                    append_log(self.log, &format!("farm: {e}"));
                    Vec::new()
                }
            },
            Err(_) => {
                append_log(
                    self.log,
                    &format!("farm: the runner wrote no JUnit at {}", junit.display()),
                );
                Vec::new()
            }
        };
        Some((reported, p.exit))
    }

    /// A PHPUnit shard: its own configuration and suite file (see
    /// `testfarm_shared::phpunit`), results under the farm's ids, and every test
    /// PHPUnit was given accounted for: a test it did not run, when nothing killed the
    /// shard, makes the shard an infrastructure failure (retried elsewhere), never a
    /// pass.
    async fn phpunit_shard(
        &self,
        stage: &testfarm_shared::phpunit::Phpunit,
        tests: &[String],
        env: BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
        worker: Option<&mut Worker>,
    ) {
        let roots = crate::phpunit::roots(self.project);
        // In a worker, the shard's files go where the worker's process can write
        // (its own directory), and are gone with the shard.
        let shard_dir = match &worker {
            None => self.dir.to_path_buf(),
            Some(w) => {
                let dir = w.dir.join("shards").join(&self.name);
                if let Err(why) = std::fs::create_dir_all(&dir)
                    .map_err(AgentError::io("create the shard's directory", &dir))
                    .and_then(|()| {
                        if self.spec.runtime.confined() {
                            give_to_runtime_user(&dir)
                        } else {
                            Ok(())
                        }
                    })
                {
                    append_log(self.log, &format!("farm: {why}"));
                    outcome.exit = ExitKind::Infrastructure {
                        message: why.to_string(),
                    };
                    return;
                }
                dir
            }
        };
        let _cleanup = worker.is_some().then(|| RemoveOnDrop(shard_dir.clone()));
        let unlocated = match crate::phpunit::write_shard(&shard_dir, self.project, stage, tests, &roots) {
            Ok(unlocated) => unlocated,
            Err(why) => {
                append_log(self.log, &format!("farm: {why}"));
                outcome.exit = ExitKind::Infrastructure {
                    message: why.to_string(),
                };
                return;
            }
        };
        for u in &unlocated {
            append_log(self.log, &u.message);
        }
        let runnable: Vec<String> = tests
            .iter()
            .filter(|id| !unlocated.iter().any(|u| &u.id == *id))
            .cloned()
            .collect();
        if runnable.is_empty() {
            outcome.results = unlocated;
            outcome.exit = ExitKind::Exited { code: 1 };
            return;
        }
        let results_file = shard_dir.join(testfarm_shared::phpunit::RESULTS_FILE);
        let p = match worker {
            None => {
                self.execute(&stage.run_command(), &env, self.spec.limits.timeout, "")
                    .await
            }
            Some(worker) => {
                let own: BTreeMap<String, String> = WORKER_PER_TASK_ENV
                    .iter()
                    .filter_map(|k| env.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect();
                worker
                    .run_shard(ShardRequest {
                        dir: &shard_dir,
                        env: &own,
                        log: self.log,
                        log_cap: self.log_cap,
                        timeout: self.spec.limits.timeout,
                        stop: self.stop,
                    })
                    .await
            }
        };
        absorb(outcome, &p);
        let exit = p.exit;
        let reported: Vec<TestResult> = match std::fs::read_to_string(&results_file) {
            Ok(text) => match testfarm_shared::phpunit::parse_results(&text, &results_file.display().to_string()) {
                Ok(results) => results,
                Err(e) => {
                    append_log(self.log, &format!("farm: {e}"));
                    Vec::new()
                }
            },
            Err(_) => Vec::new(),
        };
        let reported = reported
            .into_iter()
            .map(|mut r| {
                r.id = roots.normalize(&r.id);
                r
            })
            .collect();
        let mut results = reconcile(&runnable, reported, &exit);
        let missing: Vec<&str> = results
            .iter()
            .filter(|r| r.status == TestStatus::Missing)
            .map(|r| r.id.as_str())
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "PHPUnit ran {} of the shard's {} tests and exited with {}; not run: {}{}; its last words: {}",
                runnable.len() - missing.len(),
                runnable.len(),
                exit.describe(),
                missing.iter().take(3).copied().collect::<Vec<_>>().join(", "),
                if missing.len() > 3 {
                    format!(" and {} more", missing.len() - 3)
                } else {
                    String::new()
                },
                tail(self.log, 3).replace('\n', " | ")
            );
            append_log(self.log, &format!("farm: {message}"));
            outcome.exit = ExitKind::Infrastructure { message };
            return;
        }
        results.extend(unlocated);
        outcome.results = results;
        outcome.exit = exit;
    }

    async fn each_shard(
        &self,
        command: &str,
        tests: &[String],
        mut env: BTreeMap<String, String>,
        outcome: &mut TaskOutcome,
    ) {
        let deadline = Instant::now() + self.spec.limits.timeout;
        let mut results = Vec::new();
        let mut exit = ExitKind::Exited { code: 0 };
        for (n, test) in tests.iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                exit = ExitKind::TimedOut;
                break;
            }
            env.insert("FARM_TEST_ID".into(), test.clone());
            append_log(self.log, &format!("farm: --- {test}"));
            let p = self.execute(command, &env, left, &format!(".t{n}")).await;
            absorb(outcome, &p);
            let (status, message) = match &p.exit {
                ExitKind::Exited { code: 0 } => (TestStatus::Passed, String::new()),
                ExitKind::Exited { code } => (
                    TestStatus::Failed,
                    format!("exit code {code}; log tail:\n{}", tail(self.log, 10)),
                ),
                ExitKind::Signalled { signal } => (TestStatus::Failed, format!("killed by signal {signal}")),
                ExitKind::TimedOut => (TestStatus::TimedOut, "killed at the shard's timeout".into()),
                ExitKind::MemoryLimit => (TestStatus::MemoryLimit, "killed at the memory limit".into()),
                ExitKind::Infrastructure { .. } => {
                    exit = p.exit.clone();
                    break;
                }
            };
            results.push(TestResult {
                id: test.clone(),
                status,
                duration_secs: p.run_secs,
                message,
            });
            if p.exit == ExitKind::TimedOut {
                exit = ExitKind::TimedOut;
                break;
            }
            if p.exit == ExitKind::MemoryLimit {
                exit = ExitKind::MemoryLimit;
            }
        }
        outcome.results = reconcile(tests, results, &exit);
        outcome.exit = match exit {
            // Each test's own failure is its result; the runner itself did fine.
            ExitKind::MemoryLimit => ExitKind::MemoryLimit,
            other => other,
        };
    }
}

/// `command`, after a check that every tool is on `PATH`: a missing one is written to
/// `marker` and the command does not run (exit 127).
fn with_tool_check(tools: &[String], marker: &Path, command: &str) -> String {
    format!(
        "farm_missing=''\nfor farm_tool in {}; do command -v \"$farm_tool\" >/dev/null 2>&1 || farm_missing=\"$farm_missing $farm_tool\"; done\n\
         if [ -n \"$farm_missing\" ]; then echo \"farm: missing tools:$farm_missing\" >&2; echo $farm_missing > '{}'; exit 127; fi\n\
         unset farm_missing farm_tool\n{command}",
        tools.join(" "),
        marker.display()
    )
}

/// Removes a directory when dropped (a worker's shard directory, whatever happened).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Adds one process's phases and usage into the task's.
fn absorb(outcome: &mut TaskOutcome, p: &ProcessOutcome) {
    outcome.phases.start_secs += p.start_secs;
    outcome.phases.run_secs += p.run_secs;
    outcome.usage.absorb(&p.usage);
}

pub(crate) fn append_log(log: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
