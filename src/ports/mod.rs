//! Host ports of published container ports: reserving them with real sockets
//! and forwarding them through an in-process userland proxy, as Docker 28.5
//! does with its port allocator and `docker-proxy`.
//!
//! - [`reserve`]: [`SocketAllocator`] binds a socket for every host address,
//!   port and protocol of a binding before the firewall rules go in, so a
//!   port in use by another process is reported, and keeps the sockets until
//!   they are released or handed to the proxy.
//! - [`proxy`]: [`Proxy`] forwards TCP connections and UDP datagrams from a
//!   reserved socket to the container's address (also host IPv6 → container
//!   IPv4).
//! - [`splice`]: zero-copy TCP forwarding through pipes (splice(2)).

pub mod proxy;
pub mod reserve;
pub mod splice;

pub use proxy::{Proxy, ProxyConfig, ProxyError, ProxyHandle};
pub use reserve::{ReserveError, SocketAllocator};

/// Helpers shared by the tests of this module: loopback addresses, free
/// ports, and whether `::1` can be used.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};

    /// `127.0.0.1`.
    pub(crate) const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    /// `::1`.
    pub(crate) const LO6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
    /// `0.0.0.0`.
    pub(crate) const ANY4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    /// `::`.
    pub(crate) const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

    /// Another loopback address (all of 127.0.0.0/8 is local on Linux).
    pub(crate) fn lo(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    /// Whether TCP and UDP can bind `port` on every address (checked on the
    /// unspecified addresses, then dropped again).
    fn is_free(port: u16) -> bool {
        let mut addrs = vec![ANY4];
        if ipv6_loopback() {
            addrs.push(ANY6);
        }
        addrs
            .into_iter()
            .all(|ip| TcpListener::bind((ip, port)).is_ok() && UdpSocket::bind((ip, port)).is_ok())
    }

    /// The first of `n` consecutive ports that are free for TCP and UDP, from
    /// a port the kernel picked.
    pub(crate) fn free_run(n: u16) -> u16 {
        for _ in 0..200 {
            let probe = TcpListener::bind((LO, 0)).expect("bind 127.0.0.1:0");
            let first = probe.local_addr().expect("local address").port();
            drop(probe);
            let Some(last) = first.checked_add(n - 1) else {
                continue;
            };
            if (first..=last).all(is_free) {
                return first;
            }
        }
        panic!("no run of {n} free ports found");
    }

    /// A port free for TCP and UDP.
    pub(crate) fn free_port() -> u16 {
        free_run(1)
    }

    /// Whether `::1` can be bound.
    pub(crate) fn ipv6_loopback() -> bool {
        UdpSocket::bind((LO6, 0)).is_ok()
    }

    /// Whether an IPv6 test can run: `::1` is available, or the test is
    /// skipped with a message. Under `CI=true`, a missing `::1` fails.
    pub(crate) fn require_ipv6() -> bool {
        if ipv6_loopback() {
            return true;
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "::1 is not available, and IPv6 tests may not be skipped under CI=true"
        );
        eprintln!("skipping: ::1 is not available on this host");
        false
    }
}
