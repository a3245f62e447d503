//! The agent's sandbox seen from outside: a test beyond its stage's memory limit is
//! reported as killed at the limit, and a test past its timeout is killed with every
//! process it started.

use std::time::Duration;

use testfarm_integration::record::{self, summary};
use testfarm_integration::{alive, fixture, Farm, Options};

#[test]
fn memory_limit_is_reported_as_killed() {
    let mut farm = Farm::start("mem-limit", Options::default());
    let out = farm.submit(&fixture("memory_limit"), &[]);
    let rec = out.json();
    assert_eq!(out.code, 1, "exit code; {}", summary(&rec));
    assert_eq!(record::verdict(&rec), "failed", "{}", summary(&rec));

    let rows = record::results(&rec);
    let hog = rows
        .iter()
        .find(|r| r.id == "hog.sh")
        .unwrap_or_else(|| panic!("no result for hog.sh; {}", summary(&rec)));
    assert_eq!(hog.status, "memory_limit", "{}", summary(&rec));
    let task = record::task(&rec, &hog.task);
    let o = &task["outcome"];
    assert_eq!(o["exit"]["kind"], "memory_limit", "task {}", hog.task);
    assert_eq!(o["usage"]["cgroup"], true);
    let peak = o["usage"]["peak_memory_bytes"].as_u64().unwrap_or(0);
    assert!(
        peak > 32 << 20 && peak <= 64 << 20,
        "peak memory {peak} bytes: expected close to, and not above, the 64MiB limit"
    );

    let small = rows
        .iter()
        .find(|r| r.id == "small.sh")
        .unwrap_or_else(|| panic!("no result for small.sh; {}", summary(&rec)));
    assert_ne!(small.task, hog.task, "the neighbour ran in its own shard");
    assert_eq!(small.status, "passed", "{}", summary(&rec));
    assert_eq!(rows.len(), 2);
    assert_eq!(record::count(&rec, "tests_failed"), 1);
    assert_eq!(record::count(&rec, "tests_passed"), 1);
    assert!(
        rec["run"]["failed_tests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().ends_with(" hog.sh")),
        "{}",
        summary(&rec)
    );
    eprintln!(
        "memory limit: hog.sh killed at peak {:.1}MiB after {:.2}s",
        peak as f64 / (1 << 20) as f64,
        o["phases"]["run_secs"].as_f64().unwrap_or(f64::NAN)
    );
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let mut farm = Farm::start("timeout", Options::default());
    let out = farm.submit(&fixture("timeout"), &[]);
    let rec = out.json();
    assert_eq!(out.code, 1, "exit code; {}", summary(&rec));
    assert_eq!(record::verdict(&rec), "failed", "{}", summary(&rec));

    let rows = record::results(&rec);
    assert_eq!(rows.len(), 1, "{}", summary(&rec));
    let hang = &rows[0];
    assert_eq!(hang.id, "hang.sh");
    assert_eq!(hang.status, "timed_out", "{}", summary(&rec));
    let task = record::task(&rec, &hang.task);
    let o = &task["outcome"];
    assert_eq!(o["exit"]["kind"], "timed_out", "task {}", hang.task);
    let run_secs = o["phases"]["run_secs"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (1.9..15.0).contains(&run_secs),
        "killed after {run_secs}s; the stage timeout is 2s"
    );

    // The test's background `sleep 300` must have died with it.
    let pid_files = farm.task_files("bg.pid");
    assert_eq!(
        pid_files.len(),
        1,
        "expected one bg.pid in the agents' task dirs, found {pid_files:?}"
    );
    let text = std::fs::read_to_string(&pid_files[0].1).unwrap();
    let pid: i32 = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("bg.pid holds {text:?}: {e}"));
    // The agent kills the group before it reports, so this holds at once; a short
    // grace only covers the kernel finishing the kill.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(pid),
        "the background sleep (pid {pid}) outlived the timed-out test"
    );
    eprintln!(
        "timeout: hang.sh killed after {run_secs:.2}s, `farm submit` took {:.2}s",
        out.elapsed.as_secs_f64()
    );
}
