//! `farm logs RUN TASK -f` on real coordinator and agent processes: the log of a
//! running shard reaches its follower while the shard runs, in order, whole (byte
//! for byte the agent's own log), and the follower exits once the shard is done;
//! after the run the same log reads back, and without TASK every task's lines come
//! with their task's prefix.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testfarm_integration::{farm_bin, fixture, Farm, Options};

#[test]
fn a_followed_log_arrives_while_the_shard_runs_in_order_and_whole() {
    let mut farm = Farm::start("logs", Options::default());
    let url = farm.url();
    let run_id = farm.submit_no_wait(&fixture("logs"), &[]);
    farm.wait_until("a shard is leased", Duration::from_secs(30), |f| {
        f.status()["leases"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["task"].as_str().is_some_and(|t| t.contains(".s"))))
    });
    let status = farm.status();
    let task = status["leases"]
        .as_array()
        .and_then(|l| l.iter().find_map(|l| l["task"].as_str().filter(|t| t.contains(".s"))))
        .expect("a leased shard")
        .to_string();

    let started = Instant::now();
    let mut child = Command::new(farm_bin())
        .args(["logs", &run_id, &task, "-f", "--coordinator", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn farm logs");
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        lines.push((started.elapsed(), line.unwrap()));
    }
    let status = child.wait().unwrap();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(status.success(), "farm logs -f: {stderr}");
    let followed = started.elapsed();

    // The agent's own log of the task, byte for byte.
    let attempt_dir = format!("{task}-a1");
    let (_, path) = farm
        .task_files("log.txt")
        .into_iter()
        .find(|(_, p)| p.parent().is_some_and(|d| d.ends_with(&attempt_dir)))
        .expect("the agent's log of the task");
    let agent_log = std::fs::read_to_string(&path).unwrap();
    let got: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    assert_eq!(got, agent_log, "the followed log is the agent's, whole and in order");
    let numbered: Vec<&str> = lines
        .iter()
        .map(|(_, l)| l.as_str())
        .filter(|l| l.contains(" line "))
        .collect();
    assert_eq!(numbered.len(), 15, "{got}");
    for (i, line) in numbered.iter().enumerate() {
        assert!(
            line.ends_with(&format!(" line {}", i + 1)),
            "out of order at {i}: {got}"
        );
    }
    // Lines came as they were written, not at the end: the first well before the last.
    let first = lines.iter().find(|(_, l)| l.ends_with(" line 1")).unwrap().0;
    let last = lines.iter().find(|(_, l)| l.ends_with(" line 15")).unwrap().0;
    assert!(
        last - first >= Duration::from_millis(1500),
        "lines arrived together ({first:?} .. {last:?}): not followed live"
    );
    assert!(!stderr.contains("has no end"), "{stderr}");

    // After the run: the same log, and every task's lines with their prefix.
    let rec = farm.watch(&run_id);
    assert_eq!(rec.code, 0, "{}", rec.stderr);
    let again = farm.farm(&["logs", &run_id, &task, "--coordinator", &url]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, agent_log);
    let all = farm.farm(&["logs", &run_id, "--coordinator", &url]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    for test in ["talk-a", "talk-b"] {
        let mine: Vec<&str> = all
            .stdout
            .lines()
            .filter(|l| l.contains(&format!("{test} line ")))
            .collect();
        assert_eq!(mine.len(), 15, "{}", all.stdout);
        let prefix = mine[0].split("| ").next().unwrap();
        assert!(
            prefix.starts_with('j') && mine.iter().all(|l| l.starts_with(&format!("{prefix}| "))),
            "{}",
            all.stdout
        );
    }
    // Every task followed from the submit on, each as it starts, to the verdict.
    let second = farm.submit_no_wait(&fixture("logs"), &[]);
    let all = farm.farm(&["logs", &second, "-f", "--coordinator", &url]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    for test in ["talk-a", "talk-b"] {
        let mine = all
            .stdout
            .lines()
            .filter(|l| l.contains(&format!("{test} line ")))
            .count();
        assert_eq!(mine, 15, "{}", all.stdout);
    }
    let unknown = farm.farm(&["logs", &run_id, "j9.s9", "--coordinator", &url]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains(&format!("no task `{run_id}.j9.s9`")),
        "{}",
        unknown.stderr
    );
    eprintln!(
        "farm logs -f: {} lines, first {:.2}s and last {:.2}s after the follower started, exit {:.2}s",
        lines.len(),
        first.as_secs_f64(),
        last.as_secs_f64(),
        followed.as_secs_f64()
    );
}

/// A test that floods its output (8 MiB) on agents with `--task-log-cap 1MiB`: the
/// agent keeps the log's first MiB and its last 64 KiB, the report's log tail ends
/// with the line naming the cap and what was left out, and the test's own last
/// words are there to read.
#[test]
fn a_flooding_test_is_cut_at_the_task_log_cap_and_the_report_names_it() {
    let mut farm = Farm::start(
        "logcap",
        Options {
            agents: 1,
            agent_args: vec!["--task-log-cap", "1MiB"],
            ..Options::default()
        },
    );
    let out = farm.submit(&fixture("flood"), &[]);
    assert_eq!(out.code, 1, "the flooding test fails: {}", out.stderr);
    let rec = out.json();
    let shard = testfarm_integration::record::shard_tasks(&rec)
        .into_iter()
        .next()
        .expect("the shard");
    let tail = shard["outcome"]["log_tail"].as_str().unwrap_or_default();
    assert!(tail.contains("the last words"), "{tail}");
    let closing = tail.trim_end().lines().last().unwrap_or_default();
    assert!(
        closing.contains("log capped at 1.0 MiB per task") && closing.contains("of output were left out"),
        "{closing}"
    );
    let (_, log) = farm
        .task_files("log.txt")
        .into_iter()
        .find(|(_, p)| p.to_string_lossy().contains(".s"))
        .expect("the shard's log");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size < (1 << 20) + (80 << 10), "{size} bytes of an 8 MiB output kept");
    eprintln!("8 MiB of output, cap 1 MiB: {size} bytes kept; report: {closing}");
}
