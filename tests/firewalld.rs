//! bridgewall beside a real firewalld (Debian's, in the test's namespace,
//! on a private bus): the `docker` zone with every bridge in it and the
//! `docker-forwarding` policy, read back with `firewall-cmd`; after a
//! `firewall-cmd --reload` and after a firewalld restart (each of which
//! deletes every iptables chain, bridgewall's and DOCKER-USER with them)
//! the whole rule set is back: published ports work, the user's DOCKER-USER
//! rule is back, networks are still isolated (GHSA-4vq8-7jfc-9cvp) and a
//! LAN neighbour still cannot reach a port published on 127.0.0.1
//! (GHSA-x4rx-4gw3-53p4); a removed network's bridge leaves the zone.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::daemon::{TestDaemon, ok, sleeper};
use support::firewalld::Firewalld;
use support::topology::{ConnectError, Lan, NetnsFile, Node, tcp_connect, tcp_listen, wait_until};

const T: Duration = Duration::from_millis(1500);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ns_of(d: &TestDaemon, name: &str) -> NetnsFile {
    NetnsFile::new(d.inspect(name).network_settings.sandbox_key, name)
}

fn addr4(d: &TestDaemon, name: &str, network: &str) -> IpAddr {
    ip(&d.inspect(name).network_settings.networks[network].ip_address)
}

/// The bridge of a user network.
fn bridge_of(d: &TestDaemon, network: &str) -> String {
    let id = ok(d.docker(&["network", "inspect", "-f", "{{.Id}}", network]));
    format!("br-{}", &id.trim()[..12])
}

const USER_RULE: &str = "-A DOCKER-USER -s 192.0.2.11/32 -j DROP";

struct Site {
    daemon: TestDaemon,
    firewalld: Firewalld,
    host: Node,
    clients: Vec<Node>,
    _lan: Lan,
    _servers: Vec<support::topology::TcpServer>,
}

fn site(backend: &str, watch: &str) -> Site {
    let lan = Lan::primary();
    let mut host = Node::new("host");
    lan.attach(&mut host, 1);
    let clients = vec![lan.node("client0", 10), lan.node("client1", 11)];
    let firewalld = Firewalld::start(host.name(), backend);
    let daemon = TestDaemon::start_custom(
        host.name(),
        Some(r#"{"userland-proxy": false}"#),
        None,
        &["--watch-interval-ms", watch],
        &[("DBUS_SYSTEM_BUS_ADDRESS", &firewalld.bus)],
    );
    // The first start made the zone and the policy, which reloads
    // firewalld (deleting every chain) before the first apply: the rules
    // are all there at once, watcher or not.
    let first = daemon.bw(&["rules", "check"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}
{}",
        String::from_utf8_lossy(&first.stdout),
        daemon.log()
    );
    assert!(
        daemon.log().contains("firewalld: created the docker zone"),
        "{}",
        daemon.log()
    );
    ok(daemon.docker(&["network", "create", "neta"]));
    ok(daemon.docker(&["network", "create", "netb"]));
    daemon
        .sandbox(sleeper("web", "", &["8080:80", "127.0.0.1:8081:80"]))
        .unwrap();
    daemon.sandbox(sleeper("a1", "neta", &[])).unwrap();
    daemon.sandbox(sleeper("b1", "netb", &[])).unwrap();
    let servers = ["web", "b1"]
        .iter()
        .map(|n| tcp_listen(&ns_of(&daemon, n), ip("0.0.0.0"), 80))
        .collect();
    daemon.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-s",
        "192.0.2.11",
        "-j",
        "DROP",
    ]);
    clients[0].route_loopback_via(host.ip4());
    Site {
        daemon,
        firewalld,
        host,
        clients,
        _lan: lan,
        _servers: servers,
    }
}

impl Site {
    /// Everything the seed page and the advisories promise, with traffic,
    /// and firewalld's view of the zone and the policy.
    fn assert_all(&self, when: &str) {
        let d = &self.daemon;
        let fw = &self.firewalld;
        let log = || format!("{when}\n{}", d.log());
        // The zone, its interfaces and the policy, as firewalld says.
        assert!(
            fw.cmd(&["--get-zones"])
                .split_whitespace()
                .any(|z| z == "docker"),
            "{}",
            log()
        );
        let members = fw.cmd(&["--zone=docker", "--list-interfaces"]);
        for bridge in [
            "docker0".to_string(),
            bridge_of(d, "neta"),
            bridge_of(d, "netb"),
        ] {
            assert!(
                members.split_whitespace().any(|m| m == bridge),
                "{bridge} not in the docker zone ({members}) {}",
                log()
            );
        }
        let policy = fw.cmd(&["--info-policy=docker-forwarding"]);
        for line in [
            "target: ACCEPT",
            "ingress-zones: ANY",
            "egress-zones: docker",
        ] {
            assert!(policy.contains(line), "{policy}");
        }
        // Published port: from the LAN (DNAT), and the user's DOCKER-USER
        // rule drops client1 while client0 (the control) gets in.
        let host4 = IpAddr::V4(self.host.ip4());
        let (c0, c1) = (&self.clients[0], &self.clients[1]);
        assert_eq!(
            tcp_connect(c0, host4, 8080, T),
            Ok("web".into()),
            "{}",
            log()
        );
        assert_eq!(
            tcp_connect(c1, host4, 8080, T),
            Err(ConnectError::Timeout),
            "{}",
            log()
        );
        assert!(d.exec(&["iptables-save"]).contains(USER_RULE), "{}", log());
        // Out of a bridge through firewalld's forward path (the zone lets it).
        let outside = tcp_listen(c0, ip("0.0.0.0"), 9000);
        let a1 = ns_of(d, "a1");
        assert_eq!(
            tcp_connect(&a1, IpAddr::V4(c0.ip4()), 9000, T),
            Ok("client0".into()),
            "{}",
            log()
        );
        drop(outside);
        // GHSA-4vq8-7jfc-9cvp: networks stay isolated; the control is the
        // host reaching b1.
        let b1 = addr4(d, "b1", "netb");
        assert_eq!(
            tcp_connect(&a1, b1, 80, T),
            Err(ConnectError::Timeout),
            "{}",
            log()
        );
        assert_eq!(
            tcp_connect(&self.host, b1, 80, T),
            Ok("b1".into()),
            "{}",
            log()
        );
        // GHSA-x4rx-4gw3-53p4: the neighbour cannot reach 127.0.0.1:8081;
        // the host can (the control), and the raw-table rule that makes the
        // difference is in place.
        assert_eq!(
            tcp_connect(c0, ip("127.0.0.1"), 8081, T),
            Err(ConnectError::Timeout),
            "{}",
            log()
        );
        assert_eq!(
            tcp_connect(&self.host, ip("127.0.0.1"), 8081, T),
            Ok("web".into()),
            "{}",
            log()
        );
        let raw = d.exec(&["iptables", "-t", "raw", "-S", "PREROUTING"]);
        assert!(
            raw.contains("-d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 8081 -j DROP"),
            "{raw}"
        );
        assert_eq!(
            d.bw(&["rules", "check"]).status.code(),
            Some(0),
            "{}",
            log()
        );
    }

    /// How many times the daemon re-applied after a firewalld event.
    fn rebuilt(&self) -> usize {
        self.daemon
            .log()
            .matches("firewalld rebuilt its rules")
            .count()
    }

    /// Runs `event` and waits for `n` more re-applies after it.
    fn after(&self, n: usize, event: impl FnOnce()) {
        let before = self.rebuilt();
        event();
        let done = wait_until(Duration::from_secs(30), || self.rebuilt() >= before + n);
        assert!(
            done,
            "no re-apply:\n{}\n{}",
            self.daemon.log(),
            self.firewalld.log()
        );
    }

    /// The control of the 127.0.0.1 check, with the watcher off: without
    /// the raw-table rule the neighbour gets in; a reload puts it back.
    fn loopback_control(&self) {
        let d = &self.daemon;
        d.delete_loopback_protection(8081);
        assert_eq!(
            tcp_connect(&self.clients[0], ip("127.0.0.1"), 8081, T),
            Ok("web".into())
        );
        d.hup_and_wait();
    }
}

fn firewalld_scenario(backend: &str, watch: &str) {
    if !support::daemon::can_run() || !support::firewalld::available() {
        return;
    }
    let s = site(backend, watch);
    // The rules DOCKER-USER had when bridgewall last read it are the ones
    // put back when the chain is deleted: a reload reads it (the watcher,
    // when on, reads it at each notification).
    s.daemon.hup_and_wait();
    s.assert_all("at start");
    if watch == "0" {
        s.loopback_control();
    }
    let info = ok(s.daemon.bw(&["info"]));
    assert!(
        info.contains("Firewall Backend: iptables+firewalld\n"),
        "{info}"
    );
    assert!(info.contains("firewalld: yes\n Version: "), "{info}");

    s.after(1, || s.firewalld.reload());
    s.assert_all("after firewall-cmd --reload");
    let info = ok(s.daemon.bw(&["info"]));
    assert!(info.contains(" Reloaded At: "), "{info}");

    // A restart: its stop and its start each delete every chain.
    s.after(2, || s.firewalld.restart());
    s.assert_all("after a firewalld restart");
    if watch != "0" {
        // A rule the user removed stays removed after a reload: what comes
        // back is what DOCKER-USER held when bridgewall last looked, and
        // the watcher looks at every change.
        let seen = |log: &str| log.matches("now holds the user's new rules").count();
        let before = seen(&s.daemon.log());
        s.daemon.exec(&[
            "iptables",
            "-D",
            "DOCKER-USER",
            "-s",
            "192.0.2.11",
            "-j",
            "DROP",
        ]);
        assert!(
            wait_until(Duration::from_secs(5), || seen(&s.daemon.log()) > before),
            "{}",
            s.daemon.log()
        );
        s.after(1, || s.firewalld.reload());
        assert!(
            !s.daemon.exec(&["iptables-save"]).contains(USER_RULE),
            "{}",
            s.daemon.log()
        );
        let c1 = &s.clients[1];
        assert_eq!(
            tcp_connect(c1, IpAddr::V4(s.host.ip4()), 8080, T),
            Ok("web".into())
        );
    }

    // A removed network's bridge leaves the zone.
    let netb = bridge_of(&s.daemon, "netb");
    ok(s.daemon.bw(&["rm", "-f", "b1"]));
    ok(s.daemon.docker(&["network", "rm", "netb"]));
    let members = s.firewalld.cmd(&["--zone=docker", "--list-interfaces"]);
    assert!(!members.split_whitespace().any(|m| m == netb), "{members}");
    assert!(members.contains("docker0"), "{members}");
}

/// firewalld's default backend, with the drift watcher on as in production.
#[test]
fn beside_firewalld_with_its_nftables_backend() {
    firewalld_scenario("nftables", "500");
}

/// firewalld's iptables backend, with the watcher off: the reload and
/// restart events alone bring everything back.
#[test]
fn beside_firewalld_with_its_iptables_backend_events_alone_restore_everything() {
    firewalld_scenario("iptables", "0");
}
