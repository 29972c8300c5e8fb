//! The README's walk-through with the bridgewall CLI against a real daemon:
//! create a network, run a sandbox publishing a port, reach it, look at it,
//! remove it.

mod support;

use std::time::Duration;

use support::daemon::{TestDaemon, err, ok};
use support::topology::wait_until;

#[test]
fn readme_walkthrough() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    ok(d.bw(&["network", "create", "--subnet", "192.0.2.0/24", "mynet"]));
    let id = ok(d.bw(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "mynet",
        "-p",
        "8080:80",
        "--",
        "python3",
        "-m",
        "http.server",
        "80",
    ]));
    assert_eq!(id.trim().len(), 64);
    // Reach the server through the published port on the host's loopback
    // (the userland proxy), once it listens.
    let fetch = || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &d.netns, "python3", "-c"])
            .arg("import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/', timeout=2).status)")
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "200")
    };
    assert!(
        wait_until(Duration::from_secs(10), fetch),
        "not reachable: {}",
        ok(d.bw(&["logs", "web"]))
    );
    assert_eq!(
        ok(d.bw(&["port", "web"])),
        "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n"
    );
    let ps = ok(d.bw(&["ps"]));
    assert!(
        ps.contains("0.0.0.0:8080->80/tcp") && ps.contains("web"),
        "{ps}"
    );
    let addrs = ok(d.bw(&[
        "exec", "web", "--", "ip", "-o", "-4", "addr", "show", "eth0",
    ]));
    assert!(addrs.contains("192.0.2.2/24"), "{addrs}");
    let inspect: serde_json::Value = serde_json::from_str(&ok(d.bw(&["inspect", "web"]))).unwrap();
    assert_eq!(
        inspect[0]["NetworkSettings"]["Networks"]["mynet"]["IPAddress"],
        "192.0.2.2"
    );
    let key = inspect[0]["NetworkSettings"]["SandboxKey"]
        .as_str()
        .unwrap()
        .to_string();
    let nsenter = std::process::Command::new("nsenter")
        .args([&format!("--net={key}"), "true"])
        .status()
        .unwrap();
    assert!(
        nsenter.success(),
        "nsenter --net=SandboxKey works from the root namespace"
    );
    assert!(ok(d.bw(&["logs", "web"])).contains("GET / HTTP/1.1"));
    assert_eq!(
        err(d.bw(&["rm", "web"])),
        "Error response from daemon: cannot remove container \"/web\": container is running: stop the container before removing or force remove"
    );
    ok(d.bw(&["rm", "-f", "web"]));
    assert_eq!(ok(d.bw(&["ps", "-a", "-q"])), "");
    assert!(!d.rules().contains("192.0.2.2"));
    // A run without -d waits and passes the exit code on.
    let out = d.bw(&[
        "run",
        "--rm",
        "--network",
        "mynet",
        "--",
        "sh",
        "-c",
        "echo hello; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    ok(d.bw(&["network", "rm", "mynet"]));
}
