//! A synthetic recorded profile of MediaWiki's gate, from the measured test suite in
//! `../shared/data` (see its README.md).
//!
//! One gate run is a matrix of cells (PHP 8.3, 8.4, 8.5 × MySQL by default, as in
//! Wikimedia's gate), each cell three jobs that all carry the cell's labels
//! (`php=…`, `db=mysql`), so there is one agent pool per PHP version:
//!
//! - `phpunit-unit` (split by test): core's unit suite with its measured per-case
//!   durations (mw-core-testcases.tsv), plus the extensions' unit-suite files.
//! - `phpunit-integration` (split by class): tests outside `@group Database`: core's
//!   tests/phpunit/integration with measured durations, core's other suites and the
//!   extensions' non-unit files.
//! - `phpunit-database` (split by class): every `@group Database` file, core and
//!   extensions, measured or estimated, × [`MediaWikiParams::database_factor`].
//!
//! Files without measurements (core outside unit/integration, all extension files; the
//! TSVs give their test-method counts) are estimated: cases = methods × the cases per
//! method measured in core (data providers multiply methods), each case's duration drawn
//! (fixed seed) from core's measured cases of the same kind: unit cases (without
//! ScopeStructureTest, 3,215 cases of one structure test that would skew the draw),
//! non-Database integration cases, or Database integration cases.
//!
//! A class-split job is stored one entry per class with the class's total: the planner
//! keeps a class whole, so this plans the same shards, and ~10× faster.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::config::Split;
use crate::model::Mode;

use super::rng::SplitMix64;
use super::{CapacityError, JobModel, Latency, Overhead, TestSet, Workload};

/// The three files of ../shared/data.
pub const TESTCASES_TSV: &str = "mw-core-testcases.tsv";
pub const CORE_TESTS_TSV: &str = "mw-core-tests.tsv";
pub const EXT_TESTS_TSV: &str = "mw-ext-tests.tsv";

/// Seed of the draws that estimate unmeasured files: fixed, so the workload is the same
/// whatever seed the arrivals use.
const ESTIMATE_SEED: u64 = 0x6d77_6761_7465;

/// The assumptions of the synthetic profile; every figure is printed with the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaWikiParams {
    pub php: Vec<String>,
    pub db: String,
    /// Database-group tests run this many times slower than measured. The data was
    /// measured on one quiet 2-core process; the gate runs them on MySQL, where each test
    /// resets and clones tables. 3× makes one cell's serial PHPUnit time ≈ 15 minutes,
    /// inside the 11–17 minute medians of Wikimedia's gate jobs (data/README.md), and
    /// puts Database tests at ~80% of it ("minutes, not seconds").
    pub database_factor: f64,
    /// Unit shards: cold = checkout of core + extensions from the agent's git mirror
    /// and applying the change (~5 s) + composer install from a warm cache (~8 s) +
    /// PHPUnit bootstrap (~2 s); warm = PHPUnit bootstrap only. No install: unit tests
    /// need no database.
    pub unit_overhead: Overhead,
    /// Integration and Database shards: cold = the unit figure + `install.php` against
    /// MySQL with the extensions' schema updates (~40 s; Quibble's install step takes on
    /// the order of a minute) + PHPUnit bootstrap; warm = bootstrap + cloning the test
    /// tables under the `unittest_` prefix (~8 s for core + 7 extensions on MySQL).
    pub integration_overhead: Overhead,
    /// `phpunit --list-tests` over core + extensions (loads every test class), on top of
    /// the cold overhead.
    pub discover_secs: f64,
}

impl Default for MediaWikiParams {
    fn default() -> Self {
        MediaWikiParams {
            php: vec!["8.3".into(), "8.4".into(), "8.5".into()],
            db: "mysql".into(),
            database_factor: 3.0,
            unit_overhead: Overhead {
                cold_secs: 15.0,
                warm_secs: 2.0,
            },
            integration_overhead: Overhead {
                cold_secs: 60.0,
                warm_secs: 8.0,
            },
            discover_secs: 10.0,
        }
    }
}

/// What one stage of a cell holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSummary {
    pub stage: String,
    /// Test cases (measured + estimated).
    pub cases: usize,
    pub measured_cases: usize,
    /// Planner units (tests for split by test, classes for split by class).
    pub units: usize,
    pub secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaWikiSummary {
    pub params: MediaWikiParams,
    pub repos: usize,
    pub stages: Vec<StageSummary>,
    /// Measured cases per test method: unit suite, integration suite.
    pub cases_per_method: (f64, f64),
    pub files_estimated: usize,
}

impl MediaWikiSummary {
    /// Serial test time of one cell.
    pub fn cell_secs(&self) -> f64 {
        self.stages.iter().map(|s| s.secs).sum()
    }
}

/// Rows of a TSV file by column name.
struct Tsv<'a> {
    file: &'a str,
    columns: HashMap<&'a str, usize>,
    rows: Vec<(usize, Vec<&'a str>)>,
}

impl<'a> Tsv<'a> {
    fn parse(file: &'a str, text: &'a str, need: &[&str]) -> Result<Tsv<'a>, CapacityError> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| CapacityError::Data {
            file: file.into(),
            line: 1,
            message: "empty file".into(),
        })?;
        let columns: HashMap<&str, usize> = header.split('\t').enumerate().map(|(i, c)| (c.trim(), i)).collect();
        for c in need {
            if !columns.contains_key(c) {
                return Err(CapacityError::Data {
                    file: file.into(),
                    line: 1,
                    message: format!("no column `{c}` in the header (hint: is this the file from ../shared/data?)"),
                });
            }
        }
        let rows = lines.map(|(i, l)| (i + 1, l.split('\t').collect())).collect();
        Ok(Tsv { file, columns, rows })
    }

    fn get(&self, row: &(usize, Vec<&'a str>), column: &str) -> Result<&'a str, CapacityError> {
        row.1
            .get(self.columns[column])
            .map(|s| s.trim())
            .ok_or_else(|| self.error(row.0, format!("no value in column `{column}`")))
    }

    fn number(&self, row: &(usize, Vec<&'a str>), column: &str) -> Result<f64, CapacityError> {
        let text = self.get(row, column)?;
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| self.error(row.0, format!("`{column}` is `{text}`, not a number ≥ 0")))
    }

    fn error(&self, line: usize, message: String) -> CapacityError {
        CapacityError::Data {
            file: self.file.into(),
            line,
            message,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Unit = 0,
    Integration = 1,
    Database = 2,
}

/// One test file of the per-file TSVs.
struct FileRow<'a> {
    repo: &'a str,
    path: &'a str,
    suite: &'a str,
    methods: f64,
    database: bool,
    abstract_: bool,
}

fn file_rows<'a>(tsv: &Tsv<'a>) -> Result<Vec<FileRow<'a>>, CapacityError> {
    tsv.rows
        .iter()
        .map(|row| {
            Ok(FileRow {
                repo: tsv.get(row, "repo")?,
                path: tsv.get(row, "path")?,
                suite: tsv.get(row, "suite")?,
                methods: tsv.number(row, "n_test_methods")?,
                database: tsv.get(row, "group_database")? == "1",
                abstract_: tsv.get(row, "abstract")? == "1",
            })
        })
        .collect()
}

/// Builds the gate workload from the text of the three TSV files.
pub fn mediawiki_workload(
    testcases: &str,
    core_tests: &str,
    ext_tests: &str,
    params: &MediaWikiParams,
) -> Result<(Workload, MediaWikiSummary), CapacityError> {
    let positive = params.database_factor.is_finite() && params.database_factor > 0.0;
    if params.php.is_empty() || !positive {
        return Err(CapacityError::Params(
            "the MediaWiki matrix needs at least one PHP version and a database factor > 0".into(),
        ));
    }
    let file_cols = ["repo", "path", "suite", "n_test_methods", "group_database", "abstract"];
    let cases = Tsv::parse(TESTCASES_TSV, testcases, &["suite", "file", "class", "name", "time_s"])?;
    let core = file_rows(&Tsv::parse(CORE_TESTS_TSV, core_tests, &file_cols)?)?;
    let ext = file_rows(&Tsv::parse(EXT_TESTS_TSV, ext_tests, &file_cols)?)?;
    let database_files: HashMap<&str, bool> = core.iter().map(|f| (f.path, f.database)).collect();

    // Measured cases, by kind; the unit suite kept per case (split by test), the
    // integration suite per file (split by class).
    let mut unit_tests: Vec<String> = Vec::new();
    let mut unit_secs: Vec<f64> = Vec::new();
    let mut draw_unit: Vec<f64> = Vec::new();
    let mut draw_integration: Vec<f64> = Vec::new();
    let mut draw_database: Vec<f64> = Vec::new();
    let mut measured_files: BTreeMap<&str, (Kind, f64, usize)> = BTreeMap::new();
    let (mut unit_cases, mut scope_cases, mut integration_cases) = (0usize, 0usize, 0usize);
    for row in &cases.rows {
        let suite = cases.get(row, "suite")?;
        let file = cases.get(row, "file")?;
        let class = cases.get(row, "class")?;
        let secs = cases.number(row, "time_s")?;
        match suite {
            "unit" => {
                unit_tests.push(format!("{class}::{}", cases.get(row, "name")?));
                unit_secs.push(secs);
                unit_cases += 1;
                if class == "ScopeStructureTest" {
                    scope_cases += 1;
                } else {
                    draw_unit.push(secs);
                }
            }
            "integration" => {
                integration_cases += 1;
                let kind = if database_files.get(file).copied().unwrap_or(false) {
                    draw_database.push(secs);
                    Kind::Database
                } else {
                    draw_integration.push(secs);
                    Kind::Integration
                };
                let entry = measured_files.entry(file).or_insert((kind, 0.0, 0));
                entry.1 += secs;
                entry.2 += 1;
            }
            other => return Err(cases.error(row.0, format!("unknown suite `{other}` (expected unit or integration)"))),
        }
    }
    for (name, draw) in [
        ("unit", &draw_unit),
        ("integration", &draw_integration),
        ("Database", &draw_database),
    ] {
        if draw.is_empty() {
            return Err(CapacityError::Data {
                file: TESTCASES_TSV.into(),
                line: 0,
                message: format!("no measured {name} cases to estimate other files from"),
            });
        }
    }
    let methods = |suite: &str, skip: &str| -> f64 {
        core.iter()
            .filter(|f| f.suite == suite && !f.path.ends_with(skip))
            .map(|f| f.methods)
            .sum::<f64>()
            .max(1.0)
    };
    let unit_cpm = (unit_cases - scope_cases) as f64 / methods("unit", "/ScopeStructureTest.php");
    let integration_cpm = integration_cases as f64 / methods("integration", "\0");

    // Estimated files: core outside the measured suites, and every extension file.
    let mut rng = SplitMix64::new(ESTIMATE_SEED);
    let mut ext_unit: Vec<(String, f64)> = Vec::new();
    let mut classes: [Vec<(String, f64)>; 2] = [Vec::new(), Vec::new()];
    let mut files_estimated = 0;
    // Cases per kind (unit, integration, database), measured and in all.
    let mut cases_of = [unit_cases, 0, 0];
    let mut repos: Vec<&str> = vec!["mediawiki/core"];
    for f in core
        .iter()
        .filter(|f| f.suite != "unit" && f.suite != "integration")
        .chain(ext.iter())
    {
        if !repos.contains(&f.repo) {
            repos.push(f.repo);
        }
        if f.abstract_ || f.methods == 0.0 {
            continue;
        }
        files_estimated += 1;
        let kind = match (f.database, f.suite) {
            (true, _) => Kind::Database,
            (false, "unit") => Kind::Unit,
            (false, _) => Kind::Integration,
        };
        let (cpm, draw) = match kind {
            Kind::Unit => (unit_cpm, &draw_unit),
            Kind::Integration => (integration_cpm, &draw_integration),
            Kind::Database => (integration_cpm, &draw_database),
        };
        let n = ((f.methods * cpm).round() as usize).max(1);
        cases_of[kind as usize] += n;
        let id = format!("{}/{}", f.repo.rsplit('/').next().unwrap_or(f.repo), f.path);
        match kind {
            Kind::Unit => {
                for i in 0..n {
                    ext_unit.push((format!("{id}::case{i}"), draw[rng.below(draw.len())]));
                }
            }
            Kind::Integration | Kind::Database => {
                let secs: f64 = (0..n).map(|_| draw[rng.below(draw.len())]).sum();
                let at = usize::from(kind == Kind::Database);
                classes[at].push((id, secs));
            }
        }
    }
    for (file, (kind, secs, _)) in &measured_files {
        let at = usize::from(*kind == Kind::Database);
        classes[at].push((format!("core/{file}"), *secs));
    }
    let measured = |kind: Kind| -> usize { measured_files.values().filter(|f| f.0 == kind).map(|f| f.2).sum() };
    let (measured_integration, measured_database) = (measured(Kind::Integration), measured(Kind::Database));
    cases_of[Kind::Integration as usize] += measured_integration;
    cases_of[Kind::Database as usize] += measured_database;
    let [integration, database] = classes;

    let mut stages = Vec::new();
    let mut test_sets = Vec::new();
    // Unit: measured core cases, then the estimated extension cases.
    let (ids, secs): (Vec<String>, Vec<f64>) = ext_unit.into_iter().unzip();
    unit_tests.extend(ids);
    unit_secs.extend(secs);
    stages.push(StageSummary {
        stage: "phpunit-unit".into(),
        cases: cases_of[Kind::Unit as usize],
        measured_cases: unit_cases,
        units: unit_tests.len(),
        secs: unit_secs.iter().sum(),
    });
    test_sets.push(TestSet {
        tests: unit_tests,
        estimates: unit_secs,
        actual: None,
    });
    for (stage, entries, factor, kind, measured) in [
        (
            "phpunit-integration",
            integration,
            1.0,
            Kind::Integration,
            measured_integration,
        ),
        (
            "phpunit-database",
            database,
            params.database_factor,
            Kind::Database,
            measured_database,
        ),
    ] {
        let (tests, secs): (Vec<String>, Vec<f64>) = entries.into_iter().map(|(id, s)| (id, s * factor)).unzip();
        stages.push(StageSummary {
            stage: stage.into(),
            cases: cases_of[kind as usize],
            measured_cases: measured,
            units: tests.len(),
            secs: secs.iter().sum(),
        });
        test_sets.push(TestSet {
            tests,
            estimates: secs,
            actual: None,
        });
    }
    let mut jobs = Vec::new();
    for php in &params.php {
        let labels: BTreeMap<String, String> =
            [("db".to_string(), params.db.clone()), ("php".to_string(), php.clone())]
                .into_iter()
                .collect();
        for (set, (stage, split, overhead)) in [
            ("phpunit-unit", Split::Test, params.unit_overhead),
            ("phpunit-integration", Split::Class, params.integration_overhead),
            ("phpunit-database", Split::Class, params.integration_overhead),
        ]
        .into_iter()
        .enumerate()
        {
            jobs.push(JobModel {
                name: format!("{stage}[db={},php={php}]", params.db),
                labels: labels.clone(),
                split,
                tests: set,
                discover_secs: params.discover_secs,
                overhead,
                planned_with: None,
            });
        }
    }
    let workload = Workload {
        name: format!(
            "MediaWiki gate: core + {} extensions, php {} × {}",
            repos.len() - 1,
            params.php.join("/"),
            params.db
        ),
        mode: Mode::Gate,
        test_sets,
        jobs,
        latency: Latency::default(),
    };
    let summary = MediaWikiSummary {
        params: params.clone(),
        repos: repos.len(),
        stages,
        cases_per_method: (unit_cpm, integration_cpm),
        files_estimated,
    };
    Ok((workload, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: &str = "suite\tfile\tclass\tname\ttime_s\tstatus
unit\ttests/phpunit/unit/ATest.php\tATest\ttestOne\t0.010\tpassed
unit\ttests/phpunit/unit/ATest.php\tATest\ttestTwo\t0.020\tpassed
unit\ttests/phpunit/unit/ScopeStructureTest.php\tScopeStructureTest\ttestScope\t0.002\tpassed
integration\ttests/phpunit/integration/DbTest.php\tDbTest\ttestDb\t0.100\tpassed
integration\ttests/phpunit/integration/PlainTest.php\tPlainTest\ttestPlain\t0.050\tpassed
";
    const HEADER: &str =
        "repo\tpath\tsuite\tsubdir\tn_test_methods\tsize_bytes\tn_dataprovider_uses\tgroup_database\tgroups\tbase_class\tabstract\n";

    fn core() -> String {
        format!(
            "{HEADER}mediawiki/core\ttests/phpunit/unit/ATest.php\tunit\tunit\t2\t1\t0\t0\t\tTestCase\t0
mediawiki/core\ttests/phpunit/unit/ScopeStructureTest.php\tunit\tunit\t1\t1\t1\t0\t\tTestCase\t0
mediawiki/core\ttests/phpunit/integration/DbTest.php\tintegration\tx\t1\t1\t0\t1\tDatabase\tT\t0
mediawiki/core\ttests/phpunit/integration/PlainTest.php\tintegration\tx\t1\t1\t0\t0\t\tT\t0
mediawiki/core\ttests/phpunit/includes/OtherTest.php\tother\tincludes\t3\t1\t0\t1\tDatabase\tT\t0
mediawiki/core\ttests/phpunit/includes/AbstractTest.php\tother\tincludes\t3\t1\t0\t1\tDatabase\tT\t1
"
        )
    }

    fn ext() -> String {
        format!(
            "{HEADER}mediawiki/extensions/Echo\ttests/phpunit/unit/EUnitTest.php\tunit\tunit\t2\t1\t0\t0\t\tT\t0
mediawiki/extensions/Echo\ttests/phpunit/EIntTest.php\tother\t(root)\t4\t1\t0\t0\t\tT\t0
"
        )
    }

    #[test]
    fn the_gate_is_three_stages_per_php_version_with_database_tests_scaled() {
        let params = MediaWikiParams::default();
        let (w, s) = mediawiki_workload(CASES, &core(), &ext(), &params).unwrap();
        assert_eq!(w.jobs.len(), 9);
        assert_eq!(crate::capacity::label_sets(&w).len(), 3);
        assert_eq!(w.test_sets.len(), 3, "jobs of one stage share their tests");
        assert_eq!(s.repos, 2);
        // Unit: 3 measured cases + EUnitTest 2 methods × (2 cases / 2 methods).
        assert_eq!(s.stages[0].cases, 5);
        assert_eq!(s.stages[0].units, 5);
        // Database: DbTest measured 0.1 s, OtherTest 3 cases drawn from 0.1 s; × 3.
        let db = &w.test_sets[2];
        assert_eq!(db.tests.len(), 2, "one entry per class; the abstract class is skipped");
        assert!(
            (s.stages[2].secs - 3.0 * (0.1 + 3.0 * 0.1)).abs() < 1e-9,
            "{}",
            s.stages[2].secs
        );
        // Integration: PlainTest measured 0.05, EIntTest 4 cases of 0.05.
        assert!((s.stages[1].secs - 0.25).abs() < 1e-9, "{}", s.stages[1].secs);
        assert_eq!(w.jobs[2].name, "phpunit-database[db=mysql,php=8.3]");
        assert_eq!(w.jobs[2].split, Split::Class);
    }

    #[test]
    fn bad_data_names_file_and_line() {
        let bad = CASES.replace("0.020", "fast");
        let e = mediawiki_workload(&bad, &core(), &ext(), &MediaWikiParams::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mw-core-testcases.tsv:3: `time_s` is `fast`, not a number ≥ 0"
        );
        let e = mediawiki_workload(CASES, "repo\tpath\n", &ext(), &MediaWikiParams::default()).unwrap_err();
        assert!(e.to_string().contains("no column `suite`"), "{e}");
    }
}
