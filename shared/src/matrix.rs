//! Matrix expansion: a pipeline's axes × stages become jobs, one per (stage, cell).
//! See ../shared/DESIGN.md, "Data flow of one run", step 2.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Pipeline;

/// One cell of the matrix: a value for every axis.
pub type Cell = BTreeMap<String, String>;

/// One job: a stage in one cell, with the agent labels it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub stage: String,
    pub cell: Cell,
    /// Labels an agent must carry, with `{axis}` placeholders filled in.
    pub labels: BTreeMap<String, String>,
}

impl JobSpec {
    /// `unit[db=sqlite,php=8.2]`, or just `unit` for a matrix without axes.
    pub fn display_name(&self) -> String {
        if self.cell.is_empty() {
            return self.stage.clone();
        }
        let cell: Vec<String> = self.cell.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}[{}]", self.stage, cell.join(","))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MatrixError {
    #[error("unknown stage `{stage}` in --only (the pipeline has: {known})")]
    UnknownStage { stage: String, known: String },
    #[error("the selection leaves no job to run")]
    Empty,
    #[error(
        "the matrix expands to {cells} cells × {stages} stages, more than the {MAX_JOBS} jobs one run may have; narrow it with `cells:` per stage, --only or --cell"
    )]
    TooBig { cells: usize, stages: usize },
    #[error("--cell `{given}`: write it AXIS=VALUE, e.g. db=sqlite")]
    BadCell { given: String },
    #[error("--cell `{given}`: the matrix has no axis `{axis}` (it has: {known})")]
    UnknownAxis { given: String, axis: String, known: String },
    #[error("--cell `{given}`: axis `{axis}` has no value `{value}` (it has: {known})")]
    UnknownValue {
        given: String,
        axis: String,
        value: String,
        known: String,
    },
}

/// Keeps the jobs whose cell has, for every axis named in `wanted` (each
/// `AXIS=VALUE`), one of the values named for it.
pub fn only_cells(pipeline: &Pipeline, jobs: Vec<JobSpec>, wanted: &[String]) -> Result<Vec<JobSpec>, MatrixError> {
    if wanted.is_empty() {
        return Ok(jobs);
    }
    let mut allowed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for given in wanted {
        let Some((axis, value)) = given.split_once('=') else {
            return Err(MatrixError::BadCell { given: given.clone() });
        };
        let (axis, value) = (axis.trim(), value.trim());
        let Some((_, values)) = pipeline.axes.iter().find(|(a, _)| a == axis) else {
            let known: Vec<&str> = pipeline.axes.iter().map(|(a, _)| a.as_str()).collect();
            return Err(MatrixError::UnknownAxis {
                given: given.clone(),
                axis: axis.into(),
                known: if known.is_empty() {
                    "no axes".into()
                } else {
                    known.join(", ")
                },
            });
        };
        if !values.iter().any(|v| v == value) {
            return Err(MatrixError::UnknownValue {
                given: given.clone(),
                axis: axis.into(),
                value: value.into(),
                known: values.join(", "),
            });
        }
        allowed.entry(axis).or_default().push(value);
    }
    let kept: Vec<JobSpec> = jobs
        .into_iter()
        .filter(|job| {
            allowed
                .iter()
                .all(|(axis, values)| job.cell.get(*axis).is_some_and(|v| values.contains(&v.as_str())))
        })
        .collect();
    if kept.is_empty() {
        return Err(MatrixError::Empty);
    }
    Ok(kept)
}

/// Every cell of the matrix, in axis-name order with values in file order.
pub fn cells(pipeline: &Pipeline) -> Vec<Cell> {
    cells_of(&pipeline.axes)
}

/// Every cell of these axes.
pub fn cells_of(axes: &[(String, Vec<String>)]) -> Vec<Cell> {
    let mut out = vec![Cell::new()];
    for (axis, values) in axes {
        out = out
            .into_iter()
            .flat_map(|cell| {
                values.iter().map(move |v| {
                    let mut c = cell.clone();
                    c.insert(axis.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    out
}

/// The most jobs one run may expand to: past it, a typo in a matrix (or a hostile
/// pipeline) would have the coordinator build and store millions of jobs.
pub const MAX_JOBS: usize = 10_000;

/// The jobs of a run: each stage (or only those named) in each cell it allows.
pub fn expand(pipeline: &Pipeline, only_stages: &[String]) -> Result<Vec<JobSpec>, MatrixError> {
    let cell_count = pipeline
        .axes
        .iter()
        .fold(1usize, |n, (_, values)| n.saturating_mul(values.len()));
    let stages = pipeline.stages.len();
    if cell_count.saturating_mul(stages) > MAX_JOBS {
        return Err(MatrixError::TooBig {
            cells: cell_count,
            stages,
        });
    }
    for stage in only_stages {
        if !pipeline.stages.iter().any(|s| stage_named(&s.name, stage)) {
            let known: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
            return Err(MatrixError::UnknownStage {
                stage: stage.clone(),
                known: known.join(", "),
            });
        }
    }
    let all_cells = cells(pipeline);
    let mut jobs = Vec::new();
    for stage in &pipeline.stages {
        if !only_stages.is_empty() && !only_stages.iter().any(|n| stage_named(&stage.name, n)) {
            continue;
        }
        for cell in &all_cells {
            if !cell_allowed(&stage.cells, cell) {
                continue;
            }
            let mut labels: BTreeMap<String, String> = stage
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), fill_placeholders(v, cell)))
                .collect();
            // The executor, image and services the stage needs: only agents that have
            // them match.
            labels.extend(stage.runtime.required_labels());
            labels.extend(stage.services_in(cell).into_iter().filter_map(|s| s.required_label()));
            jobs.push(JobSpec {
                stage: stage.name.clone(),
                cell: cell.clone(),
                labels,
            });
        }
    }
    if jobs.is_empty() {
        return Err(MatrixError::Empty);
    }
    Ok(jobs)
}

/// Whether `--run NAME` / `--skip NAME` means `stage`: the stage of that name, and
/// the stages of its group `NAME.PART` — Quibble's `phpunit` is both of its passes,
/// `phpunit.databaseless` and `phpunit.database`.
pub fn stage_named(stage: &str, name: &str) -> bool {
    stage == name || stage.strip_prefix(name).is_some_and(|rest| rest.starts_with('.'))
}

/// Whether a stage's `cells` (allowed values per axis) let it run in `cell`.
pub fn cell_allowed(allowed: &BTreeMap<String, Vec<String>>, cell: &Cell) -> bool {
    allowed
        .iter()
        .all(|(axis, values)| cell.get(axis).is_some_and(|v| values.contains(v)))
}

/// `{axis}` in `value` replaced by the cell's value of that axis.
pub fn fill_placeholders(value: &str, cell: &Cell) -> String {
    let mut out = value.to_string();
    for (axis, v) in cell {
        out = out.replace(&format!("{{{axis}}}"), v);
    }
    out
}

/// Whether an agent's labels satisfy a job's required labels.
pub fn labels_match(required: &BTreeMap<String, String>, agent: &BTreeMap<String, String>) -> bool {
    required.iter().all(|(k, v)| agent.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_name_selects_its_group() {
        assert!(stage_named("phpunit", "phpunit"));
        assert!(stage_named("phpunit.database", "phpunit"));
        assert!(!stage_named("phpunit-unit", "phpunit"), "another stage, not a part");
        assert!(!stage_named("phpunit", "phpunit.database"));
        assert!(stage_named("phpunit.database", "phpunit.database"));
    }
    use crate::config::parse_pipeline;

    const PIPELINE: &str = r#"
pipeline: m
matrix:
  php: ["8.2", "8.3"]
  db: [sqlite, mysql]
stages:
  lint:
    discover: ls
    each: "true"
    cells: { php: ["8.3"], db: [sqlite] }
  unit:
    discover: ls
    run: ./run
    labels: { php: "php{php}" }
"#;

    #[test]
    fn stages_times_allowed_cells() {
        let p = parse_pipeline(PIPELINE, "f").unwrap();
        let jobs = expand(&p, &[]).unwrap();
        assert_eq!(jobs.len(), 1 + 4);
        assert_eq!(jobs[0].display_name(), "lint[db=sqlite,php=8.3]");
        assert_eq!(jobs[1].labels["php"], "php8.2");
        assert_eq!(jobs[1].display_name(), "unit[db=sqlite,php=8.2]");
    }

    #[test]
    fn only_filters_and_checks_stage_names() {
        let p = parse_pipeline(PIPELINE, "f").unwrap();
        assert_eq!(expand(&p, &["lint".into()]).unwrap().len(), 1);
        let e = expand(&p, &["selenium".into()]).unwrap_err();
        assert!(e.to_string().contains("unknown stage `selenium`"));
    }

    #[test]
    fn a_matrix_past_the_job_cap_is_refused_before_it_is_built() {
        let values: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
        let axes = ["a", "b", "c"]
            .iter()
            .map(|a| format!("  {a}: [{}]\n", values.join(", ")))
            .collect::<String>();
        let text = format!("pipeline: m\nmatrix:\n{axes}stages:\n  unit:\n    discover: ls\n    run: ./run\n");
        let p = parse_pipeline(&text, "f").unwrap();
        let e = expand(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("1000000 cells") && e.contains("10000 jobs"), "{e}");
    }

    #[test]
    fn cells_narrow_the_matrix_and_name_what_is_wrong() {
        let p = parse_pipeline(PIPELINE, "f").unwrap();
        let all = || expand(&p, &[]).unwrap();
        let sqlite = only_cells(&p, all(), &["db=sqlite".into()]).unwrap();
        assert_eq!(sqlite.len(), 3, "lint's one cell and unit's two on sqlite");
        assert!(sqlite.iter().all(|j| j.cell["db"] == "sqlite"));
        let both = only_cells(&p, all(), &["php=8.2".into(), "php=8.3".into(), "db=mysql".into()]).unwrap();
        assert_eq!(both.len(), 2, "values of one axis are alternatives, axes all hold");
        assert_eq!(only_cells(&p, all(), &[]).unwrap().len(), 5);
        let e = only_cells(&p, all(), &["os=debian".into()]).unwrap_err().to_string();
        assert!(
            e.contains("no axis `os`") && e.contains("php, db") || e.contains("db, php"),
            "{e}"
        );
        let e = only_cells(&p, all(), &["db=oracle".into()]).unwrap_err().to_string();
        assert!(e.contains("no value `oracle`") && e.contains("sqlite, mysql"), "{e}");
        let e = only_cells(&p, all(), &["sqlite".into()]).unwrap_err().to_string();
        assert!(e.contains("AXIS=VALUE"), "{e}");
        let lint_mysql = only_cells(&p, expand(&p, &["lint".into()]).unwrap(), &["db=mysql".into()]);
        assert!(matches!(lint_mysql, Err(MatrixError::Empty)));
    }

    #[test]
    fn executor_and_image_become_labels() {
        let text = r#"
pipeline: m
stages:
  host:
    discover: ls
    each: "true"
  boxed:
    discover: ls
    each: "true"
    image: php82
  container:
    discover: ls
    run: ./run
    executor: docker
    image: php82
    labels: { db: sqlite }
"#;
        let p = parse_pipeline(text, "f").unwrap();
        let jobs = expand(&p, &[]).unwrap();
        let labels = |stage: &str| -> Vec<String> {
            let job = jobs.iter().find(|j| j.stage == stage).unwrap();
            job.labels.iter().map(|(k, v)| format!("{k}={v}")).collect()
        };
        assert_eq!(labels("host"), Vec::<String>::new(), "a host sandbox needs nothing");
        assert_eq!(labels("boxed"), ["executor.sandbox=yes", "image.php82=yes"]);
        assert_eq!(
            labels("container"),
            ["db=sqlite", "executor.docker=yes", "image.php82=yes"]
        );
    }

    #[test]
    fn labels_must_all_match() {
        let req: BTreeMap<_, _> = [("php".to_string(), "8.2".to_string())].into();
        let mut agent = BTreeMap::new();
        assert!(!labels_match(&req, &agent));
        agent.insert("php".to_string(), "8.2".to_string());
        agent.insert("os".to_string(), "linux".to_string());
        assert!(labels_match(&req, &agent));
    }
}
