//! Starting `farm` processes: stdin closed, output in files, killed with the test
//! thread that started them (PR_SET_PDEATHSIG), so that a killed test binary leaves
//! no coordinator or agent behind.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::farm_bin;

/// A long-running child (coordinator or agent) with its log file.
pub(crate) struct Proc {
    pub(crate) label: String,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Proc {
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL and reap. Fine on a process that already died.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `farm <args>` with stdin closed, no colours in its logs, and SIGKILLed when the
/// thread that starts it ends.
pub(crate) fn base_command(args: &[String]) -> Command {
    let mut cmd = Command::new(farm_bin());
    cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
    // SAFETY: runs in the forked child before exec; prctl is async-signal-safe and
    // touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from));
    }
    cmd
}

/// A short-lived `farm` command (submit, watch, status) with stdout and stderr in
/// files of their own.
pub(crate) fn farm_command(args: &[String], stdout: &Path, stderr: &Path) -> Command {
    let mut cmd = base_command(args);
    cmd.stdout(File::create(stdout).expect("create stdout file"))
        .stderr(File::create(stderr).expect("create stderr file"));
    cmd
}

/// Starts a long-running `farm` process (coordinator, agent) with both streams in
/// `log`.
pub(crate) fn spawn_logged(label: &str, args: &[String], log: &Path) -> Proc {
    spawn_logged_with(label, base_command(args), log)
}

/// [`spawn_logged`] of a command already made (e.g. one that drops to another user).
pub(crate) fn spawn_logged_with(label: &str, mut command: Command, log: &Path) -> Proc {
    let file = File::create(log).expect("create log");
    let child = command
        .stdout(file.try_clone().expect("clone log"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
    Proc {
        label: label.into(),
        child,
        log: log.to_path_buf(),
    }
}

/// What a finished CLI command left.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// The JSON record on stdout (`--json`); panics with both streams if there is none.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); exit {}\nstdout: {}\nstderr: {}",
                self.code,
                clip(&self.stdout, 2000),
                self.stderr
            )
        })
    }
}

/// Whether a process exists and is not a zombie (`/proc/PID/stat` state `Z`).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            // The state follows the command name, which is in parentheses.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            state != Some("Z")
        }
    }
}

pub(crate) fn is_zombie(pid: i32) -> bool {
    !alive(pid) && Path::new(&format!("/proc/{pid}")).exists()
}

/// The last `lines` lines of a file, long lines clipped.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| clip(l, 600))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &text[..end], text.len() - end)
}

/// `farm ARGS` run on its own, without the credentials a TLS farm gives its CLI
/// commands (FARM_TLS removed): what a stranger, or a party with the wrong
/// certificate, gets. Killed after 30 s.
pub fn farm_command_without_tls(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let started = std::time::Instant::now();
    let mut child = base_command(&args)
        .env_remove("FARM_TLS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn farm");
    while child.try_wait().expect("wait for farm").is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("farm output");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}
