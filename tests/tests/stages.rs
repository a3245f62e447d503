//! What a stage asks of its agents besides a command, through real coordinator and
//! agent processes: an install step run once per agent and cell, database services
//! (SQLite files, real PostgreSQL and MariaDB servers the agent starts) with a copy of the
//! install's database for every task, and tools that must be there.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use testfarm_integration::record::{self, summary};
use testfarm_integration::{fixture, Farm, Options};

/// The testfarm databases on a server an agent started (`postgres` or `mysql`), by name.
fn server_databases(agent_dir: &Path, kind: &str) -> Vec<String> {
    let sock = agent_dir.join("services").join(kind).join("sock");
    let out = match kind {
        "postgres" => Command::new("psql")
            .args([
                "-h",
                &sock.display().to_string(),
                "-U",
                "farm",
                "-d",
                "postgres",
                "-qXtAc",
            ])
            .arg("SELECT datname FROM pg_database WHERE datname LIKE 'farm_%' ORDER BY 1")
            .output(),
        _ => Command::new("mariadb")
            .arg(format!("--socket={}", sock.join("mysqld.sock").display()))
            .args(["-u", "root", "-N", "-B", "-e", "SHOW DATABASES LIKE 'farm\\_%'"])
            .output(),
    }
    .expect("run the database client (apt-get install postgresql mariadb-client)");
    assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

#[test]
fn the_install_runs_once_per_agent_and_cell_and_every_task_gets_its_own_copy() {
    let mut farm = Farm::start("install", Options::default());
    let out = farm.submit(&fixture("install"), &[]);
    let rec = out.json();
    assert_eq!(out.code, 0, "{}", summary(&rec));
    // Every test passed in both cells: each checked its install, its seeded copy of the
    // database (for postgres: the database it is connected to is FARM_DB_NAME), and
    // that no other task wrote to that copy.
    let results = record::results(&rec);
    assert_eq!(results.len(), 3 * 6, "{}", summary(&rec));
    assert!(results.iter().all(|r| r.status == "passed"), "{}", summary(&rec));

    // One install per (agent, cell) that ran a task of the cell: each install wrote
    // the cell and task it ran for into its directory (a second run of it would have
    // started from an empty one, and its task reported cold too); the agents say
    // which tasks found it made.
    let mut installs = String::new();
    for agent in 0..2 {
        let root = farm.agent_work_dir(agent).join("installs");
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path().join("files/made-by")) {
                installs.push_str(&text);
            }
        }
    }
    assert!(!installs.is_empty(), "the install ran");
    let mut by_cell: BTreeMap<&str, usize> = BTreeMap::new();
    for line in installs.lines() {
        *by_cell.entry(line.split(' ').next().unwrap()).or_default() += 1;
    }
    let jobs = rec["run"]["jobs"].as_array().unwrap();
    let mut cold: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut warm = 0;
    for t in record::tasks(&rec) {
        let db = jobs[t["job"].as_u64().unwrap() as usize]["spec"]["cell"]["db"]
            .as_str()
            .unwrap()
            .to_string();
        match t["outcome"]["usage"]["install_warm"].as_bool() {
            Some(false) => {
                *cold
                    .entry((t["done_by"].as_str().unwrap().to_string(), db))
                    .or_default() += 1
            }
            Some(true) => warm += 1,
            None => panic!("task {} says nothing of its install", t["id"]),
        }
    }
    assert!(cold.values().all(|n| *n == 1), "{cold:?}");
    assert_eq!(cold.len(), installs.lines().count(), "{installs}");
    for db in ["sqlite", "postgres", "mysql"] {
        let n = by_cell.get(db).copied().unwrap_or(0);
        assert!((1..=2).contains(&n), "{db}: {n} installs on 2 agents\n{installs}");
    }
    assert!(
        warm >= 2,
        "tasks after the first on an agent find the install warm ({warm})"
    );

    // The tasks' databases are gone; the installs' stay as templates for the next.
    let mut servers = 0;
    for agent in 0..2 {
        let dir = farm.agent_work_dir(agent);
        for kind in ["postgres", "mysql"] {
            if !dir.join("services").join(kind).join("sock").is_dir() {
                continue;
            }
            servers += 1;
            let dbs = server_databases(&dir, kind);
            assert!(
                dbs.iter().all(|d| d.starts_with("farm_i_")),
                "agent {agent} {kind}: {dbs:?}"
            );
            assert_eq!(dbs.len(), 1, "agent {agent} {kind}: {dbs:?}");
        }
    }
    assert!(servers >= 2, "both servers ran somewhere ({servers})");
    eprintln!(
        "install: {} installs for {} tasks ({warm} warm): {by_cell:?}",
        cold.len(),
        record::tasks(&rec).len()
    );
}

/// Runs `fixture` with `args` on a fresh farm and returns the message of the run, which
/// must end in error (exit 2) with no test result at all.
fn message_of_a_run_in_error(tag: &str, fixture_name: &str, args: &[&str]) -> String {
    let mut farm = Farm::start(tag, Options::default());
    let out = farm.submit(&fixture(fixture_name), args);
    let rec = out.json();
    assert_eq!(out.code, 2, "{}", summary(&rec));
    assert_eq!(record::verdict(&rec), "error");
    assert_eq!(record::results(&rec).len(), 0, "no test ran: {}", summary(&rec));
    rec["run"]["message"].as_str().unwrap().to_string()
}

#[test]
fn a_failing_install_ends_the_run_and_says_so() {
    let message = message_of_a_run_in_error("install-fails", "install", &["--env", "INSTALL_FAIL=1"]);
    assert!(
        message.contains("install step `sh install.sh` failed (exit code 3)"),
        "{message}"
    );
    assert!(
        message.contains("failing on purpose"),
        "the install's own words: {message}"
    );
}

#[test]
fn a_stage_whose_tool_is_missing_ends_the_run_naming_the_tool() {
    let message = message_of_a_run_in_error("tools-missing", "tools_missing", &[]);
    assert!(
        message.contains("stage `node` needs `farm-no-such-tool`, not found on this agent"),
        "{message}"
    );
    assert!(!message.contains("`sh`"), "only the missing tool is named: {message}");
}
