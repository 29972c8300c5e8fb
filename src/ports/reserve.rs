//! Host port reservation with real sockets, as Docker 28.5 does it.
//!
//! Before the firewall rules of a port binding go in, Docker reserves the host
//! port (`OSAllocator.RequestPortsInRange` in
//! `libnetwork/portallocator/osallocator_linux.go`, called by the `nat` port
//! mapper's `MapPorts` in `libnetwork/portmappers/nat/mapper_linux.go`):
//!
//! 1. Its in-memory port allocator (`portallocator.go`) picks the port: an
//!    exact port must not already be reserved by the daemon on that address
//!    ("Bind for 0.0.0.0:8080 failed: port is already allocated"); a range is
//!    searched round-robin, starting after the port last allocated from the
//!    same range for the same address and protocol (a range seen for the first
//!    time starts at its first port), and "all ports are allocated" when none
//!    is free.
//! 2. It binds a socket for every host address of the binding: TCP and UDP
//!    sockets with `SO_REUSEADDR`, IPv6 sockets with `IPV6_V6ONLY`, UDP
//!    sockets with `IP_PKTINFO` / `IPV6_RECVPKTINFO` (so the userland proxy
//!    can reply from the address a datagram was sent to), SCTP sockets
//!    (`SOCK_STREAM`, `IPPROTO_SCTP`) without `SO_REUSEADDR`. A kernel error
//!    is reported as "failed to bind host port 0.0.0.0:8080/tcp: address
//!    already in use".
//! 3. For a port range, a failed bind is retried with the next port of the
//!    range, up to 10 attempts (`maxAllocatePortAttempts`); an exact port is
//!    not retried.
//! 4. Only after the firewall rules are in does it `listen()` on TCP and SCTP
//!    sockets (listening earlier would let the kernel accept connections that
//!    the DNAT rules then strand). The backlog is 0 when nothing will accept
//!    (no userland proxy) and the kernel's maximum otherwise; SCTP always uses
//!    the maximum. The daemon listens even without the proxy because, with
//!    `SO_REUSEADDR`, a bound but not listening socket does not stop another
//!    socket from binding the same port, and so the port shows in `netstat`.
//!    With the userland proxy, the socket is then handed to `docker-proxy`.
//!
//! [`SocketAllocator`] does the same, with two differences, both to agree with
//! the pure [`SequentialAllocator`](crate::model::binding::SequentialAllocator)
//! that `bridgewall plan` uses: its reservations follow the kernel's wildcard
//! semantics (a port on `0.0.0.0` conflicts with the same port and protocol on
//! every IPv4 address, `::` with every IPv6 address), where Docker's in-memory
//! allocator compares addresses literally and leaves the overlap to the
//! kernel; and a request whose addresses overlap in that way fails up front.
//! It does not set `SCTP_INITMSG` on SCTP sockets: they are only held, never
//! proxied (Docker's `docker-proxy` does not take a pre-bound SCTP socket
//! either).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Socket, Type};
use thiserror::Error;
use tracing::{debug, warn};

use crate::firewall::types::{PortBinding, Protocol};
use crate::model::binding::{BindingError, PortAllocator};

/// How many ports of a range are tried when binding them fails (Docker's
/// `maxAllocatePortAttempts`).
pub const MAX_ALLOCATE_ATTEMPTS: usize = 10;

/// Why a host port could not be reserved, with Docker's wording.
#[derive(Debug, Error)]
pub enum ReserveError {
    /// The in-memory allocator refused: the port is already reserved by this
    /// allocator ("Bind for 0.0.0.0:8080 failed: port is already allocated"),
    /// the range is exhausted ("all ports are allocated") or invalid, or no
    /// address was given.
    #[error(transparent)]
    Allocation(#[from] BindingError),
    /// `socket()` failed.
    #[error("failed to create socket for {addr}/{proto}: {}", go_error_text(.source))]
    Socket {
        /// The protocol of the socket.
        proto: Protocol,
        /// The host address and port it was for.
        addr: SocketAddr,
        /// The kernel's error.
        source: io::Error,
    },
    /// The kernel has no SCTP support (`socket()` fails with
    /// `EPROTONOSUPPORT` or `ESOCKTNOSUPPORT`; the `sctp` module is missing).
    #[error(
        "failed to create socket for {addr}/sctp: {} (the kernel does not support SCTP)",
        go_error_text(.source)
    )]
    SctpUnsupported {
        /// The host address and port it was for.
        addr: SocketAddr,
        /// The kernel's error.
        source: io::Error,
    },
    /// Setting a socket option failed.
    #[error("failed to setsockopt({option}) for {addr}/{proto}: {}", go_error_text(.source))]
    SetSockOpt {
        /// The option, e.g. `SO_REUSEADDR`.
        option: &'static str,
        /// The protocol of the socket.
        proto: Protocol,
        /// The host address and port it was for.
        addr: SocketAddr,
        /// The kernel's error.
        source: io::Error,
    },
    /// `bind()` failed, typically because another process holds the port:
    /// "failed to bind host port 0.0.0.0:8080/tcp: address already in use".
    #[error("failed to bind host port {addr}/{proto}: {}", go_error_text(.source))]
    Bind {
        /// The protocol of the socket.
        proto: Protocol,
        /// The host address and port.
        addr: SocketAddr,
        /// The kernel's error.
        source: io::Error,
    },
    /// `listen()` failed: "failed to listen on tcp socket: address already in
    /// use".
    #[error("failed to listen on {proto} socket: {}", go_error_text(.source))]
    Listen {
        /// The protocol of the socket.
        proto: Protocol,
        /// The host address and port.
        addr: SocketAddr,
        /// The kernel's error.
        source: io::Error,
    },
    /// The port is not reserved by this allocator.
    #[error("no {proto} port {addr} is reserved")]
    NotReserved {
        /// The protocol asked for.
        proto: Protocol,
        /// The host address and port asked for.
        addr: SocketAddr,
    },
}

impl ReserveError {
    /// The host address and port the error is about, if it is about one.
    #[must_use]
    pub fn address(&self) -> Option<SocketAddr> {
        match self {
            ReserveError::Allocation(BindingError::PortAlreadyAllocated { host_ip, port }) => {
                Some(SocketAddr::new(*host_ip, *port))
            }
            ReserveError::Allocation(_) => None,
            ReserveError::Socket { addr, .. }
            | ReserveError::SctpUnsupported { addr, .. }
            | ReserveError::SetSockOpt { addr, .. }
            | ReserveError::Bind { addr, .. }
            | ReserveError::Listen { addr, .. }
            | ReserveError::NotReserved { addr, .. } => Some(*addr),
        }
    }
}

/// A kernel error as Go prints a `syscall.Errno` ("address already in use"),
/// which is how it appears in Docker's messages.
fn go_error_text(err: &io::Error) -> String {
    let Some(code) = err.raw_os_error() else {
        return err.to_string();
    };
    let desc = Errno::from_raw(code).desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Reserves host ports by binding sockets, like Docker's port allocator, and
/// keeps the sockets until they are released or handed to the userland proxy.
///
/// Implements [`PortAllocator`], so it can be given to
/// [`resolve_bindings`](crate::model::binding::resolve_bindings); a port the
/// kernel refuses is reported there as [`BindingError::HostPort`], in
/// Docker's wording.
///
/// Sockets are closed when released or when the allocator is dropped.
#[derive(Debug, Default)]
pub struct SocketAllocator {
    /// Reserved (protocol, canonical host address, port), with the bound
    /// socket unless it was taken by [`SocketAllocator::take_socket`].
    reserved: BTreeMap<(Protocol, IpAddr, u16), Option<Socket>>,
    /// The port last allocated from a range, per protocol, address and range
    /// (Docker's `portRange.last`).
    cursors: HashMap<(Protocol, IpAddr, u16, u16), u16>,
}

impl SocketAllocator {
    /// An allocator with no port reserved.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves one host port in `start..=end` on every address of
    /// `host_ips` (the same port for all, as Docker does for `0.0.0.0` and
    /// `::`), binding a socket for each; returns the port.
    ///
    /// An exact port (`start == end`) is tried once. A range is searched
    /// round-robin from the port after the one last allocated from it, and a
    /// port that fails to bind is given up for the next, up to
    /// [`MAX_ALLOCATE_ATTEMPTS`] ports. On failure nothing stays reserved.
    ///
    /// # Errors
    ///
    /// [`ReserveError::Allocation`] when the allocator itself refuses (port
    /// already reserved here, range exhausted or invalid, no address), else
    /// the kernel's error for the last port tried, in Docker's wording.
    pub fn reserve(
        &mut self,
        proto: Protocol,
        host_ips: &[IpAddr],
        start: u16,
        end: u16,
    ) -> Result<u16, ReserveError> {
        if host_ips.is_empty() {
            return Err(BindingError::NoAddresses.into());
        }
        if start == 0 || end < start {
            return Err(BindingError::InvalidPortRange { start, end }.into());
        }
        let mut addrs: Vec<IpAddr> = Vec::with_capacity(host_ips.len());
        for ip in host_ips.iter().map(|ip| ip.to_canonical()) {
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
        if let Some(holder) = overlapping(&addrs) {
            return Err(if start == end {
                BindingError::PortAlreadyAllocated {
                    host_ip: holder,
                    port: start,
                }
            } else {
                BindingError::AllPortsAllocated { proto, start, end }
            }
            .into());
        }

        let mut attempt = 1;
        loop {
            match self.attempt(proto, &addrs, start, end) {
                Ok(port) => return Ok(port),
                Err(err @ ReserveError::Allocation(_)) => return Err(err),
                Err(err) if start == end || attempt >= MAX_ALLOCATE_ATTEMPTS => {
                    warn!(error = %err, "Failed to allocate and map port");
                    return Err(err);
                }
                Err(err) => {
                    warn!(error = %err, attempt, "Failed to allocate and map port");
                    attempt += 1;
                }
            }
        }
    }

    /// Reserves the host port of a known binding again, e.g. when the daemon
    /// restarts with containers running. A binding without a host port
    /// (routed mode) needs nothing.
    ///
    /// # Errors
    ///
    /// As [`SocketAllocator::reserve`] for that exact port.
    pub fn reserve_exact(&mut self, binding: &PortBinding) -> Result<(), ReserveError> {
        if binding.host_port == 0 {
            return Ok(());
        }
        self.reserve(
            binding.proto,
            &[binding.host_ip],
            binding.host_port,
            binding.host_port,
        )
        .map(|_| ())
    }

    /// Puts a reserved TCP or SCTP socket in the listening state, as Docker
    /// does once the firewall rules of the binding are in: with a backlog of
    /// 0 when `proxied` is false (nothing will accept), the kernel's maximum
    /// otherwise (always for SCTP). Nothing to do for UDP, or for a socket
    /// already taken by [`SocketAllocator::take_socket`].
    ///
    /// # Errors
    ///
    /// [`ReserveError::NotReserved`] if the port is not reserved here;
    /// [`ReserveError::Listen`] if `listen()` fails (another socket bound
    /// with `SO_REUSEADDR` is already listening on the port).
    pub fn listen(
        &self,
        proto: Protocol,
        host_ip: IpAddr,
        port: u16,
        proxied: bool,
    ) -> Result<(), ReserveError> {
        let ip = host_ip.to_canonical();
        let addr = SocketAddr::new(ip, port);
        let slot = self
            .reserved
            .get(&(proto, ip, port))
            .ok_or(ReserveError::NotReserved { proto, addr })?;
        let Some(socket) = slot else {
            return Ok(());
        };
        // -1 is capped by the kernel to net.core.somaxconn.
        let backlog = match proto {
            Protocol::Udp => return Ok(()),
            Protocol::Tcp if !proxied => 0,
            Protocol::Tcp | Protocol::Sctp => -1,
        };
        socket
            .listen(backlog)
            .map_err(|source| ReserveError::Listen {
                proto,
                addr,
                source,
            })
    }

    /// Hands out the bound socket of a reservation, e.g. to the userland
    /// proxy, which then owns (and eventually closes) it. The port stays
    /// reserved until [`SocketAllocator::release`]. `None` if the port is not
    /// reserved here or its socket was already taken.
    pub fn take_socket(&mut self, proto: Protocol, host_ip: IpAddr, port: u16) -> Option<Socket> {
        self.reserved
            .get_mut(&(proto, host_ip.to_canonical(), port))
            .and_then(Option::take)
    }

    /// Releases a reservation, closing its socket if it was not taken.
    /// Releasing a port that is not reserved does nothing.
    pub fn release(&mut self, proto: Protocol, host_ip: IpAddr, port: u16) {
        let ip = host_ip.to_canonical();
        if self.reserved.remove(&(proto, ip, port)).is_some() {
            debug!(%proto, host_ip = %ip, port, "Released host port");
        }
    }

    /// Whether `port` is reserved for exactly `(proto, host_ip)`.
    #[must_use]
    pub fn is_reserved(&self, proto: Protocol, host_ip: IpAddr, port: u16) -> bool {
        self.reserved
            .contains_key(&(proto, host_ip.to_canonical(), port))
    }

    /// One allocation and bind attempt (Docker's `RequestPortsInRange`):
    /// picks a port, binds every address, and records the reservation only
    /// if all binds succeed.
    fn attempt(
        &mut self,
        proto: Protocol,
        addrs: &[IpAddr],
        start: u16,
        end: u16,
    ) -> Result<u16, ReserveError> {
        let port = if start == end {
            if let Some(holder) = addrs.iter().find_map(|&ip| self.holder(proto, ip, start)) {
                return Err(BindingError::PortAlreadyAllocated {
                    host_ip: holder,
                    port: start,
                }
                .into());
            }
            start
        } else {
            self.next_in_range(proto, addrs, start, end)?
        };
        let sockets = addrs
            .iter()
            .map(|&ip| bind_socket(proto, SocketAddr::new(ip, port)))
            .collect::<Result<Vec<Socket>, ReserveError>>()?;
        for (&ip, socket) in addrs.iter().zip(sockets) {
            debug!(%proto, host_ip = %ip, port, "Reserved host port");
            self.reserved.insert((proto, ip, port), Some(socket));
        }
        Ok(port)
    }

    /// The next port of the range free on every address, round-robin after
    /// the one last allocated for the first address; moves the cursors.
    fn next_in_range(
        &mut self,
        proto: Protocol,
        addrs: &[IpAddr],
        start: u16,
        end: u16,
    ) -> Result<u16, ReserveError> {
        let mut port = self
            .cursors
            .get(&(proto, addrs[0], start, end))
            .copied()
            .unwrap_or(end);
        for _ in start..=end {
            port = if port >= end { start } else { port + 1 };
            if addrs
                .iter()
                .all(|&ip| self.holder(proto, ip, port).is_none())
            {
                for &ip in addrs {
                    self.cursors.insert((proto, ip, start, end), port);
                }
                return Ok(port);
            }
        }
        Err(BindingError::AllPortsAllocated { proto, start, end }.into())
    }

    /// The address whose reservation of `port` conflicts with reserving it
    /// for `ip` (canonical), if any: the address itself, its family's
    /// unspecified address, or, for an unspecified address, any address of
    /// its family.
    fn holder(&self, proto: Protocol, ip: IpAddr, port: u16) -> Option<IpAddr> {
        if self.reserved.contains_key(&(proto, ip, port)) {
            return Some(ip);
        }
        let any = unspecified_like(ip);
        if ip == any {
            self.reserved
                .keys()
                .find(|&&(p, held, q)| p == proto && q == port && held.is_ipv4() == ip.is_ipv4())
                .map(|&(_, held, _)| held)
        } else {
            self.reserved
                .contains_key(&(proto, any, port))
                .then_some(any)
        }
    }
}

impl PortAllocator for SocketAllocator {
    fn allocate(
        &mut self,
        proto: Protocol,
        host_ip: IpAddr,
        start: u16,
        end: u16,
    ) -> Result<u16, BindingError> {
        self.allocate_shared(proto, &[host_ip], start, end)
    }

    fn release(&mut self, proto: Protocol, host_ip: IpAddr, port: u16) {
        SocketAllocator::release(self, proto, host_ip, port);
    }

    /// Docker's own shared allocation: one search over all the addresses
    /// (see [`SocketAllocator::reserve`]).
    fn allocate_shared(
        &mut self,
        proto: Protocol,
        host_ips: &[IpAddr],
        start: u16,
        end: u16,
    ) -> Result<u16, BindingError> {
        self.reserve(proto, host_ips, start, end)
            .map_err(|err| match err {
                ReserveError::Allocation(err) => err,
                err => BindingError::HostPort(err.to_string()),
            })
    }
}

/// The unspecified address of `ip`'s family.
fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// The first address of `addrs` that another of them overlaps (same family,
/// one of the two unspecified), if any.
fn overlapping(addrs: &[IpAddr]) -> Option<IpAddr> {
    addrs.iter().enumerate().find_map(|(i, &a)| {
        addrs[i + 1..]
            .iter()
            .any(|&b| a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
            .then_some(a)
    })
}

/// Enables the ancillary data that gives a UDP socket each datagram's
/// destination address (`IP_PKTINFO`, `IPV6_RECVPKTINFO`). On failure,
/// returns the option's name with the error.
pub(crate) fn enable_pktinfo(socket: &Socket, ipv6: bool) -> Result<(), (&'static str, io::Error)> {
    let result = if ipv6 {
        setsockopt(socket, sockopt::Ipv6RecvPacketInfo, &true).map_err(|e| ("IPV6_RECVPKTINFO", e))
    } else {
        setsockopt(socket, sockopt::Ipv4PacketInfo, &true).map_err(|e| ("IP_PKTINFO", e))
    };
    result.map_err(|(option, errno)| (option, io::Error::from(errno)))
}

/// Creates and binds a socket for `addr` the way Docker's `bindTCPOrUDP` and
/// `bindSCTP` do (not listening yet).
fn bind_socket(proto: Protocol, addr: SocketAddr) -> Result<Socket, ReserveError> {
    let (ty, protocol) = match proto {
        Protocol::Tcp => (Type::STREAM, socket2::Protocol::TCP),
        Protocol::Udp => (Type::DGRAM, socket2::Protocol::UDP),
        Protocol::Sctp => (Type::STREAM, socket2::Protocol::from(libc::IPPROTO_SCTP)),
    };
    // socket2 creates sockets with SOCK_CLOEXEC, as Docker does.
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol)).map_err(|source| {
        let no_sctp = matches!(
            source.raw_os_error(),
            Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT)
        );
        if proto == Protocol::Sctp && no_sctp {
            ReserveError::SctpUnsupported { addr, source }
        } else {
            ReserveError::Socket {
                proto,
                addr,
                source,
            }
        }
    })?;
    let sockopt_error = |option: &'static str, source: io::Error| ReserveError::SetSockOpt {
        option,
        proto,
        addr,
        source,
    };
    if proto != Protocol::Sctp {
        socket
            .set_reuse_address(true)
            .map_err(|e| sockopt_error("SO_REUSEADDR", e))?;
    }
    if addr.is_ipv6() {
        socket
            .set_only_v6(true)
            .map_err(|e| sockopt_error("IPV6_V6ONLY", e))?;
    }
    if proto == Protocol::Udp {
        enable_pktinfo(&socket, addr.is_ipv6()).map_err(|(option, e)| sockopt_error(option, e))?;
    }
    socket
        .bind(&addr.into())
        .map_err(|source| ReserveError::Bind {
            proto,
            addr,
            source,
        })?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::net::{TcpListener, UdpSocket};

    use super::*;
    use crate::firewall::types::GatewayMode;
    use crate::model::binding::{BindingContext, release_bindings, resolve_bindings};
    use crate::model::port_spec::PortSpec;
    use crate::ports::testing::{ANY4, ANY6, LO, LO6, free_port, free_run, lo, require_ipv6};

    const TCP: Protocol = Protocol::Tcp;
    const UDP: Protocol = Protocol::Udp;

    fn reserve(
        alloc: &mut SocketAllocator,
        proto: Protocol,
        ips: &[IpAddr],
        start: u16,
        end: u16,
    ) -> Result<u16, String> {
        alloc
            .reserve(proto, ips, start, end)
            .map_err(|e| e.to_string())
    }

    fn already_allocated(ip: &str, port: u16) -> Result<u16, String> {
        Err(format!(
            "Bind for {ip}:{port} failed: port is already allocated"
        ))
    }

    #[test]
    fn exact_port_is_bound_and_reserved_once() {
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        assert_eq!(reserve(&mut alloc, TCP, &[LO], port, port), Ok(port));
        assert!(alloc.is_reserved(TCP, LO, port));
        assert!(!alloc.is_reserved(UDP, LO, port));
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], port, port),
            already_allocated("127.0.0.1", port)
        );

        // Bound, with SO_REUSEADDR, and not listening until told to.
        let socket = alloc.take_socket(TCP, LO, port).expect("the socket");
        assert_eq!(
            socket.local_addr().unwrap().as_socket(),
            Some(SocketAddr::new(LO, port))
        );
        assert!(socket.reuse_address().unwrap());
        assert!(!socket.is_listener().unwrap());
        // Taken once; the port stays reserved.
        assert!(alloc.take_socket(TCP, LO, port).is_none());
        assert!(alloc.is_reserved(TCP, LO, port));
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], port, port),
            already_allocated("127.0.0.1", port)
        );
    }

    #[test]
    fn tcp_port_of_another_process_is_the_kernels_error() {
        let foreign = TcpListener::bind((LO, 0)).unwrap();
        let port = foreign.local_addr().unwrap().port();
        let mut alloc = SocketAllocator::new();
        let expected =
            format!("failed to bind host port 127.0.0.1:{port}/tcp: address already in use");
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], port, port),
            Err(expected.clone())
        );
        assert!(!alloc.is_reserved(TCP, LO, port));

        // Through the PortAllocator trait: the same message.
        assert_eq!(
            PortAllocator::allocate(&mut alloc, TCP, LO, port, port),
            Err(BindingError::HostPort(expected))
        );
    }

    #[test]
    fn udp_port_of_another_process_is_the_kernels_error() {
        let foreign = UdpSocket::bind((LO, 0)).unwrap();
        let port = foreign.local_addr().unwrap().port();
        let mut alloc = SocketAllocator::new();
        assert_eq!(
            reserve(&mut alloc, UDP, &[LO], port, port),
            Err(format!(
                "failed to bind host port 127.0.0.1:{port}/udp: address already in use"
            ))
        );
        // Once the port is ours, a second request is the allocator's error.
        drop(foreign);
        PortAllocator::allocate(&mut alloc, UDP, LO, port, port).unwrap();
        assert_eq!(
            PortAllocator::allocate(&mut alloc, UDP, LO, port, port),
            Err(BindingError::PortAlreadyAllocated { host_ip: LO, port })
        );
    }

    #[test]
    fn unspecified_address_conflicts_with_every_address_of_its_family() {
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        reserve(&mut alloc, TCP, &[LO], port, port).unwrap();
        assert_eq!(
            reserve(&mut alloc, TCP, &[ANY4], port, port),
            already_allocated("127.0.0.1", port)
        );
        // Another specific address, or another protocol, is no conflict.
        assert_eq!(reserve(&mut alloc, TCP, &[lo(2)], port, port), Ok(port));
        assert_eq!(reserve(&mut alloc, UDP, &[ANY4], port, port), Ok(port));
        assert_eq!(
            reserve(&mut alloc, UDP, &[lo(3)], port, port),
            already_allocated("0.0.0.0", port)
        );
        // IPv4-mapped addresses are IPv4.
        let mapped: IpAddr = "::ffff:127.0.0.3".parse().unwrap();
        assert_eq!(
            reserve(&mut alloc, UDP, &[mapped], port, port),
            already_allocated("0.0.0.0", port)
        );
        // Once the specific addresses are released, the wildcard fits.
        alloc.release(TCP, LO, port);
        alloc.release(TCP, lo(2), port);
        assert_eq!(reserve(&mut alloc, TCP, &[ANY4], port, port), Ok(port));
    }

    #[test]
    fn listening_holds_the_port_against_others_and_release_frees_it() {
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        reserve(&mut alloc, TCP, &[LO], port, port).unwrap();
        alloc.listen(TCP, LO, port, false).unwrap();
        for ip in [LO, ANY4] {
            let err = TcpListener::bind((ip, port)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse, "binding {ip}:{port}");
        }
        // UDP sockets have nothing to listen with.
        reserve(&mut alloc, UDP, &[LO], port, port).unwrap();
        alloc.listen(UDP, LO, port, true).unwrap();

        alloc.release(TCP, LO, port);
        alloc.release(UDP, LO, port);
        assert!(!alloc.is_reserved(TCP, LO, port));
        drop(TcpListener::bind((LO, port)).expect("the port is free again"));
        drop(UdpSocket::bind((LO, port)).expect("the port is free again"));
        assert_eq!(
            alloc
                .listen(TCP, LO, port, false)
                .map_err(|e| e.to_string()),
            Err(format!("no tcp port 127.0.0.1:{port} is reserved"))
        );
        // Releasing again does nothing.
        alloc.release(TCP, LO, port);
    }

    #[test]
    fn ranges_are_searched_round_robin() {
        let start = free_run(3);
        let end = start + 2;
        let mut alloc = SocketAllocator::new();
        assert_eq!(reserve(&mut alloc, TCP, &[LO], start, end), Ok(start));
        assert_eq!(reserve(&mut alloc, TCP, &[LO], start, end), Ok(start + 1));
        alloc.release(TCP, LO, start);
        // The search goes on after the last port allocated...
        assert_eq!(reserve(&mut alloc, TCP, &[LO], start, end), Ok(end));
        // ...and wraps around.
        assert_eq!(reserve(&mut alloc, TCP, &[LO], start, end), Ok(start));
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], start, end),
            Err("all ports are allocated".to_string())
        );
        assert_eq!(
            alloc.reserve(TCP, &[LO], start, end).unwrap_err().address(),
            None
        );
        // Another address has its own cursor.
        assert_eq!(reserve(&mut alloc, TCP, &[lo(2)], start, end), Ok(start));
    }

    #[test]
    fn range_skips_a_port_bound_by_another_process() {
        let start = free_run(3);
        let _foreign = TcpListener::bind((LO, start)).unwrap();
        let mut alloc = SocketAllocator::new();
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], start, start + 2),
            Ok(start + 1)
        );
        assert!(!alloc.is_reserved(TCP, LO, start));
    }

    #[test]
    fn range_held_by_other_processes_fails_after_ten_attempts() {
        let start = free_run(2);
        let _first = TcpListener::bind((LO, start)).unwrap();
        let _second = TcpListener::bind((LO, start + 1)).unwrap();
        let mut alloc = SocketAllocator::new();
        // Attempts alternate between the two ports; the tenth is the second.
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], start, start + 1),
            Err(format!(
                "failed to bind host port 127.0.0.1:{}/tcp: address already in use",
                start + 1
            ))
        );
        assert!(alloc.reserved.is_empty());
    }

    #[test]
    fn shared_reservation_is_all_or_nothing() {
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        assert_eq!(reserve(&mut alloc, UDP, &[LO, lo(2)], port, port), Ok(port));
        assert!(alloc.is_reserved(UDP, LO, port) && alloc.is_reserved(UDP, lo(2), port));

        let other = free_port();
        let _foreign = UdpSocket::bind((lo(2), other)).unwrap();
        assert_eq!(
            reserve(&mut alloc, UDP, &[LO, lo(2)], other, other),
            Err(format!(
                "failed to bind host port 127.0.0.2:{other}/udp: address already in use"
            ))
        );
        assert!(!alloc.is_reserved(UDP, LO, other));
        // The socket bound for 127.0.0.1 was closed again.
        drop(UdpSocket::bind((LO, other)).expect("127.0.0.1 is free"));
    }

    #[test]
    fn invalid_requests_bind_nothing() {
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        assert_eq!(
            reserve(&mut alloc, TCP, &[], port, port),
            Err("no IP addresses specified".to_string())
        );
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], 0, 10),
            Err("invalid port range: 0-10".to_string())
        );
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO], 10, 5),
            Err("invalid port range: 10-5".to_string())
        );
        // Addresses that overlap each other in one request.
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO, ANY4], port, port),
            already_allocated("127.0.0.1", port)
        );
        assert_eq!(
            reserve(&mut alloc, TCP, &[ANY4, LO], port, port + 1),
            Err("all ports are allocated".to_string())
        );
        assert!(alloc.reserved.is_empty());
    }

    #[test]
    fn reserve_exact_rebinds_known_bindings() {
        let port = free_port();
        let binding = PortBinding {
            proto: TCP,
            container_ip: "172.17.0.2".parse().unwrap(),
            container_port: 80,
            host_ip: "::ffff:127.0.0.1".parse().unwrap(),
            host_port: port,
        };
        let mut alloc = SocketAllocator::new();
        alloc.reserve_exact(&binding).unwrap();
        assert!(alloc.is_reserved(TCP, LO, port));
        assert_eq!(
            alloc.reserve_exact(&binding).map_err(|e| e.to_string()),
            Err(format!(
                "Bind for 127.0.0.1:{port} failed: port is already allocated"
            ))
        );
        // Routed mode: no host port, nothing to reserve.
        let routed = PortBinding {
            host_ip: ANY6,
            host_port: 0,
            ..binding
        };
        alloc.reserve_exact(&routed).unwrap();
        assert_eq!(alloc.reserved.len(), 1);
    }

    #[test]
    fn resolve_bindings_reserves_and_releases_through_the_trait() {
        let port = free_port();
        let ctx = BindingContext {
            default_host_ip: LO,
            container_v4: Some("172.17.0.2".parse().unwrap()),
            container_v6: None,
            gateway_mode_v4: GatewayMode::Nat,
            gateway_mode_v6: GatewayMode::Nat,
            userland_proxy: false,
            ephemeral_range: (port, port),
        };
        let mappings: Vec<_> = [format!("{port}:80"), "53/udp".to_string()]
            .iter()
            .flat_map(|s| PortSpec::parse(s).unwrap().mappings())
            .collect();
        let mut alloc = SocketAllocator::new();
        let bindings = resolve_bindings(&ctx, &mappings, &mut alloc).unwrap();
        let summary: Vec<_> = bindings
            .iter()
            .map(|b| (b.proto, b.host_ip, b.host_port))
            .collect();
        assert_eq!(summary, vec![(TCP, LO, port), (UDP, LO, port)]);
        assert!(alloc.is_reserved(TCP, LO, port) && alloc.is_reserved(UDP, LO, port));

        // A second container asking for the same port.
        assert_eq!(
            resolve_bindings(&ctx, &mappings[..1], &mut alloc),
            Err(BindingError::PortAlreadyAllocated { host_ip: LO, port })
        );
        release_bindings(&bindings, &mut alloc);
        assert!(alloc.reserved.is_empty());
    }

    #[test]
    fn sctp_is_reserved_or_reported_unsupported() {
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        match alloc.reserve(Protocol::Sctp, &[LO], port, port) {
            Ok(got) => {
                assert_eq!(got, port);
                alloc.listen(Protocol::Sctp, LO, port, false).unwrap();
                let socket = alloc.take_socket(Protocol::Sctp, LO, port).unwrap();
                assert_eq!(
                    socket.protocol().unwrap(),
                    Some(socket2::Protocol::from(libc::IPPROTO_SCTP))
                );
                assert!(!socket.reuse_address().unwrap());
                assert!(socket.is_listener().unwrap());
            }
            Err(err @ ReserveError::SctpUnsupported { .. }) => {
                let text = err.to_string();
                assert!(
                    text.starts_with(&format!(
                        "failed to create socket for 127.0.0.1:{port}/sctp: "
                    )) && text.ends_with(" (the kernel does not support SCTP)"),
                    "{text}"
                );
                assert!(alloc.reserved.is_empty());
            }
            Err(err) => panic!("unexpected error: {err}"),
        }
    }

    #[test]
    fn ipv6_sockets_are_v6_only_and_independent_of_ipv4() {
        if !require_ipv6() {
            return;
        }
        let port = free_port();
        let mut alloc = SocketAllocator::new();
        assert_eq!(reserve(&mut alloc, TCP, &[LO6], port, port), Ok(port));
        assert_eq!(reserve(&mut alloc, TCP, &[ANY4], port, port), Ok(port));
        assert_eq!(
            reserve(&mut alloc, TCP, &[ANY6], port, port),
            already_allocated("::1", port)
        );
        let socket = alloc.take_socket(TCP, LO6, port).unwrap();
        assert!(socket.only_v6().unwrap());
        assert!(socket.reuse_address().unwrap());

        let foreign = TcpListener::bind((LO6, 0)).unwrap();
        let taken = foreign.local_addr().unwrap().port();
        assert_eq!(
            reserve(&mut alloc, TCP, &[LO6], taken, taken),
            Err(format!(
                "failed to bind host port [::1]:{taken}/tcp: address already in use"
            ))
        );
    }

    #[test]
    fn kernel_errors_read_as_go_prints_them() {
        let text = |code| go_error_text(&io::Error::from_raw_os_error(code));
        assert_eq!(text(libc::EADDRINUSE), "address already in use");
        assert_eq!(text(libc::EADDRNOTAVAIL), "cannot assign requested address");
        assert_eq!(text(libc::EACCES), "permission denied");
        assert_eq!(text(libc::EPROTONOSUPPORT), "protocol not supported");
        assert_eq!(go_error_text(&io::Error::other("plain")), "plain");
    }
}
