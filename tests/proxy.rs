//! The userland proxy with real traffic on a running daemon: TCP and UDP
//! through 127.0.0.1 and ::1, the host's IPv6 address to an IPv4-only
//! sandbox, a mapping removed while its connections are open, and a
//! sandbox that accepts but never reads, which must not stall another
//! mapping.

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use support::daemon::{TestDaemon, ok, sleeper};
use support::topology::{
    Lan, NetnsFile, Node, in_netns, spawn_in, tcp_connect, tcp_listen, udp_echo, udp_probe,
};

const T: Duration = Duration::from_millis(1500);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ns_of(d: &TestDaemon, name: &str) -> NetnsFile {
    NetnsFile::new(d.inspect(name).network_settings.sandbox_key, name)
}

/// A server on `port` in `ns` that accepts and keeps its connections,
/// never reading or writing.
fn holding_server(ns: &NetnsFile, port: u16) {
    let listener = in_netns(ns, || TcpListener::bind(("0.0.0.0", port)).unwrap());
    spawn_in(ns, move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept() {
            held.push(s);
        }
    });
}

fn host_ns(d: &TestDaemon) -> NetnsFile {
    NetnsFile::new(format!("/run/netns/{}", d.netns), "host")
}

#[test]
fn tcp_and_udp_through_both_loopbacks_and_the_hosts_ipv6_address() {
    if !support::daemon::can_run() {
        return;
    }
    let lan = Lan::primary();
    let mut host = Node::new("host");
    lan.attach(&mut host, 1);
    let client = lan.node("client", 10);
    let d = TestDaemon::start_in(host.name(), None);
    d.sandbox(sleeper("web", "", &["8080:80", "8081:81/udp"]))
        .unwrap();
    let web = ns_of(&d, "web");
    let _tcp = tcp_listen(&web, ip("0.0.0.0"), 80);
    let _udp = udp_echo(&web, ip("0.0.0.0"), 81);
    let h = host_ns(&d);
    for lo in ["127.0.0.1", "::1"] {
        assert_eq!(tcp_connect(&h, ip(lo), 8080, T), Ok("web".into()), "{lo}");
        assert_eq!(udp_probe(&h, ip(lo), 8081, T), Ok("web".into()), "{lo}");
    }
    // The sandbox has IPv4 only: the host's IPv6 address is proxied to it.
    let host6 = IpAddr::V6(host.ip6());
    assert_eq!(tcp_connect(&client, host6, 8080, T), Ok("web".into()));
    assert_eq!(udp_probe(&client, host6, 8081, T), Ok("web".into()));
}

#[test]
fn removing_a_mapping_closes_its_open_connections() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    d.sandbox(sleeper("web", "", &["127.0.0.1:8080:80"]))
        .unwrap();
    // A server that keeps its connections open without a word.
    holding_server(&ns_of(&d, "web"), 80);
    let h = host_ns(&d);
    let mut open = in_netns(&h, || {
        TcpStream::connect_timeout(&"127.0.0.1:8080".parse().unwrap(), T).unwrap()
    });
    open.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    // Open, and quiet: the read times out (the control).
    assert!(
        open.read(&mut buf).is_err(),
        "the connection is open and quiet"
    );
    ok(d.bw(&["rm", "-f", "web"]));
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    match open.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection is still open: {other:?}"),
    }
}

#[test]
fn a_sandbox_that_never_reads_does_not_stall_another_mapping() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    d.sandbox(sleeper("sink", "", &["127.0.0.1:8090:90"]))
        .unwrap();
    d.sandbox(sleeper("web", "", &["127.0.0.1:8080:80"]))
        .unwrap();
    holding_server(&ns_of(&d, "sink"), 90);
    let _web = tcp_listen(&ns_of(&d, "web"), ip("0.0.0.0"), 80);
    let h = host_ns(&d);
    // Four writers push into the sink until their buffers are full (each
    // write blocks at most 2 s; 64 MiB at most each).
    let target: SocketAddr = "127.0.0.1:8090".parse().unwrap();
    let mut writers = Vec::new();
    for _ in 0..4 {
        let mut s = in_netns(&h, || TcpStream::connect_timeout(&target, T).unwrap());
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        writers.push(std::thread::spawn(move || {
            let chunk = vec![7u8; 1 << 20];
            let mut sent = 0usize;
            while sent < 64 << 20 && s.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
            (sent, s)
        }));
    }
    // Meanwhile, and after they are all stuck, the other mapping answers.
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(tcp_connect(&h, ip("127.0.0.1"), 8080, T), Ok("web".into()));
    }
    let stuck: Vec<(usize, TcpStream)> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    for (sent, _) in &stuck {
        assert!(
            *sent < 64 << 20,
            "the sink never reads, yet took {sent} bytes"
        );
    }
    assert_eq!(tcp_connect(&h, ip("127.0.0.1"), 8080, T), Ok("web".into()));
    println!(
        "20 connections served in {:?} beside 4 stuck ones",
        started.elapsed()
    );
}
