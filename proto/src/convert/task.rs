//! What travels between coordinator and agent: TaskSpec and TaskOutcome.

use testfarm_shared::{config, install, phpunit, runtime, service, task, workspace};

use super::{each, hashed, millis, required, sorted, ConvertError, Result};
use crate as wire;

// ---------------------------------------------------------------- enums

impl From<task::TestStatus> for wire::TestStatus {
    fn from(s: task::TestStatus) -> Self {
        use task::TestStatus as D;
        match s {
            D::Passed => wire::TestStatus::Passed,
            D::Failed => wire::TestStatus::Failed,
            D::Error => wire::TestStatus::Error,
            D::Skipped => wire::TestStatus::Skipped,
            D::Missing => wire::TestStatus::Missing,
            D::TimedOut => wire::TestStatus::TimedOut,
            D::MemoryLimit => wire::TestStatus::MemoryLimit,
        }
    }
}

pub(crate) fn test_status(value: i32, field: &str) -> Result<task::TestStatus> {
    use task::TestStatus as D;
    Ok(match wire::TestStatus::try_from(value) {
        Ok(wire::TestStatus::Passed) => D::Passed,
        Ok(wire::TestStatus::Failed) => D::Failed,
        Ok(wire::TestStatus::Error) => D::Error,
        Ok(wire::TestStatus::Skipped) => D::Skipped,
        Ok(wire::TestStatus::Missing) => D::Missing,
        Ok(wire::TestStatus::TimedOut) => D::TimedOut,
        Ok(wire::TestStatus::MemoryLimit) => D::MemoryLimit,
        _ => return Err(ConvertError::unknown(field, value)),
    })
}

impl From<service::Service> for wire::Service {
    fn from(s: service::Service) -> Self {
        match s {
            service::Service::Sqlite => wire::Service::Sqlite,
            service::Service::Postgres => wire::Service::Postgres,
            service::Service::Mysql => wire::Service::Mysql,
        }
    }
}

fn service_of(value: i32) -> Result<service::Service> {
    match wire::Service::try_from(value) {
        Ok(wire::Service::Sqlite) => Ok(service::Service::Sqlite),
        Ok(wire::Service::Postgres) => Ok(service::Service::Postgres),
        Ok(wire::Service::Mysql) => Ok(service::Service::Mysql),
        _ => Err(ConvertError::unknown("services", value)),
    }
}

// ---------------------------------------------------------------- parts

impl From<&config::Limits> for wire::Limits {
    fn from(l: &config::Limits) -> Self {
        wire::Limits {
            cpu: l.cpu,
            memory_bytes: l.memory_bytes,
            pids: l.pids,
            timeout_ms: millis(l.timeout),
        }
    }
}

impl From<wire::Limits> for config::Limits {
    fn from(l: wire::Limits) -> Self {
        config::Limits {
            cpu: l.cpu,
            memory_bytes: l.memory_bytes,
            pids: l.pids,
            timeout: std::time::Duration::from_millis(l.timeout_ms),
        }
    }
}

impl From<&phpunit::Phpunit> for wire::Phpunit {
    fn from(p: &phpunit::Phpunit) -> Self {
        wire::Phpunit {
            command: p.command.clone(),
            config: p.config.clone(),
            testsuite: p.testsuite.clone(),
            group: p.group.clone(),
            exclude_group: p.exclude_group.clone(),
            one_process_per_shard: !p.workers,
        }
    }
}

impl From<wire::Phpunit> for phpunit::Phpunit {
    fn from(p: wire::Phpunit) -> Self {
        phpunit::Phpunit {
            command: p.command,
            config: p.config,
            testsuite: p.testsuite,
            group: p.group,
            exclude_group: p.exclude_group,
            workers: !p.one_process_per_shard,
        }
    }
}

impl From<&config::RunMode> for wire::RunMode {
    fn from(m: &config::RunMode) -> Self {
        use wire::run_mode::Mode;
        wire::RunMode {
            mode: Some(match m {
                config::RunMode::Junit { command } => Mode::Junit(command.clone()),
                config::RunMode::Each { command } => Mode::Each(command.clone()),
                config::RunMode::Phpunit(p) => Mode::Phpunit(p.into()),
            }),
        }
    }
}

impl TryFrom<wire::RunMode> for config::RunMode {
    type Error = ConvertError;
    fn try_from(m: wire::RunMode) -> Result<Self> {
        use wire::run_mode::Mode;
        Ok(match required(m.mode, "mode")? {
            Mode::Junit(command) => config::RunMode::Junit { command },
            Mode::Each(command) => config::RunMode::Each { command },
            Mode::Phpunit(p) => config::RunMode::Phpunit(p.into()),
        })
    }
}

impl From<&runtime::Runtime> for wire::Runtime {
    fn from(r: &runtime::Runtime) -> Self {
        wire::Runtime {
            executor: match r.executor {
                runtime::ExecutorKind::Sandbox => wire::ExecutorKind::ExecutorSandbox,
                runtime::ExecutorKind::Docker => wire::ExecutorKind::ExecutorDocker,
            } as i32,
            image: r.image.clone(),
            network: match r.network {
                None => wire::Network::Unspecified,
                Some(runtime::Network::None) => wire::Network::None,
                Some(runtime::Network::Bridge) => wire::Network::Bridge,
            } as i32,
            isolation: match r.isolation {
                runtime::Isolation::Sandbox => wire::Isolation::Sandbox,
                runtime::Isolation::None => wire::Isolation::None,
            } as i32,
        }
    }
}

impl TryFrom<wire::Runtime> for runtime::Runtime {
    type Error = ConvertError;
    fn try_from(r: wire::Runtime) -> Result<Self> {
        let executor = match wire::ExecutorKind::try_from(r.executor) {
            Ok(wire::ExecutorKind::ExecutorSandbox | wire::ExecutorKind::ExecutorUnspecified) => {
                runtime::ExecutorKind::Sandbox
            }
            Ok(wire::ExecutorKind::ExecutorDocker) => runtime::ExecutorKind::Docker,
            Err(_) => return Err(ConvertError::unknown("executor", r.executor)),
        };
        let network = match wire::Network::try_from(r.network) {
            Ok(wire::Network::Unspecified) => None,
            Ok(wire::Network::None) => Some(runtime::Network::None),
            Ok(wire::Network::Bridge) => Some(runtime::Network::Bridge),
            Err(_) => return Err(ConvertError::unknown("network", r.network)),
        };
        let isolation = match wire::Isolation::try_from(r.isolation) {
            Ok(wire::Isolation::Sandbox) => runtime::Isolation::Sandbox,
            Ok(wire::Isolation::None) => runtime::Isolation::None,
            Err(_) => return Err(ConvertError::unknown("isolation", r.isolation)),
        };
        Ok(runtime::Runtime {
            executor,
            image: r.image,
            network,
            isolation,
        })
    }
}

impl From<&workspace::Workspace> for wire::Workspace {
    fn from(w: &workspace::Workspace) -> Self {
        wire::Workspace {
            repos: w
                .repos
                .iter()
                .map(|c| wire::Checkout {
                    name: c.name.clone(),
                    path: c.path.clone(),
                    url: c.url.clone(),
                    commit: c.commit.clone(),
                })
                .collect(),
            patch: w.patch.clone(),
        }
    }
}

impl From<wire::Workspace> for workspace::Workspace {
    fn from(w: wire::Workspace) -> Self {
        workspace::Workspace {
            repos: w
                .repos
                .into_iter()
                .map(|c| workspace::Checkout {
                    name: c.name,
                    path: c.path,
                    url: c.url,
                    commit: c.commit,
                })
                .collect(),
            patch: w.patch,
        }
    }
}

// ---------------------------------------------------------------- TaskSpec

impl From<&task::TaskSpec> for wire::TaskSpec {
    fn from(s: &task::TaskSpec) -> Self {
        use wire::task_spec::Kind;
        let kind = match &s.kind {
            task::TaskKind::Discover { command, phpunit } => Kind::Discover(wire::Discover {
                command: command.clone(),
                phpunit: phpunit.as_ref().map(Into::into),
            }),
            task::TaskKind::Shard {
                mode,
                tests,
                estimate_secs,
            } => Kind::Shard(wire::Shard {
                mode: Some(mode.into()),
                tests: tests.clone(),
                estimate_secs: *estimate_secs,
            }),
        };
        wire::TaskSpec {
            run_id: s.run_id.clone(),
            task_id: s.task_id.clone(),
            project: s.project.clone(),
            stage: s.stage.clone(),
            job_name: s.job_name.clone(),
            cell: hashed(&s.cell),
            project_dir: s.project_dir.clone(),
            env: hashed(&s.env),
            limits: Some((&s.limits).into()),
            kind: Some(kind),
            trace_parent: s.trace_parent.clone(),
            runtime: Some((&s.runtime).into()),
            workspace: s.workspace.as_ref().map(Into::into),
            services: s.services.iter().map(|&x| wire::Service::from(x) as i32).collect(),
            install: s.install.as_ref().map(|i| wire::Install {
                command: i.command.clone(),
                key: i.key.clone(),
            }),
            tools: s.tools.clone(),
        }
    }
}

impl TryFrom<wire::TaskSpec> for task::TaskSpec {
    type Error = ConvertError;
    fn try_from(s: wire::TaskSpec) -> Result<Self> {
        use wire::task_spec::Kind;
        let kind = match required(s.kind, "kind")? {
            Kind::Discover(d) => task::TaskKind::Discover {
                command: d.command,
                phpunit: d.phpunit.map(Into::into),
            },
            Kind::Shard(sh) => task::TaskKind::Shard {
                mode: required(sh.mode, "kind.shard.mode")?
                    .try_into()
                    .map_err(|e: ConvertError| e.within("kind.shard"))?,
                tests: sh.tests,
                estimate_secs: sh.estimate_secs,
            },
        };
        Ok(task::TaskSpec {
            run_id: s.run_id,
            task_id: s.task_id,
            project: s.project,
            stage: s.stage,
            job_name: s.job_name,
            cell: sorted(s.cell),
            project_dir: s.project_dir,
            env: sorted(s.env),
            limits: required(s.limits, "limits")?.into(),
            kind,
            trace_parent: s.trace_parent,
            runtime: s
                .runtime
                .map(TryInto::try_into)
                .transpose()
                .map_err(|e: ConvertError| e.within("runtime"))?
                .unwrap_or_default(),
            workspace: s.workspace.map(Into::into),
            services: s.services.into_iter().map(service_of).collect::<Result<_>>()?,
            install: s.install.map(|i| install::Install {
                command: i.command,
                key: i.key,
            }),
            tools: s.tools,
        })
    }
}

// ---------------------------------------------------------------- TaskOutcome

impl From<&task::ExitKind> for wire::Exit {
    fn from(e: &task::ExitKind) -> Self {
        use wire::exit::Kind;
        wire::Exit {
            kind: Some(match e {
                task::ExitKind::Exited { code } => Kind::Exited(*code),
                task::ExitKind::Signalled { signal } => Kind::Signalled(*signal),
                task::ExitKind::TimedOut => Kind::TimedOut(true),
                task::ExitKind::MemoryLimit => Kind::MemoryLimit(true),
                task::ExitKind::Infrastructure { message } => Kind::Infrastructure(message.clone()),
            }),
        }
    }
}

impl TryFrom<wire::Exit> for task::ExitKind {
    type Error = ConvertError;
    fn try_from(e: wire::Exit) -> Result<Self> {
        use wire::exit::Kind;
        Ok(match required(e.kind, "kind")? {
            Kind::Exited(code) => task::ExitKind::Exited { code },
            Kind::Signalled(signal) => task::ExitKind::Signalled { signal },
            Kind::TimedOut(_) => task::ExitKind::TimedOut,
            Kind::MemoryLimit(_) => task::ExitKind::MemoryLimit,
            Kind::Infrastructure(message) => task::ExitKind::Infrastructure { message },
        })
    }
}

impl From<&task::TestResult> for wire::TestResult {
    fn from(r: &task::TestResult) -> Self {
        wire::TestResult {
            id: r.id.clone(),
            status: wire::TestStatus::from(r.status) as i32,
            duration_secs: r.duration_secs,
            message: r.message.clone(),
        }
    }
}

impl TryFrom<wire::TestResult> for task::TestResult {
    type Error = ConvertError;
    fn try_from(r: wire::TestResult) -> Result<Self> {
        Ok(task::TestResult {
            status: test_status(r.status, "status")?,
            id: r.id,
            duration_secs: r.duration_secs,
            message: r.message,
        })
    }
}

impl From<&task::TaskOutcome> for wire::TaskOutcome {
    fn from(o: &task::TaskOutcome) -> Self {
        let p = &o.phases;
        let u = &o.usage;
        wire::TaskOutcome {
            exit: Some((&o.exit).into()),
            discovered: o.discovered.clone(),
            results: o.results.iter().map(Into::into).collect(),
            phases: Some(wire::Phases {
                queued_secs: p.queued_secs,
                prepare_secs: p.prepare_secs,
                start_secs: p.start_secs,
                run_secs: p.run_secs,
                upload_secs: p.upload_secs,
            }),
            usage: Some(wire::Usage {
                cpu_secs: u.cpu_secs,
                peak_memory_bytes: u.peak_memory_bytes,
                cgroup: u.cgroup,
                peak_pids: u.peak_pids,
                oom_kills: u.oom_kills,
                executor: u.executor.clone(),
                workspace_warm: u.workspace_warm,
                install_warm: u.install_warm,
                worker_warm: u.worker_warm,
            }),
            log_path: o.log_path.clone(),
            log_tail: o.log_tail.clone(),
            sent_at_ms: o.sent_at_ms,
        }
    }
}

impl TryFrom<wire::TaskOutcome> for task::TaskOutcome {
    type Error = ConvertError;
    fn try_from(o: wire::TaskOutcome) -> Result<Self> {
        let p = o.phases.unwrap_or_default();
        let u = o.usage.unwrap_or_default();
        let outcome = task::TaskOutcome {
            exit: required(o.exit, "exit")?
                .try_into()
                .map_err(|e: ConvertError| e.within("exit"))?,
            discovered: o.discovered,
            results: each(o.results, "results")?,
            phases: task::Phases {
                queued_secs: p.queued_secs,
                prepare_secs: p.prepare_secs,
                start_secs: p.start_secs,
                run_secs: p.run_secs,
                upload_secs: p.upload_secs,
            },
            usage: task::Usage {
                cpu_secs: u.cpu_secs,
                peak_memory_bytes: u.peak_memory_bytes,
                cgroup: u.cgroup,
                peak_pids: u.peak_pids,
                oom_kills: u.oom_kills,
                executor: u.executor,
                workspace_warm: u.workspace_warm,
                install_warm: u.install_warm,
                worker_warm: u.worker_warm,
            },
            log_path: o.log_path,
            log_tail: o.log_tail,
            sent_at_ms: o.sent_at_ms,
        };
        match outcome.bad_measurement() {
            Some(field) => Err(ConvertError {
                field,
                problem: "not a finite, non-negative number of seconds".into(),
            }),
            None => Ok(outcome),
        }
    }
}
