//! Self-test of the topology harness (`tests/support/topology.rs`): LANs of
//! namespaces carry TCP, UDP and ICMP over IPv4 and IPv6, firewall rules in
//! a node take effect, a router node forwards between two LANs, and
//! everything (namespaces, processes) is gone after drop. Needs root:
//! skipped otherwise, except under `CI=true`.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::Duration;

use support::topology::{
    Background, ConnectError, Lan, NetnsFile, Node, command_in, ping, run_in, tcp_connect,
    tcp_listen, udp_echo, udp_probe, wait_until,
};

/// Timeout of exchanges expected to succeed.
const OK: Duration = Duration::from_secs(2);
/// Timeout of exchanges expected to fail (kept short: the test waits it out).
const FAIL: Duration = Duration::from_secs(1);

const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

fn can_run() -> bool {
    support::require(
        support::can_make_namespaces(),
        "the topology self-test needs root, ip and iptables",
    )
}

/// Asserts that a command succeeded.
fn ok(out: Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces `ip netns list` shows.
fn netns_list() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// A LAN with a host (.1) and two clients (.10, .11).
fn lan_with_host() -> (Lan, Node, Node, Node) {
    let lan = Lan::primary();
    let host = lan.node("host", 1);
    let a = lan.node("client-a", 10);
    let b = lan.node("client-b", 11);
    (lan, host, a, b)
}

#[test]
fn lan_carries_tcp_udp_and_icmp_over_both_families() {
    if !can_run() {
        return;
    }
    let (_lan, host, a, b) = lan_with_host();
    assert_eq!(host.ip4(), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(host.ip6(), "2001:db8:1::1".parse::<Ipv6Addr>().unwrap());
    assert_eq!(a.ip4(), Ipv4Addr::new(192, 0, 2, 10));
    assert_eq!(a.ip6(), "2001:db8:1::10".parse::<Ipv6Addr>().unwrap());
    assert_eq!(a.ifaces()[0].name, "eth0");

    // TCP, one dual-stack server; it sees the clients' own addresses.
    let tcp = tcp_listen(&host, ANY6, 8080);
    assert_eq!(tcp.port(), 8080);
    assert_eq!(
        tcp_connect(&a, host.ip4().into(), 8080, OK).as_deref(),
        Ok("host")
    );
    assert_eq!(
        tcp_connect(&b, host.ip6().into(), 8080, OK).as_deref(),
        Ok("host")
    );
    assert_eq!(tcp.count(), 2);
    let peers: Vec<IpAddr> = tcp.peers().iter().map(SocketAddr::ip).collect();
    assert_eq!(peers, [IpAddr::from(a.ip4()), IpAddr::from(b.ip6())]);
    assert_eq!(
        tcp_connect(&a, b.ip4().into(), 8080, OK),
        Err(ConnectError::Refused),
        "nothing listens on client-b"
    );
    tcp.stop();
    assert_eq!(
        tcp_connect(&a, host.ip4().into(), 8080, OK),
        Err(ConnectError::Refused),
        "a stopped server no longer listens"
    );

    // UDP, port 0: the server reports the port it got.
    let udp = udp_echo(&host, ANY6, 0);
    assert_ne!(udp.port(), 0);
    assert_eq!(
        udp_probe(&a, host.ip4().into(), udp.port(), OK).as_deref(),
        Ok("host")
    );
    assert_eq!(
        udp_probe(&b, host.ip6().into(), udp.port(), OK).as_deref(),
        Ok("host")
    );
    let peers: Vec<IpAddr> = udp.peers().iter().map(SocketAddr::ip).collect();
    assert_eq!(peers, [IpAddr::from(a.ip4()), IpAddr::from(b.ip6())]);
    assert_eq!(
        udp_probe(&a, b.ip6().into(), udp.port(), OK),
        Err(ConnectError::Refused),
        "port unreachable from client-b"
    );

    // ICMP and ICMPv6, between clients too; nobody has .99.
    assert!(ping(&a, host.ip4().into(), OK));
    assert!(ping(&a, host.ip6().into(), OK));
    assert!(ping(&b, a.ip4().into(), OK));
    assert!(ping(&b, a.ip6().into(), OK));
    assert!(!ping(&a, Ipv4Addr::new(192, 0, 2, 99).into(), FAIL));
    assert!(!ping(&a, "2001:db8:1::99".parse::<IpAddr>().unwrap(), FAIL));
}

#[test]
fn firewall_rules_in_a_node_drop_and_reject() {
    if !can_run() {
        return;
    }
    let lan = Lan::primary();
    let host = lan.node("host", 1);
    let client = lan.node("client", 10);
    let tcp = tcp_listen(&host, ANY6, 8080);
    let udp = udp_echo(&host, ANY6, 5300);
    let (h4, h6): (IpAddr, IpAddr) = (host.ip4().into(), host.ip6().into());

    // `prog OP INPUT -p tcp --dport 8080 -j TARGET` in the host node.
    let tcp_rule = |prog: &str, op: &str, target: &str| {
        let args = [op, "INPUT", "-p", "tcp", "--dport", "8080", "-j", target];
        ok(run_in(&host, prog, &args));
    };
    tcp_rule("iptables", "-I", "DROP");
    assert_eq!(
        tcp_connect(&client, h4, 8080, FAIL),
        Err(ConnectError::Timeout)
    );
    assert_eq!(tcp_connect(&client, h6, 8080, OK).as_deref(), Ok("host"));
    tcp_rule("iptables", "-D", "DROP");
    tcp_rule("iptables", "-I", "REJECT");
    assert_eq!(
        tcp_connect(&client, h4, 8080, OK),
        Err(ConnectError::Refused)
    );
    tcp_rule("iptables", "-D", "REJECT");
    assert_eq!(tcp_connect(&client, h4, 8080, OK).as_deref(), Ok("host"));

    tcp_rule("ip6tables", "-I", "DROP");
    assert_eq!(
        tcp_connect(&client, h6, 8080, FAIL),
        Err(ConnectError::Timeout)
    );
    tcp_rule("ip6tables", "-D", "DROP");
    tcp_rule("ip6tables", "-I", "REJECT");
    assert_eq!(
        tcp_connect(&client, h6, 8080, OK),
        Err(ConnectError::Refused)
    );

    let udp_rule = ["-I", "INPUT", "-p", "udp", "--dport", "5300", "-j", "DROP"];
    ok(run_in(&host, "iptables", &udp_rule));
    assert_eq!(
        udp_probe(&client, h4, 5300, FAIL),
        Err(ConnectError::Timeout)
    );
    assert_eq!(udp_probe(&client, h6, 5300, OK).as_deref(), Ok("host"));
    assert_eq!(udp.count(), 1, "the dropped datagrams never reached it");
    assert_eq!(tcp.count(), 2, "only the two accepted connections");

    // The rules are the host node's only.
    let listed = run_in(&client, "iptables", &["-S", "INPUT"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "-P INPUT ACCEPT"
    );
}

#[test]
fn router_forwards_between_two_lans() {
    if !can_run() {
        return;
    }
    let (lan1, lan2) = (Lan::primary(), Lan::secondary());
    let a = lan1.node("a", 10);
    let b = lan2.node("b", 10);
    let mut router = Node::new("router");
    let r1 = lan1.attach(&mut router, 1);
    let r2 = lan2.attach(&mut router, 1);
    assert_eq!((r1.name.as_str(), r2.name.as_str()), ("eth0", "eth1"));
    assert_eq!(r2.v4, Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(router.ifaces(), [r1.clone(), r2.clone()]);
    a.add_route(&lan2.v4_net().to_string(), r1.v4.into());
    a.add_route(&lan2.v6_net().to_string(), r1.v6.into());
    b.add_route("default", r2.v4.into());
    b.add_route("default", r2.v6.into());
    let server = tcp_listen(&b, ANY6, 80);
    let udp = udp_echo(&b, ANY6, 53);

    assert_eq!(
        tcp_connect(&a, b.ip4().into(), 80, FAIL),
        Err(ConnectError::Timeout),
        "no forwarding yet"
    );
    let root_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    router.enable_forwarding();
    let cat = |node: &Node, key: &str| {
        let out = run_in(node, "cat", &[&format!("/proc/sys/net/{key}")]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(cat(&router, "ipv4/ip_forward"), "1");
    assert_eq!(cat(&router, "ipv6/conf/all/forwarding"), "1");
    assert_eq!(cat(&a, "ipv4/ip_forward"), "0");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        root_forward,
        "the test's own namespace is untouched"
    );

    assert_eq!(tcp_connect(&a, b.ip4().into(), 80, OK).as_deref(), Ok("b"));
    assert_eq!(tcp_connect(&a, b.ip6().into(), 80, OK).as_deref(), Ok("b"));
    let peers: Vec<IpAddr> = server.peers().iter().map(SocketAddr::ip).collect();
    assert_eq!(
        peers,
        [IpAddr::from(a.ip4()), IpAddr::from(a.ip6())],
        "routed, not NATed"
    );
    assert_eq!(udp_probe(&a, b.ip4().into(), 53, OK).as_deref(), Ok("b"));
    assert_eq!(udp_probe(&a, b.ip6().into(), 53, OK).as_deref(), Ok("b"));
    assert_eq!(udp.count(), 2);
    assert!(ping(&a, b.ip4().into(), OK));
    assert!(ping(&b, a.ip6().into(), OK));
}

#[test]
fn servers_and_commands_run_in_any_namespace_file() {
    if !can_run() {
        return;
    }
    let lan = Lan::primary();
    let host = lan.node("host", 1);
    let client = lan.node("client", 10);
    // A process in the host node, like a container's: its namespace by pid.
    let mut sleep = command_in(&host, "sleep");
    sleep.arg("30");
    let sleeper = Background::spawn(sleep);
    let by_pid = NetnsFile::new(format!("/proc/{}/ns/net", sleeper.pid()), "by-pid");
    let server = tcp_listen(&by_pid, host.ip4().into(), 0);
    assert_eq!(
        tcp_connect(&client, host.ip4().into(), server.port(), OK).as_deref(),
        Ok("by-pid")
    );
    let addrs = run_in(&by_pid, "ip", &["-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(String::from_utf8_lossy(&addrs.stdout).contains("192.0.2.1/24"));
    let pids = run_in(&host, "ip", &["netns", "pids", host.name()]);
    assert!(
        String::from_utf8_lossy(&pids.stdout)
            .split_whitespace()
            .any(|p| p == sleeper.pid().to_string()),
        "the spawned process is in the node"
    );
}

#[test]
fn the_test_process_own_namespace_is_refused() {
    let own = NetnsFile::new("/proc/self/ns/net", "own");
    let result = std::panic::catch_unwind(|| run_in(&own, "true", &[]));
    let message = result.expect_err("running in the own namespace must panic");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        text.contains("refusing to work in the root network namespace"),
        "{text}"
    );
}

#[test]
fn namespaces_and_processes_are_gone_after_drop() {
    if !can_run() {
        return;
    }
    let (lan, host, a, b) = lan_with_host();
    let names: Vec<String> = [lan.switch_name(), host.name(), a.name(), b.name()]
        .map(str::to_owned)
        .to_vec();
    let listed = netns_list();
    assert!(
        names.iter().all(|n| listed.contains(n)),
        "{names:?} in {listed:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n.starts_with(&format!("bwt-{}-", std::process::id())))
    );

    // A process left running in a node is killed with it.
    let mut leftover = command_in(&host, "sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let server = tcp_listen(&a, ANY6, 8080);
    drop(server);
    drop((host, a, b, lan));
    let listed = netns_list();
    assert!(
        names.iter().all(|n| !listed.contains(n)),
        "{names:?} in {listed:?}"
    );
    let mut status = None;
    assert!(wait_until(Duration::from_secs(5), || {
        status = leftover.try_wait().expect("wait for sleep");
        status.is_some()
    }));
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(9),
        "killed by SIGKILL"
    );

    // Also when the test panics.
    let mut name = String::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lan = Lan::primary();
        let node = lan.node("doomed", 1);
        name = node.name().to_owned();
        panic!("a failing test");
    }));
    assert!(result.is_err());
    assert!(!name.is_empty());
    assert!(!netns_list().contains(&name), "{name} outlived a panic");
}
