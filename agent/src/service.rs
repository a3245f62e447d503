//! Database servers the agent starts for stages that declare `services:`, the way
//! Quibble starts MariaDB or PostgreSQL next to the wiki: one server per kind and agent,
//! started on first use and kept warm; each task gets a fresh database of its own
//! (a copy of its install's database when the stage has an install step), dropped when
//! the task ends. SQLite needs no server: a task gets a directory for its files.
//!
//! Servers listen on unix sockets only, under the agent's work directory, so a stage
//! with `network: none` still reaches them (the socket directory is mounted into its
//! image or container), and nothing outside the host can. They run as `nobody`
//! (PostgreSQL refuses root) and are not in any shard's cgroup: they serve every shard
//! of the agent, like a service container. See ../shared/DESIGN.md, "Executors".
//!
//! ```text
//! <work>/services/postgres/{data,sock,server.log}
//! <work>/services/mysql/{data,sock/mysqld.sock,server.log,mysqld.pid}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testfarm_shared::service::Service;
use tokio::process::Command;

use crate::error::AgentError;
use crate::executor::Bind;
use crate::namespace::{give_to_runtime_user, RUNTIME_GID, RUNTIME_UID};

const PG_PORT: &str = "5432";
/// The database user tasks connect as (no password: only the socket reaches it).
const USER: &str = "farm";
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Services {
    dir: PathBuf,
    postgres: tokio::sync::Mutex<Option<Server>>,
    mysql: tokio::sync::Mutex<Option<Server>>,
}

/// A running server.
#[derive(Debug, Clone)]
struct Server {
    kind: Service,
    /// Where its programs are.
    bin: PathBuf,
    socket_dir: PathBuf,
}

/// The database a task (or an install) copies: its name on the server, and for
/// SQLite the directory whose files are copied.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub sqlite_dir: PathBuf,
}

/// A task's share of a service: what to put in its environment, what to mount into
/// its image or container, and what to drop when it ends.
#[derive(Debug, Default)]
pub struct Provided {
    pub env: BTreeMap<String, String>,
    pub binds: Vec<Bind>,
    database: Option<(Service, String)>,
}

impl Services {
    pub fn new(work_dir: &Path) -> Services {
        Services {
            dir: work_dir.join("services"),
            postgres: tokio::sync::Mutex::new(None),
            mysql: tokio::sync::Mutex::new(None),
        }
    }

    /// The services this host can start (their programs are installed): what the agent
    /// advertises as `service.NAME=yes`.
    pub fn available() -> Vec<Service> {
        Service::ALL
            .into_iter()
            .filter(|s| match s {
                Service::Sqlite => true,
                Service::Postgres => postgres_bin().is_some(),
                Service::Mysql => mysql_programs().is_some(),
            })
            .collect()
    }

    /// Makes database `name` for a task (empty, or a copy of `template`), starting the
    /// server if it is not running yet. `sqlite_dir` is the task's own directory for a
    /// SQLite database.
    pub async fn provide(
        &self,
        service: Service,
        name: &str,
        sqlite_dir: &Path,
        template: Option<&Template>,
        log: &Path,
    ) -> Result<Provided, AgentError> {
        let mut env = BTreeMap::new();
        env.insert("FARM_DB_TYPE".to_string(), service.as_str().to_string());
        env.insert("FARM_DB_NAME".to_string(), name.to_string());
        if service == Service::Sqlite {
            let _ = std::fs::remove_dir_all(sqlite_dir);
            std::fs::create_dir_all(sqlite_dir).map_err(AgentError::io("create", sqlite_dir))?;
            if let Some(t) = template {
                copy_files(&t.sqlite_dir, sqlite_dir)?;
            }
            give_to_runtime_user(sqlite_dir)?;
            env.insert("FARM_DB_DIR".to_string(), sqlite_dir.display().to_string());
            return Ok(Provided {
                env,
                // The database files are written there (the install's are not in the
                // task directory).
                binds: vec![Bind {
                    path: sqlite_dir.to_path_buf(),
                    writable: true,
                }],
                database: None,
            });
        }
        let server = self.server(service, log).await?;
        server.create(name, template.map(|t| t.name.as_str()), log).await?;
        let socket_dir = server.socket_dir.display().to_string();
        env.insert("FARM_DB_USER".to_string(), USER.to_string());
        match service {
            Service::Postgres => {
                env.insert("FARM_DB_SOCKET".to_string(), socket_dir.clone());
                env.insert("FARM_DB_PORT".to_string(), PG_PORT.to_string());
                env.insert("PGHOST".to_string(), socket_dir);
                env.insert("PGPORT".to_string(), PG_PORT.to_string());
                env.insert("PGUSER".to_string(), USER.to_string());
                env.insert("PGDATABASE".to_string(), name.to_string());
            }
            Service::Mysql => {
                let socket = server.socket_dir.join("mysqld.sock").display().to_string();
                env.insert("FARM_DB_SOCKET".to_string(), socket.clone());
                env.insert("MYSQL_UNIX_PORT".to_string(), socket);
            }
            Service::Sqlite => unreachable!("handled above"),
        }
        Ok(Provided {
            env,
            binds: vec![Bind {
                path: server.socket_dir.clone(),
                writable: true,
            }],
            database: Some((service, name.to_string())),
        })
    }

    /// Drops what [`Services::provide`] made for a task.
    pub async fn release(&self, provided: Provided, log: &Path) {
        if let Some((service, name)) = provided.database {
            self.drop_database(service, &name, log).await;
        }
    }

    /// Drops a database if its server is running (an install that was evicted).
    pub async fn drop_database(&self, service: Service, name: &str, log: &Path) {
        let Some(slot) = self.slot(service) else {
            return;
        };
        let server = slot.lock().await.clone();
        if let Some(server) = server {
            if let Err(e) = server.drop(name, log).await {
                tracing::warn!("cannot drop database {name}: {e}");
            }
        }
    }

    /// Stops every server this agent started (and one a killed agent left behind).
    pub async fn shutdown(&self) {
        for kind in [Service::Postgres, Service::Mysql] {
            self.stop(kind).await;
        }
    }

    /// Stops the server of `kind` that runs from this agent's directory, if any.
    async fn stop(&self, kind: Service) {
        match kind {
            Service::Postgres => {
                let data = self.dir.join("postgres").join("data");
                if data.join("postmaster.pid").is_file() {
                    if let Some(bin) = postgres_bin() {
                        let _ = as_runtime_user(&bin.join("pg_ctl"))
                            .args(["-D", &data.display().to_string(), "-m", "immediate", "-w", "stop"])
                            .output()
                            .await;
                    }
                }
            }
            Service::Mysql => {
                let pid_file = self.dir.join("mysql").join("mysqld.pid");
                let Some(pid) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                else {
                    return;
                };
                let pid = nix::unistd::Pid::from_raw(pid);
                if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).is_ok() {
                    // Its socket and file locks are free once it is gone.
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while nix::sys::signal::kill(pid, None).is_ok() && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                let _ = std::fs::remove_file(&pid_file);
            }
            Service::Sqlite => {}
        }
    }

    /// The running server of a kind (None: SQLite, which has none).
    fn slot(&self, service: Service) -> Option<&tokio::sync::Mutex<Option<Server>>> {
        match service {
            Service::Postgres => Some(&self.postgres),
            Service::Mysql => Some(&self.mysql),
            Service::Sqlite => None,
        }
    }

    async fn server(&self, service: Service, log: &Path) -> Result<Server, AgentError> {
        let no_server = || AgentError::Invalid {
            what: "service sqlite".into(),
            why: "it has no server".into(),
        };
        let mut slot = self.slot(service).ok_or_else(no_server)?.lock().await;
        if let Some(server) = slot.as_ref() {
            return Ok(server.clone());
        }
        let root = self.dir.join(service.as_str());
        // A server a killed agent left running goes first: its data is stale.
        self.stop(service).await;
        let _ = std::fs::remove_dir_all(&root);
        let socket_dir = root.join("sock");
        std::fs::create_dir_all(&socket_dir).map_err(AgentError::io("create", &socket_dir))?;
        for dir in [&self.dir, &root, &socket_dir] {
            give_to_runtime_user(dir)?;
        }
        let started = Instant::now();
        let server = match service {
            Service::Postgres => start_postgres(&root, &socket_dir, log).await?,
            Service::Mysql => start_mysql(&root, &socket_dir, log).await?,
            Service::Sqlite => return Err(no_server()),
        };
        tracing::info!(
            service = service.as_str(),
            socket = %socket_dir.display(),
            secs = started.elapsed().as_secs_f64(),
            "service started"
        );
        *slot = Some(server.clone());
        Ok(server)
    }
}

impl Server {
    /// Creates database `name` afresh, as a copy of `template` when given.
    async fn create(&self, name: &str, template: Option<&str>, log: &Path) -> Result<(), AgentError> {
        match self.kind {
            Service::Postgres => {
                self.pg_tool("dropdb", &["--if-exists", name], log).await?;
                match template {
                    Some(t) => self.pg_tool("createdb", &["-T", t, name], log).await,
                    None => self.pg_tool("createdb", &[name], log).await,
                }
            }
            Service::Mysql => {
                self.sql(
                    &format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"),
                    log,
                )
                .await?;
                if let Some(t) = template {
                    // MariaDB has no template databases: dump and load (schema and rows).
                    self.copy_mysql(t, name, log)
                        .await
                        .map_err(|e| e.during(format!("service mysql: copy {t} into {name}")))?;
                }
                Ok(())
            }
            Service::Sqlite => Ok(()),
        }
    }

    /// `mariadb-dump FROM | mariadb TO`, through a file beside the socket.
    async fn copy_mysql(&self, from: &str, to: &str, log: &Path) -> Result<(), AgentError> {
        let socket = format!("--socket={}", self.socket_dir.join("mysqld.sock").display());
        let dump = self.socket_dir.with_file_name(format!("{to}.sql"));
        let file = std::fs::File::create(&dump).map_err(AgentError::io("create", &dump))?;
        let loaded = async {
            run_with(
                Command::new(self.bin.join(MYSQL_DUMP))
                    .args([&socket, "-u", "root", "--no-tablespaces", "--skip-comments", from])
                    .stdin(std::process::Stdio::null())
                    .stdout(file),
                log,
            )
            .await?;
            let input = std::fs::File::open(&dump).map_err(AgentError::io("read", &dump))?;
            run_with(
                Command::new(self.bin.join(MYSQL_CLIENT))
                    .args([&socket, "-u", "root", to])
                    .stdin(input)
                    .stdout(std::process::Stdio::piped()),
                log,
            )
            .await
        }
        .await;
        let _ = std::fs::remove_file(&dump);
        loaded
    }

    async fn drop(&self, name: &str, log: &Path) -> Result<(), AgentError> {
        match self.kind {
            Service::Postgres => self.pg_tool("dropdb", &["--if-exists", name], log).await,
            Service::Mysql => self.sql(&format!("DROP DATABASE IF EXISTS `{name}`"), log).await,
            Service::Sqlite => Ok(()),
        }
    }

    async fn pg_tool(&self, name: &str, args: &[&str], log: &Path) -> Result<(), AgentError> {
        let host = self.socket_dir.display().to_string();
        run(
            Command::new(self.bin.join(name))
                .args(["-h", &host, "-p", PG_PORT, "-U", USER])
                .args(args),
            log,
        )
        .await
        .map_err(|e| e.during(format!("service postgres: {name}")))
    }

    async fn sql(&self, sql: &str, log: &Path) -> Result<(), AgentError> {
        let socket = self.socket_dir.join("mysqld.sock").display().to_string();
        run(
            Command::new(self.bin.join(MYSQL_CLIENT)).args([&format!("--socket={socket}"), "-u", "root", "-e", sql]),
            log,
        )
        .await
        .map_err(|e| e.during(format!("service mysql: {sql}")))
    }
}

async fn start_postgres(root: &Path, socket_dir: &Path, log: &Path) -> Result<Server, AgentError> {
    let bin = postgres_bin().ok_or_else(|| AgentError::Unavailable {
        what: "service postgres".into(),
        why: "no PostgreSQL server is installed (hint: apt-get install postgresql)".into(),
    })?;
    let data = root.join("data");
    let data_text = data.display().to_string();
    run(
        as_runtime_user(&bin.join("initdb")).args([
            "-D",
            &data_text,
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            // Byte order, as SQLite sorts: the same tests see the same order on both.
            "--locale=C",
            "--no-sync",
        ]),
        log,
    )
    .await
    .map_err(|e| e.during("service postgres: initdb"))?;
    // A test farm's database: durability off, it is thrown away anyway.
    let options = format!(
        "-k {} -p {PG_PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        socket_dir.display()
    );
    let server_log = root.join("server.log").display().to_string();
    run(
        as_runtime_user(&bin.join("pg_ctl")).args(["-D", &data_text, "-o", &options, "-l", &server_log, "-w", "start"]),
        log,
    )
    .await
    .map_err(|e| e.during(format!("service postgres: start (its log: {server_log})")))?;
    Ok(Server {
        kind: Service::Postgres,
        bin,
        socket_dir: socket_dir.to_path_buf(),
    })
}

async fn start_mysql(root: &Path, socket_dir: &Path, log: &Path) -> Result<Server, AgentError> {
    let (bin, server_program) = mysql_programs().ok_or_else(|| AgentError::Unavailable {
        what: "service mysql".into(),
        why: "no MariaDB or MySQL server is installed (hint: apt-get install mariadb-server)".into(),
    })?;
    let data = root.join("data");
    std::fs::create_dir_all(&data).map_err(AgentError::io("create", &data))?;
    give_to_runtime_user(&data)?;
    let user = runtime_user_name();
    run(
        as_runtime_user(&bin.join(MYSQL_INSTALL_DB)).args([
            "--no-defaults",
            &format!("--datadir={}", data.display()),
            &format!("--user={user}"),
            // root without a password, on the socket only; tasks get user `farm`.
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]),
        log,
    )
    .await
    .map_err(|e| e.during("service mysql: install-db"))?;
    let socket = socket_dir.join("mysqld.sock");
    let server_log = root.join("server.log");
    let mut server = as_runtime_user(&server_program);
    server
        .args([
            "--no-defaults".to_string(),
            format!("--datadir={}", data.display()),
            format!("--socket={}", socket.display()),
            format!("--pid-file={}", root.join("mysqld.pid").display()),
            format!("--log-error={}", server_log.display()),
            format!("--user={user}"),
            "--skip-networking".to_string(),
            "--skip-log-bin".to_string(),
            // Durability off and a small footprint: a test database on a CI host.
            "--innodb-flush-log-at-trx-commit=0".to_string(),
            "--innodb-buffer-pool-size=64M".to_string(),
            "--innodb-log-file-size=16M".to_string(),
            "--character-set-server=binary".to_string(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(false);
    // Its own session: it outlives a shard's process group, and the agent stops it.
    unsafe {
        server.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    let mut child = server.spawn().map_err(|source| AgentError::Spawn {
        program: server_program.display().to_string(),
        source,
    })?;
    let deadline = Instant::now() + START_TIMEOUT;
    let admin = bin.join(MYSQL_ADMIN);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&server_log).unwrap_or_default();
            crate::runner::append_log(log, text.trim());
            return Err(AgentError::NotReady {
                service: "service mysql",
                why: format!("the server exited ({status}) before it answered"),
                log: server_log,
            });
        }
        let ping = Command::new(&admin)
            .args([&format!("--socket={}", socket.display()), "-u", "root", "ping"])
            .output()
            .await;
        if ping.is_ok_and(|o| o.status.success()) {
            break;
        }
        if Instant::now() > deadline {
            return Err(AgentError::NotReady {
                service: "service mysql",
                why: format!("no answer on {} within {}s", socket.display(), START_TIMEOUT.as_secs()),
                log: server_log,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Reaped by the runtime when it exits; the agent stops it by its pid file.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    let server = Server {
        kind: Service::Mysql,
        bin,
        socket_dir: socket_dir.to_path_buf(),
    };
    server
        .sql(
            &format!(
                "CREATE USER IF NOT EXISTS '{USER}'@'localhost'; GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'localhost'"
            ),
            log,
        )
        .await?;
    Ok(server)
}

/// `/usr/lib/postgresql/<newest>/bin`, where Debian puts the server.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// MariaDB's client programs' directory and its server program (Debian:
/// /usr/bin and /usr/sbin/mariadbd).
fn mysql_programs() -> Option<(PathBuf, PathBuf)> {
    let server = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())?;
    let bin = PathBuf::from("/usr/bin");
    bin.join(MYSQL_INSTALL_DB).is_file().then_some((bin, server))
}

/// MariaDB's programs (Debian's names).
const MYSQL_CLIENT: &str = "mariadb";
const MYSQL_DUMP: &str = "mariadb-dump";
const MYSQL_ADMIN: &str = "mariadb-admin";
const MYSQL_INSTALL_DB: &str = "mariadb-install-db";

/// The name of the user servers run as (`nobody` when the agent is root).
fn runtime_user_name() -> String {
    let uid = if nix::unistd::geteuid().is_root() {
        nix::unistd::Uid::from_raw(RUNTIME_UID)
    } else {
        nix::unistd::geteuid()
    };
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "nobody".into())
}

/// A command that runs as `nobody` when the agent is root (PostgreSQL refuses root).
fn as_runtime_user(program: &Path) -> Command {
    if nix::unistd::geteuid().is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={RUNTIME_UID}"),
            &format!("--regid={RUNTIME_GID}"),
            "--clear-groups",
            "--",
        ])
        .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Copies the plain files of `from` into `to` (SQLite's "template").
fn copy_files(from: &Path, to: &Path) -> Result<(), AgentError> {
    let entries = match std::fs::read_dir(from) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AgentError::io("read", from)(e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            let dest = to.join(entry.file_name());
            std::fs::copy(&path, &dest).map_err(AgentError::io("copy", &path))?;
            give_to_runtime_user(&dest)?;
        }
    }
    Ok(())
}

/// Runs a command to its end: its output goes into the error (and the task log) when
/// it fails. Stdout is captured unless the caller sent it elsewhere (tokio's
/// `output()` would override that), stdin is the caller's or nothing.
async fn run(cmd: &mut Command, log: &Path) -> Result<(), AgentError> {
    run_with(
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped()),
        log,
    )
    .await
}

/// [`run`] with stdin and stdout as the caller set them.
async fn run_with(cmd: &mut Command, log: &Path) -> Result<(), AgentError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let spawn = |source| AgentError::Spawn {
        program: program.clone(),
        source,
    };
    let child = cmd.stderr(std::process::Stdio::piped()).spawn().map_err(spawn)?;
    let out = child.wait_with_output().await.map_err(spawn)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(())
    } else {
        crate::runner::append_log(log, text.trim());
        Err(AgentError::Failed {
            program,
            status: out.status.to_string(),
            output: text.trim().to_string(),
        })
    }
}
