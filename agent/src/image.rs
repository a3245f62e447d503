//! Runtime images on this host: built from Debian packages with debootstrap into a
//! cache directory, imported into Docker from there, and found again by agents at
//! start. The definitions and their input hash are pure (`testfarm_shared::image`);
//! this module does the work. See ../shared/DESIGN.md, "Executors".
//!
//! Cache layout (default `/var/cache/testfarm/images`, `--image-cache`):
//!
//! ```text
//! <cache>/NAME-HASH/rootfs/         the root filesystem (the sandbox's image)
//! <cache>/NAME-HASH/complete.json   written last: the rootfs is whole (the marker)
//! <cache>/NAME-HASH/rootfs.partial/ a build in progress (or interrupted: redone)
//! <cache>/NAME-HASH/lock            flock: one build of an image at a time
//! <cache>/NAME.current              the HASH that `NAME` means on this host
//! ```
//!
//! Docker gets the same tree as `testfarm/NAME:HASH` (`POST /images/create?fromSrc=-`
//! through bollard, the body a `tar` of the rootfs streamed from the system `tar`). A
//! build with unchanged inputs finds both the marker and the docker image and does
//! nothing; a missing docker image is imported again from the rootfs, and the docker
//! executor does the same on first use when an image was pruned.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::Docker;
use serde::{Deserialize, Serialize};
use testfarm_shared::config::ConfigError;
use testfarm_shared::image::{docker_ref, ImageDef};
use tokio_stream::StreamExt;

pub const DEFAULT_CACHE: &str = "/var/cache/testfarm/images";
const MARKER: &str = "complete.json";

/// Something a build reports while it works (for a progress display).
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// A new step starts.
    Step(String),
    /// debootstrap's phase (retrieving, extracting, unpacking, configuring) and how
    /// many packages it has been through in that phase, with its last line.
    Packages { phase: String, count: u64, line: String },
    /// Bytes of the rootfs sent to Docker so far, of about `total`.
    Imported { bytes: u64, total: u64 },
    /// A step was not needed.
    Skipped(String),
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildReport {
    pub rootfs: PathBuf,
    pub docker_ref: String,
    /// None: the rootfs was already complete.
    pub debootstrap_secs: Option<f64>,
    /// None: the docker image existed, or there is no Docker daemon.
    pub import_secs: Option<f64>,
    /// Whether the image is in Docker now.
    pub in_docker: bool,
    pub rootfs_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Definition(#[from] ConfigError),
    #[error("building an image needs root (debootstrap creates device nodes and chowns files)")]
    NotRoot,
    #[error("debootstrap is not installed (hint: apt-get install debootstrap)")]
    NoDebootstrap,
    #[error("debootstrap failed ({status}); its last lines:\n{tail}")]
    Debootstrap { status: String, tail: String },
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot import {reference} into Docker: {message}")]
    Import { reference: String, message: String },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ImageError + 'a {
    move |source| ImageError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// What the marker records.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    name: String,
    hash: String,
    inputs: String,
    built_at_unix: u64,
    debootstrap_secs: f64,
}

/// An image whose rootfs is complete in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    pub name: String,
    pub hash: String,
    pub rootfs: PathBuf,
}

impl LocalImage {
    pub fn docker_ref(&self) -> String {
        docker_ref(&self.name, &self.hash)
    }
}

/// The image cache directory.
#[derive(Debug, Clone)]
pub struct ImageCache {
    pub dir: PathBuf,
}

impl ImageCache {
    pub fn new(dir: impl Into<PathBuf>) -> ImageCache {
        ImageCache { dir: dir.into() }
    }

    fn entry(&self, name: &str, hash: &str) -> PathBuf {
        self.dir.join(format!("{name}-{hash}"))
    }

    fn current_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.current"))
    }

    /// The complete local build that `name` means here, if any.
    pub fn resolve(&self, name: &str) -> Option<LocalImage> {
        let hash = fs::read_to_string(self.current_file(name)).ok()?.trim().to_string();
        self.complete(name, &hash)
    }

    fn complete(&self, name: &str, hash: &str) -> Option<LocalImage> {
        let entry = self.entry(name, hash);
        let rootfs = entry.join("rootfs");
        (entry.join(MARKER).is_file() && rootfs.is_dir()).then(|| LocalImage {
            name: name.into(),
            hash: hash.into(),
            rootfs,
        })
    }

    /// Every image with a complete rootfs, by name.
    pub fn scan(&self) -> Vec<LocalImage> {
        let mut out: Vec<LocalImage> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|f| f.strip_suffix(".current").map(String::from))
            .filter_map(|name| self.resolve(&name))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// Builds `def` into the cache (unless complete) and into Docker (when `docker` is
/// given and the image is missing there), reporting progress to `progress`.
pub async fn build(
    def: &ImageDef,
    cache: &ImageCache,
    docker: Option<&Docker>,
    progress: &mut (dyn FnMut(BuildEvent) + Send),
) -> Result<BuildReport, ImageError> {
    let hash = def.input_hash();
    let entry = cache.entry(&def.name, &hash);
    fs::create_dir_all(&entry).map_err(io_err("cannot create", &entry))?;
    let lock_path = entry.join("lock");
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err("cannot open", &lock_path))?;
    use nix::fcntl::{Flock, FlockArg};
    let lock_error = |e: nix::errno::Errno| ImageError::Io {
        what: "cannot lock",
        path: lock_path.clone(),
        source: e.into(),
    };
    let _lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
            progress(BuildEvent::Step(format!(
                "another build of {} holds {}: waiting",
                def.name,
                lock_path.display()
            )));
            tokio::task::spawn_blocking(move || Flock::lock(file, FlockArg::LockExclusive))
                .await
                .expect("lock thread")
                .map_err(|(_, e)| lock_error(e))?
        }
        Err((_, e)) => return Err(lock_error(e)),
    };

    let mut report = BuildReport {
        rootfs: entry.join("rootfs"),
        docker_ref: def.docker_ref(),
        ..Default::default()
    };
    if cache.complete(&def.name, &hash).is_some() {
        progress(BuildEvent::Skipped(format!(
            "rootfs {} is complete",
            report.rootfs.display()
        )));
    } else {
        let started = Instant::now();
        debootstrap(def, &entry, progress).await?;
        let secs = started.elapsed().as_secs_f64();
        report.debootstrap_secs = Some(secs);
        let marker = Marker {
            name: def.name.clone(),
            hash: hash.clone(),
            inputs: def.canonical(),
            built_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            debootstrap_secs: secs,
        };
        let marker_path = entry.join(MARKER);
        fs::write(&marker_path, serde_json::to_vec_pretty(&marker).expect("marker json"))
            .map_err(io_err("cannot write", &marker_path))?;
    }
    let current = cache.current_file(&def.name);
    fs::write(&current, format!("{hash}\n")).map_err(io_err("cannot write", &current))?;
    report.rootfs_bytes = dir_size(&report.rootfs);

    if let Some(docker) = docker {
        let reference = def.docker_ref();
        if docker.inspect_image(&reference).await.is_ok() {
            progress(BuildEvent::Skipped(format!("docker image {reference} exists")));
        } else {
            let started = Instant::now();
            import(docker, &report.rootfs, &reference, report.rootfs_bytes, progress).await?;
            report.import_secs = Some(started.elapsed().as_secs_f64());
        }
        report.in_docker = true;
    }
    Ok(report)
}

/// debootstrap into `<entry>/rootfs.partial`, tidy up, rename to `rootfs`.
async fn debootstrap(
    def: &ImageDef,
    entry: &Path,
    progress: &mut (dyn FnMut(BuildEvent) + Send),
) -> Result<(), ImageError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(ImageError::NotRoot);
    }
    let which = std::process::Command::new("sh")
        .args(["-c", "command -v debootstrap"])
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .output();
    if !which.is_ok_and(|o| o.status.success()) {
        return Err(ImageError::NoDebootstrap);
    }
    let partial = entry.join("rootfs.partial");
    let rootfs = entry.join("rootfs");
    for stale in [&partial, &rootfs] {
        if stale.exists() {
            progress(BuildEvent::Step(format!("removing the unfinished {}", stale.display())));
            fs::remove_dir_all(stale).map_err(io_err("cannot remove", stale))?;
        }
    }
    let mut args: Vec<String> = Vec::new();
    if def.variant != "default" {
        args.push(format!("--variant={}", def.variant));
    }
    if !def.packages.is_empty() {
        args.push(format!("--include={}", def.packages.join(",")));
    }
    args.push(def.suite.clone());
    args.push(partial.display().to_string());
    args.push(mirror_of(def));
    progress(BuildEvent::Step(format!("debootstrap {}", args.join(" "))));

    let mut child = tokio::process::Command::new("debootstrap")
        .args(&args)
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ImageError::Debootstrap {
            status: format!("cannot start: {e}"),
            tail: String::new(),
        })?;
    // Both streams into one line channel (debootstrap logs on both).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut tail: Vec<String> = Vec::new();
    let mut phase = String::new();
    let mut count = 0;
    while let Some(line) = rx.recv().await {
        if let Some(p) = package_phase(&line) {
            if p != phase {
                phase = p.to_string();
                count = 0;
            }
            count += 1;
        }
        progress(BuildEvent::Packages {
            phase: if phase.is_empty() {
                "preparing".into()
            } else {
                phase.clone()
            },
            count,
            line: line.clone(),
        });
        tail.push(line);
        if tail.len() > 40 {
            tail.remove(0);
        }
    }
    let status = child.wait().await.map_err(|e| ImageError::Debootstrap {
        status: format!("cannot wait: {e}"),
        tail: String::new(),
    })?;
    if !status.success() {
        // debootstrap keeps its own log inside the target.
        let log = fs::read_to_string(partial.join("debootstrap/debootstrap.log")).unwrap_or_default();
        let log_tail: Vec<&str> = log
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ImageError::Debootstrap {
            status: status.to_string(),
            tail: format!("{}\n{}", tail.join("\n"), log_tail.join("\n")),
        });
    }
    progress(BuildEvent::Step("tidying the rootfs".into()));
    tidy(&partial)?;
    fs::rename(&partial, &rootfs).map_err(io_err("cannot rename to rootfs", &partial))?;
    Ok(())
}

/// debootstrap's per-package lines: "I: Retrieving libc6 2.36-9+deb12u4", ...
/// The mirror an image is built from: its definition's, else this machine's own apt
/// source (the archive the site already reaches and trusts), else Debian's default.
pub fn mirror_of(def: &ImageDef) -> String {
    if let Some(mirror) = &def.mirror {
        return mirror.clone();
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    let mut parts: Vec<PathBuf> = fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources"))
        .collect();
    parts.sort();
    files.extend(parts);
    let texts: Vec<String> = files.iter().filter_map(|f| fs::read_to_string(f).ok()).collect();
    testfarm_shared::image::apt_mirror(texts.iter().map(String::as_str))
        .unwrap_or_else(|| testfarm_shared::image::DEFAULT_MIRROR.to_string())
}

fn package_phase(line: &str) -> Option<&'static str> {
    let rest = line.strip_prefix("I: ")?;
    let phases = [
        ("Retrieving ", "retrieving"),
        // Each package is validated right after it is retrieved: one phase.
        ("Validating ", "retrieving"),
        ("Extracting ", "extracting"),
        ("Unpacking ", "unpacking"),
        ("Configuring ", "configuring"),
    ];
    phases
        .iter()
        .find(|(prefix, _)| rest.starts_with(prefix) && !rest.ends_with("..."))
        .map(|(_, p)| *p)
}

/// Drops what only the build needed (downloaded .debs, package lists) and makes sure
/// the directories both executors mount over exist.
fn tidy(root: &Path) -> Result<(), ImageError> {
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = root.join(dir);
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_file() && entry.file_name() != "lock" {
                let _ = fs::remove_file(&path);
            }
        }
    }
    for dir in ["proc", "dev", "sys", "tmp"] {
        let dir = root.join(dir);
        fs::create_dir_all(&dir).map_err(io_err("cannot create", &dir))?;
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp = root.join("tmp");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).map_err(io_err("cannot chmod", &tmp))?;
    Ok(())
}

/// Imports `rootfs` into Docker as `reference` (`testfarm/NAME:HASH`): the body of
/// `POST /images/create?fromSrc=-` is `tar -C rootfs -c .`, streamed.
pub async fn import(
    docker: &Docker,
    rootfs: &Path,
    reference: &str,
    total: u64,
    progress: &mut (dyn FnMut(BuildEvent) + Send),
) -> Result<(), ImageError> {
    let fail = |message: String| ImageError::Import {
        reference: reference.into(),
        message,
    };
    let (repo, tag) = reference.rsplit_once(':').ok_or_else(|| fail("no tag".into()))?;
    progress(BuildEvent::Step(format!("docker import {reference}")));
    let mut tar = tokio::process::Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-C"])
        .arg(rootfs)
        .args(["-cf", "-", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot start tar: {e}")))?;
    let stdout = tar.stdout.take().expect("piped");
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let body = tokio_util::io::ReaderStream::with_capacity(stdout, 256 * 1024).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            counter.fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        chunk
    });
    let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .build();
    let stream = docker.create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    tokio::pin!(stream);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            item = stream.next() => match item {
                None => break,
                Some(Ok(info)) => {
                    if let Some(e) = info.error_detail.and_then(|d| d.message) {
                        return Err(fail(e));
                    }
                }
                Some(Err(e)) => return Err(fail(e.to_string())),
            },
            _ = ticker.tick() => progress(BuildEvent::Imported {
                bytes: sent.load(std::sync::atomic::Ordering::Relaxed),
                total,
            }),
        }
    }
    let out = tar.wait_with_output().await.map_err(|e| fail(format!("tar: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "tar {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    docker
        .inspect_image(reference)
        .await
        .map_err(|e| fail(format!("not found after the import: {e}")))?;
    progress(BuildEvent::Imported {
        bytes: sent.load(std::sync::atomic::Ordering::Relaxed),
        total,
    });
    Ok(())
}

/// `bookworm/minbase + php8.2-cli, phpunit` for listings.
pub fn definition_summary(def: &ImageDef) -> String {
    if def.packages.is_empty() {
        format!("{}/{}", def.suite, def.variant)
    } else {
        format!("{}/{} + {}", def.suite, def.variant, def.packages.join(", "))
    }
}

/// Bytes of regular files under `dir` (no symlinks followed), for progress.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debootstrap_lines_are_phases() {
        assert_eq!(package_phase("I: Retrieving libc6 2.36-9"), Some("retrieving"));
        assert_eq!(package_phase("I: Validating libc6 2.36-9"), Some("retrieving"));
        assert_eq!(package_phase("I: Configuring php8.2-cli..."), None);
        assert_eq!(package_phase("I: Configuring libc-bin"), Some("configuring"));
        assert_eq!(package_phase("I: Retrieving Release"), Some("retrieving"));
        assert_eq!(package_phase("W: something"), None);
    }

    #[test]
    fn only_complete_builds_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::new(dir.path());
        assert!(cache.resolve("base").is_none());
        fs::create_dir_all(dir.path().join("base-00ff/rootfs")).unwrap();
        fs::write(dir.path().join("base.current"), "00ff\n").unwrap();
        assert!(cache.resolve("base").is_none(), "no marker: an interrupted build");
        fs::write(dir.path().join("base-00ff").join(MARKER), "{}").unwrap();
        let img = cache.resolve("base").unwrap();
        assert_eq!(img.docker_ref(), "testfarm/base:00ff");
        assert_eq!(cache.scan(), vec![img]);
    }
}
