//! `farm`: the one binary. Parses arguments and calls the libraries; nothing else.
//! Exit codes: 0 all passed, 1 test failures, 2 usage or infrastructure error.

mod args;
mod capacity;
mod certs;
mod cluster;
mod error;
mod files;
mod follow;
mod image;
mod logs;
mod quarantine;
mod report;
mod repos;
mod select;
mod serve;
mod submit;
mod telemetry;
mod up;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Coordinator(_) | Command::Agent(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FARM_LOG").unwrap_or_else(|_| default_level.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let tls = match cli.tls.as_deref().map(testfarm_proto::tls::Tls::load).transpose() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("farm: error: --tls: {e}");
            std::process::exit(2);
        }
    };
    if let Some(tls) = &tls {
        submit::use_tls(tls.clone());
        if let Some(until) = tls.valid_until().filter(|u| u.days_left() < 14) {
            eprintln!(
                "farm: warning: the certificate in {} expires {} ({} days): issue a new one with `farm certs issue`",
                tls.dir().display(),
                until.text,
                until.days_left()
            );
        }
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(a) => up::up(a).await,
            Command::Coordinator(a) => serve::coordinator(a, tls).await,
            Command::Agent(a) => serve::agent(a, tls).await,
            Command::Submit(a) => submit::submit_command(a).await,
            Command::Watch(a) => submit::watch_command(a).await,
            Command::Cancel(a) => submit::cancel_command(a).await,
            Command::Drain(a) => submit::drain_command(a).await,
            Command::Rerun(a) => submit::rerun_command(a).await,
            Command::Quarantine(c) => quarantine::quarantine_command(c).await,
            Command::Logs(a) => logs::logs_command(a).await,
            Command::Status(a) => submit::status_command(a).await,
            Command::Report(a) => report::report_command(a).await,
            Command::Cluster(c) => cluster::cluster(c).await,
            Command::Image(a) => image::image(a).await,
            Command::Capacity(a) => capacity::capacity(a),
            Command::Certs(c) => certs::certs_command(c),
            Command::Select(a) => match a.command {
                Some(args::SelectCommand::Evaluate(e)) => select::evaluate_command(e),
                None => select::query_command(a.query).await,
            },
        }
    });
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            if !matches!(e, CliError::TestsFailed { .. }) {
                eprintln!("farm: error: {e}");
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}
