//! An in-process userland proxy, like Docker's `docker-proxy`.
//!
//! With the userland proxy enabled (the default, `"userland-proxy": true`),
//! Docker 28.5 starts one `docker-proxy` process per port binding and hands
//! it the socket the daemon reserved and, for TCP, put in the listening
//! state (`-use-listen-fd`). The proxy forwards what the DNAT rules do not
//! catch: connections to the host's own addresses from the host itself
//! (loopback), and host IPv6 addresses to an IPv4-only container.
//!
//! [`Proxy`] does the same with Tokio tasks, from the socket
//! [`SocketAllocator::take_socket`](crate::ports::SocketAllocator::take_socket)
//! hands out:
//!
//! - TCP (`cmd/docker-proxy/tcp_proxy_linux.go`): each accepted connection
//!   is spliced (splice(2), zero-copy: [`super::splice`]) to a new
//!   connection to the container's address, made within 10 s; when one
//!   side shuts down its sending half, the other side's sending half is shut
//!   down and the other direction goes on (half-close). `TCP_NODELAY` is set
//!   on both, as Go does by default.
//! - UDP (`cmd/docker-proxy/udp_proxy_linux.go`): one association per client
//!   address, with its own socket connected to the container; datagrams of
//!   up to 65507 bytes go both ways, and replies leave from the address the
//!   client sent to (`IP_PKTINFO` / `IPV6_PKTINFO`), which matters on a
//!   wildcard address. `ECONNREFUSED` from the container is ignored. An
//!   association with no datagram either way for the idle timeout (90 s, as
//!   docker-proxy's `DefaultConnTrackTimeout`; see [`ProxyConfig`]) is
//!   closed. docker-proxy only counts the container's replies as activity;
//!   here traffic in both directions does.
//! - SCTP is not proxied.
//!
//! [`ProxyHandle::stop`] closes the listening socket, ends the in-flight TCP
//! connections and UDP associations, and waits for every task to finish.
//! Dropping the handle stops the proxy too, without waiting.

use std::collections::HashMap;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, sendmsg,
};
use socket2::{Socket, Type};
use thiserror::Error;
use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::firewall::types::{PortBinding, Protocol};
use crate::ports::reserve::enable_pktinfo;

/// How long a UDP association lives without traffic by default
/// (docker-proxy's `DefaultConnTrackTimeout`).
pub const DEFAULT_UDP_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The largest datagram forwarded (docker-proxy's `UDPBufSize`).
const UDP_BUF_SIZE: usize = 65507;

/// How long a connection to the container may take to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait before accepting or receiving again after an error
/// (e.g. out of file descriptors), so that the loop does not spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Concurrent TCP connections per mapping by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// UDP associations (client addresses) per mapping by default.
pub const DEFAULT_MAX_UDP_FLOWS: usize = 4_096;

/// How often, at most, a mapping logs that it hit a limit.
const LIMIT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Settings of the userland proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyConfig {
    /// How long a UDP association (one client address) is kept without a
    /// datagram in either direction.
    pub udp_idle_timeout: Duration,
    /// Concurrent TCP connections per mapping; one more is closed at once.
    pub max_connections: usize,
    /// UDP associations per mapping; datagrams from a new client beyond it
    /// are dropped until one expires.
    pub max_udp_flows: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            udp_idle_timeout: DEFAULT_UDP_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_udp_flows: DEFAULT_MAX_UDP_FLOWS,
        }
    }
}

/// Counts what a limit refused and logs it at most every
/// [`LIMIT_LOG_EVERY`], with the count since the last line.
#[derive(Debug, Default)]
struct LimitLog {
    refused: u64,
    last: Option<Instant>,
}

impl LimitLog {
    fn refused(&mut self, frontend: SocketAddr, what: &str, limit: usize) {
        self.refused += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|t| now.duration_since(t) >= LIMIT_LOG_EVERY)
        {
            warn!(%frontend, limit, refused = self.refused, "Userland proxy at its limit of {what}: refusing");
            self.refused = 0;
            self.last = Some(now);
        }
    }
}

/// Why a proxy could not start.
#[derive(Debug, Error)]
pub enum ProxyError {
    /// The proxy forwards TCP and UDP only.
    #[error("the userland proxy does not forward {0}")]
    UnsupportedProtocol(Protocol),
    /// The socket does not fit the binding (wrong type or protocol, or not
    /// bound to the binding's host port).
    #[error("failed to start userland proxy for port mapping {mapping}: {reason}")]
    SocketMismatch {
        /// The binding, as `host:port:container:port/proto`.
        mapping: String,
        /// What does not fit.
        reason: String,
    },
    /// A socket operation failed.
    #[error("failed to start userland proxy for port mapping {mapping}: {source}")]
    Io {
        /// The binding, as `host:port:container:port/proto`.
        mapping: String,
        /// The error.
        source: io::Error,
    },
}

/// Starts userland proxies; holds their settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Proxy {
    config: ProxyConfig,
}

impl Proxy {
    /// A proxy starter with these settings.
    #[must_use]
    pub fn new(config: ProxyConfig) -> Self {
        Proxy { config }
    }

    /// Starts forwarding `binding` from `socket`, the socket reserved for
    /// its host address and port (bound; for TCP it is put in the listening
    /// state with the kernel's maximum backlog). The forwarding target is
    /// `container_ip:container_port`, which may be of the other family
    /// (host IPv6 → container IPv4).
    ///
    /// Must be called from within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ProxyError::UnsupportedProtocol`] for SCTP,
    /// [`ProxyError::SocketMismatch`] if the socket is not of the binding's
    /// protocol or not bound to its host port, [`ProxyError::Io`] if it
    /// cannot be set up.
    pub fn start(&self, binding: PortBinding, socket: Socket) -> Result<ProxyHandle, ProxyError> {
        let mapping = describe(&binding);
        let io_error = |source| ProxyError::Io {
            mapping: mapping.clone(),
            source,
        };
        let mismatch = |reason: String| ProxyError::SocketMismatch {
            mapping: mapping.clone(),
            reason,
        };
        let (want_type, want_proto) = match binding.proto {
            Protocol::Tcp => (Type::STREAM, socket2::Protocol::TCP),
            Protocol::Udp => (Type::DGRAM, socket2::Protocol::UDP),
            Protocol::Sctp => return Err(ProxyError::UnsupportedProtocol(Protocol::Sctp)),
        };
        let ty = socket.r#type().map_err(io_error)?;
        let proto = socket.protocol().map_err(io_error)?;
        if ty != want_type || proto != Some(want_proto) {
            return Err(mismatch(format!(
                "the socket is not a {} socket",
                binding.proto
            )));
        }
        let local = socket
            .local_addr()
            .map_err(io_error)?
            .as_socket()
            .filter(|addr| addr.port() == binding.host_port && addr.port() != 0)
            .ok_or_else(|| {
                mismatch(format!(
                    "the socket is not bound to port {}",
                    binding.host_port
                ))
            })?;
        let target = SocketAddr::new(binding.container_ip.to_canonical(), binding.container_port);
        let config = self.config;
        let (shutdown, stopped) = oneshot::channel();
        let task = match binding.proto {
            Protocol::Tcp => {
                socket.listen(-1).map_err(io_error)?;
                socket.set_nonblocking(true).map_err(io_error)?;
                let listener =
                    TcpListener::from_std(std::net::TcpListener::from(socket)).map_err(io_error)?;
                tokio::spawn(run_tcp(listener, local, target, config, stopped))
            }
            Protocol::Udp => {
                enable_pktinfo(&socket, local.is_ipv6()).map_err(|(_, e)| io_error(e))?;
                socket.set_nonblocking(true).map_err(io_error)?;
                let listener =
                    UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(io_error)?;
                tokio::spawn(run_udp(listener, local, target, config, stopped))
            }
            Protocol::Sctp => return Err(ProxyError::UnsupportedProtocol(Protocol::Sctp)),
        };
        info!(proto = %binding.proto, frontend = %local, backend = %target, "Started userland proxy");
        Ok(ProxyHandle {
            binding,
            local_addr: local,
            shutdown,
            task,
        })
    }
}

/// A running proxy for one binding.
#[derive(Debug)]
pub struct ProxyHandle {
    binding: PortBinding,
    local_addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ProxyHandle {
    /// The binding being forwarded.
    #[must_use]
    pub fn binding(&self) -> &PortBinding {
        &self.binding
    }

    /// The host address and port the proxy receives on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the proxy: closes its socket and every forwarded connection or
    /// association, and waits until all its tasks have ended.
    pub async fn stop(self) {
        // The task may have ended already (it only ends on shutdown, or by
        // panicking), in which case there is nobody to tell.
        let _ = self.shutdown.send(());
        if let Err(err) = self.task.await {
            warn!(frontend = %self.local_addr, error = %err, "Userland proxy task failed");
        }
    }
}

/// The binding in Docker's notation, `host:port:container:port/proto`.
fn describe(b: &PortBinding) -> String {
    format!(
        "{}:{}/{}",
        SocketAddr::new(b.host_ip, b.host_port),
        SocketAddr::new(b.container_ip, b.container_port),
        b.proto
    )
}

/// Logs a forwarding task that panicked (an aborted one is expected).
fn log_task_end(result: Result<(), JoinError>) {
    if let Err(err) = result
        && err.is_panic()
    {
        warn!(error = %err, "Userland proxy forwarding task panicked");
    }
}

/// Whether `connections` holds `max` live ones, the ended ones joined
/// first (they count until joined).
fn full(connections: &mut JoinSet<()>, max: usize) -> bool {
    while let Some(done) = connections.try_join_next() {
        log_task_end(done);
    }
    connections.len() >= max
}

/// Accepts connections until told to stop, then closes the listener and
/// every connection.
async fn run_tcp(
    listener: TcpListener,
    frontend: SocketAddr,
    backend: SocketAddr,
    config: ProxyConfig,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    let mut limit = LimitLog::default();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) if full(&mut connections, config.max_connections) => {
                    drop(client);
                    limit.refused(frontend, "concurrent connections", config.max_connections);
                }
                Ok((client, peer)) => {
                    connections.spawn(forward_tcp(client, peer, backend));
                }
                Err(err) => {
                    warn!(%frontend, error = %err, "Failed to accept a connection");
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => log_task_end(done),
        }
    }
    drop(listener);
    connections.shutdown().await;
    info!(proto = "tcp", %frontend, %backend, "Stopped userland proxy");
}

/// Splices one client connection to a new connection to the backend
/// (zero-copy, [`super::splice`]); a backend that does not answer within
/// [`CONNECT_TIMEOUT`] closes the client's connection.
async fn forward_tcp(client: TcpStream, peer: SocketAddr, backend: SocketAddr) {
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            warn!(%backend, error = %err, "Can't forward traffic to backend");
            return;
        }
        Err(_) => {
            warn!(%backend, timeout = ?CONNECT_TIMEOUT, "Can't forward traffic to backend: no answer");
            return;
        }
    };
    for stream in [&client, &upstream] {
        if let Err(err) = stream.set_nodelay(true) {
            debug!(error = %err, "Failed to set TCP_NODELAY");
        }
    }
    match super::splice::forward(&client, &upstream).await {
        Ok((sent, received)) => {
            debug!(%peer, %backend, sent, received, "Proxied TCP connection closed");
        }
        Err(err) => debug!(%peer, %backend, error = %err, "Proxied TCP connection failed"),
    }
}

/// One UDP client's association with the backend.
#[derive(Debug)]
struct Association {
    /// Socket connected to the backend.
    upstream: Arc<UdpSocket>,
    /// Last datagram in either direction.
    last_seen: Instant,
}

/// The UDP associations by client address.
type Associations = Arc<Mutex<HashMap<SocketAddr, Association>>>;

fn lock(table: &Associations) -> MutexGuard<'_, HashMap<SocketAddr, Association>> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Receives datagrams until told to stop, forwarding each through its
/// client's association (created on the first datagram).
async fn run_udp(
    listener: UdpSocket,
    frontend: SocketAddr,
    backend: SocketAddr,
    config: ProxyConfig,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = Arc::new(listener);
    let table: Associations = Arc::default();
    let mut replies = JoinSet::new();
    let mut limit = LimitLog::default();
    let mut buf = vec![0u8; UDP_BUF_SIZE];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            received = recv_with_dst(&listener, &mut buf, &mut cmsg) => {
                let (len, client, dst) = match received {
                    Ok(received) => received,
                    Err(err) => {
                        warn!(%frontend, error = %err, "Failed to receive a datagram");
                        tokio::time::sleep(ERROR_BACKOFF).await;
                        continue;
                    }
                };
                let existing = lock(&table).get_mut(&client).map(|a| {
                    a.last_seen = Instant::now();
                    Arc::clone(&a.upstream)
                });
                let upstream = match existing {
                    Some(upstream) => upstream,
                    None if lock(&table).len() >= config.max_udp_flows => {
                        limit.refused(frontend, "UDP flows", config.max_udp_flows);
                        continue;
                    }
                    None => match connect_udp(backend).await {
                        Ok(upstream) => {
                            let upstream = Arc::new(upstream);
                            lock(&table).insert(client, Association {
                                upstream: Arc::clone(&upstream),
                                last_seen: Instant::now(),
                            });
                            debug!(%client, %backend, "New UDP association");
                            replies.spawn(reply_loop(
                                Arc::clone(&listener),
                                Arc::clone(&upstream),
                                Arc::clone(&table),
                                client,
                                dst,
                                config.udp_idle_timeout,
                            ));
                            upstream
                        }
                        Err(err) => {
                            warn!(%backend, error = %err, "Can't proxy a datagram");
                            continue;
                        }
                    },
                };
                if let Err(err) = upstream.send(&buf[..len]).await {
                    warn!(%backend, error = %err, "Can't proxy a datagram");
                }
            },
            Some(done) = replies.join_next(), if !replies.is_empty() => log_task_end(done),
        }
    }
    drop(listener);
    replies.shutdown().await;
    info!(proto = "udp", %frontend, %backend, "Stopped userland proxy");
}

/// A socket connected to the backend, from an ephemeral port.
async fn connect_udp(backend: SocketAddr) -> io::Result<UdpSocket> {
    let any: IpAddr = match backend {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).await?;
    socket.connect(backend).await?;
    Ok(socket)
}

/// Forwards the backend's datagrams to `client` (from `src`, the address the
/// client sent to) until the association has been idle for `idle`, or a
/// socket fails; then removes the association.
async fn reply_loop(
    listener: Arc<UdpSocket>,
    upstream: Arc<UdpSocket>,
    table: Associations,
    client: SocketAddr,
    src: Option<IpAddr>,
    idle: Duration,
) {
    let mut buf = vec![0u8; UDP_BUF_SIZE];
    loop {
        let deadline = match lock(&table).get(&client) {
            Some(a) if Arc::ptr_eq(&a.upstream, &upstream) => a.last_seen + idle,
            _ => return,
        };
        tokio::select! {
            received = upstream.recv(&mut buf) => match received {
                Ok(len) => {
                    if let Some(a) = lock(&table).get_mut(&client) {
                        a.last_seen = Instant::now();
                    }
                    if let Err(err) = send_from(&listener, &buf[..len], client, src).await {
                        debug!(%client, error = %err, "Failed to send a reply");
                        break;
                    }
                }
                // Nothing listens on the container's port (yet): the
                // association stays until it is idle.
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(err) => {
                    debug!(%client, error = %err, "Failed to receive a reply");
                    break;
                }
            },
            () = tokio::time::sleep_until(deadline) => {
                let mut associations = lock(&table);
                let expired = associations.get(&client).is_none_or(|a| {
                    !Arc::ptr_eq(&a.upstream, &upstream) || a.last_seen + idle <= Instant::now()
                });
                if expired {
                    remove_if_current(&mut associations, client, &upstream);
                    debug!(%client, "UDP association expired");
                    return;
                }
            }
        }
    }
    remove_if_current(&mut lock(&table), client, &upstream);
}

/// Removes `client`'s association if it is still the one using `upstream`.
fn remove_if_current(
    associations: &mut HashMap<SocketAddr, Association>,
    client: SocketAddr,
    upstream: &Arc<UdpSocket>,
) {
    if associations
        .get(&client)
        .is_some_and(|a| Arc::ptr_eq(&a.upstream, upstream))
    {
        associations.remove(&client);
    }
}

/// Receives a datagram with its source and, when the socket reports it, the
/// local address it was sent to.
async fn recv_with_dst(
    socket: &UdpSocket,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<IpAddr>)> {
    let fd = socket.as_raw_fd();
    socket
        .async_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(&mut *buf)];
            let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut *cmsg), MsgFlags::empty())
                .map_err(io::Error::from)?;
            let from = msg
                .address
                .and_then(|addr| {
                    addr.as_sockaddr_in()
                        .map(|a| SocketAddr::from(*a))
                        .or_else(|| addr.as_sockaddr_in6().map(|a| SocketAddr::from(*a)))
                })
                .ok_or_else(|| io::Error::other("datagram without an IP source address"))?;
            let dst = msg.cmsgs().ok().and_then(|mut cmsgs| {
                cmsgs.find_map(|c| match c {
                    ControlMessageOwned::Ipv4PacketInfo(info) => Some(IpAddr::V4(Ipv4Addr::from(
                        info.ipi_addr.s_addr.to_ne_bytes(),
                    ))),
                    ControlMessageOwned::Ipv6PacketInfo(info) => {
                        Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)))
                    }
                    _ => None,
                })
            });
            Ok((msg.bytes, from, dst))
        })
        .await
}

/// Sends a datagram to `to`, from the local address `src` if given.
async fn send_from(
    socket: &UdpSocket,
    data: &[u8],
    to: SocketAddr,
    src: Option<IpAddr>,
) -> io::Result<()> {
    let Some(src) = src else {
        return socket.send_to(data, to).await.map(drop);
    };
    let fd = socket.as_raw_fd();
    let dest = SockaddrStorage::from(to);
    socket
        .async_io(Interest::WRITABLE, || {
            let iov = [IoSlice::new(data)];
            let sent = match src {
                IpAddr::V4(ip) => {
                    let info = libc::in_pktinfo {
                        ipi_ifindex: 0,
                        ipi_spec_dst: libc::in_addr {
                            s_addr: u32::from_ne_bytes(ip.octets()),
                        },
                        ipi_addr: libc::in_addr { s_addr: 0 },
                    };
                    let cmsgs = [ControlMessage::Ipv4PacketInfo(&info)];
                    sendmsg(fd, &iov, &cmsgs, MsgFlags::empty(), Some(&dest))
                }
                IpAddr::V6(ip) => {
                    let info = libc::in6_pktinfo {
                        ipi6_addr: libc::in6_addr {
                            s6_addr: ip.octets(),
                        },
                        ipi6_ifindex: 0,
                    };
                    let cmsgs = [ControlMessage::Ipv6PacketInfo(&info)];
                    sendmsg(fd, &iov, &cmsgs, MsgFlags::empty(), Some(&dest))
                }
            };
            sent.map(drop).map_err(io::Error::from)
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::ports::SocketAllocator;
    use crate::ports::testing::{ANY4, LO, LO6, free_port, lo, require_ipv6};

    /// The longest any single step of a test may take.
    const STEP: Duration = Duration::from_secs(5);

    async fn within<T>(step: impl Future<Output = T>) -> T {
        tokio::time::timeout(STEP, step)
            .await
            .expect("step timed out")
    }

    /// A socket reserved for `proto` on `ip`, on a free port.
    fn reserved(proto: Protocol, ip: IpAddr) -> (u16, Socket) {
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        alloc.reserve(proto, &[ip], port, port).unwrap();
        (port, alloc.take_socket(proto, ip, port).unwrap())
    }

    fn binding(
        proto: Protocol,
        host_ip: IpAddr,
        host_port: u16,
        target: SocketAddr,
    ) -> PortBinding {
        PortBinding {
            proto,
            container_ip: target.ip(),
            container_port: target.port(),
            host_ip,
            host_port,
        }
    }

    /// A TCP server on 127.0.0.1 that echoes what it reads until EOF, then
    /// closes, for up to `connections` connections.
    async fn tcp_echo(connections: usize) -> SocketAddr {
        let listener = TcpListener::bind((LO, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..connections {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let (mut rx, mut tx) = stream.split();
                    let _ = tokio::time::timeout(STEP, tokio::io::copy(&mut rx, &mut tx)).await;
                });
            }
        });
        addr
    }

    /// A UDP server on 127.0.0.1 that answers up to `datagrams` datagrams
    /// with `reply(datagram, sender)`.
    async fn udp_server(datagrams: usize, reply: fn(&[u8], SocketAddr) -> Vec<u8>) -> SocketAddr {
        let socket = UdpSocket::bind((LO, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; UDP_BUF_SIZE];
            for _ in 0..datagrams {
                let Ok(Ok((len, from))) =
                    tokio::time::timeout(STEP, socket.recv_from(&mut buf)).await
                else {
                    return;
                };
                let _ = socket.send_to(&reply(&buf[..len], from), from).await;
            }
        });
        addr
    }

    fn echo(datagram: &[u8], _: SocketAddr) -> Vec<u8> {
        datagram.to_vec()
    }

    fn sender(_: &[u8], from: SocketAddr) -> Vec<u8> {
        from.to_string().into_bytes()
    }

    /// Sends `msg` from `client` (connected to the proxy) and returns the
    /// reply.
    async fn ask(client: &UdpSocket, msg: &[u8]) -> Vec<u8> {
        within(client.send(msg)).await.unwrap();
        let mut buf = vec![0u8; UDP_BUF_SIZE];
        let len = within(client.recv(&mut buf)).await.unwrap();
        buf.truncate(len);
        buf
    }

    #[tokio::test]
    async fn tcp_connections_round_trip() {
        const CONNECTIONS: usize = 5;
        let echo = tcp_echo(CONNECTIONS).await;
        let (port, socket) = reserved(Protocol::Tcp, LO);
        let proxy = Proxy::default()
            .start(binding(Protocol::Tcp, LO, port, echo), socket)
            .unwrap();
        assert_eq!(proxy.local_addr(), SocketAddr::new(LO, port));
        assert_eq!(proxy.binding().container_port, echo.port());
        for i in 0..CONNECTIONS {
            let mut client = within(TcpStream::connect((LO, port))).await.unwrap();
            let msg = format!("hello {i}");
            within(client.write_all(msg.as_bytes())).await.unwrap();
            let mut back = vec![0u8; msg.len()];
            within(client.read_exact(&mut back)).await.unwrap();
            assert_eq!(back, msg.as_bytes());
        }
        within(proxy.stop()).await;
    }

    #[tokio::test]
    async fn tcp_half_close_reaches_the_backend_and_the_reply_comes_back() {
        // The backend answers only once the client has finished sending.
        let backend = TcpListener::bind((LO, 0)).await.unwrap();
        let target = backend.local_addr().unwrap();
        tokio::spawn(async move {
            let Ok((mut stream, _)) = backend.accept().await else {
                return;
            };
            let mut got = Vec::new();
            if let Ok(Ok(_)) = tokio::time::timeout(STEP, stream.read_to_end(&mut got)).await {
                let _ = stream
                    .write_all(format!("received {} bytes", got.len()).as_bytes())
                    .await;
            }
        });
        let (port, socket) = reserved(Protocol::Tcp, LO);
        let proxy = Proxy::default()
            .start(binding(Protocol::Tcp, LO, port, target), socket)
            .unwrap();

        let mut client = within(TcpStream::connect((LO, port))).await.unwrap();
        for chunk in [&b"abc"[..], b"defg", b"hi"] {
            within(client.write_all(chunk)).await.unwrap();
        }
        within(client.shutdown()).await.unwrap();
        let mut reply = String::new();
        within(client.read_to_string(&mut reply)).await.unwrap();
        assert_eq!(reply, "received 9 bytes");
        within(proxy.stop()).await;
    }

    #[tokio::test]
    async fn stop_closes_the_listener_and_inflight_connections() {
        let echo = tcp_echo(1).await;
        let (port, socket) = reserved(Protocol::Tcp, LO);
        let proxy = Proxy::default()
            .start(binding(Protocol::Tcp, LO, port, echo), socket)
            .unwrap();
        let mut client = within(TcpStream::connect((LO, port))).await.unwrap();
        within(client.write_all(b"x")).await.unwrap();
        let mut byte = [0u8; 1];
        within(client.read_exact(&mut byte)).await.unwrap();

        within(proxy.stop()).await;
        match within(client.read(&mut byte)).await {
            Ok(0) | Err(_) => {}
            Ok(n) => panic!("read {n} bytes from a connection the proxy closed"),
        }
        let err = within(TcpStream::connect((LO, port))).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn udp_datagrams_round_trip_per_client() {
        let server = udp_server(6, echo).await;
        let (port, socket) = reserved(Protocol::Udp, LO);
        let proxy = Proxy::default()
            .start(binding(Protocol::Udp, LO, port, server), socket)
            .unwrap();
        let clients = [
            UdpSocket::bind((LO, 0)).await.unwrap(),
            UdpSocket::bind((LO, 0)).await.unwrap(),
        ];
        for client in &clients {
            client.connect((LO, port)).await.unwrap();
        }
        for i in 0..3 {
            for (c, client) in clients.iter().enumerate() {
                let msg = format!("client {c} datagram {i}");
                assert_eq!(ask(client, msg.as_bytes()).await, msg.as_bytes());
            }
        }

        within(proxy.stop()).await;
        // Nothing receives on the port any more: the kernel refuses.
        within(clients[0].send(b"late")).await.unwrap();
        let mut buf = [0u8; 16];
        let err = within(clients[0].recv(&mut buf)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn a_mapping_at_its_connection_limit_closes_one_more_and_serves_the_others() {
        let echo = tcp_echo(60).await;
        let (port, socket) = reserved(Protocol::Tcp, LO);
        let proxy = Proxy::new(ProxyConfig {
            max_connections: 2,
            ..ProxyConfig::default()
        })
        .start(binding(Protocol::Tcp, LO, port, echo), socket)
        .unwrap();
        let mut open = Vec::new();
        for i in 0..2 {
            let mut c = within(TcpStream::connect((LO, port))).await.unwrap();
            within(c.write_all(&[i])).await.unwrap();
            let mut back = [0u8; 1];
            within(c.read_exact(&mut back)).await.unwrap();
            open.push(c);
        }
        // The third is accepted by the kernel, then closed by the proxy.
        let mut third = within(TcpStream::connect((LO, port))).await.unwrap();
        let mut buf = [0u8; 1];
        let read = within(third.read(&mut buf)).await;
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        // The two open ones still work, and a place freed is taken again.
        within(open[1].write_all(b"x")).await.unwrap();
        within(open[1].read_exact(&mut buf)).await.unwrap();
        drop(open.remove(0));
        // Its task ends once both directions have: bounded retries.
        let mut served = false;
        for _ in 0..50 {
            let mut c = within(TcpStream::connect((LO, port))).await.unwrap();
            let _ = c.write_all(b"y").await;
            if tokio::time::timeout(STEP, c.read_exact(&mut buf))
                .await
                .is_ok_and(|r| r.is_ok())
            {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(served, "the freed place is taken again");
        within(proxy.stop()).await;
    }

    #[tokio::test]
    async fn a_mapping_at_its_udp_flow_limit_drops_new_clients_only() {
        let server = udp_server(10, echo).await;
        let (port, socket) = reserved(Protocol::Udp, LO);
        let proxy = Proxy::new(ProxyConfig {
            max_udp_flows: 1,
            ..ProxyConfig::default()
        })
        .start(binding(Protocol::Udp, LO, port, server), socket)
        .unwrap();
        let first = UdpSocket::bind((LO, 0)).await.unwrap();
        first.connect((LO, port)).await.unwrap();
        assert_eq!(ask(&first, b"1").await, b"1");
        let second = UdpSocket::bind((LO, 0)).await.unwrap();
        second.connect((LO, port)).await.unwrap();
        within(second.send(b"2")).await.unwrap();
        let mut buf = [0u8; 8];
        let dropped = tokio::time::timeout(Duration::from_millis(300), second.recv(&mut buf)).await;
        assert!(dropped.is_err(), "no flow for a second client");
        assert_eq!(ask(&first, b"3").await, b"3");
        within(proxy.stop()).await;
    }

    #[tokio::test]
    async fn udp_association_is_kept_while_active_and_expires_when_idle() {
        let server = udp_server(7, sender).await;
        let (port, socket) = reserved(Protocol::Udp, LO);
        let idle = Duration::from_millis(300);
        let proxy = Proxy::new(ProxyConfig {
            udp_idle_timeout: idle,
            ..ProxyConfig::default()
        })
        .start(binding(Protocol::Udp, LO, port, server), socket)
        .unwrap();
        let client = UdpSocket::bind((LO, 0)).await.unwrap();
        client.connect((LO, port)).await.unwrap();

        // Traffic every 100 ms for 600 ms: one association, one upstream port.
        let first = ask(&client, b"0").await;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(ask(&client, b"again").await, first);
        }
        // Idle for three timeouts: a new association, from a new port.
        tokio::time::sleep(idle * 3).await;
        assert_ne!(ask(&client, b"later").await, first);
        within(proxy.stop()).await;
    }

    #[tokio::test]
    async fn udp_replies_leave_from_the_address_the_client_sent_to() {
        let server = udp_server(1, echo).await;
        let (port, socket) = reserved(Protocol::Udp, ANY4);
        let proxy = Proxy::default()
            .start(binding(Protocol::Udp, ANY4, port, server), socket)
            .unwrap();
        // A connected socket only accepts datagrams from 127.0.0.2:port; the
        // kernel would pick 127.0.0.1 as the source of an unpinned reply.
        let client = UdpSocket::bind((LO, 0)).await.unwrap();
        client.connect((lo(2), port)).await.unwrap();
        assert_eq!(ask(&client, b"from where?").await, b"from where?");
        within(proxy.stop()).await;
    }

    #[tokio::test]
    async fn host_ipv6_is_forwarded_to_container_ipv4() {
        if !require_ipv6() {
            return;
        }
        let echo_tcp = tcp_echo(1).await;
        let (port, socket) = reserved(Protocol::Tcp, LO6);
        let tcp = Proxy::default()
            .start(binding(Protocol::Tcp, LO6, port, echo_tcp), socket)
            .unwrap();
        let mut client = within(TcpStream::connect((LO6, port))).await.unwrap();
        within(client.write_all(b"over v6")).await.unwrap();
        let mut back = [0u8; 7];
        within(client.read_exact(&mut back)).await.unwrap();
        assert_eq!(&back, b"over v6");

        let echo_udp = udp_server(1, echo).await;
        let (port, socket) = reserved(Protocol::Udp, LO6);
        let udp = Proxy::default()
            .start(binding(Protocol::Udp, LO6, port, echo_udp), socket)
            .unwrap();
        let client = UdpSocket::bind((LO6, 0)).await.unwrap();
        client.connect((LO6, port)).await.unwrap();
        assert_eq!(ask(&client, b"datagram over v6").await, b"datagram over v6");

        within(tcp.stop()).await;
        within(udp.stop()).await;
    }

    #[test]
    fn start_refuses_sockets_that_do_not_fit_the_binding() {
        let target: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let (port, udp) = reserved(Protocol::Udp, LO);
        assert_eq!(
            Proxy::default()
                .start(binding(Protocol::Tcp, LO, port, target), udp)
                .unwrap_err()
                .to_string(),
            format!(
                "failed to start userland proxy for port mapping 127.0.0.1:{port}:127.0.0.1:9/tcp: the socket is not a tcp socket"
            )
        );
        let (port, tcp) = reserved(Protocol::Tcp, LO);
        let other = port ^ 1;
        assert_eq!(
            Proxy::default()
                .start(binding(Protocol::Tcp, LO, other, target), tcp)
                .unwrap_err()
                .to_string(),
            format!(
                "failed to start userland proxy for port mapping 127.0.0.1:{other}:127.0.0.1:9/tcp: the socket is not bound to port {other}"
            )
        );
        let (port, tcp) = reserved(Protocol::Tcp, LO);
        assert_eq!(
            Proxy::default()
                .start(binding(Protocol::Sctp, LO, port, target), tcp)
                .unwrap_err()
                .to_string(),
            "the userland proxy does not forward sctp"
        );
    }
}
