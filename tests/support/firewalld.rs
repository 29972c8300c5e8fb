//! A real firewalld for a test, in the test's namespace, with its own D-Bus
//! bus and config (`scripts/firewalld-sandbox`): stopped, and all its
//! processes gone, on drop, even when the test fails.

use std::path::PathBuf;
use std::process::Command;

/// A running firewalld and its bus.
pub struct Firewalld {
    netns: String,
    dir: tempfile::TempDir,
    /// `DBUS_SYSTEM_BUS_ADDRESS` of its bus.
    pub bus: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/firewalld-sandbox")
}

/// Whether firewalld can run here (skipped otherwise, except under CI).
pub fn available() -> bool {
    super::require(
        std::path::Path::new("/usr/sbin/firewalld").exists()
            && Command::new("dbus-daemon")
                .arg("--version")
                .output()
                .is_ok(),
        "firewalld and dbus-daemon",
    )
}

impl Firewalld {
    /// Starts firewalld with `backend` (`nftables` or `iptables`) in the
    /// existing namespace `netns`, and waits until it runs.
    pub fn start(netns: &str, backend: &str) -> Firewalld {
        let dir = tempfile::Builder::new()
            .prefix("bwt-firewalld-")
            .tempdir_in("/tmp")
            .unwrap();
        let out = Command::new(script())
            .args(["start", netns])
            .arg(dir.path())
            .args(["--backend", backend])
            .output()
            .expect("run scripts/firewalld-sandbox");
        let mut fw = Firewalld {
            netns: netns.to_string(),
            dir,
            bus: String::new(),
        };
        assert!(
            out.status.success(),
            "firewalld did not start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            fw.log()
        );
        fw.bus = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("DBUS_SYSTEM_BUS_ADDRESS="))
            .expect("the bus address")
            .to_string();
        fw
    }

    fn run(&self, verb: &str, args: &[&str]) -> String {
        let out = Command::new(script())
            .args([verb, &self.netns])
            .arg(self.dir.path())
            .args(args)
            .output()
            .expect("run scripts/firewalld-sandbox");
        assert!(
            out.status.success(),
            "firewalld-sandbox {verb} {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `firewall-cmd ARGS`, its output.
    pub fn cmd(&self, args: &[&str]) -> String {
        self.run("cmd", args)
    }

    /// `firewall-cmd --reload`.
    pub fn reload(&self) {
        self.run("reload", &[]);
    }

    /// Stops firewalld and starts it again on the same bus.
    pub fn restart(&self) {
        self.run("restart-firewalld", &[]);
    }

    /// firewalld's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("firewalld.log")).unwrap_or_default()
    }
}

impl Drop for Firewalld {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .args(["stop", &self.netns])
            .arg(self.dir.path())
            .status();
    }
}
