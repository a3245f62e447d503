//! The operator's verbs on real coordinator and agent processes. `farm cancel`: a run
//! whose shards are running ends at once with the verdict `cancelled` and the reason
//! given, its shards' processes (background children too) are killed on their agents
//! within a heartbeat, no result counts after, its followers exit with it, and the
//! slots are free for the next run. `farm drain`, `farm rerun --failed` and
//! `farm quarantine` likewise, each through the CLI as an operator would.

use std::time::{Duration, Instant};

use testfarm_integration::record::{self, summary};
use testfarm_integration::{fixture, Farm, Options};

fn pids(path: &std::path::Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// `farm ARGS` exits 2 and says `why` on stderr.
fn refused(farm: &mut Farm, args: &[&str], why: &str) {
    let out = farm.farm(args);
    assert_eq!(out.code, 2, "farm {}: {}", args.join(" "), out.stderr);
    assert!(out.stderr.contains(why), "farm {}: {}", args.join(" "), out.stderr);
}

fn alive(pid: u32) -> bool {
    // A zombie has been killed; only its parent's reaping is left.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

#[test]
fn a_cancelled_run_stops_its_shards_on_the_agents_and_ends_cancelled() {
    let mut farm = Farm::start("cancel", Options::default());
    let url = farm.url();
    let pid_file = farm.dir().join("pids.txt");
    let env = format!("CANCEL_PIDS={}", pid_file.display());
    let run_id = farm.submit_no_wait(&fixture("cancel"), &["--env", &env]);
    // Four slots: four tests running, each a shell and its background sleep.
    farm.wait_until("four tests running", Duration::from_secs(30), |_| {
        pids(&pid_file).len() >= 8
    });
    let running = pids(&pid_file);
    assert!(running.iter().all(|&p| alive(p)), "{running:?}");
    // The operator's view: four leases of the run on the two agents, the rest queued.
    let status = farm.status();
    let leases = status["leases"].as_array().cloned().unwrap_or_default();
    assert_eq!(leases.len(), 4, "{status}");
    assert!(leases.iter().all(|l| l["run"] == run_id.as_str()), "{status}");
    let on: std::collections::BTreeSet<&str> = leases.iter().filter_map(|l| l["agent"].as_str()).collect();
    assert_eq!(on.len(), 2, "{status}");
    let queued = status["queue_head"].as_array().cloned().unwrap_or_default();
    assert_eq!(queued.len(), 4, "8 tests, 4 running: {status}");
    let text = farm.farm(&["status", "--coordinator", &url]);
    assert!(
        text.stdout.contains("leases: 4") && text.stdout.contains("queue (first 4 of 4)"),
        "{}",
        text.stdout
    );

    let cancelled_at = Instant::now();
    let out = farm.farm(&[
        "cancel",
        &run_id,
        "--reason",
        "superseded by patch set 2",
        "--coordinator",
        &url,
    ]);
    assert_eq!(out.code, 0, "farm cancel: {}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("{run_id} cancelled"));
    farm.wait_until(
        "every process of the run's shards gone",
        Duration::from_secs(10),
        |_| running.iter().all(|&p| !alive(p)),
    );
    let stopped_after = cancelled_at.elapsed();

    let watched = farm.watch(&run_id);
    let rec = watched.json();
    assert_eq!(watched.code, 2, "a cancelled run is no pass: {}", watched.stderr);
    assert_eq!(record::verdict(&rec), "cancelled", "{}", summary(&rec));
    assert_eq!(rec["run"]["message"], "cancelled: superseded by patch set 2");
    assert!(
        record::results(&rec).is_empty(),
        "no result counts after the cancel: {}",
        summary(&rec)
    );
    let shards = record::shard_tasks(&rec);
    assert_eq!(shards.len(), 8, "{}", summary(&rec));
    for t in &shards {
        assert_eq!(t["state"]["state"], "cancelled", "{}", summary(&rec));
    }
    // No new test started after the cancel.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(pids(&pid_file), running, "a cancelled run's queued tests never start");

    let again = farm.farm(&["cancel", &run_id, "--coordinator", &url]);
    assert_eq!(again.code, 0);
    assert!(again.stderr.contains("had already ended"), "{}", again.stderr);
    refused(&mut farm, &["cancel", "r999999", "--coordinator", &url], "r999999");

    // The slots are free: the next run does not wait for the killed minute-long tests.
    let next = farm.submit(&fixture("tiny"), &[]);
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert!(
        next.elapsed < Duration::from_secs(30),
        "next run took {:?}",
        next.elapsed
    );
    eprintln!(
        "farm cancel: {} processes of 4 running shards gone {:.2}s after the cancel; next run {:.1}s",
        running.len(),
        stopped_after.as_secs_f64(),
        next.elapsed.as_secs_f64()
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn agent_status(farm: &mut Farm, id: &str) -> serde_json::Value {
    let status = farm.status();
    status["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == id).cloned())
        .unwrap_or_else(|| panic!("agent {id} not in the status: {status}"))
}

#[test]
fn a_drained_agent_finishes_what_it_holds_and_takes_nothing_new() {
    let mut farm = Farm::start("drain", Options::default());
    let (a0, a1) = (farm.agent_id(0).to_string(), farm.agent_id(1).to_string());
    let url = farm.url();

    // Drained before a run: the run goes wholly to the other agent.
    let out = farm.farm(&["drain", &a0, "--coordinator", &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&format!("{a0} drained")), "{}", out.stdout);
    assert_eq!(agent_status(&mut farm, &a0)["drained"], true);
    let rec = farm.submit(&fixture("tiny"), &[]).json();
    assert_eq!(record::verdict(&rec), "passed", "{}", summary(&rec));
    for t in record::tasks(&rec) {
        assert_eq!(t["done_by"], a1.as_str(), "a drained agent was leased {}", t["id"]);
    }
    let out = farm.farm(&["drain", &a0, "--undrain", "--coordinator", &url]);
    assert!(out.stdout.contains("undrained"), "{}", out.stdout);
    assert_eq!(agent_status(&mut farm, &a0)["drained"], false);

    // Drained mid-run: what it holds finishes there, everything after goes elsewhere.
    let run_id = farm.submit_no_wait(&fixture("drain"), &[]);
    farm.wait_until("the agent runs a shard", Duration::from_secs(20), |f| {
        agent_status(f, &a0)["running"].as_u64().unwrap_or(0) > 0
    });
    let out = farm.farm(&["drain", &a0, "--coordinator", &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let drained_ms = now_ms();
    let rec = farm.watch(&run_id).json();
    assert_eq!(record::verdict(&rec), "passed", "{}", summary(&rec));
    let tasks = record::tasks(&rec);
    let on_drained: Vec<&serde_json::Value> = tasks.iter().filter(|t| t["done_by"] == a0.as_str()).collect();
    assert!(!on_drained.is_empty(), "the drained agent finished what it held");
    for t in &on_drained {
        let leased = t["leased_ms"].as_u64().unwrap_or(u64::MAX);
        assert!(
            leased <= drained_ms,
            "{} leased to the drained agent after the drain",
            t["id"]
        );
    }
    assert!(
        tasks
            .iter()
            .any(|t| t["done_by"] == a1.as_str() && t["leased_ms"].as_u64() > Some(drained_ms)),
        "the rest went to the other agent: {}",
        summary(&rec)
    );

    refused(
        &mut farm,
        &["drain", "no-such-agent", "--coordinator", &url],
        "no agent `no-such-agent`",
    );
    eprintln!(
        "farm drain: {} of {} shards finished on the drained agent, all leased before the drain",
        on_drained.len(),
        tasks.len()
    );
}

#[test]
fn rerun_failed_runs_only_the_failed_tests_on_the_same_tree() {
    use testfarm_integration::quickstart::quickstart_yaml;
    let mut farm = Farm::start("rerun", Options::default());
    let url = farm.url();
    let first = farm.submit(&quickstart_yaml(), &["--env", "QUICKSTART_FAIL=1"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let old = first.json();
    let old_id = record::run(&old)["id"].as_str().unwrap().to_string();
    let failed: std::collections::BTreeSet<(u64, String)> = record::results(&old)
        .iter()
        .filter(|r| r.status == "failed" || r.status == "error")
        .map(|r| (r.job, r.id.clone()))
        .collect();
    assert!(!failed.is_empty(), "{}", summary(&old));

    // Only the failures, each in its job; the environment (QUICKSTART_FAIL) goes with
    // the tree, so they fail again.
    let out = farm.farm(&["rerun", &old_id, "--failed", "--json", "--coordinator", &url]);
    assert_eq!(out.code, 1, "the failures fail again: {}", out.stderr);
    let rec = out.json();
    let rerun: std::collections::BTreeSet<(u64, String)> =
        record::results(&rec).iter().map(|r| (r.job, r.id.clone())).collect();
    let names = |set: &std::collections::BTreeSet<(u64, String)>, rec: &serde_json::Value| -> Vec<String> {
        set.iter()
            .map(|(job, id)| format!("{} {id}", record::job_name(rec, *job)))
            .collect()
    };
    assert_eq!(names(&rerun, &rec), names(&failed, &old), "{}", summary(&rec));
    assert!(
        record::results(&rec).iter().all(|r| r.status == "failed"),
        "{}",
        summary(&rec)
    );

    // The whole run again: every test.
    let whole = farm.farm(&["rerun", &old_id, "--json", "--coordinator", &url]);
    assert_eq!(whole.code, 1);
    assert_eq!(record::results(&whole.json()).len(), record::results(&old).len());

    // A passing run has nothing to rerun; an unknown run is named.
    let passed = farm.submit(&fixture("tiny"), &[]).json();
    let passed_id = record::run(&passed)["id"].as_str().unwrap().to_string();
    refused(
        &mut farm,
        &["rerun", &passed_id, "--failed", "--coordinator", &url],
        "no failed test to rerun",
    );
    refused(
        &mut farm,
        &["rerun", "r999999", "--coordinator", &url],
        "no run `r999999`",
    );
    eprintln!(
        "farm rerun --failed: {} of {} tests rerun, in {} jobs",
        rerun.len(),
        record::results(&old).len(),
        rerun
            .iter()
            .map(|(j, _)| j)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
}

#[test]
fn a_quarantined_test_still_runs_and_reports_but_does_not_fail_the_gate() {
    let mut farm = Farm::start("quarantine", Options::default());
    let url = farm.url();
    let pipeline = fixture("junit");
    let first = farm.submit(&pipeline, &[]);
    assert_eq!(first.code, 1, "fails.sh and Calc::testDivide fail: {}", first.stderr);

    // A test by its id, and a whole class.
    for (test, reason) in [("fails.sh", "flaky, T1"), ("Calc", "division is being rewritten")] {
        let out = farm.farm(&[
            "quarantine",
            "add",
            test,
            "--project",
            "it-junit",
            "--reason",
            reason,
            "--coordinator",
            &url,
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("quarantined"), "{}", out.stdout);
    }
    let listed = farm
        .farm(&["quarantine", "list", "--json", "--coordinator", &url])
        .json();
    let listed = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["test"], "Calc");
    assert_eq!(listed[1]["reason"], "flaky, T1");
    assert!(
        listed[0]["since"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{listed:?}"
    );

    let second = farm.submit(&pipeline, &[]);
    assert_eq!(
        second.code, 0,
        "quarantined failures do not fail the run: {}",
        second.stderr
    );
    let rec = second.json();
    assert_eq!(record::verdict(&rec), "passed", "{}", summary(&rec));
    assert_eq!(record::count(&rec, "tests_excused"), 2, "{}", summary(&rec));
    assert_eq!(record::count(&rec, "tests_failed"), 0, "{}", summary(&rec));
    let message = rec["run"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("2 quarantined tests failed and did not count (Calc, fails.sh)"),
        "{message}"
    );
    // They ran and reported as they are.
    let failing: std::collections::BTreeSet<String> = record::results(&rec)
        .into_iter()
        .filter(|r| r.status == "failed")
        .map(|r| r.id)
        .collect();
    assert_eq!(
        failing.iter().map(String::as_str).collect::<Vec<_>>(),
        ["Calc::testDivide", "fails.sh"],
        "{}",
        summary(&rec)
    );
    let run_id = record::run(&rec)["id"].as_str().unwrap().to_string();
    let report = farm.farm(&["report", &run_id, "--coordinator", &url]);
    assert!(
        report
            .stdout
            .contains("quarantined (2; they ran, their failures did not count)")
            && report.stdout.contains("quarantined as Calc: did not count"),
        "{}",
        report.stdout
    );

    // Out of quarantine: the failure fails the gate again.
    let out = farm.farm(&[
        "quarantine",
        "remove",
        "fails.sh",
        "--project",
        "it-junit",
        "--coordinator",
        &url,
    ]);
    assert!(out.stdout.contains("out of quarantine"), "{}", out.stdout);
    let third = farm.submit(&pipeline, &[]);
    assert_eq!(third.code, 1, "{}", third.stderr);
    assert_eq!(record::count(&third.json(), "tests_excused"), 1);
    refused(
        &mut farm,
        &["quarantine", "add", "x", "--project", "no/such", "--coordinator", &url],
        "is not a project name",
    );
}

#[test]
fn finished_runs_past_the_retention_compact_to_their_summary() {
    let opts = Options {
        coordinator_args: vec!["--keep-runs", "1", "--keep-for", "1ms", "--retention-every", "200ms"],
        ..Options::default()
    };
    let mut farm = Farm::start("retention", opts);
    let url = farm.url();
    let first = farm.submit(&fixture("tiny"), &[]).json();
    let first_id = record::run(&first)["id"].as_str().unwrap().to_string();
    assert!(!record::tasks(&first).is_empty());
    let second = farm.submit(&fixture("tiny"), &[]).json();
    let second_id = record::run(&second)["id"].as_str().unwrap().to_string();

    // The older compacts within a few retention rounds; the newest stays whole.
    let mut compacted = serde_json::Value::Null;
    farm.wait_until("the first run compacted", Duration::from_secs(20), |f| {
        compacted = f.watch(&first_id).json();
        compacted["run"]["compacted"] == true
    });
    assert!(record::tasks(&compacted).is_empty(), "{}", summary(&compacted));
    assert_eq!(record::verdict(&compacted), "passed", "the summary keeps the verdict");
    assert_eq!(
        record::count(&compacted, "tests_passed"),
        record::count(&first, "tests_passed"),
        "and the counts"
    );
    let text = farm.farm(&["watch", &first_id, "--coordinator", &url]);
    assert!(text.stdout.contains("compacted by retention"), "{}", text.stdout);
    let newest = farm.watch(&second_id).json();
    assert!(newest["run"]["compacted"].is_null(), "{}", summary(&newest));
    assert_eq!(record::tasks(&newest).len(), record::tasks(&second).len());
}
