//! The checker: a history recorded independently of the farm's own state, judged.
//!
//! - Every run a client was told was accepted reaches a verdict, in a record read
//!   back after healing (else it was lost).
//! - Every client that followed its run exited with that run's verdict (0 passed,
//!   1 failed, 2 anything else), whichever members died under it.
//! - Each reply reached the caller that asked: the run a client was told it got is
//!   the run of its own submission, and no two submissions got the same run.
//! - Each scheduled test has exactly one result per run (not none, not two: no
//!   result was applied twice), and it is the one its pipeline makes it give.
//! - No task attempt was run by two agents (their own logs say who ran what).
//! - After healing, every replica's state machine is the same (their hashes).
//!
//! Pure: the history comes in as data; each anomaly names what, where and which
//! submission, so the seed that made it replays it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A test's place: job (display name) and test id.
pub type TestKey = (String, String);

/// What a client was told when it submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub client: String,
    /// The client's own name for the submission (sent as its submission id).
    pub submission: String,
    /// The run id it was given; None when it was told the submit failed.
    pub run_id: Option<String>,
    pub exit: Exit,
}

/// How a client's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It followed the run and exited with this code.
    Followed(i32),
    /// It returned once the run was accepted (`--no-wait`, or a refused submit):
    /// it owes no verdict.
    Submitted(i32),
    /// It never exited: killed at the harness's deadline.
    Hung,
}

/// The exit code `farm submit` owes a run's verdict.
pub fn verdict_exit(verdict: &str) -> i32 {
    match verdict {
        "passed" => 0,
        "failed" => 1,
        _ => 2,
    }
}

/// What a submission's pipeline makes each of its tests give.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    /// Test → status name (`passed`, `failed`, `timed_out`, ...).
    pub results: BTreeMap<TestKey, String>,
}

/// A run as a member recorded it, read back after healing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The submission id the run carries.
    pub submission: String,
    /// None: no verdict.
    pub verdict: Option<String>,
    /// Every result the run holds, with its status, as many times as it holds it.
    pub results: Vec<(TestKey, String)>,
}

/// One task attempt an agent ran, from the agent's own log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRun {
    pub agent: String,
    pub task: String,
    pub attempt: u32,
}

#[derive(Debug, Clone, Default)]
pub struct History {
    pub acks: Vec<Ack>,
    /// By submission id.
    pub expected: BTreeMap<String, Expected>,
    /// By run id.
    pub records: BTreeMap<String, Recorded>,
    pub agent_runs: Vec<AgentRun>,
    /// Each replica's state-machine hash after healing, by node id.
    pub replica_hashes: BTreeMap<u64, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// Acknowledged, and no record of it after healing, or none with a verdict.
    Lost { submission: String, run_id: String },
    /// The run a client was told it got belongs to another submission.
    SwappedReply {
        client: String,
        submission: String,
        run_id: String,
        belongs_to: String,
    },
    /// The client exited with a code its run's verdict does not give.
    WrongExit {
        client: String,
        run_id: String,
        exit: i32,
        verdict: String,
    },
    /// The client did not exit within the harness's deadline.
    Hung { client: String, submission: String },
    /// Two submissions were told the same run.
    SharedRun { run_id: String, submissions: Vec<String> },
    /// A scheduled test has no result.
    MissingResult { run_id: String, test: TestKey },
    /// A test has more than one result in one run: applied twice.
    DoubledResult {
        run_id: String,
        test: TestKey,
        times: usize,
    },
    /// A test's result is not the one its pipeline gives.
    WrongResult {
        run_id: String,
        test: TestKey,
        expected: String,
        got: String,
    },
    /// One task attempt was run by two agents.
    SharedAttempt {
        task: String,
        attempt: u32,
        agents: Vec<String>,
    },
    /// The replicas' states differ after healing.
    Diverged { hashes: BTreeMap<u64, String> },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anomaly::Lost { submission, run_id } => {
                write!(f, "lost: {run_id} (submission {submission}) was acknowledged and has no verdict")
            }
            Anomaly::SwappedReply {
                client,
                submission,
                run_id,
                belongs_to,
            } => write!(
                f,
                "swapped reply: {client} was told {run_id} for submission {submission}, but {run_id} is submission {belongs_to}"
            ),
            Anomaly::WrongExit {
                client,
                run_id,
                exit,
                verdict,
            } => write!(f, "wrong exit: {client} exited {exit} for {run_id}, whose verdict is {verdict}"),
            Anomaly::Hung { client, submission } => {
                write!(f, "hung client: {client} never exited for submission {submission}")
            }
            Anomaly::SharedRun { run_id, submissions } => {
                write!(f, "shared run: {run_id} was the answer to {}", submissions.join(", "))
            }
            Anomaly::MissingResult { run_id, test } => write!(f, "missing result: {run_id} {} {}", test.0, test.1),
            Anomaly::DoubledResult { run_id, test, times } => {
                write!(f, "doubled result: {run_id} {} {} has {times} results", test.0, test.1)
            }
            Anomaly::WrongResult {
                run_id,
                test,
                expected,
                got,
            } => write!(f, "wrong result: {run_id} {} {} is {got}, expected {expected}", test.0, test.1),
            Anomaly::SharedAttempt { task, attempt, agents } => {
                write!(f, "shared attempt: {task} attempt {attempt} ran on {}", agents.join(" and "))
            }
            Anomaly::Diverged { hashes } => {
                let all: Vec<String> = hashes.iter().map(|(n, h)| format!("node {n} {h}")).collect();
                write!(f, "diverged replicas: {}", all.join(", "))
            }
        }
    }
}

/// Every anomaly of `history`, in the order of the checks above.
pub fn check(history: &History) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let mut told: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for ack in &history.acks {
        if ack.exit == Exit::Hung {
            out.push(Anomaly::Hung {
                client: ack.client.clone(),
                submission: ack.submission.clone(),
            });
        }
        let Some(run_id) = &ack.run_id else { continue };
        told.entry(run_id).or_default().insert(&ack.submission);
        match history.records.get(run_id) {
            Some(rec) if rec.submission != ack.submission => out.push(Anomaly::SwappedReply {
                client: ack.client.clone(),
                submission: ack.submission.clone(),
                run_id: run_id.clone(),
                belongs_to: rec.submission.clone(),
            }),
            Some(Recorded {
                verdict: Some(verdict), ..
            }) => {
                let followed = match ack.exit {
                    Exit::Followed(code) => Some(code),
                    _ => None,
                };
                if let Some(exit) = followed.filter(|&e| e != verdict_exit(verdict)) {
                    out.push(Anomaly::WrongExit {
                        client: ack.client.clone(),
                        run_id: run_id.clone(),
                        exit,
                        verdict: verdict.clone(),
                    });
                }
            }
            _ => out.push(Anomaly::Lost {
                submission: ack.submission.clone(),
                run_id: run_id.clone(),
            }),
        }
    }
    for (run_id, submissions) in &told {
        if submissions.len() > 1 {
            out.push(Anomaly::SharedRun {
                run_id: run_id.to_string(),
                submissions: submissions.iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    for (run_id, rec) in &history.records {
        // A cancelled or failed-infrastructure run need not have every result; one
        // with a test verdict must, exactly once each.
        let Some(expected) = history.expected.get(&rec.submission) else {
            continue;
        };
        let mut got: BTreeMap<&TestKey, Vec<&str>> = BTreeMap::new();
        for (test, status) in &rec.results {
            got.entry(test).or_default().push(status);
        }
        let judged = matches!(rec.verdict.as_deref(), Some("passed" | "failed"));
        for (test, want) in &expected.results {
            match got.get(test).map(Vec::as_slice) {
                None | Some([]) if judged => out.push(Anomaly::MissingResult {
                    run_id: run_id.clone(),
                    test: test.clone(),
                }),
                None | Some([]) => {}
                Some([one]) if one != want => out.push(Anomaly::WrongResult {
                    run_id: run_id.clone(),
                    test: test.clone(),
                    expected: want.clone(),
                    got: one.to_string(),
                }),
                Some([_]) => {}
                Some(many) => out.push(Anomaly::DoubledResult {
                    run_id: run_id.clone(),
                    test: test.clone(),
                    times: many.len(),
                }),
            }
        }
    }
    let mut ran: BTreeMap<(&str, u32), BTreeSet<&str>> = BTreeMap::new();
    for r in &history.agent_runs {
        ran.entry((&r.task, r.attempt)).or_default().insert(&r.agent);
    }
    for ((task, attempt), agents) in ran {
        if agents.len() > 1 {
            out.push(Anomaly::SharedAttempt {
                task: task.to_string(),
                attempt,
                agents: agents.into_iter().map(String::from).collect(),
            });
        }
    }
    let distinct: BTreeSet<&String> = history.replica_hashes.values().collect();
    if distinct.len() > 1 {
        out.push(Anomaly::Diverged {
            hashes: history.replica_hashes.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(job: &str, test: &str) -> TestKey {
        (job.into(), test.into())
    }

    /// Two clients, two runs, each with a pass and a failure, run once each by one
    /// agent, three replicas alike: nothing to flag.
    fn clean() -> History {
        let mut h = History::default();
        for (client, sub, run) in [("c1", "s1", "r5"), ("c2", "s2", "r9")] {
            h.acks.push(Ack {
                client: client.into(),
                submission: sub.into(),
                run_id: Some(run.into()),
                exit: Exit::Followed(1),
            });
            let results: BTreeMap<TestKey, String> = [
                (key("unit", "passes"), "passed".to_string()),
                (key("unit", "fails"), "failed".to_string()),
            ]
            .into();
            h.records.insert(
                run.into(),
                Recorded {
                    submission: sub.into(),
                    verdict: Some("failed".into()),
                    results: results.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                },
            );
            h.expected.insert(sub.into(), Expected { results });
            h.agent_runs.push(AgentRun {
                agent: "a1".into(),
                task: format!("{run}.j0.s0"),
                attempt: 1,
            });
        }
        // A retry on another agent is a new attempt: fine.
        h.agent_runs.push(AgentRun {
            agent: "a2".into(),
            task: "r5.j0.s0".into(),
            attempt: 2,
        });
        // A submit that failed and was never acknowledged owes nothing.
        h.acks.push(Ack {
            client: "c3".into(),
            submission: "s3".into(),
            run_id: None,
            exit: Exit::Submitted(2),
        });
        h.replica_hashes = [(1, "ab".into()), (2, "ab".into()), (3, "ab".into())].into();
        h
    }

    #[test]
    fn a_clean_history_has_no_anomaly() {
        assert_eq!(check(&clean()), []);
    }

    #[test]
    fn each_planted_anomaly_is_flagged() {
        let mut doubled = clean();
        doubled
            .records
            .get_mut("r5")
            .unwrap()
            .results
            .push((key("unit", "passes"), "passed".into()));
        assert_eq!(
            check(&doubled),
            [Anomaly::DoubledResult {
                run_id: "r5".into(),
                test: key("unit", "passes"),
                times: 2
            }]
        );

        let mut dropped = clean();
        dropped.records.remove("r9");
        assert_eq!(
            check(&dropped),
            [Anomaly::Lost {
                submission: "s2".into(),
                run_id: "r9".into()
            }]
        );
        let mut unfinished = clean();
        unfinished.records.get_mut("r9").unwrap().verdict = None;
        assert!(matches!(check(&unfinished)[..], [Anomaly::Lost { .. }]));

        let mut swapped = clean();
        swapped.acks[0].run_id = Some("r9".into());
        swapped.acks[1].run_id = Some("r5".into());
        let found = check(&swapped);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().all(|a| matches!(a, Anomaly::SwappedReply { .. })),
            "{found:?}"
        );
        assert!(
            found[0]
                .to_string()
                .contains("c1 was told r9 for submission s1, but r9 is submission s2"),
            "{}",
            found[0]
        );

        let mut shared = clean();
        shared.acks[1].run_id = Some("r5".into());
        let found = check(&shared);
        assert!(found.contains(&Anomaly::SharedRun {
            run_id: "r5".into(),
            submissions: vec!["s1".into(), "s2".into()]
        }));

        let mut exited_wrong = clean();
        exited_wrong.acks[1].exit = Exit::Followed(0);
        assert_eq!(
            check(&exited_wrong),
            [Anomaly::WrongExit {
                client: "c2".into(),
                run_id: "r9".into(),
                exit: 0,
                verdict: "failed".into()
            }]
        );

        let mut hung = clean();
        hung.acks[2].exit = Exit::Hung;
        assert_eq!(
            check(&hung),
            [Anomaly::Hung {
                client: "c3".into(),
                submission: "s3".into()
            }]
        );

        let mut diverged = clean();
        diverged.replica_hashes.insert(2, "cd".into());
        assert!(matches!(check(&diverged)[..], [Anomaly::Diverged { .. }]));

        let mut two_agents = clean();
        two_agents.agent_runs.push(AgentRun {
            agent: "a2".into(),
            task: "r9.j0.s0".into(),
            attempt: 1,
        });
        assert_eq!(
            check(&two_agents),
            [Anomaly::SharedAttempt {
                task: "r9.j0.s0".into(),
                attempt: 1,
                agents: vec!["a1".into(), "a2".into()]
            }]
        );

        let mut wrong = clean();
        wrong.records.get_mut("r9").unwrap().results[0].1 = "passed".into();
        assert!(
            matches!(check(&wrong)[..], [Anomaly::WrongResult { .. }]),
            "{:?}",
            check(&wrong)
        );

        let mut missing = clean();
        missing.records.get_mut("r9").unwrap().results.pop();
        assert!(matches!(check(&missing)[..], [Anomaly::MissingResult { .. }]));
        // A cancelled run owes no result (and its client exits 2).
        missing.records.get_mut("r9").unwrap().verdict = Some("cancelled".into());
        missing.acks[1].exit = Exit::Followed(2);
        assert_eq!(check(&missing), []);
    }
}
