//! `loadtest raft`: committed state transitions per second and commit latency of a
//! 3-node coordinator cluster on loopback, against a single node measured in the same
//! run (the baseline). Each `Submit` is one committed transition (`AcceptRun`) whose
//! reply comes only after the entry is applied; no agents run, so nothing else is
//! proposed. Bounded in time and to loopback addresses; stops by itself.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testfarm_proto::farm_client::FarmClient;
use testfarm_proto::SubmitRequest;

const PIPELINE: &str = "pipeline: load\nstages:\n  unit:\n    discover: echo t1\n    each: \"true\"\n";

pub(crate) struct Cluster {
    pub(crate) children: Vec<Child>,
    pub(crate) addrs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) fn start(nodes: usize) -> Cluster {
    let dir = tempfile::tempdir().expect("temp dir");
    let addrs: Vec<String> = (0..nodes).map(|_| format!("127.0.0.1:{}", free_port())).collect();
    let peers: Vec<String> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}={a}", i + 1))
        .collect();
    let children = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let mut cmd = Command::new(testfarm_integration::farm_bin());
            cmd.args(["coordinator", "--id", &(i + 1).to_string(), "--listen", addr]);
            cmd.arg("--data-dir").arg(dir.path().join(format!("n{}", i + 1)));
            if nodes > 1 {
                cmd.args(["--peers", &peers.join(",")]);
            }
            // LOADTEST_LOG_DIR=DIR keeps each coordinator's log (at FARM_LOG, default
            // info) as DIR/nN.log, to see where a stall came from.
            match std::env::var_os("LOADTEST_LOG_DIR") {
                Some(logs) => {
                    let path = std::path::Path::new(&logs).join(format!("n{}.log", i + 1));
                    let file = std::fs::File::create(&path).expect("create the coordinator's log");
                    cmd.env("FARM_LOG", std::env::var("FARM_LOG").unwrap_or_else(|_| "info".into()))
                        .env("NO_COLOR", "1")
                        .stdout(Stdio::null())
                        .stderr(file);
                }
                None => {
                    cmd.env("FARM_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::null());
                }
            }
            cmd.spawn().expect("start coordinator")
        })
        .collect();
    Cluster {
        children,
        addrs,
        _dir: dir,
    }
}

async fn client(addr: &str) -> Option<FarmClient<tonic::transport::Channel>> {
    FarmClient::connect(format!("http://{addr}")).await.ok()
}

/// Submits until one is accepted: the cluster is up and has a leader.
pub(crate) async fn wait_ready(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(mut c) = client(addr).await {
            if c.submit(request()).await.is_ok() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no leader at {addr} after 20s");
}

fn request() -> SubmitRequest {
    SubmitRequest {
        pipeline_yaml: PIPELINE.into(),
        pipeline_path: "load.yaml".into(),
        project_dir: "/tmp".into(),
        mode: "check".into(),
        submitter: "loadtest".into(),
        ..Default::default()
    }
}

struct Figures {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    count: usize,
}

async fn measure(addrs: &[String], seconds: u64, clients: usize) -> Figures {
    wait_ready(&addrs[0]).await;
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for i in 0..clients {
        // Clients spread over all nodes: followers forward to the leader.
        let addr = addrs[i % addrs.len()].clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let Some(mut c) = client(&addr).await else {
                return latencies;
            };
            while Instant::now() < until {
                let start = Instant::now();
                if c.submit(request()).await.is_ok() {
                    latencies.push(start.elapsed().as_secs_f64() * 1000.0);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap_or_default());
    }
    all.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Figures {
        per_sec: all.len() as f64 / seconds as f64,
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        count: all.len(),
    }
}

pub async fn measure_and_print(seconds: u64, clients: usize) {
    println!(
        "raft commit load: {} clients for {}s per cluster, loopback",
        clients, seconds
    );
    let single = start(1);
    let base = measure(&single.addrs, seconds, clients).await;
    drop(single);
    let three = start(3);
    let trio = measure(&three.addrs, seconds, clients).await;
    drop(three);
    for (name, f) in [("1 node (baseline)", &base), ("3 nodes", &trio)] {
        println!(
            "{name:<18} {:>8.0} commits/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} commits)",
            f.per_sec, f.p50_ms, f.p99_ms, f.count
        );
    }
    println!(
        "3 nodes / 1 node: throughput {:.2}x, p50 latency {:.2}x, p99 latency {:.2}x",
        trio.per_sec / base.per_sec.max(1e-9),
        trio.p50_ms / base.p50_ms.max(1e-9),
        trio.p99_ms / base.p99_ms.max(1e-9)
    );
}
