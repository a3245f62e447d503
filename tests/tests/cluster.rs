//! The raft-replicated coordinator as real processes: three coordinators, each on a
//! loopback address of its own, and agents that follow the leader. A run submitted to
//! a follower completes; a leader killed with SIGKILL mid-run is replaced within
//! seconds and nothing is lost or applied twice; a restarted node catches up from a
//! snapshot; a node cut off by iptables accepts no writes (a client sends its submit again
//! through another member, where it becomes exactly one run) and catches up once healed;
//! restarting every node in turn loses nothing; and random kills under a stream of
//! submissions lose no acknowledged run.
//!
//! Timings are short (raft tick 50ms: elections after 0.5–1s; lease timeout 3s,
//! heartbeat 0.5s) so that failovers are seen within seconds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use testfarm_integration::members::Members;
use testfarm_integration::quickstart::{self, quickstart_yaml, stage_tests};
use testfarm_integration::record::{self, summary};
use testfarm_integration::rng::Rng;
use testfarm_integration::{fixture, tiny, Cluster, ClusterOptions};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The test count of a quickstart run: unit on two shells, integration on one.
fn quickstart_tests() -> usize {
    2 * stage_tests("unit").len() + stage_tests("integration").len()
}

/// Asserts a finished quickstart record passed with every test exactly once, counted
/// once, and every task done exactly once.
fn assert_quickstart_passed_once(rec: &Value) {
    assert_eq!(record::verdict(rec), "passed", "{}", summary(rec));
    let n = quickstart::assert_each_test_once(rec);
    assert_eq!(n, quickstart_tests(), "{}", summary(rec));
    assert_eq!(record::count(rec, "tests_total"), n as u64);
    assert_eq!(
        record::count(rec, "tests_passed"),
        n as u64,
        "tests_passed counts a result twice or misses one; {}",
        summary(rec)
    );
    assert_eq!(record::count(rec, "tests_failed"), 0);
    let tasks = record::tasks(rec);
    for t in tasks {
        assert_eq!(t["state"]["state"], "done", "{}", summary(rec));
    }
    assert_eq!(record::count(rec, "tasks_done"), tasks.len() as u64, "{}", summary(rec));
}

/// The node indexes other than `not`.
fn others(c: &Cluster, not: usize) -> Vec<usize> {
    (0..c.len()).filter(|&i| i != not).collect()
}

fn role_line(m: &Members) -> String {
    (0..m.0.len())
        .map(|i| match m.role(i) {
            Some(r) => format!(
                "node {}: {} term {} leader {} commit {} applied {} log {}..{}",
                i + 1,
                if r.is_leader { "leader" } else { "follower" },
                r.term,
                r.leader_id,
                r.commit,
                r.applied,
                r.log_first,
                r.log_last
            ),
            None => format!("node {}: down", i + 1),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where two run records differ: run fields and tasks, by key.
fn record_diff(a: &Value, b: &Value) -> Vec<String> {
    let mut diff = Vec::new();
    let (ra, rb) = (&a["run"], &b["run"]);
    for key in ra.as_object().into_iter().flatten().map(|(k, _)| k) {
        if ra[key] != rb[key] {
            diff.push(format!("run.{key}: {} vs {}", ra[key], rb[key]));
        }
    }
    let (ta, tb) = (record::tasks(a), record::tasks(b));
    if ta.len() != tb.len() {
        diff.push(format!("{} tasks vs {}", ta.len(), tb.len()));
    }
    for (x, y) in ta.iter().zip(tb) {
        if x != y {
            diff.push(format!("task {}: {x} vs {y}", x["id"]));
        }
    }
    diff
}

/// Asserts every node serves the same records of these finished runs as the ones
/// given (apply is deterministic, and a finished run's record does not change: a
/// replayed or snapshotted node holds exactly what the leader holds). Waits for each
/// node to catch up first.
fn assert_same_on_every_node(c: &mut Cluster, runs: &[(String, Value)]) {
    for i in 0..c.len() {
        c.wait_caught_up(i, Duration::from_secs(15));
    }
    for (run_id, rec) in runs {
        for i in 0..c.len() {
            let w = c.watch(i, run_id);
            let r = w.json();
            assert!(
                w.code == 0 || record::verdict(&r) == record::verdict(rec),
                "watch {run_id} through node {}: {}",
                i + 1,
                w.stderr
            );
            let diff = record_diff(rec, &r);
            assert!(
                diff.is_empty(),
                "node {} holds a different record of {run_id}:\n{}",
                i + 1,
                diff.join("\n")
            );
        }
    }
}

#[test]
fn run_submitted_to_a_follower_completes() {
    let mut c = Cluster::start("cl-follower", ClusterOptions::default());
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let follower = others(&c, leader)[0];
    let out = c.submit(follower, &quickstart_yaml(), &[]);
    let rec = out.json();
    assert_eq!(out.code, 0, "exit code; stderr {}; {}", out.stderr, summary(&rec));
    assert_quickstart_passed_once(&rec);
    assert_eq!(quickstart_tests(), 54, "the quickstart has 54 tests");
    let run_id = rec["run"]["id"].as_str().unwrap().to_string();

    // Every node applied the same run.
    assert_same_on_every_node(&mut c, &[(run_id.clone(), rec.clone())]);
    eprintln!(
        "submitted to follower node {} (leader node {}): {} tests passed, `farm submit` took {:.2}s",
        follower + 1,
        leader + 1,
        record::count(&rec, "tests_passed"),
        out.elapsed.as_secs_f64()
    );
}

/// A command that contradicts itself, committed through a `Forward` (which takes any
/// command): a run whose job names a stage its pipeline lacks. Every replica rejects
/// it at apply, logs and counts it, and goes on: the forwarder gets `Rejected`, and
/// runs submitted after it, to each node, pass. (Before, apply took the run, and the
/// first lease of its task panicked in the state machine on every replica, which
/// ended each node's raft loop while the process went on serving.)
#[test]
fn a_command_every_replica_rejects_leaves_the_cluster_serving() {
    let mut c = Cluster::start("cl-reject", ClusterOptions::default());
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let out = c.submit(leader, &quickstart_yaml(), &[]);
    let rec = out.json();
    assert_eq!(out.code, 0, "{}", summary(&rec));
    let mut bad = rec["run"].clone();
    bad["jobs"][0]["spec"]["stage"] = Value::from("no-such-stage");
    let command = serde_json::json!({ "command": "accept_run", "run": bad });

    let url = c.url(leader);
    let reply = tokio::runtime::Runtime::new().expect("runtime").block_on(async move {
        let mut client = testfarm_proto::raft_service_client::RaftServiceClient::connect(url)
            .await
            .expect("connect");
        client
            .forward(testfarm_proto::ForwardRequest {
                command: rmp_serde::to_vec_named(&command).expect("encodes"),
            })
            .await
            .expect("forward")
            .into_inner()
    });
    let applied: Value = rmp_serde::from_slice(&reply.applied).expect("an applied result");
    assert!(!reply.error, "the command committed: {applied}");
    let reason = applied["Rejected"]
        .as_str()
        .unwrap_or_else(|| panic!("not rejected: {applied}"));
    assert!(reason.contains("no-such-stage"), "{reason}");

    for node in 0..c.len() {
        let out = c.submit(node, &quickstart_yaml(), &[]);
        let rec = out.json();
        assert_eq!(out.code, 0, "node {} after the rejection: {}", node + 1, summary(&rec));
        assert_quickstart_passed_once(&rec);
    }
    for node in 0..c.len() {
        let log = c.node_log(node);
        assert!(
            log.contains("rejected the command at index"),
            "node {} logged the rejection",
            node + 1
        );
        assert!(
            !log.contains("stopping this node's raft loop"),
            "node {} kept its raft loop",
            node + 1
        );
    }
}

#[test]
fn leader_kill9_mid_run() {
    leader_kill9_mid_run_of(Cluster::start("cl-leader-kill", ClusterOptions::default()));
}

/// The same with every connection mutual TLS: raft between the nodes, forwarding,
/// agents and the CLI each with a certificate of the cluster's own CA.
#[test]
fn leader_kill9_mid_run_over_mutual_tls() {
    let opts = ClusterOptions {
        tls: true,
        ..ClusterOptions::default()
    };
    let c = Cluster::start("cl-leader-kill-tls", opts);
    let url = c.url(0);
    let plain = testfarm_integration::farm_command_without_tls(&["status", "--coordinator", &url]);
    assert_eq!(plain.code, 2, "no plain port is left open: {}", plain.stdout);
    leader_kill9_mid_run_of(c);
}

fn leader_kill9_mid_run_of(mut c: Cluster) {
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let old_term = c.members().role(leader).expect("leader answers").term;
    let follower = others(&c, leader)[0];
    let run_id = c.submit_no_wait(follower, &quickstart_yaml(), &[]);

    // Well under way: shards done, but many still to do.
    let mut at_kill = (0, 0);
    c.wait_until("some but not all tasks done", Duration::from_secs(30), |c| {
        let Some(run) = c.active_run(follower, &run_id) else {
            panic!("run {run_id} is no longer active before the kill");
        };
        let done = run["counts"]["tasks_done"].as_u64().unwrap_or(0);
        let total = run["counts"]["tasks_total"].as_u64().unwrap_or(0);
        at_kill = (done, total);
        done >= 8 && done + 10 <= total
    });
    c.kill(leader);
    let kill_ms = now_ms();
    let killed = Instant::now();

    let mut new_leader = usize::MAX;
    c.wait_until(
        "a new leader after kill -9 of the leader",
        Duration::from_secs(5),
        |c| {
            let m = c.members();
            match m.leader() {
                Some(l) if l != leader && m.role(l).is_some_and(|r| r.term > old_term) => {
                    new_leader = l;
                    true
                }
                _ => false,
            }
        },
    );
    let elected = killed.elapsed();

    let survivor = others(&c, leader)
        .into_iter()
        .find(|&i| i != new_leader)
        .expect("a surviving follower");
    let out = c.watch(survivor, &run_id);
    let rec = out.json();
    assert_eq!(out.code, 0, "exit code; stderr {}; {}", out.stderr, summary(&rec));
    assert_quickstart_passed_once(&rec);

    // Work went on under the new leader: leases after the kill.
    let first_new_lease = record::tasks(&rec)
        .iter()
        .filter_map(|t| t["leased_ms"].as_u64())
        .filter(|&ms| ms > kill_ms)
        .min()
        .unwrap_or_else(|| panic!("no task was leased after the kill; {}", summary(&rec)));
    let lease_after = (first_new_lease - kill_ms) as f64 / 1000.0;
    eprintln!(
        "leader kill -9 (node {}) at {}/{} tasks done: new leader node {} after {:.2}s; first new lease \
         {lease_after:.2}s after the kill; {} task(s) lost and retried; verdict {:.2}s after the kill",
        leader + 1,
        at_kill.0,
        at_kill.1,
        new_leader + 1,
        elected.as_secs_f64(),
        record::count(&rec, "tasks_lost"),
        killed.elapsed().as_secs_f64()
    );
    assert!(
        lease_after < 8.0,
        "the first lease after the kill came {lease_after:.2}s later (new leader after {:.2}s)",
        elected.as_secs_f64()
    );

    // The killed leader comes back, replays what it had and catches up: it holds the
    // same record, nothing applied twice.
    c.restart(leader);
    assert_same_on_every_node(&mut c, &[(run_id.clone(), rec.clone())]);
}

#[test]
fn restarted_node_catches_up_from_a_snapshot() {
    let opts = ClusterOptions {
        snapshot_every: 20,
        ..ClusterOptions::default()
    };
    let mut c = Cluster::start("cl-snapshot", opts);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let down = others(&c, leader)[1];
    // The node has state of its own before it goes down (a finished run), so that the
    // snapshot must replace state, not only fill an empty node.
    let first = c.submit(leader, &tiny::tiny_yaml(), &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first = first.json();
    let first_id = first["run"]["id"].as_str().unwrap().to_string();
    c.wait_caught_up(down, Duration::from_secs(10));
    let at_kill = c.members().role(down).cloned().expect("the follower answers");
    c.kill(down);

    let out = c.submit(leader, &quickstart_yaml(), &[]);
    let rec = out.json();
    assert_eq!(out.code, 0, "exit code; stderr {}; {}", out.stderr, summary(&rec));
    assert_quickstart_passed_once(&rec);
    let run_id = rec["run"]["id"].as_str().unwrap().to_string();

    // The leader's log must start past what the stopped node holds, so that it can
    // only catch up from a snapshot. The quickstart alone is well over 20 entries;
    // more runs force it if not.
    let mut extra_runs = 0;
    let leader_role = loop {
        let m = c.members();
        let l = m.leader().and_then(|l| m.role(l).cloned()).expect("a leader");
        if l.log_first > at_kill.log_last + 1 {
            break l;
        }
        assert!(extra_runs < 5, "the leader's log does not compact: {}", role_line(&m));
        let out = c.submit(leader, &tiny::tiny_yaml(), &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        extra_runs += 1;
    };

    c.restart(down);
    let took = c.wait_caught_up(down, Duration::from_secs(10));
    let m = c.members();
    let me = m.role(down).cloned().expect("the restarted node answers");
    let log = c.current_log(down);
    assert!(
        log.contains("installing snapshot from the leader"),
        "node {} caught up without installing a snapshot; its log:\n{log}",
        down + 1
    );
    assert!(
        me.log_first > at_kill.log_last + 1,
        "node {} had log ..{} when killed; after the restart its log starts at {}: it did not restart \
         its log from a snapshot; {}",
        down + 1,
        at_kill.log_last,
        me.log_first,
        role_line(&m)
    );

    // It serves the run it never saw an entry of.
    let w = c.watch(down, &run_id);
    let r = w.json();
    assert_eq!(w.code, 0, "watch through the restarted node: {}", w.stderr);
    assert_quickstart_passed_once(&r);
    assert_same_on_every_node(&mut c, &[(run_id.clone(), rec.clone()), (first_id, first)]);
    eprintln!(
        "snapshot catch-up: node {} killed at applied {} (log ..{}); leader's log {}..{} ({} extra runs); \
         caught up to applied {} {:.2}s after the restart, its log now {}..{}",
        down + 1,
        at_kill.applied,
        at_kill.log_last,
        leader_role.log_first,
        leader_role.log_last,
        extra_runs,
        me.applied,
        took.as_secs_f64(),
        me.log_first,
        me.log_last
    );
}

/// The pipeline a refused submit sends: if it were committed after all, its run would
/// stay active (no agent has its label), where `assert_never_accepted` finds it.
fn unschedulable() -> std::path::PathBuf {
    fixture("unschedulable")
}

/// Every node holds exactly the unschedulable runs `expected` (acknowledged to the
/// client), each once: a submit retried through another member made no second run.
fn assert_accepted_once(c: &Cluster, expected: &[&str]) {
    for i in 0..c.len() {
        let status = c.status(i);
        let runs = status["active_runs"].as_array().cloned().unwrap_or_default();
        let mut held: Vec<&str> = runs
            .iter()
            .filter(|r| r["pipeline"] == "it-unschedulable")
            .filter_map(|r| r["id"].as_str())
            .collect();
        held.sort();
        let mut want = expected.to_vec();
        want.sort();
        assert_eq!(held, want, "node {}: the submits made these runs", i + 1);
    }
}

/// A submit whose first member could not take it (cut off): retried through another
/// member, accepted there, its run id printed.
fn assert_routed_around(what: &str, (code, stdout, stderr, secs): &(Option<i32>, String, String, f64)) -> String {
    assert_eq!(
        *code,
        Some(0),
        "a submit to {what}: exit {code:?} after {secs:.1}s, stdout {stdout:?}, stderr {stderr}"
    );
    assert!(
        stderr.contains("submitting again through another member"),
        "{what} refused it first: {stderr}"
    );
    assert!(*secs < 30.0, "the submit took {secs:.1}s");
    let run_id = stdout.trim().to_string();
    assert!(run_id.starts_with('r'), "{stdout:?}");
    run_id
}

/// `farm submit unschedulable --no-wait` through `url` in a thread: (exit code or
/// None if it hung, stdout, stderr, seconds).
fn submit_in_thread(c: &Cluster, node: usize) -> std::thread::JoinHandle<(Option<i32>, String, String, f64)> {
    let cli = c.cli();
    let url = c.url(node);
    let path = unschedulable().display().to_string();
    std::thread::spawn(move || {
        let started = Instant::now();
        match cli.try_run(
            &["submit", &path, "--coordinator", &url, "--no-wait"],
            Duration::from_secs(40),
        ) {
            Ok(out) => (Some(out.code), out.stdout, out.stderr, started.elapsed().as_secs_f64()),
            Err(e) => (None, String::new(), e, started.elapsed().as_secs_f64()),
        }
    })
}

#[test]
fn partitioned_node_accepts_no_writes_and_rejoins() {
    let mut c = Cluster::start("cl-partition", ClusterOptions::default());

    // ---- Phase 1: a follower is cut off.
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let before = c.members();
    let term = before.role(leader).unwrap().term;
    let cut = others(&c, leader)[0];
    let majority_follower = others(&c, leader)[1];
    let (cut_commit, cut_term) = before.role(cut).map(|r| (r.commit, r.term)).unwrap();
    c.partition(cut);
    let refused = submit_in_thread(&c, cut);
    let out = c.submit(majority_follower, &quickstart_yaml(), &[]);
    let rec = out.json();
    assert_eq!(
        out.code,
        0,
        "the majority's run: stderr {}; {}",
        out.stderr,
        summary(&rec)
    );
    assert_quickstart_passed_once(&rec);
    let run_id = rec["run"]["id"].as_str().unwrap().to_string();

    let routed = refused.join().expect("submit thread");
    let first_routed = assert_routed_around("the cut-off follower", &routed);
    let (_, _, stderr, secs) = routed;
    let during = c.members();
    let r = during.role(cut).expect("the cut-off node answers clients");
    assert!(!r.is_leader, "{}", role_line(&during));
    assert_eq!(
        r.commit,
        cut_commit,
        "the cut-off node committed: {}",
        role_line(&during)
    );
    assert_eq!(
        r.term,
        cut_term,
        "pre-vote: a cut-off node does not raise its term; {}",
        role_line(&during)
    );
    // (Normally the leader and term of before the cut; compared with the majority's
    // just before the heal, so that an election under load cannot fail the test.)
    let majority_leader = during.leader().expect("the majority has a leader");
    let majority_term = during.role(majority_leader).unwrap().term;

    c.heal(cut);
    let took = c.wait_caught_up(cut, Duration::from_secs(10));
    let after = c.members();
    assert_eq!(
        after.leader(),
        Some(majority_leader),
        "the leader changed on heal: {}",
        role_line(&after)
    );
    assert_eq!(
        after.role(majority_leader).unwrap().term,
        majority_term,
        "the healed node disrupted the leader (term moved): {}",
        role_line(&after)
    );
    let w = c.watch(cut, &run_id);
    let r = w.json();
    assert_eq!(w.code, 0, "watch through the healed node: {}", w.stderr);
    assert_quickstart_passed_once(&r);
    assert_same_on_every_node(&mut c, &[(run_id.clone(), rec.clone())]);
    assert_accepted_once(&c, &[&first_routed]);
    eprintln!(
        "follower node {} cut off: it refused a submit, which the client sent again through another member, \
         accepted after {secs:.1}s ({}); the majority's \
         run passed in {:.1}s; caught up {:.2}s after the heal; leader node {} term {term} before the cut, \
         node {} term {majority_term} after the heal",
        cut + 1,
        stderr.trim(),
        out.elapsed.as_secs_f64(),
        took.as_secs_f64(),
        leader + 1,
        majority_leader + 1
    );

    // ---- Phase 2: the leader is cut off.
    let old = c.wait_for_leader(Duration::from_secs(10));
    let old_term = c.members().role(old).unwrap().term;
    c.partition(old);
    let cut_at = Instant::now();
    let refused = submit_in_thread(&c, old);
    let mut new_leader = usize::MAX;
    c.wait_until("the majority to elect a new leader", Duration::from_secs(10), |c| {
        let m = c.members();
        match m.leader() {
            Some(l) if l != old && m.role(l).is_some_and(|r| r.term > old_term) => {
                new_leader = l;
                true
            }
            _ => false,
        }
    });
    let elected = cut_at.elapsed();
    c.wait_until("the cut-off leader to step down", Duration::from_secs(10), |c| {
        c.members().role(old).is_some_and(|r| !r.is_leader)
    });
    let stepped_down = cut_at.elapsed();
    // The agents leave the old leader; the majority runs a pipeline.
    let other = others(&c, old).into_iter().find(|&i| i != new_leader).unwrap();
    let out = c.submit(other, &tiny::tiny_yaml(), &[]);
    let rec = out.json();
    assert_eq!(
        out.code,
        0,
        "the majority's run: stderr {}; {}",
        out.stderr,
        summary(&rec)
    );
    assert_eq!(record::verdict(&rec), "passed", "{}", summary(&rec));
    tiny::assert_each_test_once(&rec);
    let tiny_run = rec["run"]["id"].as_str().unwrap().to_string();

    let routed = refused.join().expect("submit thread");
    let second_routed = assert_routed_around("the cut-off leader", &routed);
    let (_, _, stderr, secs) = routed;

    c.heal(old);
    let took = c.wait_caught_up(old, Duration::from_secs(10));
    let after = c.members();
    assert_eq!(after.leader(), Some(new_leader), "{}", role_line(&after));
    assert_eq!(after.role(old).unwrap().leader_id, new_leader as u64 + 1);
    let w = c.watch(old, &tiny_run);
    let r = w.json();
    assert_eq!(w.code, 0, "watch through the old leader: {}", w.stderr);
    tiny::assert_each_test_once(&r);
    assert_same_on_every_node(&mut c, &[(tiny_run.clone(), rec.clone())]);
    // What the cut-off leader appended and could not commit is gone; the run the
    // client was answered with is the only one.
    assert_accepted_once(&c, &[&first_routed, &second_routed]);
    eprintln!(
        "leader node {} cut off: new leader node {} after {:.2}s, old leader stepped down after {:.2}s; a \
         submit through it was sent again through another member, accepted after {secs:.1}s ({}); the majority's run passed in {:.1}s; caught up \
         {:.2}s after the heal",
        old + 1,
        new_leader + 1,
        elected.as_secs_f64(),
        stepped_down.as_secs_f64(),
        stderr.trim(),
        out.elapsed.as_secs_f64(),
        took.as_secs_f64()
    );
}

#[test]
fn rolling_restart_loses_nothing() {
    // One slot per agent: a longer run, so that all three restarts fall inside it.
    let opts = ClusterOptions {
        slots: 1,
        ..ClusterOptions::default()
    };
    let mut c = Cluster::start("cl-rolling", opts);
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let run_id = c.submit_no_wait(leader, &quickstart_yaml(), &[]);
    c.wait_until("the run to get going", Duration::from_secs(30), |c| {
        c.active_run(leader, &run_id)
            .is_some_and(|r| r["counts"]["tasks_done"].as_u64().unwrap_or(0) >= 4)
    });

    // Followers first, the leader last, as an operator would.
    let mut order = others(&c, leader);
    order.push(leader);
    let mut steps = Vec::new();
    for &i in &order {
        let was_leader = c.leader() == Some(i);
        c.kill(i);
        let down = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        c.restart(i);
        let l = c.wait_for_leader(Duration::from_secs(10));
        let elected = down.elapsed();
        let caught_up = c.wait_caught_up(i, Duration::from_secs(15));
        steps.push(format!(
            "node {}{}: leader node {} {:.2}s after the kill, caught up {:.2}s later",
            i + 1,
            if was_leader { " (leader)" } else { "" },
            l + 1,
            elected.as_secs_f64(),
            caught_up.as_secs_f64()
        ));
    }
    let l = c.wait_for_leader(Duration::from_secs(10));
    let active = c.active_run(l, &run_id);
    assert!(
        active.is_some(),
        "the run finished before the last restart: the test restarted nothing mid-run ({steps:?})"
    );
    let rec = c.follow_run(&run_id, Duration::from_secs(90));
    assert_quickstart_passed_once(&rec);
    assert_same_on_every_node(&mut c, &[(run_id.clone(), rec.clone())]);
    eprintln!(
        "rolling restart during a run: {}; run passed, {} tests once, {} task(s) lost and retried",
        steps.join("; "),
        record::count(&rec, "tests_passed"),
        record::count(&rec, "tasks_lost")
    );
}

/// The gist of a failed command's error, node addresses left out, to count refusals
/// by kind.
fn refusal(stderr: &str) -> String {
    let line = stderr.lines().last().unwrap_or("").trim();
    let words: Vec<&str> = line
        .split_whitespace()
        .map(|w| if w.contains("127.") { "<node>" } else { w })
        .collect();
    let gist = words.join(" ");
    let end = gist.find(" (hint").unwrap_or(gist.len()).min(90);
    let mut end = end;
    while !gist.is_char_boundary(end) {
        end -= 1;
    }
    gist[..end].to_string()
}

#[test]
fn random_kills_during_continuous_submissions() {
    const CYCLES: usize = 24;
    let seed = Rng::seed_from_env();
    eprintln!("random kills: seed {seed} (replay with FARM_IT_SEED={seed})");
    let mut rng = Rng::new(seed);
    let mut c = Cluster::start("cl-chaos", ClusterOptions::default());
    let started = Instant::now();

    // The submitter: a tiny pipeline through a random node, again and again; a failed
    // submit is retried (it was not acknowledged, so it may be lost); an acknowledged
    // one (a run id printed) must not be.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let submitter = {
        let (cli, stop, acked) = (c.cli(), stop.clone(), acked.clone());
        let urls: Vec<String> = (0..c.len()).map(|i| c.url(i)).collect();
        let path = tiny::tiny_yaml().display().to_string();
        let mut rng = Rng::new(seed ^ 0x5eed);
        std::thread::spawn(move || {
            let mut refused: BTreeMap<String, usize> = BTreeMap::new();
            let mut attempts = 0;
            while !stop.load(Ordering::SeqCst) {
                attempts += 1;
                let url = &urls[rng.below(urls.len() as u64) as usize];
                let why = match cli.try_run(
                    &["submit", &path, "--coordinator", url, "--no-wait"],
                    Duration::from_secs(30),
                ) {
                    Ok(out) if out.code == 0 && out.stdout.trim().starts_with('r') => {
                        acked.lock().unwrap().push(out.stdout.trim().to_string());
                        None
                    }
                    Ok(out) => Some(refusal(&out.stderr)),
                    Err(e) => Some(e),
                };
                if let Some(why) = why {
                    *refused.entry(why).or_default() += 1;
                }
                std::thread::sleep(rng.millis(200, 800));
            }
            (attempts, refused)
        })
    };

    let mut kills = Vec::new();
    let mut leader_kills = 0;
    let mut worst_election = Duration::ZERO;
    for cycle in 0..CYCLES {
        let leader = c.leader();
        let victim = match leader {
            Some(l) if rng.chance(1, 3) => l,
            _ => rng.below(c.len() as u64) as usize,
        };
        if leader == Some(victim) {
            leader_kills += 1;
        }
        c.kill(victim);
        let down = Instant::now();
        std::thread::sleep(rng.millis(0, 1500));
        c.restart(victim);
        // Mostly the next kill waits for a leader; sometimes it may fall in the middle
        // of an election or of the restarted node's catching up.
        let hurry = rng.chance(1, 4);
        if !hurry {
            c.wait_for_leader(Duration::from_secs(15));
            worst_election = worst_election.max(down.elapsed());
        }
        kills.push(format!(
            "{cycle}:{}{}{}",
            victim + 1,
            if leader == Some(victim) { "L" } else { "" },
            if hurry { "!" } else { "" }
        ));
        std::thread::sleep(rng.millis(100, 1000));
    }
    c.wait_for_leader(Duration::from_secs(15));
    stop.store(true, Ordering::SeqCst);
    let (attempts, refused) = submitter.join().expect("submitter thread");
    let chaos = started.elapsed();

    // Every acknowledged run finishes, passed, every test once.
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 10,
        "only {} of {attempts} submits were acknowledged ({refused:?})",
        acked.len()
    );
    let mut lost_tasks = 0;
    let mut bad = Vec::new();
    let mut records = Vec::new();
    for run_id in &acked {
        let rec = c.follow_run(run_id, Duration::from_secs(60));
        records.push((run_id.clone(), rec.clone()));
        lost_tasks += record::count(&rec, "tasks_lost");
        if record::verdict(&rec) != "passed" {
            bad.push(summary(&rec));
            continue;
        }
        tiny::assert_each_test_once(&rec);
        for t in record::tasks(&rec) {
            assert_eq!(t["state"]["state"], "done", "{}", summary(&rec));
        }
    }
    assert!(
        bad.is_empty(),
        "acknowledged runs that did not pass:\n{}",
        bad.join("\n")
    );
    // Every node holds the same record of every run (waits for each to catch up).
    assert_same_on_every_node(&mut c, &records);
    eprintln!(
        "random kills: {CYCLES} kill -9 + restart cycles ({leader_kills} of the leader L; ! = next kill without \
         waiting for a leader) in {:.1}s [{}]; \
         slowest return to a leader {:.2}s after a kill; {} of {attempts} submits acknowledged, refused: \
         {refused:?}; all {} acknowledged runs passed with every test once; {lost_tasks} task(s) lost and \
         retried; total {:.1}s",
        chaos.as_secs_f64(),
        kills.join(" "),
        worst_election.as_secs_f64(),
        acked.len(),
        acked.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn clients_given_several_coordinators_use_the_first_reachable() {
    let mut c = Cluster::start("cl-client-list", ClusterOptions::default());
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let down = others(&c, leader)[0];
    c.kill(down);
    // The first coordinator of the list is down; the next one answers.
    let list = format!("{},{}", c.url(down), c.url(leader));
    let path = tiny::tiny_yaml().display().to_string();
    let out = c.farm(&["submit", &path, "--coordinator", &list, "--json"]);
    assert_eq!(out.code, 0, "submit with a list of coordinators: {}", out.stderr);
    let rec = out.json();
    tiny::assert_each_test_once(&rec);
    let run_id = rec["run"]["id"].as_str().unwrap().to_string();
    let out = c.farm(&["watch", &run_id, "--coordinator", &list, "--json"]);
    assert_eq!(out.code, 0, "watch with a list of coordinators: {}", out.stderr);
    let out = c.farm(&["status", "--coordinator", &list, "--json"]);
    assert_eq!(out.code, 0, "status with a list of coordinators: {}", out.stderr);
}

/// `farm submit` and `farm watch`, each given only the leader's address, follow a run
/// whose leader is killed with SIGKILL mid-run: both resume on another member (the
/// cluster named them), print each failure once, and exit with the run's verdict —
/// not the infrastructure error ("h2 protocol error") a CI gate would have reported
/// for a run that went on.
#[test]
fn clients_following_through_a_killed_leader_exit_with_the_verdict() {
    let mut c = Cluster::start("cl-client-failover", ClusterOptions::default());
    let leader = c.wait_for_leader(Duration::from_secs(10));
    let follower = others(&c, leader)[0];
    let leader_url = c.url(leader);
    let path = quickstart_yaml().display().to_string();
    let submitter = {
        let (cli, url, path) = (c.cli(), leader_url.clone(), path.clone());
        std::thread::spawn(move || {
            cli.try_run(
                &["submit", &path, "--coordinator", &url, "--env", "QUICKSTART_FAIL=1"],
                Duration::from_secs(120),
            )
        })
    };
    let mut run_id = String::new();
    c.wait_until("the run well under way", Duration::from_secs(30), |c| {
        let Some(status) = c.try_status(follower) else {
            return false;
        };
        let Some(run) = status["active_runs"].as_array().and_then(|r| r.first()).cloned() else {
            return false;
        };
        run_id = run["id"].as_str().unwrap_or("").to_string();
        let done = run["counts"]["tasks_done"].as_u64().unwrap_or(0);
        let total = run["counts"]["tasks_total"].as_u64().unwrap_or(0);
        done >= 6 && done + 10 <= total
    });
    let watcher = {
        let (cli, url, run_id) = (c.cli(), leader_url.clone(), run_id.clone());
        std::thread::spawn(move || {
            cli.try_run(
                &["watch", &run_id, "--coordinator", &url, "--json"],
                Duration::from_secs(120),
            )
        })
    };
    // The watcher's stream is open on the leader before it dies.
    std::thread::sleep(Duration::from_millis(500));
    c.kill(leader);
    let killed = Instant::now();

    let watched = watcher.join().expect("watcher thread").expect("farm watch finished");
    let rec = watched.json();
    assert_eq!(record::verdict(&rec), "failed", "{}", summary(&rec));
    assert_eq!(
        watched.code, 1,
        "farm watch exits with the verdict; stderr: {}",
        watched.stderr
    );
    assert!(
        watched.stderr.contains("following the run through another member"),
        "the watch resumed elsewhere: {}",
        watched.stderr
    );
    let submitted = submitter.join().expect("submit thread").expect("farm submit finished");
    assert_eq!(
        submitted.code, 1,
        "farm submit exits with the verdict; stderr: {}",
        submitted.stderr
    );
    assert!(
        submitted
            .stderr
            .contains(&format!("following {run_id} through http://")),
        "{}",
        submitted.stderr
    );
    assert!(
        submitted.stdout.contains(&format!("run {run_id} FAILED")),
        "{}",
        submitted.stdout
    );
    // Each failure once, wherever the watch was when it was reported.
    let fails: Vec<&str> = submitted.stderr.lines().filter(|l| l.starts_with("FAIL ")).collect();
    let distinct: std::collections::BTreeSet<&str> = fails.iter().copied().collect();
    assert_eq!(fails.len(), distinct.len(), "a failure printed twice: {fails:?}");
    assert_eq!(
        fails.len() as u64,
        record::count(&rec, "tests_failed"),
        "every failure printed: {fails:?}; {}",
        summary(&rec)
    );
    eprintln!(
        "leader killed mid-run: watch and submit resumed on another member, verdict {:.2}s after the kill",
        killed.elapsed().as_secs_f64()
    );
    // Through a follower of the new leader, `farm status` lists the agents the leader holds.
    let now_leader = c.wait_for_leader(Duration::from_secs(10));
    let follower = others(&c, now_leader)
        .into_iter()
        .find(|&n| n != leader)
        .expect("a live follower");
    c.wait_until("both agents back with the new leader", Duration::from_secs(20), |c| {
        c.try_status(follower)
            .is_some_and(|s| s["agents"].as_array().is_some_and(|a| a.len() == 2))
    });
}
