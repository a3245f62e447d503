//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "farm", version, about = "testfarm: a distributed build-and-test farm")]
pub struct Cli {
    /// Mutual TLS: this party's credentials directory (`ca.pem`, `cert.pem`,
    /// `key.pem`, as `farm certs issue` writes it). Every connection of the command
    /// (serving, or to a coordinator) is then TLS with that certificate.
    #[arg(long, global = true, env = "FARM_TLS", value_name = "DIR")]
    pub tls: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Start an embedded coordinator and local agents, run a pipeline, print the summary.
    Up(UpArgs),
    /// Run a coordinator.
    Coordinator(CoordinatorArgs),
    /// Run an agent that takes work from a coordinator.
    Agent(AgentArgs),
    /// Submit a pipeline run and follow it to its verdict.
    Submit(SubmitArgs),
    /// Follow a run that was already submitted.
    Watch(WatchArgs),
    /// End a run now with the verdict `cancelled`: queued work never runs, running
    /// shards are killed on their agents, no result counts after.
    Cancel(CancelArgs),
    /// Drain an agent: it finishes what it runs and is leased nothing new (kept
    /// across leader changes and its restarts); `--undrain` gives it work again.
    Drain(DrainArgs),
    /// Run a finished run again on the same tree (commits, patch, project, env);
    /// `--failed`: only the tests that failed in it, in the jobs they failed in.
    Rerun(RerunArgs),
    /// Flaky quarantine: a quarantined test still runs and reports, but its failures
    /// do not fail runs accepted from then on.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// A task's log, in order as its agent writes it; `-f` follows it while the task
    /// runs. Without TASK: every task of the run, each line prefixed with its task.
    Logs(LogsArgs),
    /// Show runs, agents and the queue.
    Status(StatusArgs),
    /// Where a run's time went (`farm report RUN`), or a project's (`--profile`).
    Report(ReportArgs),
    /// Coordinator cluster: status, add, remove.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Capacity planning: replay a recorded run, or size the farm for a rate and target.
    Capacity(CapacityArgs),
    /// The farm's certificate authority and its parties' certificates (mTLS).
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Runtime images built from Debian packages (deploy/images/NAME.yaml).
    Image(ImageArgs),
    /// Which tests a change needs, without running them: each with why and how
    /// likely it matters, the expected recall and what is left out
    /// (`farm select evaluate` judges the selector on a repository's history).
    Select(SelectArgs),
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SelectArgs {
    #[command(subcommand)]
    pub command: Option<SelectCommand>,
    #[command(flatten)]
    pub query: SelectQueryArgs,
}

#[derive(Args)]
pub struct SelectQueryArgs {
    /// The checkout (default: here): every PHP file outside vendor/ and
    /// node_modules/ is read, tests are the `tests/phpunit/**Test.php` files.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project_dir: PathBuf,
    /// A file the change touches, relative to the checkout (repeatable).
    #[arg(long = "changed-file", value_name = "PATH")]
    pub changed_files: Vec<String>,
    /// The change as a unified diff: its files are the changed files.
    #[arg(long, value_name = "FILE")]
    pub patch: Option<PathBuf>,
    /// Pick tests, most likely to matter per second first, until the expected
    /// recall reaches this share.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Measured per-class times from this coordinator, for the project named with
    /// --project (ranking per second and the time estimate).
    #[arg(long, value_name = "URL")]
    pub coordinator: Option<String>,
    #[arg(long, value_name = "NAME", requires = "coordinator")]
    pub project: Option<String>,
    /// Learn what the signals are worth from the history of the repository the change
    /// is in (a replay like `farm select evaluate`; seconds for an extension) instead
    /// of taking the built-in prior.
    #[arg(long)]
    pub learn: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum SelectCommand {
    /// Replay each repository's first-parent history: for every change that touched
    /// source and existing tests, select from what was known before it and score the
    /// pick against the tests the change modified; print recall at each budget for
    /// the farm's selector and the baselines (name match, co-change history).
    Evaluate(SelectEvaluateArgs),
}

#[derive(Args)]
pub struct SelectEvaluateArgs {
    /// Git repositories or bundles (`../shared/selection/*.bundle`).
    #[arg(required = true)]
    pub repos: Vec<PathBuf>,
    /// The line to walk.
    #[arg(long, default_value = "HEAD")]
    pub rev: String,
    /// Replay the newest N changes (the tree before them is read as a start).
    #[arg(long, default_value_t = 3000)]
    pub changes: usize,
    /// Score merges too, as what each brought in against its first parent (how
    /// Gerrit lands most changes); without it merges only move the tree on.
    #[arg(long)]
    pub merges: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Subcommand)]
pub enum ImageCommand {
    /// debootstrap NAME into the image cache and import it into Docker as
    /// testfarm/NAME:HASH; nothing to do when both exist for the same inputs.
    Build {
        /// Image names (deploy/images/NAME.yaml).
        #[arg(required = true)]
        names: Vec<String>,
        /// Where the definitions are (default: deploy/images).
        #[arg(long)]
        definitions: Option<PathBuf>,
        #[arg(long, default_value = testfarm_agent::image::DEFAULT_CACHE)]
        image_cache: PathBuf,
        /// Build the rootfs only (the sandbox's image), not the docker image.
        #[arg(long)]
        no_docker: bool,
    },
    /// The defined images and whether this host has them built.
    List {
        #[arg(long)]
        definitions: Option<PathBuf>,
        #[arg(long, default_value = testfarm_agent::image::DEFAULT_CACHE)]
        image_cache: PathBuf,
    },
}

/// Where agents find runtime images, and whether they use Docker.
#[derive(Args, Clone)]
pub struct ExecutorArgs {
    /// The runtime image cache (`farm image build` writes it): agents advertise
    /// `image.NAME=yes` for every image built there.
    #[arg(long, default_value = testfarm_agent::image::DEFAULT_CACHE)]
    pub image_cache: PathBuf,
    /// Do not use the Docker daemon even when one is reachable.
    #[arg(long)]
    pub no_docker: bool,
    /// The most of its commands' output one task's log keeps on the agent: past it,
    /// only the last 64 KiB, and a line naming the cap and what was left out.
    #[arg(long, default_value = "64MiB", value_parser = testfarm_shared::units::parse_bytes)]
    pub task_log_cap: u64,
}

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Leader, term, commit and applied index of each coordinator.
    Status {
        /// Any coordinator(s) of the cluster, comma-separated; all members are asked.
        #[arg(long, default_value = "http://127.0.0.1:7700")]
        coordinator: String,
        #[arg(long)]
        json: bool,
        /// Also a digest (SHA-256) of each member's state machine and the index it had
        /// applied: replicas at the same index must show the same digest. Reads each
        /// member's whole state, holding its applies meanwhile.
        #[arg(long)]
        digest: bool,
    },
    /// Add a coordinator (started with --join) to the cluster.
    Add {
        id: u64,
        /// Its gRPC address, host:port.
        addr: String,
        #[arg(long, default_value = "http://127.0.0.1:7700")]
        coordinator: String,
    },
    /// Remove a coordinator from the cluster.
    Remove {
        id: u64,
        #[arg(long, default_value = "http://127.0.0.1:7700")]
        coordinator: String,
    },
}

fn peer_list(text: &str) -> Result<std::collections::BTreeMap<u64, String>, String> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (id, addr) = p.split_once('=').ok_or_else(|| format!("`{p}` is not ID=HOST:PORT"))?;
            let id: u64 = id.parse().map_err(|_| format!("`{id}` in `{p}` is not a node id"))?;
            if id == 0 {
                return Err("node id 0 is reserved".into());
            }
            Ok((id, addr.to_string()))
        })
        .collect()
}

fn duration(text: &str) -> Result<Duration, String> {
    testfarm_shared::units::parse_duration(text)
}

fn submission_id(text: &str) -> Result<String, String> {
    if !text.is_empty() && testfarm_shared::model::is_submission_id(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a submission id: 1 to {} characters of A-Z, a-z, 0-9, `-` and `_`",
            testfarm_shared::model::SUBMISSION_ID_MAX
        ))
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

#[derive(Args, Clone)]
pub struct TimingArgs {
    /// An agent silent for this long loses its leases, which are queued again.
    #[arg(long, default_value = "15s", value_parser = duration)]
    pub lease_timeout: Duration,
    /// How often agents send heartbeats.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub heartbeat: Duration,
    /// How often one shard may be lost (agent gone) before the run ends in error.
    #[arg(long, default_value_t = 2)]
    pub max_lost: u32,
    /// Smallest shard worth its start overhead.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub min_shard: Duration,
}

#[derive(Args)]
pub struct RunArgs {
    /// Mode: gate (full verdict, highest priority), check, or select.
    #[arg(long, default_value = "gate")]
    pub mode: String,
    /// Extra environment for every command, KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = key_value)]
    pub env: Vec<(String, String)>,
    /// The directory the stages run in (default: the pipeline file's directory):
    /// point a pipeline at a checkout of your own, e.g. a MediaWiki tree.
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Run only these stages (repeatable; `--run` as in Quibble).
    #[arg(long = "only", visible_alias = "run")]
    pub only: Vec<String>,
    /// Leave these stages out (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Write the finished run as one JUnit XML file here (a testsuite per job, a
    /// testcase per test with its time and failure text), for Jenkins, Zuul, GitLab.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run only the matrix cells with this value, AXIS=VALUE (repeatable; several
    /// values of one axis are alternatives), e.g. `--cell db=sqlite`.
    #[arg(long = "cell", value_name = "AXIS=VALUE")]
    pub cells: Vec<String>,
    /// select mode: a file the patch changes, relative to the project (repeatable).
    /// Changes to PHP code run what `farm select` picks (see --confidence); any other
    /// change runs the tests of its repository and of every repository that depends
    /// on it, tests named after it, and recently failed tests.
    #[arg(long = "changed-file", value_name = "PATH")]
    pub changed_files: Vec<String>,
    /// The change under test as a unified diff: applied to a git workspace (repos
    /// with `git`), and in select mode its files are the changed files.
    #[arg(long, value_name = "FILE")]
    pub patch: Option<PathBuf>,
    /// The change under test as a ref of one git repo, REPO=REF (e.g.
    /// Thanks=refs/changes/45/12345/3): tested instead of the repo's `ref`.
    #[arg(long, value_name = "REPO=REF")]
    pub change: Vec<String>,
    /// select mode: only this repository's tests (repeatable), e.g. `--ext Echo`.
    #[arg(long, value_name = "REPO")]
    pub ext: Vec<String>,
    /// select mode: only test ids containing this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// select mode, for changes to PHP code: run exactly what `farm select` picks at
    /// this confidence (expected recall), and state it in the verdict.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Print the final run record as JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct UpArgs {
    /// The pipeline file (default: examples/quickstart/farm.yaml).
    pub pipeline: Option<PathBuf>,
    /// Number of local agents.
    #[arg(long, default_value_t = 2)]
    pub agents: u32,
    /// Slots (concurrent shards) per agent.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
    /// Labels of the local agents, KEY=VALUE (repeatable).
    #[arg(long = "label", value_parser = key_value)]
    pub labels: Vec<(String, String)>,
    /// Where the coordinator's state, agents' work and reports go.
    #[arg(long, default_value = ".farm")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub executors: ExecutorArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub timing: TimingArgs,
}

#[derive(Args)]
pub struct CoordinatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub listen: String,
    #[arg(long, default_value = ".farm/coordinator")]
    pub data_dir: PathBuf,
    /// Write the bound address to this file once listening.
    #[arg(long)]
    pub addr_file: Option<PathBuf>,
    /// Serve HTTP (Prometheus /metrics, run and profile reports) on this address.
    #[arg(long)]
    pub http: Option<String>,
    /// This coordinator's raft node id.
    #[arg(long, default_value_t = 1)]
    pub id: u64,
    /// Initial cluster members, ID=HOST:PORT,... (this node included); omitted: a
    /// cluster of this node alone.
    #[arg(long, value_parser = peer_list)]
    pub peers: Option<std::collections::BTreeMap<u64, String>>,
    /// Start with no members and wait to be added with `farm cluster add`.
    #[arg(long)]
    pub join: bool,
    /// Compact the raft log past this many applied entries.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,
    /// The raft tick (elections after 10 ticks, heartbeats every 2).
    #[arg(long, default_value = "100ms", value_parser = duration)]
    pub raft_tick: Duration,
    /// Bytes of each task attempt's log the leader keeps for `farm logs` (what
    /// comes past it is counted and dropped; the agent keeps up to its --task-log-cap).
    #[arg(long, default_value = "16MiB", value_parser = testfarm_shared::units::parse_bytes)]
    pub log_cap: u64,
    /// Task logs kept under DATA_DIR/logs; the oldest are deleted past it.
    #[arg(long, default_value_t = 20_000)]
    pub max_logs: usize,
    /// Finished runs kept whole (tasks, results, test lists); a run past both this
    /// count and --keep-for compacts to its summary (verdict, counts, jobs).
    #[arg(long, default_value_t = 1000)]
    pub keep_runs: usize,
    /// Finished runs younger than this are kept whole, whatever their number.
    #[arg(long, default_value = "720h", value_parser = duration)]
    pub keep_for: Duration,
    /// How often the leader looks for runs to compact.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub retention_every: Duration,
    /// The access file: grants (submit:gate|check|select, read, admin) of client
    /// certificate names and of bearer tokens (kept as SHA-256). Without it, every
    /// client the TLS gate lets in may do everything.
    #[arg(long, value_name = "FILE")]
    pub access: Option<PathBuf>,
    #[command(flatten)]
    pub timing: TimingArgs,
}

#[derive(Args)]
pub struct AgentArgs {
    /// The coordinator's address.
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
    /// This agent's name (default: host name and process id).
    #[arg(long)]
    pub id: Option<String>,
    /// Concurrent shards.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
    /// Labels, KEY=VALUE (repeatable); stages run only on agents with their labels.
    #[arg(long = "label", value_parser = key_value)]
    pub labels: Vec<(String, String)>,
    /// Where task directories and logs go.
    #[arg(long, default_value = ".farm/agent")]
    pub work_dir: PathBuf,
    /// Serve Prometheus /metrics on this address.
    #[arg(long)]
    pub http: Option<String>,
    #[command(flatten)]
    pub executors: ExecutorArgs,
}

#[derive(Args)]
pub struct SubmitArgs {
    /// The pipeline file.
    #[arg(default_value = "farm.yaml")]
    pub pipeline: PathBuf,
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
    /// The client's own name for this submission (at most 64 of A-Z a-z 0-9 - _):
    /// submitting again with the same id — a CI job retried after its runner died —
    /// gives the run the first submit became instead of a second one. Default: random.
    #[arg(long, value_name = "ID", value_parser = submission_id)]
    pub submission_id: Option<String>,
    /// Print the run id and return without waiting for the verdict.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct WatchArgs {
    pub run_id: String,
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RerunArgs {
    pub run_id: String,
    /// Only the tests that failed (and those of shards whose runner failed).
    #[arg(long)]
    pub failed: bool,
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
    /// Print the new run's record as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Print the new run's id and return at once.
    #[arg(long)]
    pub no_wait: bool,
    /// Write the new run as one JUnit XML file here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
}

#[derive(Args)]
pub struct DrainArgs {
    pub agent_id: String,
    #[arg(long)]
    pub undrain: bool,
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
}

#[derive(Args)]
pub struct CancelArgs {
    pub run_id: String,
    /// Why, kept in the run's message (e.g. "superseded by patch set 4").
    #[arg(long, default_value = "")]
    pub reason: String,
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
}

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// Quarantine a test id, a method (`Class::method`: each of its data sets) or a
    /// class (each of its tests); again to change the reason.
    Add {
        test: String,
        /// The pipeline's `project:`.
        #[arg(long)]
        project: String,
        /// Why, for the reports (e.g. "flaky on PostgreSQL, T12345").
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long, default_value = "http://127.0.0.1:7700")]
        coordinator: String,
    },
    /// Take a test (as it was added) out of quarantine.
    Remove {
        test: String,
        #[arg(long)]
        project: String,
        #[arg(long, default_value = "http://127.0.0.1:7700")]
        coordinator: String,
    },
    /// The quarantined tests, with why, by whom and since when.
    List {
        /// Only this project's.
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "http://127.0.0.1:7700")]
        coordinator: String,
    },
}

#[derive(Args)]
pub struct LogsArgs {
    pub run_id: String,
    /// A task of the run: `r12.j0.s3`, or `j0.s3` (see `farm report RUN`).
    pub task: Option<String>,
    /// Keep following: the log as it grows, until the task ends (without TASK: every
    /// task as it starts, until the run's verdict).
    #[arg(short, long)]
    pub follow: bool,
    /// The attempt whose log to show (default: the latest).
    #[arg(long)]
    pub attempt: Option<u32>,
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
}

#[derive(Args)]
pub struct StatusArgs {
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The run (e.g. r12): timeline, phases, critical path, slowest tests, failures,
    /// improvements.
    #[arg(required_unless_present = "profile", conflicts_with = "profile")]
    pub run_id: Option<String>,
    /// A project's profile instead: time per stage/extension/class, job wall
    /// percentiles, trends, flaky tests, improvements.
    #[arg(long, value_name = "PROJECT")]
    pub profile: Option<String>,
    #[arg(long, default_value = "http://127.0.0.1:7700")]
    pub coordinator: String,
    /// Print the report as JSON (the same as the coordinator's /api/runs/ID or
    /// /api/profiles/PROJECT; docs/api.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CapacityArgs {
    /// Replay a recorded run (`farm submit --json` output, or .farm/reports/RUN.json)
    /// on its recorded agents and slots: predicted against measured wall time.
    #[arg(long, value_name = "RUN.json")]
    pub replay: Option<PathBuf>,
    /// Size the farm for runs like this recorded one.
    #[arg(long, value_name = "RUN.json")]
    pub record: Option<PathBuf>,
    /// Size the farm for MediaWiki's gate, from the measured suite in DIR (relative
    /// paths are tried from here, then from the repository root).
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "../shared/data")]
    pub mediawiki: Option<PathBuf>,
    /// Arrival rate, runs per hour.
    #[arg(long, default_value_t = 40.0)]
    pub rate: f64,
    /// Target p90 feedback time (run accepted → verdict).
    #[arg(long, default_value = "10m", value_parser = duration)]
    pub target: Duration,
    /// Most agents per pool (one pool per distinct label set of the jobs).
    #[arg(long, default_value_t = 200)]
    pub agents_max: usize,
    /// Slots per agent (sizing default 4; a replay defaults to what the record shows).
    #[arg(long)]
    pub slots: Option<usize>,
    /// Hours of arrivals to simulate.
    #[arg(long, default_value_t = 3.0)]
    pub hours: f64,
    /// Seed of the arrivals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The coordinators' `--min-shard` (the planner's smallest shard).
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub min_shard: Duration,
    /// Where to write the SVG curve (default .farm/capacity.svg).
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum CertsCommand {
    /// Make the farm's CA in DIR (`ca.pem`, `ca.key`; keep the key offline).
    Init {
        dir: PathBuf,
        /// How long the CA is valid.
        #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(i64).range(1..))]
        days: i64,
    },
    /// What a credentials directory holds: its holder's role and name, the server
    /// names, and until when it is valid.
    Show { dir: PathBuf },
    /// Issue one party's certificate: writes `ca.pem`, `cert.pem`, `key.pem` into
    /// `--out`, the directory its `--tls` reads.
    Issue {
        /// The certificate's holder: a coordinator's name, the agent id an agent
        /// certificate may use, a person's or CI system's name.
        name: String,
        #[arg(long, value_parser = role)]
        role: testfarm_proto::tls::Role,
        /// The CA directory (`farm certs init`).
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// More server names for a coordinator (clients check coordinator.testfarm).
        #[arg(long = "host")]
        hosts: Vec<String>,
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(i64).range(1..))]
        days: i64,
    },
}

fn role(s: &str) -> Result<testfarm_proto::tls::Role, String> {
    testfarm_proto::tls::Role::parse(s).ok_or_else(|| format!("`{s}`: a role is coordinator, agent or client"))
}
