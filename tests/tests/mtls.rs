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
        .block_on(raft.cluster_status(testfarm_proto::ClusterStatusRequest {}))
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
