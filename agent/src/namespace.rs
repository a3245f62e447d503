//! The sandbox's way into a runtime image: new mount, pid, uts, ipc and (unless the
//! stage asks for a network) net namespaces, the image's root filesystem under a
//! throw-away overlay, the project and task directories bind-mounted at the paths
//! they have on the host (and in docker), `/proc` and a minimal `/dev`, then a
//! non-root user with no privileges left. See ../shared/DESIGN.md, "Executors".
//!
//! Runs in the child that [`crate::process`] forks, after the cgroup handshake and
//! before exec, so only async-signal-safe system calls are allowed there: every path
//! and option string is prepared in the agent beforehand ([`Isolation::plan`]), and the
//! child only passes pointers to the kernel ([`enter`]).
//!
//! The PID namespace takes a second fork: `unshare(CLONE_NEWPID)` puts only the
//! caller's *children* into the new namespace. So the child unshares, forks once more
//! and becomes a small waiter ("intermediate") that closes every descriptor it does
//! not need (so that `spawn` sees the exec of the grandchild, not its own exit), waits
//! for the grandchild and ends the way it ended (same exit code, or the same signal).
//! The grandchild is PID 1 of the new namespace: it builds the new root, pivots into
//! it, drops to the runtime user and returns to exec the command. When it ends, the
//! kernel kills whatever is left in the namespace; the agent's process-group kill and
//! the cgroup reach both processes as before (the grandchild stays in the group).
//!
//! The new root is an overlay of the image's rootfs (read-only lower layer) and a
//! tmpfs (upper layer), mounted on `<scratch>` only inside the child's private mount
//! namespace: the cached rootfs is never written, the mount points for the binds can
//! be created, and everything the shard wrote outside its binds disappears with it,
//! as in a container.

use crate::error::AgentError;
use crate::host_view::{HostView, ViewPlan};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The uid and gid commands run as in an image (`nobody`), in the sandbox and in docker.
pub const RUNTIME_UID: u32 = 65534;
pub const RUNTIME_GID: u32 = 65534;
/// The hostname inside a runtime image (both executors).
pub const HOSTNAME: &str = "testfarm";

/// How one command is isolated.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// A network namespace of its own (loopback only); false: the host's network.
    pub network_off: bool,
    /// The filesystem the command sees.
    pub root: Root,
}

/// The root filesystem a command sees.
#[derive(Debug, Clone)]
pub enum Root {
    /// The host's, as the agent sees it, as the agent's user (`isolation: none`):
    /// only the network namespace, if any, is new.
    Host,
    /// The host's, read-only, in new namespaces, as the runtime user
    /// ([`crate::host_view`]): a sandbox stage without an image.
    HostView(HostView),
    /// A runtime image's.
    Image(ImageRoot),
}

/// A runtime image's root filesystem and what is mounted into it.
#[derive(Debug, Clone)]
pub struct ImageRoot {
    /// The image's root filesystem (the overlay's lower layer; never written).
    pub rootfs: PathBuf,
    /// An empty directory on the host: the tmpfs that holds the overlay's upper layer
    /// and the new root is mounted here, inside the private mount namespace only.
    pub scratch: PathBuf,
    /// Host directories that appear at the same path inside.
    pub binds: Vec<Bind>,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub path: PathBuf,
    pub writable: bool,
}

/// Hands a directory to the runtime user when the agent is root (commands in an
/// image or container, and the database servers, run as that user).
pub fn give_to_runtime_user(dir: &Path) -> Result<(), AgentError> {
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(
            dir,
            Some(nix::unistd::Uid::from_raw(RUNTIME_UID)),
            Some(nix::unistd::Gid::from_raw(RUNTIME_GID)),
        )
        .map_err(|source| AgentError::Sys {
            call: format!("chown {} to the runtime user", dir.display()),
            source,
        })?;
    }
    Ok(())
}

/// Device nodes bind-mounted from the host into the new `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
/// Symlinks in the new `/dev`: (name, target).
const DEV_LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Everything [`enter`] needs, as C strings made before the fork.
#[derive(Debug)]
pub(crate) struct Plan {
    network_off: bool,
    fs: FsPlan,
    /// A user namespace first (an agent that is not root), mapping only its own ids.
    user: Option<UserMap>,
}

/// What is written to `/proc/self/{setgroups,uid_map,gid_map}` in a new user
/// namespace: the agent's own uid and gid mapped to themselves, nothing else.
#[derive(Debug)]
struct UserMap {
    uid_map: CString,
    gid_map: CString,
}

#[derive(Debug)]
enum FsPlan {
    Host,
    HostView(ViewPlan),
    Image(ImagePlan),
}

/// Who the command runs as, and the hostname it sees.
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Set in the new uts namespace; None: the host's name stays (the host view,
    /// where tests see the host as in a serial run).
    pub(crate) hostname: Option<CString>,
}

impl Identity {
    /// In a runtime image: [`HOSTNAME`].
    pub(crate) fn in_image(uid: u32, gid: u32) -> io::Result<Identity> {
        Ok(Identity {
            uid,
            gid,
            hostname: Some(c(HOSTNAME)?),
        })
    }

    /// On the host's view: the host's own name.
    pub(crate) fn on_host(uid: u32, gid: u32) -> Identity {
        Identity {
            uid,
            gid,
            hostname: None,
        }
    }
}

#[derive(Debug)]
struct ImagePlan {
    id: Identity,
    scratch: CString,
    scratch_opts: CString,
    upper: CString,
    work: CString,
    root: CString,
    overlay_opts: CString,
    /// Per bind, in mount order (parents first): the directories to create under the
    /// new root (each path prefix), the source and the target.
    binds: Vec<PlannedBind>,
    proc_dir: CString,
    dev_dir: CString,
    devices: Vec<(CString, CString)>,
    dev_links: Vec<(CString, CString)>,
    shm: CString,
    cwd: CString,
}

#[derive(Debug)]
struct PlannedBind {
    mkdirs: Vec<CString>,
    source: CString,
    target: CString,
    writable: bool,
}

pub(crate) fn c(path: impl AsRef<[u8]>) -> io::Result<CString> {
    CString::new(path.as_ref().to_vec())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

pub(crate) fn cpath(p: &Path) -> io::Result<CString> {
    c(p.as_os_str().as_bytes())
}

/// `root` + absolute `path`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

impl Isolation {
    /// Prepares the strings for [`enter`]; `cwd` is where the command starts (inside).
    pub(crate) fn plan(&self, cwd: &Path) -> io::Result<Plan> {
        let user = match &self.root {
            Root::HostView(view) if view.user_namespace => Some(UserMap {
                uid_map: c(format!("{0} {0} 1\n", view.uid))?,
                gid_map: c(format!("{0} {0} 1\n", view.gid))?,
            }),
            _ => None,
        };
        Ok(Plan {
            network_off: self.network_off,
            fs: match &self.root {
                Root::Host => FsPlan::Host,
                Root::HostView(view) => FsPlan::HostView(view.plan(cwd)?),
                Root::Image(image) => FsPlan::Image(image.plan(cwd)?),
            },
            user,
        })
    }

    /// What the command is inside (for messages).
    pub fn describe(&self) -> String {
        match &self.root {
            Root::Host => "a network namespace".into(),
            Root::HostView(_) => "the host's read-only view".into(),
            Root::Image(image) => image.rootfs.display().to_string(),
        }
    }
}

/// Every path of a bind must be absolute and plain (no `..`).
pub(crate) fn check_binds(binds: &[Bind]) -> io::Result<()> {
    for b in binds {
        if !b.path.is_absolute() || b.path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bind path {} must be absolute and plain", b.path.display()),
            ));
        }
    }
    Ok(())
}

impl ImageRoot {
    fn plan(&self, cwd: &Path) -> io::Result<ImagePlan> {
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        for p in [&self.rootfs, &self.scratch] {
            let text = p.to_string_lossy();
            // Overlay options are comma-separated and use `:` between lower layers.
            if !p.is_absolute() || text.contains([',', ':', '\\']) {
                return Err(invalid(format!("{} cannot be used for an overlay mount", p.display())));
            }
        }
        let root = self.scratch.join("root");
        check_binds(&self.binds)?;
        let mut binds = self.binds.clone();
        // Parents before children, so a task dir inside the project dir lands on top.
        binds.sort_by_key(|b| b.path.components().count());
        let mut planned = Vec::new();
        for b in &binds {
            let mut mkdirs = Vec::new();
            let mut prefix = PathBuf::from("/");
            for comp in b.path.components().skip(1) {
                prefix.push(comp);
                mkdirs.push(cpath(&under(&root, &prefix))?);
            }
            planned.push(PlannedBind {
                mkdirs,
                source: cpath(&b.path)?,
                target: cpath(&under(&root, &b.path))?,
                writable: b.writable,
            });
        }
        let dev = root.join("dev");
        Ok(ImagePlan {
            id: Identity::in_image(self.uid, self.gid)?,
            scratch: cpath(&self.scratch)?,
            scratch_opts: c("mode=0755")?,
            upper: cpath(&self.scratch.join("upper"))?,
            work: cpath(&self.scratch.join("work"))?,
            overlay_opts: c(format!(
                "lowerdir={},upperdir={},workdir={}",
                self.rootfs.display(),
                self.scratch.join("upper").display(),
                self.scratch.join("work").display()
            ))?,
            root: cpath(&root)?,
            binds: planned,
            proc_dir: cpath(&root.join("proc"))?,
            dev_dir: cpath(&dev)?,
            devices: DEVICES
                .iter()
                .map(|d| Ok((cpath(&Path::new("/dev").join(d))?, cpath(&dev.join(d))?)))
                .collect::<io::Result<_>>()?,
            dev_links: DEV_LINKS
                .iter()
                .map(|(name, target)| Ok((c(*target)?, cpath(&dev.join(name))?)))
                .collect::<io::Result<_>>()?,
            shm: cpath(&dev.join("shm"))?,
            cwd: cpath(cwd)?,
        })
    }
}

// ------------------------------------------------------------------ in the child
//
// Everything below runs between fork and exec: system calls on prepared strings,
// no allocation, no locks. Failures write one line to stderr (the task log) naming
// the step, and return the errno for `spawn` to report.

/// Enters the namespaces and the new root (an image's, or the host's read-only view).
/// Returns (in the grandchild) to exec the command; the intermediate process never
/// returns. On the host as it is (`isolation: none`): only a new network namespace
/// (when asked for), in this process, no fork.
pub(crate) fn enter(plan: &Plan) -> io::Result<()> {
    let (id, cwd) = match &plan.fs {
        FsPlan::Host => {
            if plan.network_off {
                // SAFETY: plain system call.
                step("unshare the network namespace", unsafe {
                    libc::unshare(libc::CLONE_NEWNET)
                })?;
                loopback_up()?;
            }
            return Ok(());
        }
        FsPlan::Image(image) => (&image.id, &image.cwd),
        FsPlan::HostView(view) => (&view.id, &view.cwd),
    };
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
    if plan.network_off {
        flags |= libc::CLONE_NEWNET;
    }
    if plan.user.is_some() {
        // Created first by the kernel: the other namespaces belong to it, so the
        // mounts below are allowed without root on the host.
        flags |= libc::CLONE_NEWUSER;
    }
    // SAFETY: plain system call.
    step("unshare namespaces", unsafe { libc::unshare(flags) })?;
    if let Some(user) = &plan.user {
        write_proc(c"/proc/self/setgroups", c"deny")?;
        write_proc(c"/proc/self/uid_map", &user.uid_map)?;
        write_proc(c"/proc/self/gid_map", &user.gid_map)?;
    }
    // SAFETY: fork in the single-threaded child; both sides only make system calls.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return fail("fork into the pid namespace");
    }
    if pid > 0 {
        intermediate(pid);
    }
    // PID 1 of the new namespace.
    if plan.network_off {
        loopback_up()?;
    }
    match &plan.fs {
        FsPlan::Image(image) => build_root(image)?,
        FsPlan::HostView(view) => crate::host_view::build(view)?,
        FsPlan::Host => {}
    }
    drop_privileges(id, plan.user.is_none())?;
    // SAFETY: prepared C string.
    step("chdir to the working directory", unsafe { libc::chdir(cwd.as_ptr()) })?;
    Ok(())
}

/// Waits for the grandchild and ends as it ended. Never returns.
fn intermediate(child: libc::pid_t) -> ! {
    // Every descriptor but stdio: above all std's exec-status pipe, whose write end
    // must close here for `spawn` to return once the grandchild has exec'd.
    // SAFETY: system calls only.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..4096 {
                libc::close(fd);
            }
        }
        let mut status = 0;
        loop {
            let r = libc::waitpid(child, &mut status, 0);
            if r == child {
                break;
            }
            if r < 0 && errno() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(127)
    }
}

/// A new network namespace has only `lo`, and it is down: bring it up (docker's
/// `--network none` has loopback too).
fn loopback_up() -> io::Result<()> {
    // SAFETY: system calls on a stack ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        step("socket for loopback", fd)?;
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let got = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req);
        if got == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        }
        let set = if got == 0 {
            libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req)
        } else {
            got
        };
        libc::close(fd);
        step("bring loopback up", set)
    }
}

fn build_root(p: &ImagePlan) -> io::Result<()> {
    let none: *const libc::c_char = std::ptr::null();
    // SAFETY: system calls on prepared C strings (and null where the kernel allows).
    unsafe {
        make_mounts_private()?;
        mount_tmpfs("mount the scratch tmpfs", &p.scratch, &p.scratch_opts)?;
        for dir in [&p.upper, &p.work, &p.root] {
            step("create overlay directories", libc::mkdir(dir.as_ptr(), 0o755))?;
        }
        step(
            "mount the image overlay",
            libc::mount(
                c"overlay".as_ptr(),
                p.root.as_ptr(),
                c"overlay".as_ptr(),
                0,
                p.overlay_opts.as_ptr().cast(),
            ),
        )?;
        for b in &p.binds {
            for dir in &b.mkdirs {
                if libc::mkdir(dir.as_ptr(), 0o755) != 0 && errno() != libc::EEXIST {
                    return fail("create a bind mount point");
                }
            }
            step(
                "bind-mount a project or task directory",
                libc::mount(
                    b.source.as_ptr(),
                    b.target.as_ptr(),
                    none,
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ),
            )?;
            let mut flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_NOSUID | libc::MS_NODEV;
            if !b.writable {
                flags |= libc::MS_RDONLY;
            }
            step(
                "remount a bind mount",
                libc::mount(none, b.target.as_ptr(), none, flags, std::ptr::null()),
            )?;
        }
        mount_proc(&p.proc_dir)?;
        step(
            "mount /dev",
            libc::mount(
                c"tmpfs".as_ptr(),
                p.dev_dir.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID,
                c"mode=0755".as_ptr().cast(),
            ),
        )?;
        for (host, inside) in &p.devices {
            let fd = libc::open(inside.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o666);
            step("create a device mount point", fd)?;
            libc::close(fd);
            step(
                "bind-mount a device",
                libc::mount(host.as_ptr(), inside.as_ptr(), none, libc::MS_BIND, std::ptr::null()),
            )?;
        }
        for (target, link) in &p.dev_links {
            step("link in /dev", libc::symlink(target.as_ptr(), link.as_ptr()))?;
        }
        step("create /dev/shm", libc::mkdir(p.shm.as_ptr(), 0o1777))?;
        mount_tmpfs("mount /dev/shm", &p.shm, c"mode=1777")?;
        // pivot_root(".", "."): the old root ends up on top of the new one, from
        // where it is detached; no directory for it is needed.
        step("chdir to the new root", libc::chdir(p.root.as_ptr()))?;
        step(
            "pivot_root",
            libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int,
        )?;
        step("detach the old root", libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
        step("chdir to /", libc::chdir(c"/".as_ptr()))?;
    }
    Ok(())
}

/// Writes `text` into a `/proc` file of this process.
fn write_proc(path: &std::ffi::CStr, text: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: system calls on C strings that outlive them.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        step("open a user namespace map", fd)?;
        let bytes = text.to_bytes();
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        if written != bytes.len() as isize {
            return fail("write a user namespace map");
        }
    }
    Ok(())
}

/// `host_root`: the agent is root on the host, so the groups can be cleared (a user
/// namespace denies setgroups, and has none to clear).
fn drop_privileges(p: &Identity, host_root: bool) -> io::Result<()> {
    // SAFETY: system calls only. In the single-threaded child, glibc's set*id need
    // no cross-thread synchronisation.
    unsafe {
        if let Some(name) = &p.hostname {
            step(
                "set the hostname",
                libc::sethostname(name.as_ptr(), name.as_bytes().len()),
            )?;
        }
        // The bounding set too, as docker's `cap_drop: ALL` does (EINVAL past the
        // kernel's last capability ends the loop).
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                break;
            }
        }
        if host_root {
            step("drop supplementary groups", libc::setgroups(0, std::ptr::null()))?;
        }
        step("set the gid", libc::setresgid(p.gid, p.gid, p.gid))?;
        step("set the uid", libc::setresuid(p.uid, p.uid, p.uid))?;
        step("set no_new_privs", libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        // After setresuid, which clears it: die with the intermediate.
        step(
            "set the parent-death signal",
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0),
        )?;
    }
    Ok(())
}

/// Stops mounts from propagating between this (new) mount namespace and the host's.
pub(crate) fn make_mounts_private() -> io::Result<()> {
    // SAFETY: a system call on static C strings and nulls the kernel allows.
    step("make mounts private", unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })
}

/// A tmpfs (nosuid, nodev) with `options` on `path`; `what` names the step.
pub(crate) fn mount_tmpfs(what: &str, path: &std::ffi::CStr, options: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: a system call on C strings that outlive it.
    step(what, unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            path.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            options.as_ptr().cast(),
        )
    })
}

/// A proc of this pid namespace on `path`.
pub(crate) fn mount_proc(path: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: a system call on C strings that outlive it.
    step("mount /proc", unsafe {
        libc::mount(
            c"proc".as_ptr(),
            path.as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    })
}

pub(crate) fn errno() -> libc::c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `Err` with errno when `ret` is negative, after a line in the log.
pub(crate) fn step(what: &str, ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        fail(what)
    } else {
        Ok(())
    }
}

pub(crate) fn fail(what: &str) -> io::Result<()> {
    let err = io::Error::last_os_error();
    let errno = err.raw_os_error().unwrap_or(0);
    let mut digits = [0u8; 12];
    let mut n = errno.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for part in [
        b"farm sandbox: cannot ".as_slice(),
        what.as_bytes(),
        b" (errno ".as_slice(),
        &digits[at..],
        b")\n".as_slice(),
    ] {
        // SAFETY: writing a buffer we own to stderr (the task log).
        unsafe {
            libc::write(2, part.as_ptr().cast(), part.len());
        }
    }
    Err(err)
}

/// Whether this (non-root) process may make a user namespace, and in it the mount,
/// pid, net, uts and ipc namespaces of the host view: tried once in a child.
pub fn user_namespaces() -> Result<(), AgentError> {
    let mut probe = std::process::Command::new("/bin/true");
    // SAFETY: one system call in the forked child.
    unsafe {
        use std::os::unix::process::CommandExt;
        probe.pre_exec(|| {
            let flags = libc::CLONE_NEWUSER
                | libc::CLONE_NEWNS
                | libc::CLONE_NEWPID
                | libc::CLONE_NEWNET
                | libc::CLONE_NEWUTS
                | libc::CLONE_NEWIPC;
            if libc::unshare(flags) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    match probe.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(AgentError::Unavailable {
            what: "user namespaces".into(),
            why: format!("the probe ended {status}"),
        }),
        Err(e) => Err(AgentError::Unavailable {
            what: "user namespaces".into(),
            why: format!(
                "unshare(CLONE_NEWUSER | …) failed: {e} (kernel.unprivileged_userns_clone or user.max_user_namespaces)"
            ),
        }),
    }
}

/// Whether this process may make namespaces and mounts as root (images, and the
/// host view as user 65534); see [`user_namespaces`] for an agent that is not root.
pub fn available() -> Result<(), AgentError> {
    let unavailable = |why: &str| AgentError::Unavailable {
        what: "the sandbox's namespaces".into(),
        why: why.into(),
    };
    if !nix::unistd::geteuid().is_root() {
        return Err(unavailable("the agent does not run as root"));
    }
    if !Path::new("/proc/self/ns/pid").exists() {
        return Err(unavailable("the kernel has no pid namespaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_mount_parents_first_and_make_each_prefix() {
        let iso = ImageRoot {
            rootfs: "/cache/base-1/rootfs".into(),
            scratch: "/w/sandbox/t1".into(),
            binds: vec![
                Bind {
                    path: "/src/proj/.farm/tasks/t1".into(),
                    writable: true,
                },
                Bind {
                    path: "/src/proj".into(),
                    writable: false,
                },
            ],
            uid: RUNTIME_UID,
            gid: RUNTIME_GID,
        };
        let plan = iso.plan(Path::new("/src/proj")).unwrap();
        let targets: Vec<&str> = plan.binds.iter().map(|b| b.target.to_str().unwrap()).collect();
        assert_eq!(
            targets,
            [
                "/w/sandbox/t1/root/src/proj",
                "/w/sandbox/t1/root/src/proj/.farm/tasks/t1"
            ]
        );
        let first: Vec<&str> = plan.binds[0].mkdirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(first, ["/w/sandbox/t1/root/src", "/w/sandbox/t1/root/src/proj"]);
        assert_eq!(
            plan.overlay_opts.to_str().unwrap(),
            "lowerdir=/cache/base-1/rootfs,upperdir=/w/sandbox/t1/upper,workdir=/w/sandbox/t1/work"
        );
    }

    #[test]
    fn paths_that_break_overlay_options_are_refused() {
        let iso = ImageRoot {
            rootfs: "/cache/a,b".into(),
            scratch: "/w/s".into(),
            binds: vec![],
            uid: 1,
            gid: 1,
        };
        assert!(iso.plan(Path::new("/")).is_err());
    }
}
