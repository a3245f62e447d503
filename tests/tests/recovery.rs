//! Crashes: a coordinator killed with SIGKILL mid-run and restarted on the same data
//! loses and repeats nothing; work on a killed agent is leased again to another
//! agent; work that keeps killing its agents ends the run in an infrastructure error.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testfarm_integration::quickstart::{assert_each_test_once, quickstart_yaml};
use testfarm_integration::record::{self, summary};
use testfarm_integration::{fixture, Farm, Options};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn coordinator_kill9_mid_run_loses_nothing() {
    let mut farm = Farm::start("coord-kill", Options::default());
    let run_id = farm.submit_no_wait(&quickstart_yaml(), &[]);

    // Wait until the run is well under way: shards done, but many still to do.
    let mut at_kill = (0, 0);
    farm.wait_until("some but not all tasks done", Duration::from_secs(30), |f| {
        let status = f.status();
        let run = status["active_runs"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["id"] == run_id.as_str()))
            .cloned();
        let Some(run) = run else {
            panic!("run {run_id} is no longer active before the kill: {status}");
        };
        let done = run["counts"]["tasks_done"].as_u64().unwrap_or(0);
        let total = run["counts"]["tasks_total"].as_u64().unwrap_or(0);
        at_kill = (done, total);
        // 3 discovery tasks, then ~40 shards: past the discoveries, far from the end.
        done >= 10 && done + 10 <= total
    });
    farm.kill_coordinator();
    let down = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    farm.restart_coordinator();
    let restarted = down.elapsed();

    let out = farm.watch(&run_id);
    let rec = out.json();
    assert_eq!(out.code, 0, "exit code; {}", summary(&rec));
    assert_eq!(record::verdict(&rec), "passed", "{}", summary(&rec));

    // Every discovered test exactly once, and the counters agree with the results.
    let results = assert_each_test_once(&rec) as u64;
    let total = record::count(&rec, "tests_total");
    assert_eq!(results, total, "results vs tests_total");
    assert_eq!(
        record::count(&rec, "tests_passed"),
        total,
        "tests_passed counts a result twice or misses one"
    );
    assert_eq!(record::count(&rec, "tests_failed"), 0);

    // Every task done once: one outcome, counted once.
    let tasks = record::tasks(&rec);
    for t in tasks {
        assert_eq!(t["state"]["state"], "done", "{}", summary(&rec));
        assert!(t["outcome"].is_object(), "{} has no outcome", t["id"]);
    }
    assert_eq!(record::count(&rec, "tasks_total"), tasks.len() as u64);
    assert_eq!(record::count(&rec, "tasks_done"), tasks.len() as u64);
    eprintln!(
        "coordinator kill -9 at {}/{} tasks done; back up after {:.2}s; verdict {:.2}s after \
         the restart; {} task(s) lost and retried",
        at_kill.0,
        at_kill.1,
        restarted.as_secs_f64(),
        out.elapsed.as_secs_f64(),
        record::count(&rec, "tasks_lost")
    );
}

#[test]
fn lost_agent_work_is_retried_on_another_agent() {
    let opts = Options {
        agents: 2,
        slots: 1,
        ..Options::default()
    };
    let mut farm = Farm::start("lost-agent", opts);
    let run_id = farm.submit_no_wait(&fixture("lost_agent"), &[]);

    let mut victim = usize::MAX;
    farm.wait_until("the long test to start", Duration::from_secs(20), |f| {
        match f.task_files("started").first() {
            Some((agent, _)) => {
                victim = *agent;
                true
            }
            None => false,
        }
    });
    let survivor = 1 - victim;
    let (victim_id, survivor_id) = (farm.agent_id(victim).to_string(), farm.agent_id(survivor).to_string());
    farm.kill_agent(victim);
    let killed_ms = now_ms();
    let killed = Instant::now();

    farm.wait_until(
        "the test to start again on the other agent",
        Duration::from_secs(20),
        |f| f.task_files("started").iter().any(|(a, _)| *a == survivor),
    );
    let restarted_after = killed.elapsed();

    let out = farm.watch(&run_id);
    let rec = out.json();
    assert_eq!(out.code, 0, "exit code; {}", summary(&rec));
    assert_eq!(record::verdict(&rec), "passed", "{}", summary(&rec));
    let shards = record::shard_tasks(&rec);
    assert_eq!(shards.len(), 1, "{}", summary(&rec));
    let t = shards[0];
    assert_eq!(t["lost_on"], serde_json::json!([victim_id]), "{}", summary(&rec));
    assert_eq!(t["done_by"], survivor_id.as_str(), "{}", summary(&rec));
    assert_eq!(t["attempt"], 2, "{}", summary(&rec));
    assert_eq!(record::count(&rec, "tasks_lost"), 1);
    let results = record::results(&rec);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, "passed");

    // The loss re-queued the task (queued_ms); queued_secs is re-queue → re-lease.
    let requeued_ms = t["queued_ms"].as_u64().unwrap();
    let detect = requeued_ms.saturating_sub(killed_ms) as f64 / 1000.0;
    let relet = t["outcome"]["phases"]["queued_secs"].as_f64().unwrap();
    eprintln!(
        "lost agent: loss detected {detect:.2}s after kill -9 (lease timeout 3s, heartbeat \
         0.5s); re-leased {relet:.3}s later; running again on {survivor_id} {:.2}s after the kill",
        restarted_after.as_secs_f64()
    );
    assert!(
        (2.0..8.0).contains(&detect),
        "the loss was detected {detect:.2}s after the kill; the lease timeout is 3s"
    );
}

#[test]
fn lost_work_past_the_limit_is_an_infrastructure_error() {
    let opts = Options {
        agents: 3,
        slots: 1,
        max_lost: 1,
        ..Options::default()
    };
    let mut farm = Farm::start("lost-limit", opts);
    let out = farm.submit(&fixture("agent_killer"), &[]);
    let rec = out.json();
    assert_eq!(out.code, 2, "exit code; {}", summary(&rec));
    assert_eq!(record::verdict(&rec), "error", "{}", summary(&rec));

    let dead_agents: Vec<usize> = (0..3).filter(|&i| !farm.agent_alive(i)).collect();
    let dead: Vec<String> = dead_agents.iter().map(|&i| farm.agent_id(i).to_string()).collect();
    assert_eq!(
        dead.len(),
        2,
        "with --max-lost 1 exactly two agents should have taken (and died of) the shard: \
         dead {dead:?}; {}",
        summary(&rec)
    );

    let shards = record::shard_tasks(&rec);
    assert_eq!(shards.len(), 1, "{}", summary(&rec));
    let t = shards[0];
    let task_id = t["id"].as_str().unwrap();
    let lost_on: BTreeSet<String> = t["lost_on"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        lost_on,
        dead.iter().cloned().collect::<BTreeSet<_>>(),
        "{}",
        summary(&rec)
    );
    assert_eq!(t["state"]["state"], "cancelled", "{}", summary(&rec));

    let message = rec["run"]["message"].as_str().unwrap();
    assert!(message.contains(task_id), "message {message:?} lacks {task_id}");
    for agent in &dead {
        assert!(message.contains(agent.as_str()), "message {message:?} lacks {agent}");
    }
    assert!(
        out.stderr.contains(task_id),
        "stderr should carry the message: {}",
        out.stderr
    );
    eprintln!(
        "lost past the limit: verdict after {:.2}s: {message}",
        out.elapsed.as_secs_f64()
    );
}
