//! A test farm's own CA and certificates, made with the real `farm certs` commands
//! in the farm's temporary directory (`Options::tls`, `ClusterOptions::tls`).

use std::path::{Path, PathBuf};

use crate::process::base_command;

/// The CA directory; each party's credentials go in `ROLE-NAME/` beside it.
#[derive(Clone)]
pub struct Certs {
    dir: PathBuf,
}

fn farm(args: &[String]) {
    let out = base_command(args).output().expect("run farm certs");
    assert!(
        out.status.success(),
        "farm {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// `farm certs init DIR`.
    pub fn init(dir: &Path) -> Certs {
        farm(&["certs".into(), "init".into(), dir.display().to_string()]);
        Certs { dir: dir.to_path_buf() }
    }

    /// The CA directory (`ca.pem`, `ca.key`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The credentials directory of `role NAME`, issued on first use with `farm certs
    /// issue`.
    pub fn issue(&self, role: &str, name: &str) -> PathBuf {
        let out = self.dir.join(format!("{role}-{name}"));
        if !out.join("cert.pem").exists() {
            let args: Vec<String> = ["certs", "issue", name, "--role", role, "--ca"]
                .iter()
                .map(|s| s.to_string())
                .chain([
                    self.dir.display().to_string(),
                    "--out".into(),
                    out.display().to_string(),
                ])
                .collect();
            farm(&args);
        }
        out
    }
}
