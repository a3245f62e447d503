//! Reports are bound to leases, on real coordinator and agent processes: while the
//! agents run a slow run's tests, a stranger's gRPC client reports invented passes for
//! the leased tasks — under an agent id that holds no lease, and under the holder's
//! own id with another attempt. Each is refused with FAILED_PRECONDITION naming why,
//! counted in `farm_reports_refused_total`, and nothing of it reaches the run.

use std::time::Duration;

use testfarm_integration::{fixture, http, Farm, Options};
use testfarm_proto::agent_service_client::AgentServiceClient;
use testfarm_proto::{Exit, TaskOutcome, TaskReport, TestResult};

/// An outcome that claims the test passed in a tenth of a second.
fn invented_pass(test: &str) -> TaskOutcome {
    TaskOutcome {
        exit: Some(Exit {
            kind: Some(testfarm_proto::exit::Kind::Exited(0)),
        }),
        results: vec![TestResult {
            id: test.into(),
            status: testfarm_proto::TestStatus::Passed as i32,
            duration_secs: 0.1,
            message: String::new(),
        }],
        ..TaskOutcome::default()
    }
}

#[test]
fn a_report_from_anyone_but_the_lease_holder_is_refused_and_counted() {
    let mut farm = Farm::start(
        "leasebound",
        Options {
            http: true,
            ..Options::default()
        },
    );
    let url = farm.url();
    let pid_file = farm.dir().join("pids.txt");
    let env = format!("CANCEL_PIDS={}", pid_file.display());
    let run_id = farm.submit_no_wait(&fixture("cancel"), &["--env", &env]);
    farm.wait_until("four leases held", Duration::from_secs(30), |f| {
        f.status()["leases"].as_array().is_some_and(|l| l.len() >= 4)
    });
    let status = farm.status();
    let lease = &status["leases"][0];
    let task = lease["task"].as_str().unwrap().to_string();
    let holder = lease["agent"].as_str().unwrap().to_string();
    let attempt = lease["attempt"].as_u64().unwrap() as u32;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let attempts = [
        ("intruder", attempt, "other_agent"),
        (holder.as_str(), attempt + 1, "stale_attempt"),
    ];
    for (agent, attempt, reason) in attempts {
        let report = TaskReport {
            agent_id: agent.into(),
            task_id: task.clone(),
            attempt,
            outcome: Some(invented_pass("slow-1")),
        };
        let answer = runtime.block_on(async {
            let mut client = AgentServiceClient::connect(url.clone()).await.unwrap();
            client.report_task(report).await
        });
        let status = answer.expect_err("a report without the lease is refused");
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        assert!(
            status.message().contains(&task) && status.message().contains(agent),
            "the refusal names task and agent: {}",
            status.message()
        );
        let why = if reason == "other_agent" {
            format!("leased to agent {holder}")
        } else {
            format!("current lease is attempt {}", attempt - 1)
        };
        assert!(status.message().contains(&why), "{}", status.message());
        let series = format!("farm_reports_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(http::counter(&farm.http_url(), &series), 1, "{reason} counted once");
    }

    // Nothing of it reached the run: the task is still leased to its holder.
    let status = farm.status();
    let still = status["leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["task"] == task.as_str())
        .cloned();
    assert_eq!(
        still.as_ref().map(|l| l["agent"].clone()),
        Some(holder.clone().into()),
        "{status}"
    );
    let out = farm.farm(&["cancel", &run_id, "--coordinator", &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let watched = farm.watch(&run_id);
    let rec = watched.json();
    assert!(
        testfarm_integration::record::results(&rec).is_empty(),
        "no invented pass counted: {}",
        testfarm_integration::record::summary(&rec)
    );
}
