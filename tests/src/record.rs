//! Readers of the run record that `farm submit --json` / `farm watch --json` print:
//! `{"run": {...}, "tasks": [...]}`.

use serde_json::Value;

pub fn run(record: &Value) -> &Value {
    &record["run"]
}

pub fn verdict(record: &Value) -> &str {
    record["run"]["verdict"].as_str().unwrap_or("<none>")
}

pub fn count(record: &Value, name: &str) -> u64 {
    record["run"]["counts"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counts.{name} in the run record"))
}

pub fn tasks(record: &Value) -> &[Value] {
    record["tasks"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

pub fn task<'a>(record: &'a Value, id: &str) -> &'a Value {
    tasks(record)
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no task {id} in the run record"))
}

/// Tasks that run tests (not discovery).
pub fn shard_tasks(record: &Value) -> Vec<&Value> {
    tasks(record)
        .iter()
        .filter(|t| t["work"].get("shard").is_some())
        .collect()
}

/// The shard tasks in the order they were leased.
pub fn shards_in_lease_order(record: &Value) -> Vec<&Value> {
    let mut shards = shard_tasks(record);
    shards.sort_by(|a, b| {
        a["leased_ms"]
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b["leased_ms"].as_f64().unwrap_or(0.0))
    });
    shards
}

/// The display name of job `index`, e.g. `unit[shell=sh]`, as the coordinator
/// writes it in `failed_tests`.
pub fn job_name(record: &Value, index: u64) -> String {
    let spec = &record["run"]["jobs"][index as usize]["spec"];
    let stage = spec["stage"].as_str().unwrap_or("?");
    let cell = spec["cell"].as_object().cloned().unwrap_or_default();
    if cell.is_empty() {
        stage.to_string()
    } else {
        let axes: Vec<String> = cell
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
            .collect();
        format!("{stage}[{}]", axes.join(","))
    }
}

/// One test result with where it came from.
#[derive(Debug, Clone)]
pub struct TestRow {
    pub task: String,
    pub job: u64,
    pub id: String,
    pub status: String,
    pub duration_secs: f64,
}

/// Every test result of every task.
pub fn results(record: &Value) -> Vec<TestRow> {
    let mut rows = Vec::new();
    for t in tasks(record) {
        for r in t["outcome"]["results"].as_array().into_iter().flatten() {
            rows.push(TestRow {
                task: t["id"].as_str().unwrap_or("?").into(),
                job: t["job"].as_u64().unwrap_or(u64::MAX),
                id: r["id"].as_str().unwrap_or("?").into(),
                status: r["status"].as_str().unwrap_or("?").into(),
                duration_secs: r["duration_secs"].as_f64().unwrap_or(f64::NAN),
            });
        }
    }
    rows
}

/// A short human summary for assertion messages.
pub fn summary(record: &Value) -> String {
    let run = &record["run"];
    let mut s = format!(
        "run {} verdict {} message {:?} counts {} failed_tests {}\n",
        run["id"], run["verdict"], run["message"], run["counts"], run["failed_tests"]
    );
    for t in tasks(record) {
        s.push_str(&format!(
            "  {} state {} attempt {} lost_on {} done_by {} exit {}\n",
            t["id"].as_str().unwrap_or("?"),
            t["state"]["state"],
            t["attempt"],
            t["lost_on"],
            t["done_by"],
            t["outcome"]["exit"]
        ));
    }
    s
}

/// The run's `failed_tests` (`JOB TEST`, in the order they were reported).
pub fn failed_tests(record: &Value) -> Vec<&str> {
    record["run"]["failed_tests"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
