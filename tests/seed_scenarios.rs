//! The points of Docker's "Packet filtering and firewalls" page, with real
//! traffic: a "host" namespace on a LAN runs the daemon, clients on the LAN
//! (and, for the router case, on a second LAN) reach sandboxes' published
//! ports, or are blocked as the page says.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use support::daemon::{TestDaemon, ok, sleeper};
use support::topology::{ConnectError, Lan, NetnsFile, Node, tcp_connect, tcp_listen};

const T: Duration = Duration::from_millis(1500);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The daemon on a host on the primary LAN (192.0.2.1, 2001:db8:1::1),
/// with `n` clients (192.0.2.10, ...). Dropped daemon first.
struct Site {
    daemon: TestDaemon,
    clients: Vec<Node>,
    host: Node,
    lan: Lan,
}

fn site(daemon_json: Option<&str>, n: u8) -> Site {
    let lan = Lan::primary();
    let mut host = Node::new("host");
    lan.attach(&mut host, 1);
    let clients = (0..n)
        .map(|i| lan.node(&format!("client{i}"), 10 + i))
        .collect();
    let daemon = TestDaemon::start_in(host.name(), daemon_json);
    Site {
        daemon,
        clients,
        host,
        lan,
    }
}

/// The namespace of a sandbox, for servers and clients inside it.
fn ns_of(d: &TestDaemon, name: &str) -> NetnsFile {
    NetnsFile::new(d.inspect(name).network_settings.sandbox_key, name)
}

fn addr4(d: &TestDaemon, name: &str, network: &str) -> IpAddr {
    ip(&d.inspect(name).network_settings.networks[network].ip_address)
}

fn addr6(d: &TestDaemon, name: &str, network: &str) -> IpAddr {
    ip(&d.inspect(name).network_settings.networks[network].global_ipv6_address)
}

#[test]
fn published_ports_are_reachable_and_nothing_else() {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(None, 1);
    let d = &s.daemon;
    d.sandbox(sleeper("web", "", &["8080:80"])).unwrap();
    let web = ns_of(d, "web");
    let _published = tcp_listen(&web, ip("0.0.0.0"), 80);
    let _unpublished = tcp_listen(&web, ip("0.0.0.0"), 81);
    let client = &s.clients[0];
    let host4 = IpAddr::V4(s.host.ip4());
    let host6 = IpAddr::V6(s.host.ip6());
    // 5: -p 8080:80 on every host address, IPv4 and IPv6 (IPv6 through the
    // userland proxy, the network being IPv4-only).
    assert_eq!(tcp_connect(client, host4, 8080, T), Ok("web".into()));
    assert_eq!(tcp_connect(client, host6, 8080, T), Ok("web".into()));
    assert_eq!(
        tcp_connect(client, host4, 81, T),
        Err(ConnectError::Refused)
    );
    // Direct routing to the container's address is dropped, published port or not.
    client.add_route("172.17.0.0/16", host4);
    let web4 = addr4(d, "web", "bridge");
    assert_eq!(tcp_connect(client, web4, 80, T), Err(ConnectError::Timeout));
    assert_eq!(tcp_connect(client, web4, 81, T), Err(ConnectError::Timeout));
    // Outgoing connections are masqueraded to the host's address.
    let outside = tcp_listen(client, ip("0.0.0.0"), 9000);
    assert_eq!(
        tcp_connect(&web, IpAddr::V4(client.ip4()), 9000, T),
        Ok("client0".into())
    );
    assert_eq!(
        outside.peers().iter().map(|p| p.ip()).collect::<Vec<_>>(),
        [host4]
    );
    // The control: the direct route works once the raw-table protection is
    // taken out (the published port is accepted), so the timeouts above were
    // that DROP, not broken routing.
    let raw = d.exec(&["iptables", "-t", "raw", "-S", "PREROUTING"]);
    let protection = raw
        .lines()
        .find(|l| l.contains(&format!("-d {web4}/32")) && l.ends_with("-j DROP"))
        .unwrap_or_else(|| panic!("no raw protection for {web4}:\n{raw}"));
    let mut delete: Vec<&str> = vec!["iptables", "-t", "raw", "-D"];
    delete.extend(protection.split_whitespace().skip(1));
    d.exec(&delete);
    assert_eq!(tcp_connect(client, web4, 80, T), Ok("web".into()));
    let _ = &s.lan;
}

#[test]
fn docker_user_rules_have_their_documented_effect_and_survive_restarts() {
    if !support::daemon::can_run() {
        return;
    }
    let mut s = site(None, 2);
    let host4 = IpAddr::V4(s.host.ip4());
    s.daemon
        .sandbox(sleeper("web", "", &["8080:80", "8081:81"]))
        .unwrap();
    let web = ns_of(&s.daemon, "web");
    let _a = tcp_listen(&web, ip("0.0.0.0"), 80);
    let _b = tcp_listen(&web, ip("0.0.0.0"), 81);
    let (c0, c1) = (&s.clients[0], &s.clients[1]);
    assert!(tcp_connect(c1, host4, 8080, T).is_ok());
    // 6: only 192.0.2.10 may reach published ports.
    s.daemon.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-i",
        "eth0",
        "!",
        "-s",
        "192.0.2.10",
        "-j",
        "DROP",
    ]);
    assert_eq!(tcp_connect(c0, host4, 8080, T), Ok("web".into()));
    assert_eq!(tcp_connect(c1, host4, 8080, T), Err(ConnectError::Timeout));
    // The user's rules survive a restart of the daemon.
    s.daemon.restart();
    assert_eq!(tcp_connect(c0, host4, 8080, T), Ok("web".into()));
    assert_eq!(tcp_connect(c1, host4, 8080, T), Err(ConnectError::Timeout));
    // The iprange variant, then a rule on the original destination port
    // (DOCKER-USER sees packets after DNAT).
    s.daemon.exec(&["iptables", "-F", "DOCKER-USER"]);
    s.daemon.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-m",
        "iprange",
        "-i",
        "eth0",
        "!",
        "--src-range",
        "192.0.2.1-192.0.2.10",
        "-j",
        "DROP",
    ]);
    assert_eq!(tcp_connect(c0, host4, 8081, T), Ok("web".into()));
    assert_eq!(tcp_connect(c1, host4, 8081, T), Err(ConnectError::Timeout));
    s.daemon.exec(&["iptables", "-F", "DOCKER-USER"]);
    s.daemon.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-p",
        "tcp",
        "-m",
        "conntrack",
        "--ctorigdst",
        "192.0.2.1",
        "--ctorigdstport",
        "8080",
        "-j",
        "DROP",
    ]);
    s.daemon.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-p",
        "tcp",
        "-m",
        "conntrack",
        "--ctstate",
        "ESTABLISHED,RELATED",
        "-j",
        "ACCEPT",
    ]);
    assert_eq!(tcp_connect(c0, host4, 8080, T), Err(ConnectError::Timeout));
    assert_eq!(tcp_connect(c0, host4, 8081, T), Ok("web".into()));
}

#[test]
fn routed_ipv6_network_as_in_dockers_example() {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(None, 1);
    let d = &s.daemon;
    ok(d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "2001:db8:2::/64",
        "-o",
        "com.docker.network.bridge.gateway_mode_ipv6=routed",
        "mynet",
    ]));
    let sb = d.sandbox(sleeper("web", "mynet", &["8080:80"])).unwrap();
    let ports = serde_json::to_string(&sb.network_settings.ports).unwrap();
    assert_eq!(
        ports,
        r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":""}]}"#
    );
    let web = ns_of(d, "web");
    let _a = tcp_listen(&web, ip("::"), 80);
    let _b = tcp_listen(&web, ip("::"), 81);
    let client = &s.clients[0];
    let host6 = IpAddr::V6(s.host.ip6());
    client.add_route("2001:db8:2::/64", host6);
    let web6 = addr6(d, "web", "mynet");
    // Only container port 80 is open over IPv6, on the container's address.
    assert_eq!(tcp_connect(client, web6, 80, T), Ok("web".into()));
    assert_eq!(tcp_connect(client, web6, 81, T), Err(ConnectError::Timeout));
    assert!(
        tcp_connect(client, host6, 8080, T).is_err(),
        "8080 is not opened on IPv6"
    );
    // IPv4 port 80 through host port 8080, with masquerading.
    assert_eq!(
        tcp_connect(client, IpAddr::V4(s.host.ip4()), 8080, T),
        Ok("web".into())
    );
    // Outgoing IPv6 keeps the container's address.
    let outside = tcp_listen(client, ip("::"), 9000);
    assert!(tcp_connect(&web, IpAddr::V6(client.ip6()), 9000, T).is_ok());
    assert_eq!(outside.peers()[0].ip(), web6);
    // '[::]::80' publishes for IPv6 only.
    let only6 = d.sandbox(sleeper("web6", "mynet", &["[::]::80"])).unwrap();
    let ports = serde_json::to_string(&only6.network_settings.ports).unwrap();
    assert_eq!(ports, r#"{"80/tcp":[{"HostIp":"::","HostPort":""}]}"#);
}

#[test]
fn default_bind_address_from_network_option_and_daemon_ip() {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(Some(r#"{"ip": "127.0.0.1"}"#), 1);
    let d = &s.daemon;
    let host4 = IpAddr::V4(s.host.ip4());
    ok(d.docker(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.host_binding_ipv4=127.0.0.1",
        "local",
    ]));
    d.sandbox(sleeper("sa", "local", &["8080:80"])).unwrap();
    d.sandbox(sleeper("sb", "", &["8081:80"])).unwrap();
    let a = ns_of(d, "sa");
    let b = ns_of(d, "sb");
    let _sa = tcp_listen(&a, ip("0.0.0.0"), 80);
    let _sb = tcp_listen(&b, ip("0.0.0.0"), 80);
    let client = &s.clients[0];
    for port in [8080, 8081] {
        assert!(
            tcp_connect(client, host4, port, T).is_err(),
            "{port} open on the LAN"
        );
        assert!(
            tcp_connect(&s.host, ip("127.0.0.1"), port, T).is_ok(),
            "{port} not open on the host's loopback"
        );
    }
    let rules = d.rules();
    assert!(
        rules.contains("-A PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 8080 -j DROP")
    );
}

#[test]
fn a_router_needs_a_docker_user_accept_rule() {
    if !support::daemon::can_run() {
        return;
    }
    let lan2 = Lan::secondary();
    let mut s = site(None, 1);
    lan2.attach(&mut s.host, 1);
    s.host.enable_forwarding();
    let b = lan2.node("b", 20);
    let a = &s.clients[0];
    a.add_route("198.51.100.0/24", IpAddr::V4(s.host.ip4()));
    b.add_route("192.0.2.0/24", IpAddr::V4(lan2.addr4(1)));
    let _server = tcp_listen(&b, ip("0.0.0.0"), 7000);
    let b4 = IpAddr::V4(b.ip4());
    // The daemon enabled forwarding itself? Here it was on already, so no
    // DROP policy: restart with forwarding off to get Docker's behaviour.
    s.host.sysctl("net.ipv4.ip_forward", "0");
    s.daemon.restart();
    assert!(s.daemon.rules().contains(":FORWARD DROP"));
    assert_eq!(tcp_connect(a, b4, 7000, T), Err(ConnectError::Timeout));
    s.daemon.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-i",
        "eth0",
        "-o",
        "eth1",
        "-j",
        "ACCEPT",
    ]);
    s.daemon.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-m",
        "conntrack",
        "--ctstate",
        "ESTABLISHED,RELATED",
        "-j",
        "ACCEPT",
    ]);
    assert_eq!(tcp_connect(a, b4, 7000, T), Ok("b".into()));
}

#[test]
fn iptables_false_makes_no_rules() {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(Some(r#"{"iptables": false, "ip6tables": false}"#), 1);
    let d = &s.daemon;
    d.sandbox(sleeper("web", "", &["8080:80"])).unwrap();
    let rules = d.rules();
    assert!(!rules.contains("DOCKER"), "{rules}");
    let web = ns_of(d, "web");
    let _a = tcp_listen(&web, ip("0.0.0.0"), 80);
    let _b = tcp_listen(&web, ip("0.0.0.0"), 81);
    let client = &s.clients[0];
    let host4 = IpAddr::V4(s.host.ip4());
    // Published through the userland proxy; and every container port is
    // reachable from the network.
    assert_eq!(tcp_connect(client, host4, 8080, T), Ok("web".into()));
    client.add_route("172.17.0.0/16", host4);
    assert_eq!(
        tcp_connect(client, addr4(d, "web", "bridge"), 81, T),
        Ok("web".into())
    );
}

#[test]
fn networks_are_isolated_internal_has_no_way_out_and_icc_off_blocks() {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(None, 1);
    let d = &s.daemon;
    ok(d.docker(&["network", "create", "neta"]));
    ok(d.docker(&["network", "create", "netb"]));
    ok(d.docker(&["network", "create", "--internal", "inside"]));
    ok(d.docker(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "noicc",
    ]));
    for (name, net) in [
        ("a1", "neta"),
        ("a2", "neta"),
        ("b1", "netb"),
        ("i1", "inside"),
        ("n1", "noicc"),
        ("n2", "noicc"),
    ] {
        d.sandbox(sleeper(name, net, &[])).unwrap();
    }
    let servers: Vec<_> = ["a2", "b1", "n2"]
        .iter()
        .map(|n| tcp_listen(&ns_of(d, n), ip("0.0.0.0"), 80))
        .collect();
    let a1 = ns_of(d, "a1");
    // Same network: reachable; another network: isolated.
    assert_eq!(
        tcp_connect(&a1, addr4(d, "a2", "neta"), 80, T),
        Ok("a2".into())
    );
    assert_eq!(
        tcp_connect(&a1, addr4(d, "b1", "netb"), 80, T),
        Err(ConnectError::Timeout)
    );
    // ICC off: containers on the same network cannot talk.
    assert_eq!(
        tcp_connect(&ns_of(d, "n1"), addr4(d, "n2", "noicc"), 80, T),
        Err(ConnectError::Timeout)
    );
    // The controls: n2 serves (the host reaches it), and b1 is reachable
    // once a1 joins its network, so the timeouts above were the DROPs.
    let host = NetnsFile::new(format!("/run/netns/{}", d.netns), "host");
    assert_eq!(
        tcp_connect(&host, addr4(d, "n2", "noicc"), 80, T),
        Ok("n2".into())
    );
    ok(d.docker(&["network", "connect", "netb", "a1"]));
    assert_eq!(
        tcp_connect(&a1, addr4(d, "b1", "netb"), 80, T),
        Ok("b1".into())
    );
    // Internal: no way out, where a container of a network with one gets
    // out (the control).
    let client = &s.clients[0];
    let outside = tcp_listen(client, ip("0.0.0.0"), 9000);
    assert_eq!(
        tcp_connect(&a1, IpAddr::V4(client.ip4()), 9000, T),
        Ok("client0".into())
    );
    assert!(tcp_connect(&ns_of(d, "i1"), IpAddr::V4(client.ip4()), 9000, T).is_err());
    assert_eq!(outside.count(), 1);
    drop(servers);
}

#[test]
fn without_the_userland_proxy_loopback_works_through_hairpin_nat_but_not_from_the_lan() {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(Some(r#"{"userland-proxy": false}"#), 1);
    let d = &s.daemon;
    d.sandbox(sleeper("web", "", &["127.0.0.1:8080:80", "8081:80"]))
        .unwrap();
    let web = ns_of(d, "web");
    let _srv = tcp_listen(&web, ip("0.0.0.0"), 80);
    // No proxy: nothing listens in user space for these ports but the
    // reserved sockets; the host reaches them through DNAT, route_localnet
    // and the hairpin masquerade.
    assert_eq!(
        tcp_connect(&s.host, ip("127.0.0.1"), 8080, T),
        Ok("web".into())
    );
    assert_eq!(
        tcp_connect(&s.host, ip("127.0.0.1"), 8081, T),
        Ok("web".into())
    );
    // The container reaches its own published port (hairpin).
    assert_eq!(
        tcp_connect(&web, IpAddr::V4(s.host.ip4()), 8081, T),
        Ok("web".into())
    );
    // moby#45610: a LAN neighbour sending to 127.0.0.1 through the host.
    let client = &s.clients[0];
    client.route_loopback_via(s.host.ip4());
    assert_eq!(
        tcp_connect(client, ip("127.0.0.1"), 8080, T),
        Err(ConnectError::Timeout)
    );
    // Without the raw-table rule the neighbour would get in: the rule is
    // what protects the port.
    d.delete_loopback_protection(8080);
    assert_eq!(
        tcp_connect(client, ip("127.0.0.1"), 8080, T),
        Ok("web".into())
    );
}

#[test]
fn udp_ranges_and_ipv6_only_bindings_are_published() {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(None, 2);
    let d = &s.daemon;
    let host4 = IpAddr::V4(s.host.ip4());
    let host6 = IpAddr::V6(s.host.ip6());
    ok(d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "2001:db8:3::/64",
        "-o",
        "com.docker.network.bridge.host_binding_ipv4=::",
        "v6only",
    ]));
    d.sandbox(sleeper("dns", "", &["5353:53/udp", "7000-7001:80-81"]))
        .unwrap();
    d.sandbox(sleeper("six", "v6only", &["9090:80"])).unwrap();
    let dns = ns_of(d, "dns");
    let six = ns_of(d, "six");
    let _udp = support::topology::udp_echo(&dns, ip("0.0.0.0"), 53);
    let _s6 = tcp_listen(&six, ip("::"), 80);
    let (c0, c1) = (&s.clients[0], &s.clients[1]);
    assert_eq!(
        support::topology::udp_probe(c0, host4, 5353, T),
        Ok("dns".into())
    );
    // Removing the mapping flushes its conntrack entries, as Docker does, so
    // that the UDP flow does not stick to the old container.
    let dns_ip = addr4(d, "dns", "bridge").to_string();
    let flows = || d.exec(&["conntrack", "-L", "-p", "udp"]);
    assert!(
        flows().contains(&dns_ip),
        "no flow to {dns_ip}: {}",
        flows()
    );
    let removed = d.api(async |c| c.delete("/sandboxes/dns?force=1").await);
    assert!(removed.is_ok());
    assert!(!flows().contains(&dns_ip), "flow left: {}", flows());
    d.sandbox(sleeper("dns", "", &["7000-7001:80-81"])).unwrap();
    let dns = ns_of(d, "dns");
    let _r0 = tcp_listen(&dns, ip("0.0.0.0"), 80);
    let _r1 = tcp_listen(&dns, ip("0.0.0.0"), 81);
    assert_eq!(tcp_connect(c0, host4, 7000, T), Ok("dns".into()));
    assert_eq!(tcp_connect(c0, host4, 7001, T), Ok("dns".into()));
    // host_binding_ipv4 "::": all IPv6 addresses, no IPv4.
    assert_eq!(tcp_connect(c0, host6, 9090, T), Ok("six".into()));
    assert!(tcp_connect(c0, host4, 9090, T).is_err());
    // The page's subnet variant of the DOCKER-USER restriction: both
    // clients (.10, .11) are in 192.0.2.0/28, neither in 192.0.2.0/29.
    d.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-i",
        "eth0",
        "!",
        "-s",
        "192.0.2.0/28",
        "-j",
        "DROP",
    ]);
    assert_eq!(tcp_connect(c1, host4, 7000, T), Ok("dns".into()));
    d.exec(&["iptables", "-F", "DOCKER-USER"]);
    d.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-i",
        "eth0",
        "!",
        "-s",
        "192.0.2.0/29",
        "-j",
        "DROP",
    ]);
    assert_eq!(tcp_connect(c0, host4, 7000, T), Err(ConnectError::Timeout));
    assert_eq!(tcp_connect(c1, host4, 7000, T), Err(ConnectError::Timeout));
}
