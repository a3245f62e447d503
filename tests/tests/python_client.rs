//! The API from another language: a Python client (grpcio, stubs generated from
//! proto/farm.proto by grpcio-tools, services found by server reflection) submits a
//! run to real coordinator and agent processes, streams its events to the verdict
//! and reads the typed record back — and sees what the farm's own CLI sees of the
//! same run: verdict, counts, every result with its status, the failures streamed.

use std::process::Command;

use serde_json::Value;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{fixture, workspace_root, Farm, Options};

#[test]
fn a_python_client_from_farm_proto_submits_streams_and_reads_the_typed_record() {
    let mut farm = Farm::start("python", Options::default());
    let url = farm.url();
    let root = workspace_root();
    let pipeline = fixture("junit");
    let out = Command::new("python3")
        .arg(root.join("tests/python/farm_client.py"))
        .arg("--proto")
        .arg(root.join("proto/farm.proto"))
        .args(["--coordinator", url.trim_start_matches("http://")])
        .arg("--pipeline")
        .arg(&pipeline)
        .output()
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python client failed (hint: pip install grpcio grpcio-tools grpcio-reflection; scripts/test.sh does): {stderr}"
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));

    let services: Vec<&str> = seen["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for service in ["farm.v1.Farm", "farm.v1.AgentService", "farm.v1.RaftService"] {
        assert!(services.contains(&service), "reflection lists {services:?}");
    }

    // The same run through the CLI.
    let run_id = seen["run_id"].as_str().unwrap().to_string();
    let watched = farm.watch(&run_id);
    let rec = watched.json();
    assert_eq!(watched.code, 1, "the fixture fails two tests");
    assert_eq!(seen["stream_verdict"], "failed");
    assert_eq!(seen["record_verdict"], "VERDICT_FAILED");
    assert_eq!(seen["message"], rec["run"]["message"]);
    for (python, cli) in [
        ("total", "tests_total"),
        ("passed", "tests_passed"),
        ("failed", "tests_failed"),
        ("skipped", "tests_skipped"),
    ] {
        assert_eq!(
            seen["counts"][python].as_u64(),
            Some(record::count(&rec, cli)),
            "{python}"
        );
    }
    assert_eq!(seen["counts"]["failed"], 2);
    let mut cli_results: Vec<(String, String, String)> = record::results(&rec)
        .into_iter()
        .map(|r| {
            let status = format!("TEST_STATUS_{}", r.status.to_uppercase());
            (record::job_name(&rec, r.job), r.id, status)
        })
        .collect();
    cli_results.sort();
    let python_results: Vec<(String, String, String)> = seen["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("job"), s("id"), s("status"))
        })
        .collect();
    assert_eq!(python_results, cli_results, "{}", summary(&rec));
    let mut failed: Vec<&str> = record::failed_tests(&rec);
    failed.sort();
    let streamed: Vec<&str> = seen["failed_seen"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(streamed, failed, "every failure reached the stream");
    assert!(seen["events"].as_u64().unwrap() >= 2, "{seen}");
    assert_eq!(seen["pipeline_stages"], serde_json::json!(["classes", "scripts"]));
    eprintln!(
        "python client: {} events, {} results, services {services:?}",
        seen["events"],
        python_results.len()
    );
}
