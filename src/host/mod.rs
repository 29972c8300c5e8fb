//! The host layer: everything the daemon changes on the system, inside
//! network namespaces, without running `ip`.
//!
//! - [`netns`]: network namespaces as files (`ip netns add/del` and
//!   entering one, for the process or for one closure).
//! - [`conntrack`]: deleting the conntrack entries of removed endpoints.
//! - [`links`]: links, addresses and routes over rtnetlink, bound to one
//!   namespace, and the configuration of a sandbox's interface.
//! - [`sysctl`]: `/proc/sys` for the calling thread's namespace, with the
//!   settings Docker's bridge driver makes (forwarding, `route_localnet`,
//!   `bridge-nf-call-ip*tables`, per-interface IPv6).
//!
//! Every failure is a [`HostError`] naming the operation and its object.

pub mod conntrack;
pub mod links;
pub mod netns;
pub mod sysctl;

use std::io;

/// A failed host operation: what was done (`op`), to what (`object`), and
/// the system's answer (`source`), displayed as
/// `create bridge br-1234: File exists (os error 17)`.
#[derive(Debug, thiserror::Error)]
#[error("{op} {object}: {source}")]
pub struct HostError {
    /// The operation, e.g. `create bridge` or `write sysctl`.
    pub op: &'static str,
    /// The object of the operation: an interface, a path, an address...
    pub object: String,
    /// The underlying error; netlink errors carry the kernel's errno.
    #[source]
    pub source: io::Error,
}

impl HostError {
    /// An error for `op` on `object`.
    pub fn new(op: &'static str, object: impl Into<String>, source: io::Error) -> HostError {
        HostError {
            op,
            object: object.into(),
            source,
        }
    }

    /// The errno the kernel answered, when there is one (e.g. `EEXIST`).
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// For unit tests that need root: `true` when running as root; otherwise
/// prints why the test is skipped and returns `false`, except under
/// `CI=true`, where it panics (the rule of `tests/support`).
#[cfg(test)]
pub(crate) fn test_requires_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("root is required under CI=true");
    }
    eprintln!("SKIPPED: needs root");
    false
}

/// A network namespace made for one unit test (`/run/netns/bwt-<pid>-u<n>`),
/// deleted when dropped, even when the test fails.
#[cfg(test)]
pub(crate) struct TestNs {
    /// The namespace's file.
    pub path: std::path::PathBuf,
}

#[cfg(test)]
impl TestNs {
    /// Creates a fresh namespace with [`netns::create_named_netns`].
    pub fn new() -> TestNs {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("bwt-{}-u{n}", std::process::id());
        let path = netns::create_named_netns(&name).expect("create test namespace");
        TestNs { path }
    }

    /// The namespace's name, as `ip netns` lists it.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .expect("a netns path has a file name")
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
impl Drop for TestNs {
    fn drop(&mut self) {
        if let Err(e) = netns::delete_netns(&self.path) {
            eprintln!("cleanup: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_operation_object_and_cause() {
        let e = HostError::new(
            "create bridge",
            "br-1234",
            io::Error::from_raw_os_error(nix::libc::EEXIST),
        );
        assert_eq!(
            e.to_string(),
            "create bridge br-1234: File exists (os error 17)"
        );
        assert_eq!(e.raw_os_error(), Some(nix::libc::EEXIST));
    }
}
