//! The pipeline file (`farm.yaml`), in three steps: a serde shape that denies unknown
//! keys → validation → a typed [`Pipeline`] that the rest of the farm trusts.
//!
//! Every error names the file, the line and the field, and where a user can act it
//! carries a hint ("unknown field `limts` … hint: did you mean `limits`?"). Nothing is
//! guessed: a stage without a `discover` command or without exactly one of `run` and
//! `each` is rejected. See README.md, "The pipeline file".

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::phpunit::Phpunit;
use crate::select::{Repo, RepoGraph};
use crate::service::Service;

use crate::units::{ByteSize, HumanDuration};

pub use crate::runtime::{ExecutorKind, Isolation, Network, Runtime};

/// The default estimate for a test that has no timing yet and whose stage has no
/// measured test either.
pub const DEFAULT_ESTIMATE: Duration = Duration::from_secs(1);
/// The default timeout of a shard when neither the stage nor `defaults` set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

// ------------------------------------------------------------------ raw shape

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    pipeline: String,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    matrix: BTreeMap<String, Vec<ScalarString>>,
    #[serde(default)]
    defaults: Option<RawDefaults>,
    #[serde(default)]
    repos: BTreeMap<String, RawRepo>,
    /// Requirements between repos on top of their own (Wikimedia's dependency map).
    #[serde(default)]
    dependencies: BTreeMap<String, Vec<String>>,
    stages: BTreeMap<String, RawStage>,
}

/// A repository of the project (`repos:`): core, an extension or a skin.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRepo {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    path: Option<String>,
    /// Namespace prefix of its tests' classes.
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    requires: Vec<String>,
    /// A git URL: agents check the repository out at the commit `ref` resolves to.
    #[serde(default)]
    git: Option<String>,
    #[serde(default, rename = "ref")]
    git_ref: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    env: BTreeMap<String, ScalarString>,
    #[serde(default)]
    labels: BTreeMap<String, ScalarString>,
    #[serde(default)]
    executor: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    isolation: Option<String>,
    #[serde(default)]
    services: Option<Vec<ScalarString>>,
    #[serde(default)]
    install: Option<String>,
    #[serde(default)]
    tools: Option<Vec<ScalarString>>,
}

/// A stage's own runtime keys, as written (None: not set, the defaults' apply).
#[derive(Clone, Copy)]
struct RawRuntime<'a> {
    executor: &'a Option<String>,
    image: &'a Option<String>,
    network: &'a Option<String>,
    isolation: &'a Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    #[serde(default)]
    discover: Option<String>,
    #[serde(default)]
    run: Option<String>,
    #[serde(default)]
    each: Option<String>,
    #[serde(default)]
    phpunit: Option<RawPhpunit>,
    #[serde(default)]
    cells: BTreeMap<String, Vec<ScalarString>>,
    #[serde(default)]
    labels: BTreeMap<String, ScalarString>,
    #[serde(default)]
    env: BTreeMap<String, ScalarString>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    split: Option<Split>,
    #[serde(default)]
    default_estimate: Option<HumanDuration>,
    #[serde(default)]
    executor: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    isolation: Option<String>,
    /// Databases the agent provides to each task; `{axis}` is filled in per cell.
    #[serde(default)]
    services: Option<Vec<ScalarString>>,
    /// The install step, run once per tree, cell and agent (see [`crate::install`]).
    #[serde(default)]
    install: Option<String>,
    /// Programs the stage's commands need on the agent (checked before they run).
    #[serde(default)]
    tools: Option<Vec<ScalarString>>,
}

/// `phpunit:` of a stage: discovery and shard commands made by the farm.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPhpunit {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    testsuite: Option<ScalarString>,
    #[serde(default)]
    group: Vec<ScalarString>,
    #[serde(default)]
    exclude_group: Vec<ScalarString>,
    /// `false`: each shard in a `phpunit` process of its own instead of the agent's
    /// PHPUnit workers (see `testfarm_shared::phpunit::Phpunit::workers`).
    #[serde(default)]
    workers: Option<bool>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    cpu: Option<f64>,
    #[serde(default)]
    memory: Option<ByteSize>,
    #[serde(default)]
    pids: Option<u64>,
    #[serde(default)]
    timeout: Option<HumanDuration>,
}

/// YAML scalars that users write unquoted (`php: [8.2, 8.3]`) arrive as numbers;
/// they are names here, so any scalar is taken as its text.
#[derive(Debug, Clone)]
struct ScalarString(String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_yaml_ng::Value::deserialize(deserializer)? {
            serde_yaml_ng::Value::String(s) => Ok(ScalarString(s)),
            serde_yaml_ng::Value::Number(n) => Ok(ScalarString(n.to_string())),
            serde_yaml_ng::Value::Bool(b) => Ok(ScalarString(b.to_string())),
            other => Err(D::Error::custom(format!(
                "expected a plain value (text or number), found {other:?}"
            ))),
        }
    }
}

// ------------------------------------------------------------------ typed config

/// A validated pipeline. Serializable so that an accepted run carries it verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub name: String,
    /// Namespace of the timing profiles (defaults to the pipeline name).
    pub project: String,
    /// Matrix axes in name order, each with its values in file order.
    pub axes: Vec<(String, Vec<String>)>,
    /// Stages in name order.
    pub stages: Vec<Stage>,
    /// The repositories, core first (empty: the project is one repository).
    #[serde(default)]
    pub repos: Vec<Repo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub discover: String,
    pub mode: RunMode,
    /// Allowed values per axis; an axis not named here allows every value.
    pub cells: BTreeMap<String, Vec<String>>,
    /// Labels an agent must carry; values may name an axis as `{axis}`.
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    pub split: Split,
    pub default_estimate: Duration,
    /// Where the commands run: executor, runtime image, network.
    #[serde(flatten)]
    pub runtime: Runtime,
    /// Services each task gets, as written: names, or `{axis}` filled per cell
    /// ([`Stage::services_in`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// The install step's command (see [`crate::install`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
    /// Programs that must be on the agent's `PATH` where the commands run; a task
    /// missing one fails as an infrastructure error naming it, never as a pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
}

impl Stage {
    /// The services of this stage in `cell`, placeholders filled. Validation made sure
    /// every cell the stage runs in names known services; an unknown one is dropped.
    pub fn services_in(&self, cell: &crate::matrix::Cell) -> Vec<Service> {
        let mut out: Vec<Service> = self
            .services
            .iter()
            .filter_map(|s| Service::parse(&crate::matrix::fill_placeholders(s, cell)))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// How a shard's tests are run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// One command for the whole shard: reads test ids from the file named by
    /// `FARM_TEST_IDS_FILE` and writes JUnit XML to `FARM_JUNIT_PATH`.
    Junit { command: String },
    /// One command per test id (in `FARM_TEST_ID`), timed by the agent; exit 0 passes.
    Each { command: String },
    /// PHPUnit: a configuration and suite of the shard's own, run in a worker of the
    /// agent's or a process of its own (see [`crate::phpunit`]).
    Phpunit(Phpunit),
}

/// The finest unit a runner can filter: shards never cut finer than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Any test id may go to any shard.
    #[default]
    Test,
    /// Test ids `Class::method` stay together by the part before `::`.
    Class,
    /// Classes stay together (one set-up per class) unless one alone would bound the
    /// job: such a class is cut by method. PHPUnit stages default to this.
    Auto,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU cores (fractions allowed); None: unlimited.
    pub cpu: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    pub timeout: Duration,
}

// ------------------------------------------------------------------ errors

/// A pipeline file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {field}: {message}")]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when the position is unknown.
    pub line: usize,
    /// Dotted path of the field, e.g. `stages.unit.limits`.
    pub field: String,
    pub message: String,
}

// ------------------------------------------------------------------ parsing

/// Parses and validates pipeline text; `file` is used in error messages.
pub fn parse_pipeline(text: &str, file: &str) -> Result<Pipeline, ConfigError> {
    let raw: RawPipeline = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(e, text, file))?;
    Validator { text, file }.validate(raw)
}

pub(crate) fn yaml_error(error: serde_yaml_ng::Error, text: &str, file: &str) -> ConfigError {
    let line = error.location().map(|l| l.line()).unwrap_or(0);
    let full = error.to_string();
    // serde_yaml_ng renders "path: message at line L column C"; keep the parts apart.
    let without_pos = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full.clone(),
    };
    let (field, message) = match without_pos.split_once(": ") {
        Some((path, msg)) if !path.contains(' ') => (path.to_string(), msg.to_string()),
        _ => ("(document)".to_string(), without_pos),
    };
    // Errors raised by a value's own parser (units) are placed by the YAML parser at
    // the enclosing mapping; move them to the line that holds the bad value.
    let (line, field) = match bad_value_line(text, &message, line) {
        Some((at, key)) => (at, format!("{field}.{key}")),
        None => (line, field),
    };
    let message = match unknown_field_hint(&message) {
        Some(hint) => format!("{message} (hint: did you mean `{hint}`?)"),
        None => message,
    };
    ConfigError {
        file: file.into(),
        line,
        field,
        message,
    }
}

/// For a message that starts with a quoted bad value ("`2 fortnights` has …"), the
/// first line at or after `from` whose value is exactly that, and its key.
fn bad_value_line(text: &str, message: &str, from: usize) -> Option<(usize, String)> {
    let value = message.strip_prefix('`')?.split('`').next()?;
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find_map(|(i, line)| {
            let (key, v) = line.split_once(':')?;
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            (v == value).then(|| (i + 1, key.trim().to_string()))
        })
}

/// For "unknown field `limts`, expected one of `a`, `b`", the closest expected name.
fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    expected
        .into_iter()
        .map(|name| (edit_distance(unknown, name), name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3))
        .min()
        .map(|(_, name)| name.to_string())
}

/// The candidate within a small edit distance of `word`, if any.
/// " (hint: did you mean `x`?)" for the candidate closest to `word`, or nothing.
fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    closest(word, candidates)
        .map(|h| format!(" (hint: did you mean `{h}`?)"))
        .unwrap_or_default()
}

pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|name| (edit_distance(word, name), *name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3))
        .min()
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

struct Validator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Validator<'_> {
    fn error(&self, path: &[&str], message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.into(),
            line: locate(self.text, path),
            field: path.join("."),
            message: message.into(),
        }
    }

    fn validate(&self, raw: RawPipeline) -> Result<Pipeline, ConfigError> {
        if !is_name(&raw.pipeline) {
            return Err(self.error(&["pipeline"], name_rule(&raw.pipeline)));
        }
        let project = raw.project.clone().unwrap_or_else(|| raw.pipeline.clone());
        if !is_name(&project) {
            return Err(self.error(&["project"], name_rule(&project)));
        }
        let mut axes = Vec::new();
        for (axis, values) in &raw.matrix {
            if !is_name(axis) {
                return Err(self.error(&["matrix", axis], name_rule(axis)));
            }
            if values.is_empty() {
                return Err(self.error(&["matrix", axis], "an axis needs at least one value"));
            }
            let values: Vec<String> = values.iter().map(|v| v.0.clone()).collect();
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    return Err(self.error(&["matrix", axis], format!("value `{v}` appears twice")));
                }
            }
            axes.push((axis.clone(), values));
        }
        if raw.stages.is_empty() {
            return Err(self.error(&["stages"], "a pipeline needs at least one stage"));
        }
        let defaults = raw.defaults.unwrap_or_default();
        let default_limits = defaults.limits.clone().unwrap_or_default();
        self.check_limits(&["defaults", "limits"], &default_limits)?;
        let mut stages = Vec::new();
        for (name, stage) in raw.stages {
            stages.push(self.stage(&name, stage, &axes, &defaults, &default_limits)?);
        }
        let repos = self.repos(raw.repos, raw.dependencies)?;
        Ok(Pipeline {
            name: raw.pipeline,
            project,
            axes,
            stages,
            repos,
        })
    }

    /// `repos:` and `dependencies:`, checked as a graph: exactly one core, every
    /// requirement named, no cycle.
    fn repos(
        &self,
        raw: BTreeMap<String, RawRepo>,
        dependencies: BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<Repo>, ConfigError> {
        if raw.is_empty() {
            if let Some(name) = dependencies.keys().next() {
                return Err(self.error(&["dependencies", name], "`dependencies` needs `repos`"));
            }
            return Ok(Vec::new());
        }
        let mut core = Vec::new();
        let mut others = Vec::new();
        for (name, r) in raw {
            if !is_name(&name) {
                return Err(self.error(&["repos", &name], name_rule(&name)));
            }
            let (path, namespace) = match r.kind.as_deref().unwrap_or("extension") {
                "core" => (".".to_string(), String::new()),
                "extension" => (format!("extensions/{name}"), format!("MediaWiki\\Extension\\{name}\\")),
                "skin" => (format!("skins/{name}"), format!("MediaWiki\\Skin\\{name}\\")),
                other => {
                    return Err(self.error(
                        &["repos", &name, "kind"],
                        format!("unknown kind `{other}` (use core, extension or skin)"),
                    ))
                }
            };
            if r.git_ref.is_some() && r.git.is_none() {
                return Err(self.error(&["repos", &name, "ref"], "`ref` needs `git`: the URL to fetch it from"));
            }
            let path = r.path.unwrap_or(path);
            if let Some(why) = crate::workspace::path_problem(&path) {
                return Err(self.error(&["repos", &name, "path"], format!("`{path}` {why}")));
            }
            let repo = Repo {
                path,
                test_namespace: r.namespace.unwrap_or(namespace),
                requires: r.requires,
                name: name.clone(),
                git: r.git,
                git_ref: r.git_ref,
                commit: None,
            };
            if r.kind.as_deref() == Some("core") {
                core.push(repo);
            } else {
                others.push(repo);
            }
        }
        if core.len() != 1 {
            let names: Vec<&str> = core.iter().map(|r| r.name.as_str()).collect();
            return Err(self.error(
                &["repos"],
                format!(
                    "exactly one repo needs `kind: core` (found {}: {})",
                    core.len(),
                    list_or_none(&names)
                ),
            ));
        }
        core.extend(others);
        let mut repos = core;
        let from_git = repos.iter().filter(|r| r.git.is_some()).count();
        if from_git != 0 && from_git != repos.len() {
            let local: Vec<&str> = repos
                .iter()
                .filter(|r| r.git.is_none())
                .map(|r| r.name.as_str())
                .collect();
            return Err(self.error(
                &["repos", local[0]],
                format!(
                    "some repos have `git` and {} do not: a workspace is either all git checkouts or the project directory",
                    local.join(", ")
                ),
            ));
        }
        for (name, needs) in dependencies {
            let Some(repo) = repos.iter_mut().find(|r| r.name == name) else {
                return Err(self.error(&["dependencies", &name], format!("`{name}` is not in `repos`")));
            };
            for n in needs {
                if !repo.requires.contains(&n) {
                    repo.requires.push(n);
                }
            }
        }
        RepoGraph::new(repos.clone()).map_err(|e| self.error(&["repos"], e))?;
        Ok(repos)
    }

    fn stage(
        &self,
        name: &str,
        raw: RawStage,
        axes: &[(String, Vec<String>)],
        defaults: &RawDefaults,
        default_limits: &RawLimits,
    ) -> Result<Stage, ConfigError> {
        let at = |field: &str| -> Vec<String> {
            let mut p = vec!["stages".to_string(), name.to_string()];
            if !field.is_empty() {
                p.push(field.to_string());
            }
            p
        };
        let err = |field: &str, message: String| {
            let path = at(field);
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            self.error(&refs, message)
        };
        if !is_name(name) {
            return Err(err("", name_rule(name)));
        }
        let (discover, mode) = match raw.phpunit {
            Some(php) => {
                if raw.discover.is_some() || raw.run.is_some() || raw.each.is_some() {
                    return Err(err(
                        "phpunit",
                        "a `phpunit` stage makes its own `discover` and `run` commands: remove those keys".into(),
                    ));
                }
                let phpunit = Phpunit {
                    command: non_empty(php.command).unwrap_or_else(|| "phpunit".into()),
                    config: non_empty(php.config).unwrap_or_else(|| "phpunit.xml".into()),
                    testsuite: php.testsuite.map(|s| s.0),
                    group: php.group.into_iter().map(|g| g.0).collect(),
                    exclude_group: php.exclude_group.into_iter().map(|g| g.0).collect(),
                    workers: php.workers.unwrap_or(true),
                };
                (phpunit.discover_command(), RunMode::Phpunit(phpunit))
            }
            None => {
                let discover = non_empty(raw.discover).ok_or_else(|| {
                    err(
                        "",
                        "missing `discover`: the command that lists the stage's test ids, one per line \
                         (or `phpunit:` for a PHPUnit stage)"
                            .into(),
                    )
                })?;
                let mode = match (non_empty(raw.run), non_empty(raw.each)) {
                    (Some(command), None) => RunMode::Junit { command },
                    (None, Some(command)) => RunMode::Each { command },
                    (Some(_), Some(_)) => {
                        return Err(err("", "both `run` and `each` are set: choose one (`run` for a runner that writes JUnit, `each` for one command per test)".into()))
                    }
                    (None, None) => {
                        return Err(err("", "missing `run` or `each`: the command that runs the shard's tests".into()))
                    }
                };
                (discover, mode)
            }
        };
        let phpunit = matches!(mode, RunMode::Phpunit(_));
        let mut cells = BTreeMap::new();
        for (axis, values) in raw.cells {
            let Some((_, allowed)) = axes.iter().find(|(a, _)| *a == axis) else {
                let known: Vec<&str> = axes.iter().map(|(a, _)| a.as_str()).collect();
                return Err(err(
                    "cells",
                    format!("unknown axis `{axis}` (the matrix has: {})", list_or_none(&known)),
                ));
            };
            let mut chosen = Vec::new();
            for v in values {
                if !allowed.contains(&v.0) {
                    return Err(err(
                        "cells",
                        format!("axis `{axis}` has no value `{}` (it has: {})", v.0, allowed.join(", ")),
                    ));
                }
                chosen.push(v.0);
            }
            if chosen.is_empty() {
                return Err(err(
                    "cells",
                    format!("axis `{axis}` lists no value: the stage would never run"),
                ));
            }
            cells.insert(axis, chosen);
        }
        let mut labels: BTreeMap<String, String> =
            defaults.labels.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
        labels.extend(raw.labels.into_iter().map(|(k, v)| (k, v.0)));
        for (key, value) in &labels {
            for placeholder in placeholders(value) {
                if !axes.iter().any(|(a, _)| *a == placeholder) {
                    return Err(err(
                        "labels",
                        format!("label `{key}` names `{{{placeholder}}}`, which is not a matrix axis"),
                    ));
                }
            }
        }
        let mut env: BTreeMap<String, String> = defaults.env.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
        env.extend(raw.env.into_iter().map(|(k, v)| (k, v.0)));
        for key in env.keys() {
            if key.starts_with("FARM_") {
                return Err(err(
                    "env",
                    format!("`{key}`: names starting with FARM_ are set by the farm"),
                ));
            }
        }
        let raw_limits = raw.limits.unwrap_or_default();
        self.check_limits(
            &at("limits").iter().map(String::as_str).collect::<Vec<_>>(),
            &raw_limits,
        )?;
        let limits = Limits {
            cpu: raw_limits.cpu.or(default_limits.cpu),
            memory_bytes: raw_limits.memory.or(default_limits.memory).map(|b| b.0),
            pids: raw_limits.pids.or(default_limits.pids),
            timeout: raw_limits
                .timeout
                .or(default_limits.timeout)
                .map(|d| d.0)
                .unwrap_or(DEFAULT_TIMEOUT),
        };
        let runtime = self.runtime(
            name,
            RawRuntime {
                executor: &raw.executor,
                image: &raw.image,
                network: &raw.network,
                isolation: &raw.isolation,
            },
            defaults,
        )?;
        let (services, own) = match raw.services {
            Some(v) => (v, true),
            None => (defaults.services.clone().unwrap_or_default(), false),
        };
        let services: Vec<String> = services.into_iter().map(|s| s.0).collect();
        let services_path: Vec<String> = if own {
            at("services")
        } else {
            vec!["defaults".into(), "services".into()]
        };
        self.check_services(&services_path, &services, axes, &cells)?;
        let install = match raw.install {
            Some(c) => Some((c, at("install"))),
            None => defaults
                .install
                .clone()
                .map(|c| (c, vec!["defaults".to_string(), "install".to_string()])),
        };
        let install = match install {
            Some((c, path)) if c.trim().is_empty() => {
                let refs: Vec<&str> = path.iter().map(String::as_str).collect();
                return Err(self.error(&refs, "an empty `install` command: remove the key or give the command"));
            }
            other => other.map(|(c, _)| c),
        };
        let mut tools: Vec<String> = defaults
            .tools
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.0)
            .collect();
        for t in raw.tools.unwrap_or_default() {
            if !tools.contains(&t.0) {
                tools.push(t.0);
            }
        }
        for t in &tools {
            if t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c)) {
                return Err(err(
                    "tools",
                    format!("`{t}` is not a program name (letters, digits, `.`, `_`, `+`, `-`; no paths or arguments)"),
                ));
            }
        }
        Ok(Stage {
            name: name.into(),
            discover,
            mode,
            cells,
            labels,
            env,
            limits,
            split: raw.split.unwrap_or(if phpunit { Split::Auto } else { Split::Test }),
            default_estimate: raw.default_estimate.map(|d| d.0).unwrap_or(DEFAULT_ESTIMATE),
            runtime,
            services,
            install,
            tools,
        })
    }

    /// Every service a stage names must be one the farm starts, in every cell the stage
    /// runs in (`{db}` becomes each value of the `db` axis).
    fn check_services(
        &self,
        path: &[String],
        services: &[String],
        axes: &[(String, Vec<String>)],
        stage_cells: &BTreeMap<String, Vec<String>>,
    ) -> Result<(), ConfigError> {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        for service in services {
            for placeholder in placeholders(service) {
                if !axes.iter().any(|(a, _)| *a == placeholder) {
                    return Err(self.error(
                        &refs,
                        format!("`{service}` names `{{{placeholder}}}`, which is not a matrix axis"),
                    ));
                }
            }
            for cell in crate::matrix::cells_of(axes) {
                if !crate::matrix::cell_allowed(stage_cells, &cell) {
                    continue;
                }
                let name = crate::matrix::fill_placeholders(service, &cell);
                if Service::parse(&name).is_none() {
                    let from = if name == *service {
                        String::new()
                    } else {
                        let cell: Vec<String> = cell.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        format!(" (`{service}` in cell {})", cell.join(","))
                    };
                    return Err(self.error(
                        &refs,
                        format!(
                            "`{name}`{from} is not a service the agents start (known: {}; hint: narrow the stage's `cells`)",
                            Service::known()
                        ),
                    ));
                }
            }
        }
        // One database per task: FARM_DB_* name exactly one.
        for cell in crate::matrix::cells_of(axes) {
            if !crate::matrix::cell_allowed(stage_cells, &cell) {
                continue;
            }
            let mut named: Vec<Service> = services
                .iter()
                .filter_map(|s| Service::parse(&crate::matrix::fill_placeholders(s, &cell)))
                .collect();
            named.sort();
            named.dedup();
            if named.len() > 1 {
                let names: Vec<&str> = named.iter().map(|s| s.as_str()).collect();
                return Err(self.error(
                    &refs,
                    format!("a task gets one database, and this names {}", names.join(" and ")),
                ));
            }
        }
        Ok(())
    }

    /// The stage's executor, image, network and isolation (its own values, else
    /// `defaults`). Errors point at the line that holds the bad value.
    fn runtime(&self, stage: &str, own: RawRuntime<'_>, defaults: &RawDefaults) -> Result<Runtime, ConfigError> {
        let RawRuntime {
            executor,
            image,
            network,
            isolation,
        } = own;
        // Where a value came from: the stage's own key, else the defaults' key.
        let path = |own: bool, field: &'static str| -> Vec<String> {
            if own {
                vec!["stages".into(), stage.into(), field.into()]
            } else {
                vec!["defaults".into(), field.into()]
            }
        };
        let err = |path: Vec<String>, message: String| {
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            self.error(&refs, message)
        };
        let pick = |own: &Option<String>, default: &Option<String>| -> (Option<String>, bool) {
            match own {
                Some(v) => (Some(v.clone()), true),
                None => (default.clone(), false),
            }
        };

        let (executor_text, own) = pick(executor, &defaults.executor);
        let executor = match executor_text.as_deref() {
            None | Some("sandbox") => ExecutorKind::Sandbox,
            Some("docker") => ExecutorKind::Docker,
            Some(other) => {
                let names: Vec<&str> = ExecutorKind::ALL.iter().map(|e| e.as_str()).collect();
                let hint = did_you_mean(other, &names);
                return Err(err(
                    path(own, "executor"),
                    format!("unknown executor `{other}`, expected one of `sandbox`, `docker`{hint}"),
                ));
            }
        };
        let executor_own = own;

        let (image, own) = pick(image, &defaults.image);
        if let Some(name) = &image {
            if !is_image_name(name) {
                return Err(err(
                    path(own, "image"),
                    format!("`{name}` is not an image name: use lower-case letters, digits, `-`, `_` and `.`, starting with a letter or digit"),
                ));
            }
        }
        if executor == ExecutorKind::Docker && image.is_none() {
            return Err(err(
                path(executor_own, "executor"),
                "executor `docker` needs an `image` (a runtime image from deploy/images/NAME.yaml, built with `farm image build NAME`)".into(),
            ));
        }

        let (network_text, own) = pick(network, &defaults.network);
        let network = match network_text.as_deref() {
            None => None,
            Some("none") => Some(Network::None),
            Some("bridge") => Some(Network::Bridge),
            Some(other) => {
                let hint = did_you_mean(other, &["none", "bridge"]);
                return Err(err(
                    path(own, "network"),
                    format!("unknown network `{other}`, expected `none` or `bridge`{hint}"),
                ));
            }
        };

        let (isolation_text, own) = pick(isolation, &defaults.isolation);
        let isolation = match isolation_text.as_deref() {
            None | Some("sandbox") => Isolation::Sandbox,
            Some("none") => Isolation::None,
            Some(other) => {
                let hint = did_you_mean(other, &["sandbox", "none"]);
                return Err(err(
                    path(own, "isolation"),
                    format!("unknown isolation `{other}`, expected `sandbox` or `none`{hint}"),
                ));
            }
        };
        if isolation == Isolation::None && (executor == ExecutorKind::Docker || image.is_some()) {
            return Err(err(
                path(own, "isolation"),
                "`isolation: none` is for a sandbox stage without an image; a container or a runtime image always isolates".into(),
            ));
        }
        Ok(Runtime {
            executor,
            image,
            network,
            isolation,
        })
    }

    fn check_limits(&self, path: &[&str], limits: &RawLimits) -> Result<(), ConfigError> {
        let field = |f: &'static str| -> Vec<&str> {
            let mut p = path.to_vec();
            p.push(f);
            p
        };
        if let Some(cpu) = limits.cpu {
            if !(cpu > 0.0 && cpu <= 1024.0) {
                return Err(self.error(
                    &field("cpu"),
                    format!("{cpu} is not a cpu count: give cores, e.g. 1 or 0.5"),
                ));
            }
        }
        if let Some(memory) = limits.memory {
            if memory.0 < 4 << 20 {
                return Err(self.error(
                    &field("memory"),
                    format!("{} bytes is below the 4MiB that any process needs", memory.0),
                ));
            }
        }
        if limits.pids == Some(0) {
            return Err(self.error(&field("pids"), "0 processes would not even start the runner"));
        }
        if let Some(timeout) = limits.timeout {
            if timeout.0.is_zero() {
                return Err(self.error(&field("timeout"), "a zero timeout would kill every shard"));
            }
        }
        Ok(())
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "no axes".into()
    } else {
        items.join(", ")
    }
}

/// A pipeline, project or stage name: letters, digits, `-`, `_`, `.`.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// A runtime image name: it becomes a Docker repository (`testfarm/NAME`), which must
/// be lower case.
pub fn is_image_name(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.')
}

fn name_rule(s: &str) -> String {
    format!("`{s}` is not a name: use letters, digits, `-`, `_` and `.`")
}

/// `{axis}` placeholders in a label value.
pub fn placeholders(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push(rest[start + 1..start + len].to_string());
        rest = &rest[start + len + 1..];
    }
    out
}

/// The 1-based line of a dotted key path in block-style YAML, found by indentation.
/// Good enough for the files this farm reads; when a key is missing, the line of its
/// deepest ancestor that exists; 0 if not even the first key is found.
pub(crate) fn locate(text: &str, path: &[&str]) -> usize {
    let mut parent_indent: Option<usize> = None;
    let mut found = 0;
    let mut best = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some(parent) = parent_indent {
            if indent <= parent {
                break; // left the block of the last key found
            }
        }
        let key = trimmed.split(':').next().unwrap_or("").trim().trim_matches('"');
        let at_depth = match parent_indent {
            None => indent == 0,
            Some(parent) => indent > parent,
        };
        if at_depth && trimmed.contains(':') && key == path[found] {
            best = i + 1;
            parent_indent = Some(indent);
            found += 1;
            if found == path.len() {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
