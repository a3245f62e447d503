//! `loadtest agents`, short (CI): 100 simulated agents × 2 slots against a real
//! 3-node cluster for 8 s, 10 runs in flight. The long version (2,000 agents × 5
//! slots, README) measures; this checks that the simulated agents hold real sessions:
//! every one registers, tasks are leased and completed, no report is refused, runs
//! reach their verdicts, and the figures come out.

use testfarm_loadtest::agents::{measure_and_print, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_agents_take_and_complete_real_leases() {
    let f = measure_and_print(Options {
        agents: 100,
        slots: 2,
        seconds: 8,
        submitters: 10,
        jobs: 3,
        tests: 40,
        test_ms: 20,
    })
    .await;
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    assert_eq!(f.registered, 100, "{f:?}");
    assert!(f.tasks_done >= 100, "{f:?}");
    assert_eq!(f.reports_refused, 0, "{f:?}");
    assert!(f.runs_finished >= 10, "{f:?}");
    assert!(f.entries_per_sec > 0.0 && f.lease_p99_ms > 0.0, "{f:?}");
    assert_eq!(f.rss.len(), 3, "{f:?}");
}
