//! [`Cli`]: `farm` commands run from any thread (a test's main thread and, say, a
//! submitter thread at once), each with its stdout and stderr in files of its own in
//! the test's directory, kept for the failure report.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::{farm_command, Output};
use crate::COMMAND_TIMEOUT;

/// Runs `farm` commands from any thread, each with its output in files of its own.
#[derive(Clone)]
pub struct Cli {
    dir: PathBuf,
    seq: Arc<AtomicU32>,
    logs: Arc<Mutex<Vec<PathBuf>>>,
    /// The credentials every command uses (FARM_TLS), for a farm with TLS.
    tls: Option<PathBuf>,
}

impl Cli {
    /// Commands whose outputs go to `dir`.
    pub fn new(dir: &Path) -> Cli {
        Cli {
            dir: dir.to_path_buf(),
            seq: Arc::new(AtomicU32::new(0)),
            logs: Arc::new(Mutex::new(Vec::new())),
            tls: None,
        }
    }

    /// The same, every command with these credentials (FARM_TLS).
    pub fn with_tls(mut self, credentials: PathBuf) -> Cli {
        self.tls = Some(credentials);
        self
    }

    /// The output files of every command so far, in order (stdout, stderr, ...).
    pub fn outputs(&self) -> Vec<PathBuf> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Runs `farm <args>`; Err if it is still running after `timeout` (it is killed).
    pub fn try_run(&self, args: &[&str], timeout: Duration) -> Result<Output, String> {
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let name = args
            .iter()
            .take(2)
            .map(|a| a.trim_start_matches('-'))
            .filter(|a| a.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect::<Vec<_>>()
            .join("-");
        let stdout = self.dir.join(format!("cmd-{n}-{name}.out"));
        let stderr = self.dir.join(format!("cmd-{n}-{name}.err"));
        fs::write(self.dir.join(format!("cmd-{n}-{name}.args")), args.join(" ")).expect("write args");
        {
            let mut logs = self.logs.lock().expect("logs lock");
            logs.push(stdout.clone());
            logs.push(stderr.clone());
        }
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let started = Instant::now();
        let mut command = farm_command(&args, &stdout, &stderr);
        if let Some(dir) = &self.tls {
            command.env("FARM_TLS", dir);
        }
        let mut child = command.spawn().expect("spawn farm");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for farm") {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`farm {}` did not finish within {timeout:?}", args.join(" ")));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(Output {
            code: status
                .code()
                .unwrap_or_else(|| panic!("`farm {}` died: {status}", args.join(" "))),
            stdout: fs::read_to_string(&stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr).unwrap_or_default(),
            elapsed: started.elapsed(),
        })
    }

    /// Runs `farm <args>` to completion (at most [`COMMAND_TIMEOUT`]).
    pub fn run(&self, args: &[&str]) -> Output {
        self.try_run(args, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
    }
}
