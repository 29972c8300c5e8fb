//! Network topologies for integration tests, and real traffic through them.
//!
//! - [`Lan`]: a LAN segment, a bridge `br0` inside its own "switch"
//!   namespace; [`Node`]s are attached to it by veth pairs.
//! - [`Node`]: a namespace with `lo` up, IPv6 DAD off (addresses are usable
//!   at once) and one interface per LAN it is on (`eth0`, `eth1`...), each
//!   with an IPv4 and an IPv6 address; routes, sysctls, forwarding.
//! - Traffic helpers that work *inside* a namespace ([`Namespace`]: a node,
//!   or any namespace file such as a container's): [`tcp_listen`],
//!   [`tcp_connect`], [`udp_echo`], [`udp_probe`], [`ping`], [`run_in`].
//!   Sockets are opened by a thread that has `setns`-ed into the namespace
//!   (a socket stays in the namespace it was created in), so no external
//!   tool is needed; raw ICMP sockets stand in for `ping`.
//!
//! Safety: nothing here changes the namespace the tests run in. Every `ip`
//! command names its namespace (`ip -n NS ...`), the helpers refuse to enter
//! the test process's own namespace, and check they entered the right one.
//! Namespaces are [`TestNetns`] (`bwt-<pid>-<n>`): a [`Node`] kills the
//! processes still inside it, then deletes it, on drop, also when a test
//! panics. LAN addresses must be documentation addresses ([`Lan::new`]
//! checks). Every wait and every retry loop is bounded.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipnet::{Ipv4Net, Ipv6Net};
use nix::sched::{CloneFlags, setns};
use socket2::{Domain, Protocol, Socket, Type};

use super::TestNetns;

/// How many echo requests [`ping`] sends, and how many datagrams
/// [`udp_probe`] sends, at most (spread over the timeout).
const ATTEMPTS: u32 = 3;

/// How long [`Lan::attach`] waits for a new interface to be up.
const LINK_READY: Duration = Duration::from_secs(5);

/// Runs `ip` with `args`, panicking with its error output if it fails.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `cond` every 20 ms until it holds or `limit` has passed; returns
/// whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------

/// A network namespace the traffic helpers can work in.
pub trait Namespace {
    /// The namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`...).
    fn netns_path(&self) -> PathBuf;
    /// A short name; servers started in the namespace serve it as banner.
    fn label(&self) -> &str;
}

/// Any network namespace given by its file, e.g. a container's
/// (`/proc/PID/ns/net`, or a file the daemon bind-mounted).
#[derive(Debug, Clone)]
pub struct NetnsFile {
    path: PathBuf,
    label: String,
}

impl NetnsFile {
    /// The namespace at `path`, served as `label` by servers.
    pub fn new(path: impl Into<PathBuf>, label: &str) -> NetnsFile {
        NetnsFile {
            path: path.into(),
            label: label.to_owned(),
        }
    }
}

impl Namespace for NetnsFile {
    fn netns_path(&self) -> PathBuf {
        self.path.clone()
    }

    fn label(&self) -> &str {
        &self.label
    }
}

/// Identity of a namespace file (device, inode).
fn ns_id(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Opens the namespace file of `ns`, refusing the test process's own
/// namespace and init's (the "root" namespace tests must never change).
fn open_netns(ns: &impl Namespace) -> File {
    let path = ns.netns_path();
    let file = File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let id = ns_id(&file.metadata().expect("stat a namespace file"));
    for own in ["/proc/self/ns/net", "/proc/1/ns/net"] {
        if let Ok(meta) = std::fs::metadata(own) {
            assert!(
                ns_id(&meta) != id,
                "refusing to work in the root network namespace ({} is {own})",
                path.display()
            );
        }
    }
    file
}

/// Runs `f` on a thread of its own that has entered the network namespace
/// of `ns`, and leaves it running (a server for the rest of a test).
pub fn spawn_in<F: FnOnce() + Send + 'static>(ns: &impl Namespace, f: F) {
    let file = open_netns(ns);
    std::thread::spawn(move || {
        setns(&file, CloneFlags::CLONE_NEWNET).expect("setns into a test namespace");
        f();
    });
}

/// Runs `f` on a thread that has entered the network namespace of `ns`
/// (sockets it opens belong there), and returns its result. Panics, without
/// running `f`, if the namespace cannot be entered.
pub fn in_netns<T: Send>(ns: &impl Namespace, f: impl FnOnce() -> T + Send) -> T {
    let file = open_netns(ns);
    let want = ns_id(&file.metadata().expect("stat a namespace file"));
    std::thread::scope(|scope| {
        let thread = scope.spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns into a test namespace");
            let now = std::fs::metadata("/proc/thread-self/ns/net").expect("stat own namespace");
            assert_eq!(ns_id(&now), want, "setns did not enter the namespace");
            f()
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A [`Command`] for `program` that runs inside the namespace of `ns`
/// (`setns` between fork and exec: the child is `program` itself, no
/// wrapper). Add arguments, environment, stdio, then run or spawn it (see
/// [`Background`] for long-running ones).
pub fn command_in(ns: &impl Namespace, program: &str) -> Command {
    let file = open_netns(ns);
    let mut cmd = Command::new(program);
    // SAFETY: the closure only calls setns(2), which is async-signal-safe,
    // on a descriptor opened before the fork.
    unsafe {
        cmd.pre_exec(move || setns(&file, CloneFlags::CLONE_NEWNET).map_err(io::Error::from));
    }
    cmd
}

/// Runs `program args...` inside the namespace of `ns` and returns its
/// output, whatever its exit status (e.g. `iptables -I DOCKER-USER ...`).
pub fn run_in(ns: &impl Namespace, program: &str, args: &[&str]) -> Output {
    command_in(ns, program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// A child process killed (and reaped) on drop, e.g. one started with
/// [`command_in`].
#[derive(Debug)]
pub struct Background {
    child: Child,
}

impl Background {
    /// Spawns `cmd`.
    pub fn spawn(mut cmd: Command) -> Background {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
        Background { child }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGKILL to every process in the named namespace (never to this
/// process).
fn kill_all_in(name: &str) {
    super::kill_processes_in(&PathBuf::from(format!("/run/netns/{name}")));
}

// ---------------------------------------------------------------------------
// Topology
// ---------------------------------------------------------------------------

/// One interface of a [`Node`] on a [`Lan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// Its name in the node (`eth0`, `eth1`...).
    pub name: String,
    /// Its IPv4 address, in the LAN's IPv4 subnet.
    pub v4: Ipv4Addr,
    /// Its IPv6 address, in the LAN's IPv6 subnet.
    pub v6: Ipv6Addr,
}

/// A network namespace acting as a machine: `lo` up, IPv6 DAD disabled,
/// interfaces added by [`Lan::attach`]. On drop, the processes left in it
/// are killed and the namespace is deleted.
pub struct Node {
    ns: TestNetns,
    label: String,
    ifaces: Vec<Iface>,
}

impl Node {
    /// A new node with no LAN interface yet; `label` is what its servers
    /// serve as banner.
    pub fn new(label: &str) -> Node {
        let node = Node {
            ns: TestNetns::new(),
            label: label.to_owned(),
            ifaces: Vec::new(),
        };
        // Before any interface exists, so that every one inherits it.
        node.sysctl("net.ipv6.conf.all.accept_dad", "0");
        node.sysctl("net.ipv6.conf.default.accept_dad", "0");
        ip(&["-n", node.name(), "link", "set", "lo", "up"]);
        node
    }

    /// The namespace's name (`bwt-<pid>-<n>`), as `ip netns` knows it (what
    /// `--netns` takes).
    pub fn name(&self) -> &str {
        &self.ns.name
    }

    /// Its LAN interfaces, in the order they were attached.
    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    /// The IPv4 address of `eth0`.
    pub fn ip4(&self) -> Ipv4Addr {
        self.eth0().v4
    }

    /// The IPv6 address of `eth0`.
    pub fn ip6(&self) -> Ipv6Addr {
        self.eth0().v6
    }

    fn eth0(&self) -> &Iface {
        self.ifaces
            .first()
            .unwrap_or_else(|| panic!("node {} is on no LAN", self.label))
    }

    /// Adds a route to `dest` (a CIDR, or `default`) via the gateway `via`,
    /// e.g. `172.17.0.0/16` via the host's LAN address (Docker's "direct
    /// routing"). The family is `via`'s.
    pub fn add_route(&self, dest: &str, via: IpAddr) {
        let family = if via.is_ipv6() { "-6" } else { "-4" };
        let via = via.to_string();
        ip(&["-n", self.name(), family, "route", "add", dest, "via", &via]);
    }

    /// Sends this node's packets for 127.0.0.1 to `via` over `eth0`, as a
    /// LAN neighbour attacking a port published on the host's loopback
    /// would (moby#45610): `route_localnet` on, and the local table looked
    /// up after a rule that routes 127.0.0.1 through `via`.
    pub fn route_loopback_via(&self, via: Ipv4Addr) {
        self.sysctl("net.ipv4.conf.all.route_localnet", "1");
        self.sysctl("net.ipv4.conf.eth0.route_localnet", "1");
        let n = self.name();
        ip(&["-n", n, "rule", "add", "pref", "10", "lookup", "local"]);
        ip(&["-n", n, "rule", "del", "pref", "0"]);
        ip(&[
            "-n",
            n,
            "rule",
            "add",
            "pref",
            "5",
            "to",
            "127.0.0.1",
            "lookup",
            "100",
        ]);
        let via = via.to_string();
        ip(&[
            "-n",
            n,
            "route",
            "add",
            "127.0.0.1/32",
            "via",
            &via,
            "dev",
            "eth0",
            "table",
            "100",
        ]);
    }

    /// Makes the node a router: IPv4 and IPv6 forwarding on.
    pub fn enable_forwarding(&self) {
        self.sysctl("net.ipv4.ip_forward", "1");
        self.sysctl("net.ipv6.conf.all.forwarding", "1");
    }

    /// Sets the sysctl `key` (dotted, e.g. `net.ipv4.ip_forward`) to `value`
    /// in this node's namespace. Only `net.*` keys are per namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        assert!(
            key.starts_with("net.") && !key.contains(".."),
            "not a per-namespace sysctl: {key}"
        );
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        in_netns(self, || std::fs::write(&path, value))
            .unwrap_or_else(|e| panic!("sysctl {key}={value} in {}: {e}", self.label));
    }
}

impl Namespace for Node {
    fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name()))
    }

    fn label(&self) -> &str {
        &self.label
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        kill_all_in(self.name());
        // Then `self.ns` deletes the namespace.
    }
}

/// A LAN segment: a bridge `br0` in a namespace of its own (the "switch"),
/// with an IPv4 and an IPv6 subnet from which [`Lan::attach`] gives nodes
/// their addresses. Deleted (with the switch sides of the veth pairs) on
/// drop.
pub struct Lan {
    switch: TestNetns,
    v4: Ipv4Net,
    v6: Ipv6Net,
    ports: AtomicU32,
}

impl Lan {
    /// A LAN with subnets `v4` and `v6` (CIDR). They must be documentation
    /// addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
    /// 2001:db8::/32).
    pub fn new(v4: &str, v6: &str) -> Lan {
        let v4: Ipv4Net = v4.parse().expect("an IPv4 CIDR");
        let v6: Ipv6Net = v6.parse().expect("an IPv6 CIDR");
        let doc4 = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];
        assert!(
            doc4.iter()
                .any(|d| d.parse::<Ipv4Net>().is_ok_and(|d| d.contains(&v4))),
            "{v4} is not a documentation subnet"
        );
        let doc6: Ipv6Net = "2001:db8::/32".parse().expect("a CIDR");
        assert!(doc6.contains(&v6), "{v6} is not a documentation subnet");
        let lan = Lan {
            switch: TestNetns::new(),
            v4: v4.trunc(),
            v6: v6.trunc(),
            ports: AtomicU32::new(0),
        };
        let sw = lan.switch_name();
        ip(&[
            "-n",
            sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", sw, "link", "set", "br0", "up"]);
        lan
    }

    /// The usual LAN between the host and its clients: 192.0.2.0/24 and
    /// 2001:db8:1::/64.
    pub fn primary() -> Lan {
        Lan::new("192.0.2.0/24", "2001:db8:1::/64")
    }

    /// A second LAN, e.g. behind a router: 198.51.100.0/24 and
    /// 2001:db8:100::/64.
    pub fn secondary() -> Lan {
        Lan::new("198.51.100.0/24", "2001:db8:100::/64")
    }

    /// The switch namespace's name.
    pub fn switch_name(&self) -> &str {
        &self.switch.name
    }

    /// The IPv4 subnet.
    pub fn v4_net(&self) -> Ipv4Net {
        self.v4
    }

    /// The IPv6 subnet.
    pub fn v6_net(&self) -> Ipv6Net {
        self.v6
    }

    /// IPv4 address number `host` of the LAN: 10 is 192.0.2.10 on the
    /// primary LAN.
    pub fn addr4(&self, host: u8) -> Ipv4Addr {
        let addr = Ipv4Addr::from(u32::from(self.v4.network()) + u32::from(host));
        assert!(
            host != 0 && self.v4.contains(&addr) && addr != self.v4.broadcast(),
            "host {host} is not usable in {}",
            self.v4
        );
        addr
    }

    /// IPv6 address number `host` of the LAN, written like the IPv4 one:
    /// 10 is 2001:db8:1::10 on the primary LAN.
    pub fn addr6(&self, host: u8) -> Ipv6Addr {
        assert!(host != 0, "host 0 is not usable in {}", self.v6);
        let last = u16::from_str_radix(&host.to_string(), 16).expect("decimal digits are hex");
        Ipv6Addr::from(u128::from(self.v6.network()) + u128::from(last))
    }

    /// A new [`Node`] attached to this LAN as host number `host`.
    pub fn node(&self, label: &str, host: u8) -> Node {
        let mut node = Node::new(label);
        self.attach(&mut node, host);
        node
    }

    /// Attaches `node` as host number `host` ([`Lan::addr4`],
    /// [`Lan::addr6`]): a veth pair from the switch to the node's next
    /// `ethN`, with both addresses, up and usable when this returns.
    pub fn attach(&self, node: &mut Node, host: u8) -> Iface {
        let iface = Iface {
            name: format!("eth{}", node.ifaces.len()),
            v4: self.addr4(host),
            v6: self.addr6(host),
        };
        let port = format!("p{}", self.ports.fetch_add(1, Ordering::SeqCst));
        let sw = self.switch_name();
        let ns = node.name().to_owned();
        let dev = iface.name.as_str();
        ip(&[
            "-n", sw, "link", "add", &port, "type", "veth", "peer", "name", dev, "netns", &ns,
        ]);
        ip(&["-n", sw, "link", "set", &port, "master", "br0", "up"]);
        let v4 = format!("{}/{}", iface.v4, self.v4.prefix_len());
        let v6 = format!("{}/{}", iface.v6, self.v6.prefix_len());
        ip(&["-n", &ns, "addr", "add", &v4, "dev", dev]);
        ip(&["-n", &ns, "-6", "addr", "add", &v6, "dev", dev, "nodad"]);
        ip(&["-n", &ns, "link", "set", dev, "up"]);
        let ready = wait_until(LINK_READY, || {
            ip(&["-n", &ns, "-o", "link", "show", "dev", dev]).contains("LOWER_UP")
                && !ip(&["-n", &ns, "-o", "addr", "show", "dev", dev]).contains("tentative")
        });
        assert!(
            ready,
            "{dev} of {} not up within {LINK_READY:?}",
            node.label
        );
        node.ifaces.push(iface.clone());
        iface
    }
}

// ---------------------------------------------------------------------------
// Traffic
// ---------------------------------------------------------------------------

/// Why a TCP connection or a UDP probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// Actively refused: a TCP reset or an ICMP port unreachable (nothing
    /// listening, or a `REJECT` rule).
    Refused,
    /// No answer in time (e.g. a `DROP` rule).
    Timeout,
    /// Anything else (host or network unreachable...), described.
    Other(String),
}

impl ConnectError {
    fn from_io(e: &io::Error) -> ConnectError {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => ConnectError::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ConnectError::Timeout,
            _ => ConnectError::Other(e.to_string()),
        }
    }
}

/// A TCP or UDP server running in a namespace (see [`tcp_listen`],
/// [`udp_echo`]), recording who talked to it. Stopped by [`Server::stop`]
/// or on drop. Its socket keeps its namespace alive: drop servers before
/// the [`Node`] they run in (declare them after it) so that the namespace
/// really goes away with the node.
pub struct Server {
    local: SocketAddr,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    /// The listening socket (a duplicate descriptor), to wake the thread.
    waker: Socket,
    thread: Option<JoinHandle<()>>,
}

/// A server from [`tcp_listen`].
pub type TcpServer = Server;
/// A server from [`udp_echo`].
pub type UdpServer = Server;

impl Server {
    /// Runs `serve` on a thread, for the socket `waker` duplicates.
    fn start(
        local: SocketAddr,
        waker: Socket,
        serve: impl FnOnce(Arc<AtomicBool>, Arc<Mutex<Vec<SocketAddr>>>) + Send + 'static,
    ) -> Server {
        let peers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, peers) = (stop.clone(), peers.clone());
            std::thread::spawn(move || serve(stop, peers))
        };
        Server {
            local,
            peers,
            stop,
            waker,
            thread: Some(thread),
        }
    }

    /// The address it is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.local
    }

    /// The port it is bound to (useful after binding port 0).
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// The source address of every connection (TCP) or datagram (UDP) it
    /// answered, in order; IPv4-mapped IPv6 addresses are shown as IPv4.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().expect("peers lock").clone()
    }

    /// How many connections (TCP) or datagrams (UDP) it answered.
    pub fn count(&self) -> usize {
        self.peers.lock().expect("peers lock").len()
    }

    /// Stops serving and closes the socket: connections to it are refused
    /// from now on.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            // Wakes a blocked accept(2) or recvfrom(2) on Linux. An
            // unconnected UDP socket reports ENOTCONN but is woken anyway.
            let _ = self.waker.shutdown(std::net::Shutdown::Read);
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// `peer` with an IPv4-mapped address shown as IPv4.
fn canonical(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

/// Starts a TCP server in `ns`, bound to `addr`:`port` (port 0: any; `::`
/// also accepts IPv4) and listening when this returns. It writes the
/// namespace's label and a newline to every connection, then closes it.
pub fn tcp_listen(ns: &impl Namespace, addr: IpAddr, port: u16) -> TcpServer {
    let listener = in_netns(ns, || TcpListener::bind(SocketAddr::new(addr, port)))
        .unwrap_or_else(|e| panic!("listen on {addr} port {port} in {}: {e}", ns.label()));
    let local = listener.local_addr().expect("local address");
    let waker = Socket::from(listener.try_clone().expect("dup a socket"));
    let banner = format!("{}\n", ns.label());
    Server::start(local, waker, move |stop, peers| {
        for conn in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut stream) = conn else { continue };
            if let Ok(peer) = stream.peer_addr() {
                peers.lock().expect("peers lock").push(canonical(peer));
            }
            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(banner.as_bytes());
        }
    })
}

/// Connects from `ns` to `addr`:`port` within `timeout` and returns the
/// banner the server sent (trimmed), read within `timeout` too (a failure
/// to read it, once connected, is [`ConnectError::Other`]).
pub fn tcp_connect(
    ns: &impl Namespace,
    addr: IpAddr,
    port: u16,
    timeout: Duration,
) -> Result<String, ConnectError> {
    in_netns(ns, || {
        let mut stream = TcpStream::connect_timeout(&SocketAddr::new(addr, port), timeout)
            .map_err(|e| ConnectError::from_io(&e))?;
        let mut banner = String::new();
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.read_to_string(&mut banner))
            .map_err(|e| ConnectError::Other(format!("reading the banner: {e}")))?;
        Ok(banner.trim_end().to_owned())
    })
}

/// Starts a UDP server in `ns`, bound to `addr`:`port` when this returns.
/// It answers every datagram with the namespace's label, a space, and the
/// datagram.
pub fn udp_echo(ns: &impl Namespace, addr: IpAddr, port: u16) -> UdpServer {
    let socket = in_netns(ns, || UdpSocket::bind(SocketAddr::new(addr, port)))
        .unwrap_or_else(|e| panic!("bind UDP {addr} port {port} in {}: {e}", ns.label()));
    let local = socket.local_addr().expect("local address");
    let waker = Socket::from(socket.try_clone().expect("dup a socket"));
    let banner = ns.label().to_owned();
    Server::start(local, waker, move |stop, peers| {
        let mut buf = [0u8; 2048];
        loop {
            let received = socket.recv_from(&mut buf);
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok((n, peer)) = received else { continue };
            peers.lock().expect("peers lock").push(canonical(peer));
            let mut reply = format!("{banner} ").into_bytes();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, peer);
        }
    })
}

/// Sends a datagram from `ns` to `addr`:`port` (up to 3 times, spread over
/// `timeout`) and returns the label of the [`udp_echo`] server that echoed
/// it.
pub fn udp_probe(
    ns: &impl Namespace,
    addr: IpAddr,
    port: u16,
    timeout: Duration,
) -> Result<String, ConnectError> {
    static PROBES: AtomicU32 = AtomicU32::new(0);
    let token = format!(
        "probe-{}-{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::SeqCst)
    );
    in_netns(ns, || {
        let io = |e: io::Error| ConnectError::from_io(&e);
        let any = if addr.is_ipv6() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let socket = UdpSocket::bind(SocketAddr::new(any, 0)).map_err(io)?;
        socket.connect(SocketAddr::new(addr, port)).map_err(io)?;
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 2048];
        for _ in 0..ATTEMPTS {
            let slot_end = (Instant::now() + timeout / ATTEMPTS).min(deadline);
            socket.send(token.as_bytes()).map_err(io)?;
            while let Some(left) = remaining(slot_end) {
                socket.set_read_timeout(Some(left)).map_err(io)?;
                match socket.recv(&mut buf) {
                    Ok(n) => {
                        let reply = String::from_utf8_lossy(&buf[..n]);
                        if let Some(label) = reply.strip_suffix(token.as_str()) {
                            return Ok(label.trim_end().to_owned());
                        }
                    }
                    Err(e) => match ConnectError::from_io(&e) {
                        ConnectError::Timeout => break,
                        other => return Err(other),
                    },
                }
            }
        }
        Err(ConnectError::Timeout)
    })
}

/// The time left until `end`, if any.
fn remaining(end: Instant) -> Option<Duration> {
    end.checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// Whether `addr` answers an ICMP (IPv4) or ICMPv6 echo request sent from
/// `ns` within `timeout` (up to 3 requests, spread over it). Uses a raw
/// socket: needs `CAP_NET_RAW`.
pub fn ping(ns: &impl Namespace, addr: IpAddr, timeout: Duration) -> bool {
    static IDS: AtomicU16 = AtomicU16::new(0);
    // Truncating the pid is fine: the id only has to differ between
    // concurrent pings of one namespace.
    let id = (std::process::id() as u16).wrapping_add(IDS.fetch_add(1, Ordering::SeqCst));
    let v6 = addr.is_ipv6();
    in_netns(ns, || {
        let (domain, protocol) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let socket = Socket::new(domain, Type::RAW, Some(protocol)).expect("a raw ICMP socket");
        // Connected: only packets from `addr` are received.
        if socket.connect(&SocketAddr::new(addr, 0).into()).is_err() {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1500];
        for seq in 0..ATTEMPTS {
            let slot_end = (Instant::now() + timeout / ATTEMPTS).min(deadline);
            // A failed send (no route, neighbour unreachable) is an attempt
            // without answer.
            let _ = socket.send(&echo_request(v6, id, seq as u16));
            while let Some(left) = remaining(slot_end) {
                if socket.set_read_timeout(Some(left)).is_err() {
                    return false;
                }
                match (&socket).read(&mut buf) {
                    Ok(n) if is_echo_reply(v6, &buf[..n], id) => return true,
                    Err(e) if ConnectError::from_io(&e) == ConnectError::Timeout => break,
                    // Another packet, or an ICMP error reported once.
                    _ => {}
                }
            }
        }
        false
    })
}

/// An ICMP (type 8) or ICMPv6 (type 128) echo request. The kernel fills in
/// the ICMPv6 checksum; the ICMP one is computed here.
fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend(id.to_be_bytes());
    packet.extend(seq.to_be_bytes());
    packet.extend(b"bridgewall topology test");
    if !v6 {
        let sum = internet_checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// Whether `data`, as read from a raw socket (with the IP header for IPv4,
/// without for IPv6), is an echo reply with identifier `id`.
fn is_echo_reply(v6: bool, data: &[u8], id: u16) -> bool {
    let icmp = if v6 {
        Some(data)
    } else {
        data.first()
            .and_then(|b| data.get(usize::from(b & 0x0f) * 4..))
    };
    let reply_type = if v6 { 129 } else { 0 };
    icmp.is_some_and(|m| m.len() >= 8 && m[0] == reply_type && m[4..6] == id.to_be_bytes())
}

/// The Internet checksum (RFC 1071) of `data`.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
