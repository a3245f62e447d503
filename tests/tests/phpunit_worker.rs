//! PHPUnit workers through a real coordinator and agent, with Debian's phpunit in the
//! default sandbox (tests/fixtures/phpunit_worker): shards fork from one bootstrapped
//! worker, and nothing one shard does reaches the next; a shard's output reaches its
//! log; a shard that outlives its timeout is killed with its worker, and the next one
//! starts a fresh worker; `workers: false` runs a process per shard. The same
//! workers in a Docker container and in the sandbox on a runtime image's root.

use serde_json::Value;
use testfarm_integration::containers::ensure_image;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{fixture, Farm, Options};

/// A run's shards in lease order.
fn shards(rec: &Value) -> Vec<&Value> {
    record::shards_in_lease_order(rec)
}

/// One agent with one slot: shards of a stage run one after another on it.
fn one_slot_farm(tag: &str) -> Farm {
    Farm::start(
        tag,
        Options {
            agents: 1,
            slots: 1,
            min_shard: "1ms",
            ..Options::default()
        },
    )
}

/// (bootstrap pid, test pid) from the marker line a fixture test printed into its
/// shard's log.
fn pids(shard: &Value) -> (u32, u32) {
    let tail = shard["outcome"]["log_tail"].as_str().unwrap_or("");
    // PHPUnit's progress dot may stand before it on the line.
    let line = tail
        .lines()
        .find_map(|l| l.find("fixture-marker ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no marker line in the shard's log: {tail}"));
    let pid = |key: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
    };
    (pid("boot="), pid("test="))
}

fn warm(shard: &Value) -> Option<bool> {
    shard["outcome"]["usage"]["worker_warm"].as_bool()
}

#[test]
fn shards_fork_from_one_bootstrapped_worker_and_leave_nothing_to_the_next() {
    let mut farm = one_slot_farm("phpunit-worker");
    let pipeline = fixture("phpunit_worker");

    // Two shards, one after the other on the one slot, in the same worker: each test
    // finds no global or class the other left, so each shard started from the
    // bootstrapped state, not from where the last one ended.
    let out = farm.submit(&pipeline, &["--run", "unit"]);
    let rec = out.json();
    assert_eq!(
        out.code,
        0,
        "nothing leaked from one shard into the next: {}",
        summary(&rec)
    );
    let unit = shards(&rec);
    assert_eq!(unit.len(), 2, "one class per shard: {}", summary(&rec));
    assert_eq!(
        unit.iter().map(|s| warm(s)).collect::<Vec<_>>(),
        [Some(false), Some(true)],
        "the first shard started the worker, the second found it bootstrapped"
    );
    let (boot_a, test_a) = pids(unit[0]);
    let (boot_b, test_b) = pids(unit[1]);
    assert_eq!(boot_a, boot_b, "one bootstrap served both shards");
    assert!(
        test_a != boot_a && test_b != boot_b && test_a != test_b,
        "each shard ran in a child of its own: boot {boot_a}, tests {test_a} and {test_b}"
    );
    // Per shard, the child's own CPU time and memory.
    for s in &unit {
        let usage = &s["outcome"]["usage"];
        assert!(usage["cpu_secs"].as_f64().unwrap_or(0.0) > 0.0, "{usage}");
        assert!(usage["peak_memory_bytes"].as_u64().unwrap_or(0) > 1 << 20, "{usage}");
    }

    // A shard past its stage's timeout: killed, its test timed out, and its worker
    // with it: the next shard of the stage starts a fresh one.
    for attempt in ["first", "second"] {
        let out = farm.submit(&pipeline, &["--run", "slow"]);
        let rec = out.json();
        assert_ne!(out.code, 0, "{attempt}: a hung test fails its run: {}", summary(&rec));
        let results = record::results(&rec);
        assert_eq!(results.len(), 1, "{}", summary(&rec));
        assert_eq!(results[0].status, "timed_out", "{attempt}: {}", summary(&rec));
        let slow = shards(&rec);
        assert_eq!(
            slow[0]["outcome"]["exit"]["kind"], "timed_out",
            "{}",
            slow[0]["outcome"]
        );
        assert_eq!(
            warm(slow[0]),
            Some(false),
            "{attempt}: a fresh worker (the last one was killed with its shard)"
        );
    }

    // `workers: false`: a phpunit process per shard, which bootstraps and runs its
    // tests itself. (Timed now, the two tiny classes share one shard: the second
    // finds what the first left, as it would in one serial phpunit.)
    let out = farm.submit(&pipeline, &["--run", "unit-processes"]);
    let rec = out.json();
    assert_eq!(out.code, 0, "{}", summary(&rec));
    for s in shards(&rec) {
        assert_eq!(warm(s), None, "no worker");
        let (boot, test) = pids(s);
        assert_eq!(boot, test, "the process that bootstrapped ran the tests");
    }
}

#[test]
fn workers_serve_shards_in_a_container_and_on_an_image_root_alike() {
    ensure_image("php82");
    let mut farm = one_slot_farm("phpunit-worker-images");
    let pipeline = fixture("phpunit_worker");
    for (stage, executor) in [("unit-docker", "docker"), ("unit-image", "sandbox")] {
        let out = farm.submit(&pipeline, &["--run", stage]);
        let rec = out.json();
        assert_eq!(out.code, 0, "{stage}: {}", summary(&rec));
        let shards = shards(&rec);
        assert_eq!(
            shards.iter().map(|s| warm(s)).collect::<Vec<_>>(),
            [Some(false), Some(true)],
            "{stage}: one worker served both shards: {}",
            summary(&rec)
        );
        for s in &shards {
            assert_eq!(s["outcome"]["usage"]["executor"], executor, "{stage}");
            let (boot, test) = pids(s);
            assert_ne!(boot, test, "{stage}: the shard ran in a child of the worker");
        }
    }
}
