//! Shared test support: locating `../shared`, namespaces that clean up after
//! themselves, and the rule of CI (`CI=true`): a test that needs root or
//! `../shared` fails there instead of skipping. [`topology`] builds LANs of
//! namespaces and sends real traffic through them.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod converged;
pub mod daemon;
pub mod firewalld;
pub mod topology;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Every option Docker's bridge driver reads, as `bridgewall::model::network`
/// names them.
pub const NETWORK_OPTIONS: &[&str] = &[
    bridgewall::model::network::BRIDGE_NAME,
    bridgewall::model::network::TRUSTED_HOST_INTERFACES,
    bridgewall::model::network::ENABLE_ICC,
    bridgewall::model::network::ENABLE_IP_MASQUERADE,
    bridgewall::model::network::HOST_BINDING_IPV4,
    bridgewall::model::network::GATEWAY_MODE_IPV4,
    bridgewall::model::network::GATEWAY_MODE_IPV6,
    bridgewall::model::network::INHIBIT_IPV4,
    bridgewall::model::network::HOST_IPV4,
    bridgewall::model::network::HOST_IPV6,
    bridgewall::model::network::DRIVER_MTU,
];

/// True when running under CI.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Returns `false` (and prints why) when the test cannot run here; panics in CI.
pub fn require(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if in_ci() {
        panic!("{what}: required under CI=true");
    }
    eprintln!("SKIPPED: {what}");
    false
}

/// `../shared/conformance/docker-28.5.2`, if present.
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/docker-28.5.2");
    dir.is_dir().then_some(dir)
}

/// Whether we are root and have `ip` and `iptables-restore`.
pub fn can_make_namespaces() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    let tools = ["ip", "iptables-restore", "ip6tables-restore"]
        .iter()
        .all(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    root && tools
}

/// Runs a command in the namespace `ip netns` calls `name`; returns its
/// stdout (panics on failure).
pub fn netns_exec(name: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", name])
        .args(args)
        .output()
        .expect("run ip netns exec");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills (SIGKILL) every process whose network namespace is the one at
/// `ns_file`.
pub fn kill_processes_in(ns_file: &Path) {
    for pid in bridgewall::host::netns::processes_in(ns_file) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace made for one test (`bwt-<pid>-<n>`), deleted on drop
/// even when the test fails.
pub struct TestNetns {
    /// The namespace's name.
    pub name: String,
}

impl TestNetns {
    /// Creates a fresh namespace.
    pub fn new() -> TestNetns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("bwt-{}-{n}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip");
        assert!(st.success(), "ip netns add {name} failed");
        TestNetns { name }
    }

    /// Runs a command in the namespace and returns its stdout (panics on failure).
    pub fn exec(&self, args: &[&str]) -> String {
        netns_exec(&self.name, args)
    }

    /// `iptables-save -t raw`, `-t filter`, `-t nat` for `family`, without
    /// comment lines: the form of Docker's golden files.
    pub fn saved_tables(&self, v6: bool) -> String {
        self.saved_tables_with(if v6 {
            "ip6tables-save"
        } else {
            "iptables-save"
        })
    }

    /// Like [`TestNetns::saved_tables`], with a given save program (e.g.
    /// `iptables-legacy-save`).
    pub fn saved_tables_with(&self, prog: &str) -> String {
        ["raw", "filter", "nat"]
            .iter()
            .map(|t| {
                self.exec(&[prog, "-t", t])
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
            })
            .collect()
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A directory whose `iptables*` and `ip6tables*` are one variant's
/// (`nft` or `legacy`), and a `PATH` that puts it first.
pub struct VariantPath {
    _dir: tempfile::TempDir,
    /// The `PATH` for a daemon that must run that variant.
    pub path: String,
}

/// [`VariantPath`] for `variant` (`nft` or `legacy`).
pub fn iptables_variant_path(variant: &str) -> VariantPath {
    let dir = tempfile::tempdir().unwrap();
    let multi = format!("/usr/sbin/xtables-{variant}-multi");
    assert!(Path::new(&multi).exists(), "{multi} is missing");
    for base in ["iptables", "ip6tables"] {
        for suffix in ["", "-save", "-restore"] {
            std::os::unix::fs::symlink(&multi, dir.path().join(format!("{base}{suffix}"))).unwrap();
        }
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    VariantPath { _dir: dir, path }
}
