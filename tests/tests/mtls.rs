//! Mutual TLS on real processes: a coordinator and two agents with certificates of
//! a CA made by `farm certs init`, and the CLI with a client certificate. A run goes
//! through as ever; then everyone who should not get in is tried, each through the
//! real API:
//!
//! - a plain (non-TLS) client, and a client whose certificate comes from another CA,
//!   fail the handshake;
//! - an agent certificate may not submit (the Farm API is for clients);
//! - agent a1's certificate may not speak for agent a2 (register, heartbeat, report);
//! - a client certificate may not send raft messages or forward commands;
//! - an agent started with another agent's certificate refuses to start.
//!
//! Each refusal is PERMISSION_DENIED naming who and what, counted in
//! `farm_calls_refused_total`.

use std::path::Path;

use testfarm_integration::{fixture, http, Farm, Options};
use testfarm_proto::agent_service_client::AgentServiceClient;
use testfarm_proto::raft_service_client::RaftServiceClient;
use testfarm_proto::tls::{self, Tls};
use testfarm_proto::{ForwardRequest, HeartbeatRequest, RaftBatch, RegisterRequest};
use tonic::transport::Channel;

fn channel(runtime: &tokio::runtime::Runtime, addr: &str, credentials: &Path) -> Channel {
    let tls = Tls::load(credentials).unwrap();
    runtime
        .block_on(tls::endpoint(addr, Some(&tls)).unwrap().connect())
        .unwrap_or_else(|e| panic!("TLS connect with {}: {e:?}", credentials.display()))
}

fn denied<T: std::fmt::Debug>(answer: Result<T, tonic::Status>, naming: &str) {
    let status = answer.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains(naming), "{}", status.message());
}

fn refused_calls(farm: &Farm, service: &str) -> u64 {
    http::counter(
        &farm.http_url(),
        &format!("farm_calls_refused_total{{service=\"{service}\"}}"),
    )
}

#[test]
fn only_parties_with_the_right_certificate_get_in() {
    let mut farm = Farm::start(
        "mtls",
        Options {
            tls: true,
            http: true,
            ..Options::default()
        },
    );
    let addr = farm.url();
    let out = farm.submit(&fixture("tiny"), &[]);
    assert_eq!(out.code, 0, "a run over mutual TLS passes: {}", out.stderr);

    // No certificate, or one of another CA: the handshake fails, nothing is served.
    let plain = testfarm_integration::farm_command_without_tls(&["status", "--coordinator", &addr]);
    assert_eq!(plain.code, 2, "{}", plain.stderr);
    assert!(plain.stderr.contains("give this command --tls DIR"), "{}", plain.stderr);
    let rogue_ca = farm.dir().join("rogue-ca");
    let rogue = farm.dir().join("rogue-client");
    let make = |args: &[&str]| {
        let out = testfarm_integration::farm_command_without_tls(args);
        assert_eq!(out.code, 0, "farm {}: {}", args.join(" "), out.stderr);
    };
    make(&["certs", "init", rogue_ca.to_str().unwrap()]);
    make(&[
        "certs",
        "issue",
        "mallory",
        "--role",
        "client",
        "--ca",
        rogue_ca.to_str().unwrap(),
        "--out",
        rogue.to_str().unwrap(),
    ]);
    // It trusts the farm's CA, so only the coordinator's check of the client
    // certificate can turn it away.
    std::fs::copy(farm.dir().join("tls/ca.pem"), rogue.join("ca.pem")).unwrap();
    let foreign = testfarm_integration::farm_command_without_tls(&[
        "status",
        "--coordinator",
        &addr,
        "--tls",
        rogue.to_str().unwrap(),
    ]);
    assert_eq!(foreign.code, 2, "{}", foreign.stderr);
    assert!(foreign.stderr.contains("coordinator"), "{}", foreign.stderr);
    assert!(
        !foreign.stderr.contains("\"runs\""),
        "nothing was served: {}",
        foreign.stderr
    );
    eprintln!("a client certificate of another CA: {}", foreign.stderr.trim());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (a1, a2) = (farm.agent_id(0).to_string(), farm.agent_id(1).to_string());
    let a1_credentials = farm.credentials("agent", &a1).unwrap();

    // An agent's certificate is no client's: it may not submit or read runs.
    let as_agent = testfarm_integration::farm_command_without_tls(&[
        "status",
        "--coordinator",
        &addr,
        "--tls",
        a1_credentials.to_str().unwrap(),
    ]);
    assert_eq!(as_agent.code, 2, "{}", as_agent.stderr);
    assert!(
        as_agent
            .stderr
            .contains(&format!("agent `{a1}` may not call the farm service")),
        "{}",
        as_agent.stderr
    );
    assert!(refused_calls(&farm, "farm") >= 1);

    // Agent a1 may not speak for a2.
    let mut agent = AgentServiceClient::new(channel(&runtime, &addr, &a1_credentials));
    let register = RegisterRequest {
        agent_id: a2.clone(),
        slots: 4,
        ..RegisterRequest::default()
    };
    denied(
        runtime.block_on(agent.register(register)),
        &format!("may not speak for agent `{a2}`"),
    );
    let heartbeat = HeartbeatRequest {
        agent_id: a2.clone(),
        running_tasks: Vec::new(),
    };
    denied(
        runtime.block_on(agent.heartbeat(heartbeat)),
        &format!("may not speak for agent `{a2}`"),
    );
    // Under its own id, the same certificate is let in.
    let own = HeartbeatRequest {
        agent_id: a1.clone(),
        running_tasks: Vec::new(),
    };
    assert!(runtime.block_on(agent.heartbeat(own)).is_ok());
    assert!(refused_calls(&farm, "agent") >= 2);

    // A client may read the cluster's status, but not act as a raft member.
    let client_credentials = farm.credentials("client", "it-client").unwrap();
    let mut raft = RaftServiceClient::new(channel(&runtime, &addr, &client_credentials));
    assert!(runtime
        .block_on(raft.cluster_status(testfarm_proto::ClusterStatusRequest { digest: false }))
        .is_ok());
    denied(
        runtime.block_on(raft.send(RaftBatch { messages: Vec::new() })),
        "may not call the raft service",
    );
    denied(
        runtime.block_on(raft.forward(ForwardRequest { command: Vec::new() })),
        "may not call the raft service",
    );
    assert!(refused_calls(&farm, "raft") >= 2);

    // An agent given another agent's certificate refuses to start.
    let work = farm.dir().join("impostor");
    let impostor = testfarm_integration::farm_command_without_tls(&[
        "agent",
        "--coordinator",
        &addr,
        "--id",
        &a2,
        "--work-dir",
        work.to_str().unwrap(),
        "--tls",
        a1_credentials.to_str().unwrap(),
    ]);
    assert_eq!(impostor.code, 2, "{}", impostor.stderr);
    assert!(
        impostor.stderr.contains(&format!("no certificate of agent `{a2}`")),
        "{}",
        impostor.stderr
    );

    // And the farm still works for those who belong.
    let again = farm.submit(&fixture("tiny"), &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

/// A request carrying `authorization: Bearer TOKEN` when given.
fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

/// `printf %s TOKEN | sha256sum`, as the README tells an operator to do.
fn sha256_hex(token: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("printf %s '{token}' | sha256sum")])
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The access file's grants, on real processes: a reader may read but neither submit
/// nor cancel; a client granted `submit:gate` may submit gate runs but not check
/// runs; a bearer token (no client certificate at all) gets what its entry grants,
/// and an unknown token nothing.
#[test]
fn the_access_file_decides_what_each_client_and_token_may_do() {
    let token = "s3cret-zuul-token";
    let access_dir = tempfile::tempdir().unwrap();
    let access = access_dir.path().join("access.yaml");
    std::fs::write(
        &access,
        format!(
            "clients:\n  it-client: [submit, read, admin]\n  reader: [read]\n  gatekeeper: [submit:gate, read]\n\
             tokens:\n  - name: zuul\n    sha256: {}\n    grants: [submit:check, read]\n",
            sha256_hex(token)
        ),
    )
    .unwrap();
    let access_arg: &'static str = Box::leak(access.display().to_string().into_boxed_str());
    let farm = Farm::start(
        "access",
        Options {
            tls: true,
            http: true,
            coordinator_args: vec!["--access", access_arg],
            ..Options::default()
        },
    );
    let addr = farm.url();
    let tiny = fixture("tiny");
    let tiny_path = tiny.display().to_string();
    let as_client = |name: &str, args: &[&str]| {
        let credentials = farm.credentials("client", name).unwrap();
        let mut all: Vec<&str> = args.to_vec();
        let dir = credentials.display().to_string();
        all.extend(["--coordinator", &addr, "--tls", &dir]);
        testfarm_integration::farm_command_without_tls(&all)
    };

    let read = as_client("reader", &["status"]);
    assert_eq!(read.code, 0, "{}", read.stderr);
    let submit = as_client("reader", &["submit", &tiny_path]);
    assert_eq!(submit.code, 2, "{}", submit.stderr);
    assert!(
        submit.stderr.contains("client `reader` lacks the grant `submit:gate`"),
        "{}",
        submit.stderr
    );
    let cancel = as_client("reader", &["cancel", "r1"]);
    assert!(cancel.stderr.contains("lacks the grant `admin`"), "{}", cancel.stderr);

    let check = as_client("gatekeeper", &["submit", &tiny_path, "--mode", "check"]);
    assert!(
        check.stderr.contains("lacks the grant `submit:check`"),
        "{}",
        check.stderr
    );
    let gate = as_client("gatekeeper", &["submit", &tiny_path, "--json"]);
    assert_eq!(gate.code, 0, "a gate run by the gatekeeper passes: {}", gate.stderr);
    let run_id = gate.json()["run"]["id"].as_str().unwrap().to_string();

    // The run pages over plain HTTP: a token with `read`, once as ?token= (a cookie
    // keeps it) or as a header; nothing without one; /metrics stays open.
    let web = farm.http_url();
    let page = format!("/runs/{run_id}");
    let (code, _, body) = http::get_with(&web, &page, &[]);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("bearer token with the `read` grant"), "{body}");
    let (code, _, _) = http::get_with(&web, &format!("/api/runs/{run_id}?token=wrong"), &[]);
    assert_eq!(code, 401);
    let (code, head, body) = http::get_with(&web, &format!("{page}?token={token}"), &[]);
    assert_eq!(code, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no cookie set: {head}"))
        .to_string();
    assert!(cookie.starts_with("farm_token="), "{cookie}");
    let (code, _, body) = http::get_with(&web, &format!("/api/runs/{run_id}"), &[("Cookie", &cookie)]);
    assert_eq!(code, 200, "the cookie keeps the browser in: {body}");
    let bearer = format!("Bearer {token}");
    let (code, _, _) = http::get_with(&web, "/", &[("Authorization", &bearer)]);
    assert_eq!(code, 200);
    let (code, _, body) = http::get_with(&web, "/metrics", &[]);
    assert_eq!(code, 200, "/metrics stays open");
    assert!(
        body.contains("farm_calls_refused_total{service=\"http\"}"),
        "HTTP refusals are counted"
    );

    // A bearer token over TLS, with no client certificate.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ca = std::fs::read(farm.dir().join("tls/ca.pem")).unwrap();
    let endpoint = tonic::transport::Endpoint::from_shared(format!("https://{}", addr.trim_start_matches("http://")))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca))
                .domain_name(tls::COORDINATOR_DOMAIN),
        )
        .unwrap();
    let channel = runtime
        .block_on(endpoint.connect())
        .expect("TLS without a client certificate");
    let mut api = testfarm_proto::farm_client::FarmClient::new(channel.clone());
    let status = runtime.block_on(api.status(with_token(testfarm_proto::StatusRequest {}, Some(token))));
    assert!(status.is_ok(), "the token may read: {status:?}");
    let submit = |mode: &str| testfarm_proto::SubmitRequest {
        pipeline_yaml: std::fs::read_to_string(&tiny).unwrap(),
        project_dir: tiny.parent().unwrap().display().to_string(),
        mode: mode.into(),
        ..testfarm_proto::SubmitRequest::default()
    };
    denied(
        runtime.block_on(api.submit(with_token(submit("gate"), Some(token)))),
        "token `zuul` lacks the grant `submit:gate`",
    );
    let checked = runtime.block_on(api.submit(with_token(submit("check"), Some(token))));
    assert!(checked.is_ok(), "the token may submit check runs: {checked:?}");
    for bad in [Some("wrong-token"), None] {
        let answer = runtime.block_on(api.status(with_token(testfarm_proto::StatusRequest {}, bad)));
        let status = answer.expect_err("no valid token, no certificate");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    }
    // Without a certificate, the agent and raft services stay shut even to a token.
    let mut agent = AgentServiceClient::new(channel.clone());
    let heartbeat = HeartbeatRequest {
        agent_id: farm.agent_id(0).into(),
        running_tasks: Vec::new(),
    };
    denied(
        runtime.block_on(agent.heartbeat(with_token(heartbeat, Some(token)))),
        "only with a farm certificate",
    );
    let mut raft = RaftServiceClient::new(channel);
    denied(
        runtime.block_on(raft.send(with_token(RaftBatch { messages: Vec::new() }, Some(token)))),
        "only with a farm certificate",
    );
}
