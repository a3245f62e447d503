//! The sandbox's default for a stage without a runtime image: the host's own
//! filesystem, but read-only, in new mount, pid, uts, ipc and (unless the stage asks
//! for a network) net namespaces, as the runtime user with no privileges left. What
//! the command may write is bound writable on top: the task directory, the install
//! directory while the install step runs, the services' sockets. `/tmp` and
//! `/dev/shm` are private tmpfs mounts, `/proc` shows only the command's processes.
//!
//! Read-only is one call: `mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)` on `/` of
//! the private mount namespace, so every mount below it (whatever the host has) is
//! covered at once, and the host's own mounts are never touched.
//!
//! An agent that is not root gets the same view through a user namespace that maps
//! only its own uid and gid: the command then runs as the agent's user (the files it
//! writes are the agent's), with no capabilities on the host.
//!
//! The runtime user must reach its directories. A directory on the way that it may
//! not enter (a 0700 home or temporary directory of the agent's, say) is covered with
//! an empty tmpfs in the namespace, and the directories below it that the command
//! needs are attached there again: it could not see anything else there anyway. The
//! attached directories are cloned (`open_tree`) before anything covers them and
//! moved into place afterwards (`move_mount`), so they are the host's directories
//! whatever is mounted above them.
//!
//! Planning ([`HostView::plan`]) runs in the agent, where it may read the file system
//! and allocate; [`build`] runs in the forked child between fork and exec and only
//! passes the prepared strings to the kernel (see [`crate::namespace`]).

use std::ffi::CString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::AgentError;
use crate::namespace::{c, check_binds, cpath, make_mounts_private, mount_proc, mount_tmpfs, step, Bind, Identity};

/// What a sandbox stage without an image sees of the host.
#[derive(Debug, Clone)]
pub struct HostView {
    /// Directories the command needs, at the same path as on the host; the writable
    /// ones are the only places it may write (besides `/tmp` and `/dev/shm`).
    pub binds: Vec<Bind>,
    pub uid: u32,
    pub gid: u32,
    /// An agent that is not root: a user namespace that maps only its own `uid` and
    /// `gid` (which the command keeps) makes the other namespaces and mounts possible.
    pub user_namespace: bool,
    /// Directories covered whatever their mode (the agent's work dir: other tasks'
    /// logs, ids and results); binds below them are attached again.
    pub hidden: Vec<PathBuf>,
}

/// At most this many directories are attached again (a task has a handful).
const MAX_ATTACHED: usize = 32;

const ATTR_RDONLY: u64 = 0x1;
const ATTR_NOSUID: u64 = 0x2;
const ATTR_NODEV: u64 = 0x4;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// `struct mount_attr` of linux/mount.h (the size the kernel is told is this one's).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Everything [`build`] needs, made before the fork.
#[derive(Debug)]
pub(crate) struct ViewPlan {
    pub(crate) id: Identity,
    /// Empty tmpfs mounts, parents first: `/tmp`, and directories the runtime user
    /// could not enter on the way to one of its binds.
    covers: Vec<Cover>,
    /// Binds attached again, parents first: the writable ones and those under a cover.
    attached: Vec<Attached>,
    /// Mounted fresh when it exists on the host.
    shm: Option<CString>,
    pub(crate) cwd: CString,
}

#[derive(Debug)]
struct Cover {
    path: CString,
    options: CString,
}

#[derive(Debug)]
struct Attached {
    path: CString,
    /// Directories to make first (inside a cover they do not exist yet), parents first.
    mkdirs: Vec<CString>,
    writable: bool,
}

/// Whether `uid`/`gid` (no supplementary groups) may enter a directory with `meta`.
fn enterable(meta: &std::fs::Metadata, uid: u32, gid: u32) -> bool {
    let mode = meta.mode();
    uid == 0
        || mode & 0o001 != 0
        || (meta.uid() == uid && mode & 0o100 != 0)
        || (meta.gid() == gid && mode & 0o010 != 0)
}

/// `path`'s proper ancestors below `/`, outermost first.
fn ancestors(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = path.ancestors().skip(1).map(Path::to_path_buf).collect();
    out.retain(|p| p.parent().is_some());
    out.reverse();
    out
}

/// Refuses a project directory the runtime user cannot list and enter: every test
/// would fail on it for a reason that is the host's, not the change's.
pub fn check_readable(dir: &Path, uid: u32, gid: u32) -> Result<(), AgentError> {
    let meta = std::fs::metadata(dir).map_err(AgentError::io("read", dir))?;
    let mode = meta.mode();
    let readable = |r: u32, x: u32| mode & r != 0 && mode & x != 0;
    let ok = uid == 0
        || readable(0o004, 0o001)
        || (meta.uid() == uid && readable(0o400, 0o100))
        || (meta.gid() == gid && readable(0o040, 0o010));
    if ok {
        return Ok(());
    }
    Err(AgentError::Unavailable {
        what: format!("project directory {}", dir.display()),
        why: format!(
            "the sandbox runs commands as uid {uid}, which cannot read it (mode {:04o}, owner {}:{}); hint: make it readable (chmod o+rx), or give the stage `isolation: none`",
            mode & 0o7777,
            meta.uid(),
            meta.gid()
        ),
    })
}

impl HostView {
    /// Prepares [`build`]; `cwd` is where the command starts.
    pub(crate) fn plan(&self, cwd: &Path) -> io::Result<ViewPlan> {
        check_binds(&self.binds)?;
        let tmp = PathBuf::from("/tmp");
        let mut covers: Vec<(PathBuf, &str)> = vec![(tmp, "mode=1777")];
        for b in &self.binds {
            // The outermost directory on the way that the runtime user may not enter.
            let blocked = ancestors(&b.path)
                .into_iter()
                .find(|dir| std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && !enterable(&m, self.uid, self.gid)));
            if let Some(dir) = blocked {
                covers.push((dir, "mode=0755"));
            }
        }
        for dir in &self.hidden {
            if dir.is_absolute() && dir.is_dir() {
                covers.push((dir.clone(), "mode=0755"));
            }
        }
        covers.sort_by_key(|(p, _)| p.components().count());
        let mut outer: Vec<(PathBuf, &str)> = Vec::new();
        for (path, options) in covers {
            if !outer.iter().any(|(o, _)| path.starts_with(o)) {
                outer.push((path, options));
            }
        }
        let mut binds = self.binds.clone();
        binds.sort_by_key(|b| b.path.components().count());
        let mut attached = Vec::new();
        for b in &binds {
            let cover = outer.iter().find(|(o, _)| b.path.starts_with(o) && b.path != *o);
            if cover.is_none() && !b.writable {
                continue;
            }
            let mut mkdirs = Vec::new();
            if let Some((o, _)) = cover {
                for dir in ancestors(&b.path).iter().chain([&b.path]) {
                    if dir.starts_with(o) && dir != o {
                        mkdirs.push(cpath(dir)?);
                    }
                }
            }
            attached.push(Attached {
                path: cpath(&b.path)?,
                mkdirs,
                writable: b.writable,
            });
        }
        if attached.len() > MAX_ATTACHED {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} directories to attach, at most {MAX_ATTACHED}", attached.len()),
            ));
        }
        Ok(ViewPlan {
            id: Identity::on_host(self.uid, self.gid),
            covers: outer
                .iter()
                .map(|(p, o)| {
                    Ok(Cover {
                        path: cpath(p)?,
                        options: c(o)?,
                    })
                })
                .collect::<io::Result<_>>()?,
            attached,
            shm: Path::new("/dev/shm").is_dir().then(|| c("/dev/shm")).transpose()?,
            cwd: cpath(cwd)?,
        })
    }
}

// ------------------------------------------------------------------ in the child

/// Makes the host's filesystem read-only in this (new, private) mount namespace, then
/// mounts the covers, `/proc`, `/dev/shm` and the attached directories.
pub(crate) fn build(p: &ViewPlan) -> io::Result<()> {
    let mut clones: [libc::c_int; MAX_ATTACHED] = [-1; MAX_ATTACHED];
    // SAFETY: system calls on prepared C strings, a stack array and a stack struct.
    unsafe {
        make_mounts_private()?;
        // Before anything covers them.
        for (a, fd) in p.attached.iter().zip(clones.iter_mut()) {
            *fd = libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                a.path.as_ptr(),
                OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as libc::c_uint,
            ) as libc::c_int;
            step("clone a task or project directory (open_tree)", *fd)?;
        }
        let read_only = MountAttr {
            attr_set: ATTR_RDONLY | ATTR_NOSUID,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        step(
            "make the host's filesystem read-only (mount_setattr)",
            set_attr(libc::AT_FDCWD, c"/", libc::AT_RECURSIVE, &read_only),
        )?;
        for cover in &p.covers {
            mount_tmpfs(
                "mount a tmpfs over /tmp or a closed directory",
                &cover.path,
                &cover.options,
            )?;
        }
        mount_proc(c"/proc")?;
        if let Some(shm) = &p.shm {
            mount_tmpfs("mount /dev/shm", shm, c"mode=1777")?;
        }
        for (a, fd) in p.attached.iter().zip(clones.iter()) {
            for dir in &a.mkdirs {
                // EEXIST (a parent attached before it holds it) is fine; a mount
                // point that could not be made fails move_mount below, named.
                libc::mkdir(dir.as_ptr(), 0o755);
            }
            let attr = MountAttr {
                attr_set: ATTR_NOSUID | ATTR_NODEV | if a.writable { 0 } else { ATTR_RDONLY },
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            };
            step(
                "set a directory's mount flags (mount_setattr)",
                set_attr(*fd, c"", libc::AT_EMPTY_PATH | libc::AT_RECURSIVE, &attr),
            )?;
            step(
                "attach a task or project directory (move_mount)",
                libc::syscall(
                    libc::SYS_move_mount,
                    *fd,
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    a.path.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                ) as libc::c_int,
            )?;
            libc::close(*fd);
        }
    }
    Ok(())
}

/// `mount_setattr(2)`.
///
/// # Safety
/// A system call on a C string and a struct that outlive it.
unsafe fn set_attr(dirfd: libc::c_int, path: &std::ffi::CStr, flags: libc::c_int, attr: &MountAttr) -> libc::c_int {
    libc::syscall(
        libc::SYS_mount_setattr,
        dirfd,
        path.as_ptr(),
        flags as libc::c_uint,
        attr as *const MountAttr,
        std::mem::size_of::<MountAttr>(),
    ) as libc::c_int
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(list: &[CString]) -> Vec<&str> {
        list.iter().map(|d| d.to_str().unwrap()).collect()
    }

    #[test]
    fn a_closed_directory_on_the_way_is_covered_and_what_lies_below_attached() {
        let dir = tempfile::Builder::new().prefix("view").tempdir_in("/var/tmp").unwrap();
        let closed = dir.path().join("closed");
        let project = closed.join("proj");
        let task = closed.join("work/tasks/t1");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&task).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let view = HostView {
            binds: vec![
                Bind {
                    path: task.clone(),
                    writable: true,
                },
                Bind {
                    path: project.clone(),
                    writable: false,
                },
                Bind {
                    path: "/usr/share".into(),
                    writable: false,
                },
            ],
            uid: 65534,
            gid: 65534,
            user_namespace: false,
            hidden: Vec::new(),
        };
        let plan = view.plan(&project).unwrap();
        let covers: Vec<&str> = plan.covers.iter().map(|c| c.path.to_str().unwrap()).collect();
        assert_eq!(covers, ["/tmp", closed.to_str().unwrap()]);
        let attached: Vec<(&str, bool)> = plan
            .attached
            .iter()
            .map(|a| (a.path.to_str().unwrap(), a.writable))
            .collect();
        assert_eq!(
            attached,
            [(project.to_str().unwrap(), false), (task.to_str().unwrap(), true)],
            "the project (under the cover) before the task dir; /usr/share stays as it is"
        );
        let c = closed.display();
        assert_eq!(
            names(&plan.attached[1].mkdirs),
            [
                format!("{c}/work"),
                format!("{c}/work/tasks"),
                format!("{c}/work/tasks/t1")
            ]
        );
        assert_eq!(names(&plan.attached[0].mkdirs), [project.to_str().unwrap()]);

        // As root nothing is closed: only /tmp, and only the writable bind attached.
        let root = HostView { uid: 0, ..view };
        let plan = root.plan(&project).unwrap();
        assert_eq!(plan.covers.len(), 1);
        assert_eq!(plan.attached.len(), 1);
        assert!(plan.attached[0].mkdirs.is_empty());
    }

    #[test]
    fn the_agents_work_dir_is_hidden_but_for_the_tasks_own_directories() {
        let work = tempfile::Builder::new().prefix("work").tempdir_in("/var/tmp").unwrap();
        let task = work.path().join("tasks/t1-a1");
        std::fs::create_dir_all(&task).unwrap();
        std::fs::create_dir_all(work.path().join("tasks/t0-a1")).unwrap();
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let view = HostView {
            binds: vec![Bind {
                path: task.clone(),
                writable: true,
            }],
            uid: 65534,
            gid: 65534,
            user_namespace: false,
            hidden: vec![work.path().to_path_buf(), "/no/such/dir".into()],
        };
        let plan = view.plan(Path::new("/")).unwrap();
        let covers: Vec<&str> = plan.covers.iter().map(|c| c.path.to_str().unwrap()).collect();
        assert_eq!(
            covers,
            ["/tmp", work.path().to_str().unwrap()],
            "a missing dir is no cover"
        );
        assert_eq!(plan.attached.len(), 1);
        let w = work.path().display();
        assert_eq!(
            names(&plan.attached[0].mkdirs),
            [format!("{w}/tasks"), format!("{w}/tasks/t1-a1")]
        );
    }

    #[test]
    fn binds_under_tmp_are_attached_inside_the_private_tmp() {
        let view = HostView {
            binds: vec![Bind {
                path: "/tmp/farm-x/proj".into(),
                writable: false,
            }],
            uid: 65534,
            gid: 65534,
            user_namespace: false,
            hidden: Vec::new(),
        };
        let plan = view.plan(Path::new("/tmp/farm-x/proj")).unwrap();
        assert_eq!(plan.attached.len(), 1);
        assert_eq!(names(&plan.attached[0].mkdirs), ["/tmp/farm-x", "/tmp/farm-x/proj"]);
        let relative = HostView {
            binds: vec![Bind {
                path: "/tmp/../etc".into(),
                writable: true,
            }],
            ..view
        };
        assert!(relative.plan(Path::new("/")).is_err());
    }
}
