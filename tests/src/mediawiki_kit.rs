//! The real MediaWiki 1.45.0 from ../shared/mediawiki, ready to test: unpacked once per
//! build directory (`target/mediawiki-kit`), set up by the kit's own setup.sh, with
//! its PHPUnit configuration installed as `phpunit.xml.dist` and the wiki installed on
//! SQLite (the bootstrap reads LocalSettings.php for its list of extensions even when
//! it loads no settings). And the serial reference: what one plain `phpunit` run says
//! of each test, read from its JUnit under the farm's ids.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::{workspace_root, Farm, Options, Output};

/// The archive on the team's shelf.
pub const ARCHIVE: &str = "mediawiki-1.45.0-kit.tar.zst";
const KIT_DIR: &str = "mediawiki-1.45.0-kit";

static SETUP: Mutex<()> = Mutex::new(());
/// Held by a test while it runs MediaWiki: two of them side by side on this
/// 2-core machine would time each other out and measure nothing.
pub static HEAVY: Mutex<()> = Mutex::new(());

/// An unpacked, set-up kit.
#[derive(Debug, Clone)]
pub struct Kit {
    pub root: PathBuf,
    /// What env.sh exports (PHP_INI_SCAN_DIR, MW_SKIP_EXTERNAL_DEPENDENCIES).
    pub env: Vec<(String, String)>,
}

impl Kit {
    /// The MediaWiki tree.
    pub fn mediawiki(&self) -> PathBuf {
        self.root.join("mediawiki")
    }

    /// `farm submit PIPELINE --project-dir TREE --env …(the kit's) EXTRA…` on `farm`.
    pub fn submit(&self, farm: &mut Farm, pipeline: &Path, extra: &[&str]) -> Output {
        let mut args: Vec<String> = vec!["--project-dir".into(), self.mediawiki().display().to_string()];
        args.extend(
            self.env
                .iter()
                .flat_map(|(k, v)| ["--env".to_string(), format!("{k}={v}")]),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        farm.submit(pipeline, &args)
    }

    /// A `phpunit` command in the tree with the kit's environment.
    pub fn phpunit(&self) -> Command {
        let mut cmd = Command::new("phpunit");
        cmd.current_dir(self.mediawiki());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// examples/mediawiki-checkout/farm.yaml: the pipeline for a real MediaWiki tree.
pub fn pipeline() -> PathBuf {
    workspace_root().join("examples/mediawiki-checkout/farm.yaml")
}

/// phpunit's arguments for core's `@group Database`.
pub const DATABASE_GROUP: &[&str] = &[
    "--testsuite",
    "core:integration",
    "--group",
    "Database",
    "--exclude-group",
    "Broken",
];

/// A `farm submit` of real MediaWiki suites: minutes on this 2-core machine.
pub const SUBMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A farm of 2 agents × 1 slot (this machine's 2 cores) for real MediaWiki runs.
pub fn farm(tag: &str) -> Farm {
    Farm::start(
        tag,
        Options {
            agents: 2,
            slots: 1,
            command_timeout: SUBMIT_TIMEOUT,
            ..Options::default()
        },
    )
}

/// The shelf: `../shared/mediawiki` beside the repository.
pub fn shelf() -> PathBuf {
    workspace_root().join("../shared/mediawiki")
}

/// Unpacks and sets up the kit (once per build directory; later calls reuse it).
/// Panics with the reason when something it needs is missing: a test that cannot
/// reach the real MediaWiki fails, it never passes without it.
pub fn kit() -> Kit {
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    let base = workspace_root().join("target/mediawiki-kit");
    let root = base.join(KIT_DIR);
    // Named after the set-up's version: a change to the set-up redoes it.
    let ready = root.join(".farm-ready-2");
    if !ready.exists() {
        let archive = shelf().join(ARCHIVE);
        assert!(
            archive.is_file(),
            "the MediaWiki kit is missing at {} (the team's shelf, ../shared/mediawiki)",
            archive.display()
        );
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("create target/mediawiki-kit");
        run(Command::new("tar")
            .arg("--zstd")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&base));
        run(&mut Command::new(root.join("setup.sh")));
        install_config(&root);
        let kit = Kit {
            env: read_env(&root),
            root: root.clone(),
        };
        install_sqlite(&kit, &root.join("data"));
        std::fs::write(&ready, "").expect("mark the kit ready");
    }
    Kit {
        env: read_env(&root),
        root,
    }
}

/// The kit's PHPUnit configuration as a MediaWiki git checkout has it: as
/// `phpunit.xml.dist`, with the extension suites (which the kit leaves commented out)
/// in.
fn install_config(root: &Path) {
    let text = std::fs::read_to_string(root.join("phpunit.xml.example")).expect("read phpunit.xml.example");
    let opened = "in LocalSettings.php, would be:\n";
    let closed = "\t\t     Only the suite names";
    assert!(
        text.contains(opened) && text.contains(closed),
        "the kit's phpunit.xml.example changed: its commented extension suites are not where they were"
    );
    let text = text
        .replace(opened, "in LocalSettings.php, would be: -->\n")
        .replace(closed, "\t\t<!-- Only the suite names");
    std::fs::write(root.join("mediawiki/phpunit.xml.dist"), text).expect("install the PHPUnit configuration");
}

/// Extensions of the kit loaded by examples/mediawiki-checkout's `phpunit-extensions`
/// stage (its install step lists the same).
pub const EXTENSIONS: &[&str] = &[
    "CategoryTree",
    "Cite",
    "CiteThisPage",
    "ConfirmEdit",
    "Echo",
    "Gadgets",
    "ImageMap",
    "InputBox",
    "LoginNotify",
    "Nuke",
    "PageImages",
    "ParserFunctions",
    "Poem",
    "SecureLinkFixer",
    "SpamBlacklist",
    "TemplateData",
    "TextExtracts",
    "Thanks",
    "TitleBlacklist",
];

/// A wiki of its own under `dir` (LocalSettings.php in `dir/conf`, SQLite in
/// `dir/db`) loading `extensions`, made as the pipeline's install step makes one:
/// what `MW_CONFIG_FILE` and `FARM_DB_DIR` point a serial run at.
pub fn install_with_extensions(kit: &Kit, dir: &Path, extensions: &[&str]) -> Vec<(String, String)> {
    let conf = dir.join("conf");
    let db = dir.join("db");
    std::fs::create_dir_all(&conf).expect("conf dir");
    std::fs::create_dir_all(&db).expect("db dir");
    let settings = conf.join("LocalSettings.php");
    let env = vec![
        ("MW_CONFIG_FILE".to_string(), settings.display().to_string()),
        ("FARM_DB_DIR".to_string(), db.display().to_string()),
    ];
    let (db_s, conf_s) = (db.display().to_string(), conf.display().to_string());
    php(kit, &env, &install_args(&db_s, &["--confpath", &conf_s]));
    let mut text = std::fs::read_to_string(&settings).expect("the installer wrote LocalSettings.php");
    text = text
        .lines()
        .map(|l| {
            if l.starts_with("$wgSQLiteDataDir = ") {
                "$wgSQLiteDataDir = getenv( \"FARM_DB_DIR\" );".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    for e in extensions {
        text += &format!("\nwfLoadExtension( '{e}' );");
    }
    std::fs::write(&settings, text + "\n").expect("write LocalSettings.php");
    php(kit, &env, &["maintenance/run.php", "update", "--quick"]);
    env
}

/// `maintenance/install.php` on SQLite, as the kit's README gives it (the tree's own
/// LocalSettings.php: what a serial run uses).
fn install_sqlite(kit: &Kit, data: &Path) {
    let data = data.display().to_string();
    php(kit, &[], &install_args(&data, &[]));
}

/// The installer's arguments for a SQLite wiki in `db`, with the names
/// examples/mediawiki-checkout's install step gives its wikis, so that a serial run
/// and a farm run see the same site.
fn install_args<'a>(db: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "maintenance/run.php",
        "install",
        "--dbtype",
        "sqlite",
        "--dbpath",
        db,
        "--dbname",
        "my_wiki",
        "--server",
        "http://localhost",
        "--scriptpath",
        "",
        "--lang",
        "en",
        "--with-developmentsettings",
        "--pass",
        "Farm-admin-pass-1",
    ];
    args.extend_from_slice(more);
    args.extend(["FarmWiki", "Admin"]);
    args
}

/// `php ARGS` in the tree with the kit's environment and `env`.
fn php(kit: &Kit, env: &[(String, String)], args: &[&str]) {
    let mut cmd = Command::new("php");
    cmd.current_dir(kit.mediawiki()).args(args);
    for (k, v) in kit.env.iter().chain(env) {
        cmd.env(k, v);
    }
    run(&mut cmd);
}

fn read_env(root: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root.join("env.sh")).expect("setup.sh wrote env.sh");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(|c| c == '"' || c == '\'').to_string()))
        .collect()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What one test came to in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: String,
    pub secs: f64,
    /// The test's file, relative to the tree (JUnit's `file`), when it names one.
    pub file: Option<String>,
}

/// The outcome of each test of a PHPUnit JUnit file, under the farm's ids:
/// `Class::name` with the tree's root as `{root}`, and the second and later of
/// names XML shows alike numbered ` (2)`, ` (3)`… in order, as the farm numbers them.
pub fn junit_outcomes(xml: &str, root: &Path) -> BTreeMap<String, Outcome> {
    let roots = [
        std::fs::canonicalize(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .display()
            .to_string(),
        root.display().to_string(),
    ];
    let mut out = BTreeMap::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut current: Option<(String, Outcome)> = None;
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#10;", "\n")
            .replace("&#9;", "\t")
            .replace("&#13;", "\r")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    };
    let attr = |line: &str, name: &str| -> Option<String> {
        let rest = line.split(&format!(" {name}=\"")).nth(1)?;
        Some(unescape(rest.split('"').next()?))
    };
    let mut finish = |current: &mut Option<(String, Outcome)>, out: &mut BTreeMap<String, Outcome>| {
        if let Some((id, outcome)) = current.take() {
            let n = seen.entry(id.clone()).or_insert(0);
            *n += 1;
            let id = if *n > 1 { format!("{id} ({n})") } else { id };
            out.insert(id, outcome);
        }
    };
    for line in xml.lines().map(str::trim) {
        if line.starts_with("<testcase ") {
            finish(&mut current, &mut out);
            let name = attr(line, "name").unwrap_or_else(|| panic!("a testcase without a name: {line}"));
            let mut id = match attr(line, "class") {
                Some(class) => format!("{class}::{name}"),
                None => name,
            };
            for r in &roots {
                id = id.replace(r.as_str(), "{root}");
            }
            let secs = attr(line, "time").and_then(|t| t.parse().ok()).unwrap_or(0.0);
            let file = attr(line, "file").map(|f| roots.iter().fold(f, |f, r| f.replace(&format!("{r}/"), "")));
            current = Some((
                id,
                Outcome {
                    status: "passed".into(),
                    secs,
                    file,
                },
            ));
            if line.ends_with("/>") {
                finish(&mut current, &mut out);
            }
        } else if let Some((_, outcome)) = current.as_mut() {
            for (tag, status) in [
                ("<failure", "failed"),
                ("<error", "error"),
                ("<skipped", "skipped"),
                ("<warning", "failed"),
            ] {
                if line.starts_with(tag) && (outcome.status == "passed" || outcome.status == "skipped") {
                    outcome.status = status.into();
                }
            }
            if line.starts_with("</testcase>") {
                finish(&mut current, &mut out);
            }
        }
    }
    finish(&mut current, &mut out);
    out
}

/// Runs `phpunit ARGS --log-junit` in the kit and reads its outcomes.
pub fn serial(kit: &Kit, args: &[&str]) -> (BTreeMap<String, Outcome>, std::time::Duration) {
    serial_with(kit, args, &[])
}

/// [`serial`] with more environment (a wiki of its own: [`install_with_extensions`]).
pub fn serial_with(
    kit: &Kit,
    args: &[&str],
    env: &[(String, String)],
) -> (BTreeMap<String, Outcome>, std::time::Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("junit.xml");
    let started = std::time::Instant::now();
    let out = kit
        .phpunit()
        .args(args)
        .arg("--log-junit")
        .arg(&junit)
        .env("TMPDIR", dir.path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("run phpunit (apt-get install phpunit)");
    let elapsed = started.elapsed();
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|_| {
        panic!(
            "phpunit {args:?} wrote no JUnit: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (junit_outcomes(&xml, &kit.mediawiki()), elapsed)
}

/// How a farm run's outcomes differ from the serial run's: `(only serial, only farm,
/// different status)`. A serial case named after a method alone (PHPUnit's JUnit names
/// a data provider whose class was skipped as a whole so) matches the farm's data sets
/// of that method when they all have its status; those are returned apart.
pub struct Comparison {
    pub only_serial: Vec<String>,
    pub only_farm: Vec<String>,
    pub status_differs: Vec<(String, String, String)>,
    pub expanded: Vec<(String, usize)>,
    /// [`ROOT_ONLY_FAILURES`] that failed in the serial run (as root) and passed in the
    /// farm (as the sandbox's user 65534), as the kit's README says they do.
    pub root_only: Vec<String>,
}

/// Tests that fail only for root (the kit README's "Known environmental failures"):
/// the serial reference runs as this test process's user, root here, while the farm's
/// sandbox runs every test as user 65534, for whom they pass.
pub const ROOT_ONLY_FAILURES: &[&str] = &["UploadedFileStreamTest::testConstruct_notReadable"];

fn root_only(id: &str, serial: &str, farm: &str) -> bool {
    nix::unistd::geteuid().is_root()
        && serial == "failed"
        && farm == "passed"
        && ROOT_ONLY_FAILURES
            .iter()
            .any(|t| id == *t || id.ends_with(&format!("\\{t}")))
}

impl Comparison {
    /// Panics, naming `what` and the first differences, unless the farm reported
    /// exactly the serial run's tests with the same statuses (data sets the serial
    /// JUnit folds into their method aside: [`Comparison::expanded`]).
    pub fn assert_same(&self, what: &str) {
        assert!(
            self.only_serial.is_empty() && self.only_farm.is_empty() && self.status_differs.is_empty(),
            "{what}: {} serial cases the farm did not report {:?}; {} farm results serial PHPUnit did not report {:?}; \
             statuses that differ (id, serial, farm) {:?}",
            self.only_serial.len(),
            &self.only_serial[..self.only_serial.len().min(10)],
            self.only_farm.len(),
            &self.only_farm[..self.only_farm.len().min(10)],
            &self.status_differs[..self.status_differs.len().min(10)]
        );
    }
}

pub fn compare(serial: &BTreeMap<String, Outcome>, farm: &BTreeMap<String, String>) -> Comparison {
    let mut c = Comparison {
        only_serial: Vec::new(),
        only_farm: Vec::new(),
        status_differs: Vec::new(),
        expanded: Vec::new(),
        root_only: Vec::new(),
    };
    let mut covered: Vec<&str> = Vec::new();
    for (id, outcome) in serial {
        match farm.get(id) {
            Some(status) if *status == outcome.status => {}
            Some(status) if root_only(id, &outcome.status, status) => c.root_only.push(id.clone()),
            Some(status) => c
                .status_differs
                .push((id.clone(), outcome.status.clone(), status.clone())),
            None => {
                let prefix = format!("{id} with data set ");
                let sets: Vec<(&String, &String)> = farm.iter().filter(|(f, _)| f.starts_with(&prefix)).collect();
                if !sets.is_empty() && sets.iter().all(|(_, s)| **s == outcome.status) {
                    c.expanded.push((id.clone(), sets.len()));
                    covered.extend(sets.iter().map(|(f, _)| f.as_str()));
                } else {
                    c.only_serial.push(id.clone());
                }
            }
        }
    }
    for id in farm.keys() {
        if !serial.contains_key(id) && !covered.contains(&id.as_str()) {
            c.only_farm.push(id.clone());
        }
    }
    c
}
