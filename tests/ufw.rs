//! bridgewall beside a real ufw (Debian's, in the test's namespace, with its
//! own config: `scripts/ufw-sandbox`). Without `bridgewall-ufw-routes` a
//! published port bypasses ufw, as the seed page says (and `info` warns);
//! with it, only what `ufw route allow` admits reaches a published port,
//! established traffic and traffic between containers keep working, the
//! refused connections are logged (rate-limited), and the rules follow
//! networks and sandboxes as they come and go.

mod support;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::daemon::{TestDaemon, ok, sleeper};
use support::topology::{ConnectError, Lan, NetnsFile, Node, tcp_connect, tcp_listen};

const T: Duration = Duration::from_millis(1500);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ns_of(d: &TestDaemon, name: &str) -> NetnsFile {
    NetnsFile::new(d.inspect(name).network_settings.sandbox_key, name)
}

/// ufw in one namespace, its files in a directory of the test's.
struct Ufw {
    netns: String,
    dir: tempfile::TempDir,
}

impl Ufw {
    fn new(netns: &str) -> Ufw {
        Ufw {
            netns: netns.to_string(),
            dir: tempfile::Builder::new()
                .prefix("bwt-ufw-")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    /// `ufw ARGS`, which must succeed.
    fn run(&self, args: &[&str]) -> String {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/ufw-sandbox");
        let out = Command::new(script)
            .arg(&self.netns)
            .arg(self.dir.path())
            .args(args)
            .output()
            .expect("run scripts/ufw-sandbox");
        assert!(
            out.status.success(),
            "ufw {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn available() -> bool {
    support::require(std::path::Path::new("/usr/sbin/ufw").exists(), "ufw")
}

/// A host on two LANs running ufw (enabled: deny incoming, deny routed)
/// and the daemon; client0 on 192.0.2.0/24, client1 on 198.51.100.0/24; a
/// sandbox `web` publishing 8080:80.
struct Site {
    daemon: TestDaemon,
    ufw: Ufw,
    host: Node,
    client0: Node,
    client1: Node,
    lan2: Lan,
    _lan: Lan,
    _servers: Vec<support::topology::TcpServer>,
}

fn site(daemon_json: Option<&str>) -> Site {
    let lan = Lan::primary();
    let lan2 = Lan::secondary();
    let mut host = Node::new("host");
    lan.attach(&mut host, 1);
    lan2.attach(&mut host, 1);
    let client0 = lan.node("client0", 10);
    let client1 = lan2.node("client1", 10);
    let ufw = Ufw::new(host.name());
    ufw.run(&["--force", "enable"]);
    let daemon = TestDaemon::start_in(host.name(), daemon_json);
    daemon.sandbox(sleeper("web", "", &["8080:80"])).unwrap();
    daemon.sandbox(sleeper("peer", "", &[])).unwrap();
    let servers = vec![tcp_listen(&ns_of(&daemon, "web"), ip("0.0.0.0"), 80)];
    Site {
        daemon,
        ufw,
        host,
        client0,
        client1,
        lan2,
        _lan: lan,
        _servers: servers,
    }
}

impl Site {
    fn host1(&self) -> IpAddr {
        IpAddr::V4(self.host.ip4())
    }

    fn host2(&self) -> IpAddr {
        IpAddr::V4(self.lan2.addr4(1))
    }
}

#[test]
fn without_the_option_published_ports_bypass_ufw_and_info_says_so() {
    if !support::daemon::can_run() || !available() {
        return;
    }
    let s = site(None);
    // ufw denies incoming and routed traffic and has no rule for 8080 or 80,
    // yet both LANs reach the published port: Docker's rules come first.
    assert!(s.ufw.run(&["status", "verbose"]).contains("deny (routed)"));
    assert_eq!(
        tcp_connect(&s.client0, s.host1(), 8080, T),
        Ok("web".into())
    );
    assert_eq!(
        tcp_connect(&s.client1, s.host2(), 8080, T),
        Ok("web".into())
    );
    // The control: ufw does filter what is not published (the proxy's IPv6
    // path goes through INPUT, which ufw drops).
    assert_eq!(
        tcp_connect(&s.client0, IpAddr::V6(s.host.ip6()), 8080, T),
        Err(ConnectError::Timeout)
    );
    let info = ok(s.daemon.bw(&["info"]));
    assert!(info.contains("ufw: active\n"), "{info}");
    assert!(info.contains("WARNING: ufw is active in this namespace: ports published by bridgewall bypass ufw's rules"), "{info}");
    assert!(
        s.daemon.log().contains("bypass ufw's rules"),
        "{}",
        s.daemon.log()
    );
}

#[test]
fn with_the_option_only_what_ufw_route_rules_admit_gets_through() {
    if !support::daemon::can_run() || !available() {
        return;
    }
    let s = site(Some(r#"{"bridgewall-ufw-routes": true}"#));
    let d = &s.daemon;
    // No route rule yet: nobody gets in.
    assert_eq!(
        tcp_connect(&s.client0, s.host1(), 8080, T),
        Err(ConnectError::Timeout)
    );
    s.ufw.run(&[
        "route",
        "allow",
        "proto",
        "tcp",
        "from",
        "192.0.2.0/24",
        "to",
        "any",
        "port",
        "80",
    ]);
    // 192.0.2.0/24 is admitted to container port 80; 198.51.100.0/24 is not.
    assert_eq!(
        tcp_connect(&s.client0, s.host1(), 8080, T),
        Ok("web".into())
    );
    assert_eq!(
        tcp_connect(&s.client1, s.host2(), 8080, T),
        Err(ConnectError::Timeout)
    );
    // The refusals were logged (rate-limited): the LOG rule counted them.
    let counted = d.exec(&[
        "iptables",
        "-L",
        "BRIDGEWALL-UFW-PUBLISHED",
        "-v",
        "-x",
        "-n",
    ]);
    let log_packets: u64 = counted
        .lines()
        .find(|l| l.contains("LOG"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{counted}"));
    assert!(log_packets > 0, "{counted}");
    // Traffic between containers (not DNAT-ed) and a container's own
    // connections out (their replies are established) keep working.
    let peer = ns_of(d, "peer");
    let web4 = ip(&d.inspect("web").network_settings.networks["bridge"].ip_address);
    assert_eq!(tcp_connect(&peer, web4, 80, T), Ok("web".into()));
    let outside = tcp_listen(&s.client1, ip("0.0.0.0"), 9000);
    assert_eq!(
        tcp_connect(&peer, IpAddr::V4(s.client1.ip4()), 9000, T),
        Ok("client1".into())
    );
    drop(outside);
    // A new network and sandbox get the same treatment; their rules go
    // with them.
    ok(d.docker(&["network", "create", "--subnet", "203.0.113.0/24", "neta"]));
    d.sandbox(sleeper("n1", "neta", &["8082:80"])).unwrap();
    let _n1 = tcp_listen(&ns_of(d, "n1"), ip("0.0.0.0"), 80);
    assert_eq!(tcp_connect(&s.client0, s.host1(), 8082, T), Ok("n1".into()));
    assert_eq!(
        tcp_connect(&s.client1, s.host2(), 8082, T),
        Err(ConnectError::Timeout)
    );
    let id = ok(d.docker(&["network", "inspect", "-f", "{{.Id}}", "neta"]));
    let bridge = format!("br-{}", &id.trim()[..12]);
    assert!(
        d.exec(&["iptables", "-S", "BRIDGEWALL-UFW"])
            .contains(&bridge)
    );
    assert_eq!(d.bw(&["rules", "check"]).status.code(), Some(0));
    ok(d.bw(&["rm", "-f", "n1"]));
    ok(d.docker(&["network", "rm", "neta"]));
    assert!(!d.exec(&["iptables-save"]).contains(&bridge));
    // ufw's own reload leaves bridgewall's chains alone, and its rule still
    // admits the LAN.
    s.ufw.run(&["reload"]);
    assert_eq!(
        tcp_connect(&s.client0, s.host1(), 8080, T),
        Ok("web".into())
    );
    assert_eq!(d.bw(&["rules", "check"]).status.code(), Some(0));
    let info = ok(d.bw(&["info"]));
    assert!(
        info.contains("Published ports obey ufw route rules: yes"),
        "{info}"
    );
    assert!(!info.contains("WARNING"), "{info}");
}
