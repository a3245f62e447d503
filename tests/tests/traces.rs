//! Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, a run's spans reach an OTLP collector
//! as one tree — run → job → task (from the coordinator) → execute → phases (from the
//! agent that ran the task, parented by the traceparent it was handed). The collector
//! is a real OTLP/gRPC server inside this test process.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::trace::v1::Span;
use testfarm_integration::{farm_bin, workspace_root};

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for ss in rs.scope_spans {
                spans.extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

#[test]
fn a_run_is_one_trace_from_coordinator_to_agent_phases() {
    let collector = Collector::default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind collector");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let service = TraceServiceServer::new(collector.clone());
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let grpc = free_addr();
    let mut procs = Procs(Vec::new());
    let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log");
    procs.0.push(
        Command::new(farm_bin())
            .args(["coordinator", "--listen", &grpc])
            .arg("--data-dir")
            .arg(dir.path().join("c"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .stdout(log("c.out"))
            .stderr(log("c.err"))
            .spawn()
            .expect("coordinator"),
    );
    for i in 0..2 {
        let id = format!("traces-{}-a{i}", std::process::id());
        procs.0.push(
            Command::new(farm_bin())
                .args(["agent", "--coordinator", &format!("http://{grpc}"), "--id", &id])
                .arg("--work-dir")
                .arg(dir.path().join(&id))
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
                .stdout(log(&format!("{id}.out")))
                .stderr(log(&format!("{id}.err")))
                .spawn()
                .expect("agent"),
        );
    }
    // The coordinator binds its port some time after it was spawned: submitting at
    // once raced it (CI saw "cannot reach the coordinator").
    let ready_by = Instant::now() + Duration::from_secs(20);
    loop {
        let status = Command::new(farm_bin())
            .args(["status", "--coordinator", &format!("http://{grpc}")])
            .output()
            .expect("status");
        if status.status.success() {
            break;
        }
        assert!(
            Instant::now() < ready_by,
            "the coordinator did not answer within 20 s: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new(farm_bin())
        .args(["submit", "--json", "--coordinator", &format!("http://{grpc}")])
        .arg(workspace_root().join("examples/quickstart/farm.yaml"))
        .stderr(Stdio::inherit())
        .output()
        .expect("submit");
    assert_eq!(out.status.code(), Some(0));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run record");
    let trace_hex = record["trace_id"]
        .as_str()
        .expect("the run record names its trace")
        .to_string();
    let tasks = record["tasks"].as_array().expect("tasks").len();
    let jobs = record["run"]["jobs"].as_array().expect("jobs").len();
    // run + jobs + tasks from the coordinator; execute + 3 phases per task from agents.
    let expected = 1 + jobs + tasks + 4 * tasks;
    let deadline = Instant::now() + Duration::from_secs(15);
    while collector.spans.lock().unwrap().len() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let spans = collector.spans.lock().unwrap().clone();
    assert_eq!(spans.len(), expected, "every span arrives once");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert!(
        spans.iter().all(|(_, s)| hex(&s.trace_id) == trace_hex),
        "one trace, the one the record names"
    );
    let children = |parent: &[u8]| spans.iter().filter(|(_, s)| s.parent_span_id == parent).count();
    let roots: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1);
    assert!(roots[0].name.starts_with("run "), "{}", roots[0].name);
    assert_eq!(children(&roots[0].span_id), jobs, "a span per job under the run");
    let job_spans: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.parent_span_id == roots[0].span_id)
        .collect();
    let task_count: usize = job_spans.iter().map(|j| children(&j.span_id)).sum();
    assert_eq!(task_count, tasks, "a span per task under its job");
    for (service, task) in spans
        .iter()
        .filter(|(_, s)| s.name.starts_with("shard ") || s.name.starts_with("discover "))
    {
        assert!(service.contains("testfarm-coordinator"), "{service}");
        let executes: Vec<&Span> = spans
            .iter()
            .filter(|(svc, s)| svc.contains("testfarm-agent") && s.parent_span_id == task.span_id)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(executes.len(), 1, "the agent's execute span sits under {}", task.name);
        let phases: Vec<&str> = spans
            .iter()
            .filter(|(_, s)| s.parent_span_id == executes[0].span_id)
            .map(|(_, s)| s.name.as_str())
            .collect();
        assert_eq!(phases.len(), 3, "prepare, start, run under {}", executes[0].name);
        // The agent's work lies within the coordinator's lease-to-result span.
        assert!(executes[0].start_time_unix_nano + 50_000_000 >= task.start_time_unix_nano);
        assert!(executes[0].end_time_unix_nano <= task.end_time_unix_nano + 50_000_000);
    }
}
