//! PHPUnit as a runner the farm knows, shaped by what the real MediaWiki suite taught
//! (../shared/DESIGN.md, "Running PHPUnit at MediaWiki scale"):
//!
//! - Discovery is `--list-tests-xml`; a test id is what PHPUnit's JUnit names it:
//!   `Class::method`, or `Class::method with data set #0` / `… with data set "name"`
//!   for each case of a data provider, so a method with thousands of data sets can be
//!   cut like any other run of tests ([`list`]).
//! - Data-set names often hold the checkout's absolute path; ids carry [`ROOT`] in its
//!   place, so one inventory serves agents whose checkouts lie elsewhere ([`Roots`]).
//! - A shard never filters by pattern. It runs a configuration of its own, the stage's
//!   with its test suites replaced by one suite file the farm writes
//!   ([`shard_config`]), and that file builds the suite of exactly the shard's tests
//!   from their own files ([`locate`] finds them), so PHPUnit loads only those files
//!   and runs only their data providers. Nothing grows with the shard but a JSON list.
//! - The suite file reports each test under the farm's id ([`results`]), so a name
//!   XML cannot hold (a NUL in a data set) still maps to exactly one test.

pub mod list;
pub mod locate;
pub mod results;
pub mod shard_config;

use serde::{Deserialize, Serialize};

pub use list::{parse_list, ListError};
pub use results::{parse_results, ResultsError, RESULTS_FILE};
pub use shard_config::{shard_config, worker_config, ShardConfigError};

/// A stage's PHPUnit invocation (`phpunit:` in farm.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phpunit {
    /// The program, run by `/bin/sh` (default `phpunit`; e.g. a wrapper script that
    /// picks the PHP flags of the cell).
    pub command: String,
    /// `-c` (default `phpunit.xml`), relative to the project directory.
    pub config: String,
    pub testsuite: Option<String>,
    pub group: Vec<String>,
    pub exclude_group: Vec<String>,
    /// Whether shards run in a PHPUnit worker of the agent's, which bootstraps once
    /// and forks a child per shard (`FarmWorker.php`), or each in a `phpunit`
    /// process of its own (`workers: false`).
    #[serde(default = "default_workers")]
    pub workers: bool,
}

fn default_workers() -> bool {
    true
}

/// The file, in the task directory, where discovery writes PHPUnit's list.
pub const LIST_FILE: &str = "phpunit-tests.xml";
/// The shard's own PHPUnit configuration, in the task directory.
pub const SHARD_CONFIG_FILE: &str = "phpunit-shard.xml";
/// The suite file the shard's configuration names; its class has the file's name, as
/// PHPUnit requires of a suite file with a static `suite()`.
pub const SHARD_SUITE_FILE: &str = "FarmShardSuite.php";
/// What [`SHARD_SUITE_FILE`] reads: the shard's classes, files and test names.
pub const SHARD_MANIFEST_FILE: &str = "phpunit-shard.json";
/// Stands for the project's root directory in test ids.
pub const ROOT: &str = "{root}";

/// The PHP source of [`SHARD_SUITE_FILE`].
pub const SHARD_SUITE_SOURCE: &str = include_str!("FarmShardSuite.php");
/// A PHPUnit worker's bootstrap (see the file's own comment): bootstraps the stage
/// once, then forks a child per shard it is sent.
pub const WORKER_BOOTSTRAP_FILE: &str = "FarmWorker.php";
/// The PHP source of [`WORKER_BOOTSTRAP_FILE`].
pub const WORKER_BOOTSTRAP_SOURCE: &str = include_str!("FarmWorker.php");

impl Phpunit {
    /// Whether a test in `groups` (comma-separated, as PHPUnit lists them) belongs to
    /// the stage's `group` and not to its `exclude_group`.
    pub fn wants(&self, groups: &str) -> bool {
        let mut groups = groups.split(',').map(str::trim).filter(|g| !g.is_empty());
        let groups: Vec<&str> = groups.by_ref().collect();
        (self.group.is_empty() || groups.iter().any(|g| self.group.iter().any(|w| w == g)))
            && !groups.iter().any(|g| self.exclude_group.iter().any(|x| x == g))
    }

    /// The suite names of `--testsuite`, as PHPUnit splits them.
    pub fn suites(&self) -> Vec<String> {
        match &self.testsuite {
            Some(s) => s
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => Vec::new(),
        }
    }

    fn selection_args(&self, config: &str) -> String {
        let mut out = format!("{} -c {config}", self.command);
        if let Some(suite) = &self.testsuite {
            out += &format!(" --testsuite {}", shell_quote(suite));
        }
        if !self.group.is_empty() {
            out += &format!(" --group {}", shell_quote(&self.group.join(",")));
        }
        if !self.exclude_group.is_empty() {
            out += &format!(" --exclude-group {}", shell_quote(&self.exclude_group.join(",")));
        }
        out
    }

    /// Lists the tests into `$FARM_SHARD_DIR/phpunit-tests.xml` (PHPUnit's own output
    /// goes to the log); the agent reads the list with [`parse_list`].
    pub fn discover_command(&self) -> String {
        format!(
            "{} --list-tests-xml \"$FARM_SHARD_DIR/{LIST_FILE}\" >&2",
            self.selection_args(&shell_quote(&self.config))
        )
    }

    /// Runs the shard's own configuration (written by the agent into the task
    /// directory); its suite file writes the results ([`RESULTS_FILE`]). The suite
    /// names stay the stage's, because bootstraps read them (MediaWiki's loads no
    /// settings for `core:unit`).
    pub fn run_command(&self) -> String {
        self.selection_args(&format!("\"$FARM_SHARD_DIR/{SHARD_CONFIG_FILE}\""))
    }
}

/// `'text'` for /bin/sh.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@".contains(c))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The method id of a test id: `C::m with data set #1` → `C::m`.
pub fn method_of(id: &str) -> &str {
    id.split_once(" with data set ").map_or(id, |(m, _)| m)
}

/// The class of a test id: `A\B::m with data set #1` → `A\B`.
pub fn class_of(id: &str) -> &str {
    id.split_once("::").map_or(id, |(c, _)| c)
}

/// The project root as the agent sees it: the directory the commands run in, and
/// the same with symbolic links resolved (what PHP's `__DIR__` gives). Test ids carry
/// [`ROOT`] for either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub given: String,
    pub resolved: String,
}

impl Roots {
    /// `id` with the root written as [`ROOT`].
    pub fn normalize(&self, id: &str) -> String {
        let mut out = id.to_string();
        // The longer first, in case one contains the other.
        let (a, b) = if self.resolved.len() >= self.given.len() {
            (&self.resolved, &self.given)
        } else {
            (&self.given, &self.resolved)
        };
        for root in [a, b] {
            if root.len() > 1 && out.contains(root.as_str()) {
                out = out.replace(root.as_str(), ROOT);
            }
        }
        out
    }

    /// `id` as PHPUnit names the test in this checkout (the resolved root, as PHP
    /// computes paths).
    pub fn localize(&self, id: &str) -> String {
        id.replace(ROOT, &self.resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_quote_what_the_shell_would_split() {
        let p = Phpunit {
            command: "tools/phpunit.sh".into(),
            config: "phpunit.xml".into(),
            testsuite: Some("unit".into()),
            group: vec![],
            exclude_group: vec!["Database".into(), "Broken test".into()],
            workers: true,
        };
        assert_eq!(
            p.discover_command(),
            "tools/phpunit.sh -c phpunit.xml --testsuite unit --exclude-group 'Database,Broken test' \
             --list-tests-xml \"$FARM_SHARD_DIR/phpunit-tests.xml\" >&2"
        );
        assert_eq!(
            p.run_command(),
            "tools/phpunit.sh -c \"$FARM_SHARD_DIR/phpunit-shard.xml\" --testsuite unit \
             --exclude-group 'Database,Broken test'"
        );
        assert!(
            !p.run_command().contains("--filter"),
            "a shard never filters by pattern"
        );
    }

    #[test]
    fn ids_split_into_class_method_and_data_set() {
        assert_eq!(method_of("C::m with data set #1"), "C::m");
        assert_eq!(method_of("C::m"), "C::m");
        assert_eq!(class_of("A\\B::m with data set \"x::y\""), "A\\B");
    }

    #[test]
    fn roots_become_a_token_and_back() {
        let roots = Roots {
            given: "/w/ws/abc".into(),
            resolved: "/srv/w/ws/abc".into(),
        };
        let id = "ScopeStructureTest::testAutoloadNoFileScope with data set \"/srv/w/ws/abc/includes/A.php\"";
        let n = roots.normalize(id);
        assert_eq!(
            n,
            "ScopeStructureTest::testAutoloadNoFileScope with data set \"{root}/includes/A.php\""
        );
        assert_eq!(roots.localize(&n), id);
        assert_eq!(
            roots.normalize("C::m with data set \"/w/ws/abc/x\""),
            "C::m with data set \"{root}/x\""
        );
        assert_eq!(roots.normalize("C::m"), "C::m");
    }

    #[test]
    fn suites_split_as_phpunit_splits_them() {
        let mut p = Phpunit {
            command: "phpunit".into(),
            config: "phpunit.xml".into(),
            testsuite: Some("core:unit, extensions:unit".into()),
            group: vec![],
            exclude_group: vec![],
            workers: true,
        };
        assert_eq!(p.suites(), ["core:unit", "extensions:unit"]);
        p.testsuite = None;
        assert!(p.suites().is_empty());
    }
}
