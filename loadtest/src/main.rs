//! `loadtest`: load and fault tests of real coordinator and agent processes.
//!
//! - `loadtest raft --seconds 10 --clients 16`: raft commit throughput and latency
//!   of 3 nodes against 1 (see raft.rs).
//! - `loadtest nemesis --cycles 100 [--seed N]`: faults against a cluster and its
//!   agents while clients submit and follow runs; the history checked (see
//!   testfarm_loadtest::nemesis).
//!
//! Build first: `cargo build --release -p testfarm-cli -p testfarm-loadtest`; the
//! `farm` binary must lie beside this one.

use std::time::Duration;

use clap::{Parser, Subcommand};
use testfarm_loadtest::{agents, nemesis, raft};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Committed transitions per second and commit latency, 3 nodes against 1.
    Raft {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent submitters.
        #[arg(long, default_value_t = 16)]
        clients: usize,
    },
    /// Simulated agents holding real lease streams against a 3-node cluster, taking
    /// the shards of runs that submitters keep coming: tasks/s, committed entries/s,
    /// lease latency, the coordinators' RSS and CPU.
    Agents(agents::Options),
    /// Kills, pauses and partitions coordinators and agents while clients submit
    /// runs; checks that nothing acknowledged was lost, doubled or misrouted.
    Nemesis {
        #[arg(long, default_value_t = 100)]
        cycles: usize,
        /// Replays a schedule; default: drawn from the clock (printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Coordinators: 3 or 5.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        #[arg(long, default_value_t = 3)]
        agents: usize,
        #[arg(long, default_value_t = 2)]
        slots: u32,
        /// Concurrent submitting clients.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// The target for the first new lease after a leader is killed (p99).
        #[arg(long, default_value = "1.5s", value_parser = humantime::parse_duration)]
        lease_p99: Duration,
    },
}

#[tokio::main]
async fn main() {
    match Args::parse().what {
        What::Raft { seconds, clients } => raft::measure_and_print(seconds, clients).await,
        What::Agents(options) => {
            let figures = agents::measure_and_print(options).await;
            if !figures.errors.is_empty() || figures.tasks_done == 0 {
                std::process::exit(1);
            }
        }
        What::Nemesis {
            cycles,
            seed,
            nodes,
            agents,
            slots,
            clients,
            lease_p99,
        } => {
            if ![3, 5].contains(&nodes) {
                eprintln!("loadtest: --nodes {nodes}: a nemesis cluster has 3 or 5 coordinators");
                std::process::exit(2);
            }
            if let Err(why) = nemesis::preflight() {
                eprintln!("loadtest: {why}");
                std::process::exit(2);
            }
            let seed = seed.unwrap_or_else(testfarm_integration::rng::Rng::seed_from_env);
            eprintln!("nemesis: seed {seed} (replay with --seed {seed})");
            let opts = nemesis::Options {
                nodes,
                agents,
                slots,
                clients,
                cycles,
                seed,
            };
            let report = tokio::task::spawn_blocking(move || nemesis::run(&opts))
                .await
                .expect("the nemesis thread");
            print!("{report}");
            let misses = nemesis::misses(&report, lease_p99);
            for miss in &misses {
                println!("MISSED: {miss}");
            }
            if !misses.is_empty() {
                std::process::exit(1);
            }
            println!(
                "targets met: 0 anomalies, every client exited with its run's verdict, first new lease p99 <= {:.2}s",
                lease_p99.as_secs_f64()
            );
        }
    }
}
