//! For the host layer's unit tests: the rule of CI for tests that need root,
//! and namespaces that clean up after themselves.

use super::netns;

/// For unit tests that need root: `true` when running as root; otherwise
/// prints why the test is skipped and returns `false`, except under
/// `CI=true`, where it panics (the rule of `tests/support`).
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
pub(crate) struct TestNs {
    /// The namespace's file.
    pub path: std::path::PathBuf,
}

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

impl Drop for TestNs {
    fn drop(&mut self) {
        if let Err(e) = netns::delete_netns(&self.path) {
            eprintln!("cleanup: {e}");
        }
    }
}
