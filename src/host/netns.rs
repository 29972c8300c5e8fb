//! Network namespaces as files, the way `ip netns` keeps them.
//!
//! A namespace lives as long as something refers to it: a process in it, an
//! open descriptor, or a bind mount of its nsfs inode. [`create_netns`] makes
//! a new one in a short-lived thread and bind-mounts it on a file, exactly as
//! `ip netns add` does for `/run/netns/NAME`; [`delete_netns`] undoes that.
//!
//! Namespace membership is per thread. [`enter_netns`] moves the calling
//! thread (the daemon calls it first thing in `main`, before any other thread
//! exists, so that every thread it later starts inherits the namespace);
//! [`in_netns`] runs a closure in a scoped thread that has entered a
//! namespace, leaving the caller where it is.
//!
//! Programs (the firewall tools, `conntrack`) run inside a [`Netns`] through
//! a [`NetnsRunner`]: they are started directly inside the target namespace
//! (`setns` between fork and exec, [`exec_in`]), so one invocation is exactly
//! one process, with no `ip netns exec` or `nsenter` wrapper.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::statfs::{NSFS_MAGIC, statfs};

use super::HostError;

/// Where `ip netns` keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Serialises the one-time setup of a run directory's mount (see
/// [`create_netns`]), so that two creations never both bind-mount it.
static RUN_DIR_SETUP: Mutex<()> = Mutex::new(());

fn err(op: &'static str, path: &Path, source: impl Into<io::Error>) -> HostError {
    HostError::new(op, path.display().to_string(), source.into())
}

/// The file of the namespace `ip netns` calls `name`: `/run/netns/NAME`.
/// The name must be a plain file name, so that it cannot point anywhere else
/// (such as the host's own namespace through `/proc/1/ns/net`).
pub fn named_netns_path(name: &str) -> Result<PathBuf, HostError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(HostError::new(
            "use netns",
            name,
            io::Error::new(io::ErrorKind::InvalidInput, "invalid namespace name"),
        ));
    }
    Ok(Path::new(NETNS_RUN_DIR).join(name))
}

/// Creates the namespace `ip netns` calls `name` (`/run/netns/NAME`) and
/// returns its path.
pub fn create_named_netns(name: &str) -> Result<PathBuf, HostError> {
    let path = named_netns_path(name)?;
    create_netns(&path)?;
    Ok(path)
}

/// Makes a new network namespace and bind-mounts it at `path`, like
/// `ip netns add`:
///
/// 1. the parent directory is created if missing (mode 0755);
/// 2. the parent is made a shared mount point (bind-mounted on itself first
///    when it is not a mount point), so that the namespace mounted in it is
///    seen from every mount namespace that shares it, the root one included,
///    and so that mount namespaces made later (`ip netns exec`, a
///    container's) see it too;
/// 3. `path` is created, and must not exist already (`File exists`);
/// 4. a dedicated thread unshares its network namespace and bind-mounts
///    `/proc/thread-self/ns/net` on `path`; the calling thread's namespace
///    never changes. (`/proc/self` would name the process's main thread.)
///
/// On failure after step 3, the file is removed again.
pub fn create_netns(path: &Path) -> Result<(), HostError> {
    const OP: &str = "create netns";
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => {
            return Err(err(
                OP,
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"),
            ));
        }
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(parent)
        .map_err(|e| err(OP, parent, e))?;
    make_shared_mount_point(parent).map_err(|e| err(OP, parent, e))?;

    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(|e| err(OP, path, e))?;

    let mounted = std::thread::scope(|s| {
        s.spawn(|| -> Result<(), Errno> {
            unshare(CloneFlags::CLONE_NEWNET)?;
            mount(
                Some("/proc/thread-self/ns/net"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    if let Err(e) = mounted {
        let _ = std::fs::remove_file(path);
        return Err(err(OP, path, e));
    }
    Ok(())
}

/// Makes `dir` a shared mount point, recursively, as `ip netns add` does
/// with its run directory: if `dir` is not a mount point (`EINVAL`), it is
/// bind-mounted on itself first.
fn make_shared_mount_point(dir: &Path) -> Result<(), Errno> {
    let _guard = RUN_DIR_SETUP.lock().unwrap_or_else(|p| p.into_inner());
    let share = || {
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match share() {
        Err(Errno::EINVAL) => {
            mount(
                Some(dir),
                dir,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )?;
            share()
        }
        other => other,
    }
}

/// Deletes the namespace mounted at `path`, like `ip netns del`: a lazy
/// unmount (the namespace itself lives on while processes or descriptors
/// still use it), then the file is removed. Deleting a namespace that is
/// not there, or a file that is not mounted, succeeds.
pub fn delete_netns(path: &Path) -> Result<(), HostError> {
    const OP: &str = "delete netns";
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(err(OP, path, e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(OP, path, e)),
    }
}

/// Whether `path` is a namespace file: a mounted nsfs inode (as
/// `/run/netns/NAME` is after [`create_netns`]) or a `/proc/PID/ns/*` link.
/// An empty file left without its mount is not.
pub fn netns_exists(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == NSFS_MAGIC)
}

/// A network namespace's identity: its nsfs device and inode, the same for
/// every file that refers to it (`/run/netns/NAME`, `/proc/PID/ns/net`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetnsId {
    dev: u64,
    ino: u64,
}

// NS_GET_NSTYPE (linux/nsfs.h): _IO(0xb7, 0x3).
nix::ioctl_none!(ns_get_nstype, 0xb7, 0x3);

/// The identity of the namespace file `path` (by `stat`, which needs no
/// permission on the namespace itself, so `/proc/1/ns/net` can be told even
/// where it cannot be opened).
pub fn namespace_file_id(path: &Path) -> Result<NetnsId, HostError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).map_err(|e| err("stat namespace", path, e))?;
    Ok(NetnsId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Asks the kernel (`NS_GET_NSTYPE`) whether `path` is a network namespace:
/// a file of another namespace type, or any other file, is refused.
pub fn check_network_namespace(path: &Path) -> Result<(), HostError> {
    use std::os::fd::AsRawFd;
    let file = open_netns("open namespace", path)?;
    // SAFETY: the ioctl takes no argument and only reads the descriptor.
    let kind = unsafe { ns_get_nstype(file.as_raw_fd()) }
        .map_err(|e| err("ask the namespace type of", path, e))?;
    if kind != nix::libc::CLONE_NEWNET {
        return Err(HostError::new(
            "use namespace",
            path.display().to_string(),
            io::Error::new(io::ErrorKind::InvalidInput, "not a network namespace"),
        ));
    }
    Ok(())
}

/// Opens a namespace file for `setns`, naming `op` in the error.
fn open_netns(op: &'static str, path: &Path) -> Result<File, HostError> {
    File::open(path).map_err(|e| err(op, path, e))
}

/// Moves the calling thread into the network namespace at `path`.
///
/// Threads started afterwards inherit it; threads that already exist do
/// not. The daemon calls this before it starts any thread (before the tokio
/// runtime), so that the whole process then lives in that namespace.
pub fn enter_netns(path: &Path) -> Result<(), HostError> {
    const OP: &str = "enter netns";
    let file = open_netns(OP, path)?;
    setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| err(OP, path, e))
}

/// Runs `f` in a scoped thread that has entered the network namespace at
/// `path`, and returns its result. The calling thread stays where it is; a
/// panic in `f` is resumed in the caller.
///
/// Sockets that `f` opens (netlink, TCP...) belong to that namespace for
/// their whole life, and `/proc/sys/net` read in `f` is that namespace's.
pub fn in_netns<T: Send>(path: &Path, f: impl FnOnce() -> T + Send) -> Result<T, HostError> {
    const OP: &str = "enter netns";
    let file = open_netns(OP, path)?;
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| err(OP, path, e))?;
            drop(file);
            Ok(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The processes whose network namespace is the one at `path` (read from
/// `/proc/*/ns/net`), the calling process excluded.
pub fn processes_in(path: &Path) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = fs::metadata(path) else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|p| {
            let pid: i32 = p.file_name().to_str()?.parse().ok()?;
            let ns = fs::metadata(p.path().join("ns/net")).ok()?;
            (pid != me && ns.ino() == target.ino() && ns.dev() == target.dev()).then_some(pid)
        })
        .collect()
}

/// Makes `cmd` start inside the network namespace `ns` (a namespace file
/// opened by the caller): the child enters it between fork and exec, so the
/// program is one process, with no `ip netns exec` or `nsenter` wrapper.
pub fn exec_in(cmd: &mut std::process::Command, ns: File) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only performs the setns system call, which is
    // async-signal-safe, on a descriptor opened before the fork.
    unsafe {
        cmd.pre_exec(move || setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from));
    }
}

/// Why running a program in a namespace failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The namespace file could not be opened.
    #[error("cannot open network namespace {path}: {source}")]
    Netns {
        /// The namespace file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A program could not be started or talked to.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A program exited with an error.
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on standard error.
        stderr: String,
        /// What it was fed, if anything (a restore script).
        input: Option<String>,
    },
}

/// Runs a program with arguments and optional standard input, returning its
/// standard output. Tests wrap it to count or inspect invocations.
pub trait CommandRunner: Send + Sync {
    /// Runs `program` with `args`, feeding `stdin` if given.
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, CommandError>;
}

/// The input line a restore error (`iptables-restore: line 11 failed`) is
/// about.
fn failed_line<'a>(stderr: &str, input: &'a str) -> Option<&'a str> {
    let rest = &stderr[stderr.find("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: usize = digits.parse().ok()?;
    input.lines().nth(n.checked_sub(1)?)
}

/// Where commands run: a network namespace file, or the caller's own
/// namespace (for a daemon that has itself entered the namespace it manages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Netns {
    /// The namespace of the calling process.
    Current,
    /// A namespace file, e.g. `/run/netns/NAME` or `/proc/PID/ns/net`.
    Path(PathBuf),
}

impl Netns {
    /// The namespace `ip netns` knows as `name` (`/run/netns/NAME`); the
    /// name must be a plain file name.
    pub fn named(name: &str) -> Result<Netns, HostError> {
        named_netns_path(name).map(Netns::Path)
    }
}

/// Runs commands inside a [`Netns`].
#[derive(Debug, Clone)]
pub struct NetnsRunner {
    netns: Netns,
}

impl NetnsRunner {
    /// A runner for `netns`.
    pub fn new(netns: Netns) -> NetnsRunner {
        NetnsRunner { netns }
    }
}

impl CommandRunner for NetnsRunner {
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, CommandError> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Opened before fork: the child only calls setns, which is safe
        // between fork and exec.
        let ns_file = match &self.netns {
            Netns::Current => None,
            Netns::Path(p) => Some(File::open(p).map_err(|e| CommandError::Netns {
                path: p.clone(),
                source: e,
            })?),
        };
        if let Some(f) = ns_file {
            exec_in(&mut cmd, f);
        }
        // SAFETY: only setrlimit(2), async-signal-safe, between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(
                &mut cmd,
                super::limits::restore_open_files_in_child,
            );
        }
        let describe = || format!("{program} {}", args.join(" "));
        let mut child = cmd.spawn().map_err(|e| CommandError::Spawn {
            command: describe(),
            source: e,
        })?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            pipe.write_all(input.as_bytes())
                .map_err(|e| CommandError::Spawn {
                    command: describe(),
                    source: e,
                })?;
        }
        let out = child.wait_with_output().map_err(|e| CommandError::Spawn {
            command: describe(),
            source: e,
        })?;
        if !out.status.success() {
            let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if let Some(line) = stdin.and_then(|input| failed_line(&stderr, input)) {
                stderr.push_str(&format!(" (the line: {line})"));
            }
            return Err(CommandError::Failed {
                command: describe(),
                status: out.status.to_string(),
                stderr,
                input: stdin.map(str::to_string),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::test_support::{TestNs, test_requires_root};
    use std::os::unix::fs::MetadataExt;
    use std::process::Command;

    /// The inode of a thread's network namespace.
    fn netns_inode(path: &Path) -> u64 {
        std::fs::metadata(path).expect("stat namespace").ino()
    }

    fn ip_netns_list() -> String {
        let out = Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("run ip netns list");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn create_enter_and_delete_a_named_namespace() {
        if !test_requires_root() {
            return;
        }
        let own = netns_inode(Path::new("/proc/thread-self/ns/net"));
        let ns = TestNs::new();
        let name = ns.name();
        assert!(netns_exists(&ns.path));
        assert!(
            ip_netns_list()
                .lines()
                .any(|l| l.split_whitespace().next() == Some(&name)),
            "ip netns list does not show {name}"
        );
        // A different namespace from ours, and we did not move.
        let inside = netns_inode(&ns.path);
        assert_ne!(inside, own);
        assert_eq!(netns_inode(Path::new("/proc/thread-self/ns/net")), own);

        // in_netns runs there, and leaves the caller where it was.
        let seen = in_netns(&ns.path, || {
            netns_inode(Path::new("/proc/thread-self/ns/net"))
        })
        .expect("in_netns");
        assert_eq!(seen, inside);
        assert_eq!(netns_inode(Path::new("/proc/thread-self/ns/net")), own);

        // enter_netns moves the calling thread (a thread of our own here).
        let entered = std::thread::spawn({
            let path = ns.path.clone();
            move || {
                enter_netns(&path).expect("enter_netns");
                netns_inode(Path::new("/proc/thread-self/ns/net"))
            }
        })
        .join()
        .expect("thread");
        assert_eq!(entered, inside);

        // Creating it again is refused, and leaves it intact.
        let again = create_netns(&ns.path).expect_err("second create");
        assert_eq!(again.raw_os_error(), Some(nix::libc::EEXIST));
        assert!(
            again
                .to_string()
                .starts_with("create netns /run/netns/bwt-"),
            "{again}"
        );
        assert!(netns_exists(&ns.path));

        delete_netns(&ns.path).expect("delete");
        assert!(!netns_exists(&ns.path));
        assert!(!ns.path.exists());
        delete_netns(&ns.path).expect("deleting twice is fine");
        assert!(!ip_netns_list().contains(&name));
    }

    #[test]
    fn a_plain_file_is_not_a_namespace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").expect("write");
        assert!(!netns_exists(&file));
        assert!(!netns_exists(&dir.path().join("missing")));
        let e = in_netns(&file, || ()).expect_err("not a namespace");
        assert_eq!(e.op, "enter netns");
        assert!(netns_exists(Path::new("/proc/self/ns/net")));
    }

    #[test]
    fn bad_names_are_refused() {
        for name in ["", ".", "..", "a/b"] {
            let e = create_named_netns(name).expect_err(name);
            assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
    }

    #[test]
    fn a_panic_in_the_namespace_reaches_the_caller() {
        if !test_requires_root() {
            return;
        }
        let caught = std::panic::catch_unwind(|| {
            in_netns(Path::new("/proc/self/ns/net"), || panic!("inner")).ok()
        });
        let payload = caught.expect_err("panic resumed");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"inner"));
    }

    #[test]
    fn restore_errors_point_at_their_input_line() {
        let input = "*filter\n-X DOCKER\nCOMMIT\n";
        assert_eq!(
            failed_line("iptables-restore: line 2 failed: busy", input),
            Some("-X DOCKER")
        );
        assert_eq!(failed_line("line 9 failed", input), None);
        assert_eq!(failed_line("no line here", input), None);
    }

    #[test]
    fn namespace_identities_and_types_come_from_the_kernel() {
        let own = namespace_file_id(Path::new("/proc/self/ns/net")).unwrap();
        let again = namespace_file_id(Path::new("/proc/thread-self/ns/net")).unwrap();
        assert_eq!(own, again, "aliases of one namespace are one identity");
        let uts = namespace_file_id(Path::new("/proc/self/ns/uts")).unwrap();
        assert_ne!(own, uts);
        assert!(check_network_namespace(Path::new("/proc/self/ns/net")).is_ok());
        // Another type of namespace, and a plain file, are refused.
        assert!(check_network_namespace(Path::new("/proc/self/ns/uts")).is_err());
        assert!(check_network_namespace(Path::new("/etc/hostname")).is_err());
    }
}
