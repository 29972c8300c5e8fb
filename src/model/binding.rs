//! Docker's port-binding semantics: from port mappings to resolved bindings.
//!
//! This follows Docker 28.5's bridge driver (`addPortMappings` in
//! `libnetwork/drivers/bridge/port_mapping_linux.go`):
//!
//! - Mappings are sorted (`sortAndNormPBs`): exact host ports before ranges and
//!   ephemeral ports, then by container port, protocol, host port range and
//!   host address. Consecutive mappings that differ only in host address form
//!   a group, and every address of a group gets the same host port.
//! - Each mapping yields an IPv4 binding and/or an IPv6 binding
//!   (`configurePortBindingIPv4/IPv6`), IPv4 first. No host address means the
//!   default binding address; `0.0.0.0` there expands to `0.0.0.0` and `::`.
//!   Mappings that cannot apply (an IPv6 address for an IPv4-only container
//!   without the userland proxy, an IPv4 address for a container without
//!   IPv4...) are skipped with an info log, never an error, as in Docker.
//! - In `routed` mode for a family, the host address becomes the unspecified
//!   address of the family and the host port is ignored (0), as
//!   `docker inspect` shows it: `{"HostIp":"::","HostPort":""}`.
//!
//! The host is assumed to support IPv6 (Docker's `IsV6Listenable`), and the
//! endpoint to be the container's gateway for both families (so the
//! `NoProxy6To4` case of multi-network containers does not arise).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;
use tracing::info;

use crate::firewall::types::{GatewayMode, PortBinding, Protocol};
use crate::model::port_spec::PortMapping;

/// What resolving an endpoint's port mappings depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingContext {
    /// The address used when a mapping has none: the network's
    /// `com.docker.network.bridge.host_binding_ipv4`, or the daemon's `ip`
    /// for the default bridge; `0.0.0.0` by default.
    pub default_host_ip: IpAddr,
    /// The container's IPv4 address on the network, if any.
    pub container_v4: Option<Ipv4Addr>,
    /// The container's IPv6 address on the network, if any.
    pub container_v6: Option<Ipv6Addr>,
    /// The network's IPv4 gateway mode (`routed` disables NAT for IPv4).
    pub gateway_mode_v4: GatewayMode,
    /// The network's IPv6 gateway mode (`routed` disables NAT for IPv6).
    pub gateway_mode_v6: GatewayMode,
    /// Whether the userland proxy (docker-proxy) is enabled; it is what maps
    /// host IPv6 addresses to an IPv4-only container.
    pub userland_proxy: bool,
    /// The range ephemeral host ports are taken from (`ip_local_port_range`).
    pub ephemeral_range: (u16, u16),
}

/// A host port that cannot be allocated, with Docker's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BindingError {
    /// The exact port asked for is taken on that address (or on the
    /// unspecified address of its family, or, for an unspecified address,
    /// on an address of its family). `host_ip` is the address holding it.
    #[error("Bind for {host_ip}:{port} failed: port is already allocated")]
    PortAlreadyAllocated {
        /// The address on which the port is held.
        host_ip: IpAddr,
        /// The port.
        port: u16,
    },
    /// The kernel refused a host port (another program holds it, or the
    /// address is not on the host), in Docker's wording, e.g.
    /// `failed to bind host port 0.0.0.0:8080/tcp: address already in use`.
    #[error("{0}")]
    HostPort(String),
    /// Every port of the range is taken.
    #[error("all ports are allocated")]
    AllPortsAllocated {
        /// The protocol of the request.
        proto: Protocol,
        /// First port of the exhausted range.
        start: u16,
        /// Last port of the exhausted range.
        end: u16,
    },
    /// A host port range with a zero bound, or reversed (e.g. `-p 0-100:80`).
    #[error("invalid port range: {start}-{end}")]
    InvalidPortRange {
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
    /// A request to allocate a port for no address at all.
    #[error("no IP addresses specified")]
    NoAddresses,
}

/// Reserves host ports, per protocol and host address.
pub trait PortAllocator {
    /// Reserve a host port in `start..=end` for `(proto, host_ip)`.
    /// `start` and `end` are non-zero.
    ///
    /// # Errors
    ///
    /// Docker's errors: [`BindingError::PortAlreadyAllocated`] for a taken
    /// exact port, [`BindingError::AllPortsAllocated`] for a full range,
    /// [`BindingError::InvalidPortRange`] for a zero or reversed range.
    fn allocate(
        &mut self,
        proto: Protocol,
        host_ip: IpAddr,
        start: u16,
        end: u16,
    ) -> Result<u16, BindingError>;

    /// Release a port reserved by [`PortAllocator::allocate`]; releasing a
    /// port that is not reserved does nothing.
    fn release(&mut self, proto: Protocol, host_ip: IpAddr, port: u16);

    /// Reserve one port in `start..=end`, the same for every address of
    /// `host_ips` (as Docker does for `0.0.0.0` and `::`), or nothing.
    ///
    /// The provided implementation builds on `allocate` and `release`,
    /// assuming `allocate` returns the lowest free port of the range.
    ///
    /// # Errors
    ///
    /// As [`PortAllocator::allocate`], naming the address that holds an exact
    /// port; [`BindingError::NoAddresses`] when `host_ips` is empty.
    fn allocate_shared(
        &mut self,
        proto: Protocol,
        host_ips: &[IpAddr],
        start: u16,
        end: u16,
    ) -> Result<u16, BindingError> {
        let (&first, rest) = host_ips.split_first().ok_or(BindingError::NoAddresses)?;
        let exhausted = BindingError::AllPortsAllocated { proto, start, end };
        let mut from = start;
        loop {
            let port = match self.allocate(proto, first, from, end) {
                Ok(port) => port,
                Err(BindingError::AllPortsAllocated { .. }) => return Err(exhausted),
                Err(e) => return Err(e),
            };
            let mut taken = Vec::with_capacity(rest.len());
            let mut conflict = None;
            for &ip in rest {
                match self.allocate(proto, ip, port, port) {
                    Ok(_) => taken.push(ip),
                    Err(e) => {
                        conflict = Some(e);
                        break;
                    }
                }
            }
            let Some(conflict) = conflict else {
                return Ok(port);
            };
            self.release(proto, first, port);
            for ip in taken {
                self.release(proto, ip, port);
            }
            if start == end {
                return Err(conflict);
            }
            if port >= end {
                return Err(exhausted);
            }
            from = port + 1;
        }
    }
}

/// Pure, in-memory allocator (used by `bridgewall plan`): the lowest free
/// port of the range. A port on `0.0.0.0` conflicts with the same port and
/// protocol on any IPv4 address, `::` with any IPv6 address, and a specific
/// address with itself and the unspecified address of its family.
///
/// Docker itself hands out ephemeral ports round-robin (continuing after the
/// last one it allocated); this allocator is deterministic instead, which
/// gives the same ports as Docker as long as nothing is released.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequentialAllocator {
    taken: BTreeMap<(Protocol, IpAddr), BTreeSet<u16>>,
}

impl SequentialAllocator {
    /// An allocator with no port reserved.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `port` is reserved for exactly `(proto, host_ip)`.
    #[must_use]
    pub fn is_allocated(&self, proto: Protocol, host_ip: IpAddr, port: u16) -> bool {
        self.taken
            .get(&(proto, host_ip.to_canonical()))
            .is_some_and(|ports| ports.contains(&port))
    }

    /// The address whose reservation of `port` conflicts with reserving it
    /// for `host_ip`, if any (the address itself first).
    fn holder(&self, proto: Protocol, host_ip: IpAddr, port: u16) -> Option<IpAddr> {
        if self.is_allocated(proto, host_ip, port) {
            return Some(host_ip);
        }
        let unspecified = unspecified_like(host_ip);
        if host_ip == unspecified {
            self.taken
                .iter()
                .find(|((p, ip), ports)| {
                    *p == proto && ip.is_ipv4() == host_ip.is_ipv4() && ports.contains(&port)
                })
                .map(|((_, ip), _)| *ip)
        } else {
            self.is_allocated(proto, unspecified, port)
                .then_some(unspecified)
        }
    }
}

impl PortAllocator for SequentialAllocator {
    fn allocate(
        &mut self,
        proto: Protocol,
        host_ip: IpAddr,
        start: u16,
        end: u16,
    ) -> Result<u16, BindingError> {
        if start == 0 || end < start {
            return Err(BindingError::InvalidPortRange { start, end });
        }
        let host_ip = host_ip.to_canonical();
        let port = if start == end {
            if let Some(holder) = self.holder(proto, host_ip, start) {
                return Err(BindingError::PortAlreadyAllocated {
                    host_ip: holder,
                    port: start,
                });
            }
            start
        } else {
            (start..=end)
                .find(|&port| self.holder(proto, host_ip, port).is_none())
                .ok_or(BindingError::AllPortsAllocated { proto, start, end })?
        };
        self.taken.entry((proto, host_ip)).or_default().insert(port);
        Ok(port)
    }

    fn release(&mut self, proto: Protocol, host_ip: IpAddr, port: u16) {
        let key = (proto, host_ip.to_canonical());
        if let Some(ports) = self.taken.get_mut(&key) {
            ports.remove(&port);
            if ports.is_empty() {
                self.taken.remove(&key);
            }
        }
    }
}

/// Resolves an endpoint's port mappings into port bindings, in the order
/// Docker programs them, allocating host ports from `alloc`.
///
/// On success the ports stay reserved until [`release_bindings`] gives them
/// back.
///
/// # Errors
///
/// The allocator's error for the first group of mappings whose host port
/// cannot be allocated; every port this call allocated is released first.
pub fn resolve_bindings(
    ctx: &BindingContext,
    mappings: &[PortMapping],
    alloc: &mut dyn PortAllocator,
) -> Result<Vec<PortBinding>, BindingError> {
    let mut sorted: Vec<PortMapping> = mappings.iter().map(normalize).collect();
    sorted.sort_by_key(sort_key);

    let mut bindings = Vec::with_capacity(sorted.len() * 2);
    let mut allocated: Vec<(Protocol, IpAddr, u16)> = Vec::new();
    for group in sorted.chunk_by(|a, b| group_key(a) == group_key(b)) {
        let requests: Vec<Request> = group
            .iter()
            .flat_map(|m| [request_v4(ctx, m), request_v6(ctx, m)])
            .flatten()
            .collect();
        match bind_group(ctx, &requests, alloc, &mut allocated) {
            Ok(resolved) => bindings.extend(resolved),
            Err(e) => {
                for (proto, host_ip, port) in allocated {
                    alloc.release(proto, host_ip, port);
                }
                return Err(e);
            }
        }
    }
    Ok(bindings)
}

/// Releases the host ports held by `bindings` (those with a non-zero port).
pub fn release_bindings(bindings: &[PortBinding], alloc: &mut dyn PortAllocator) {
    for b in bindings.iter().filter(|b| b.host_port != 0) {
        alloc.release(b.proto, b.host_ip, b.host_port);
    }
}

/// A binding to make, before its host port is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Request {
    /// The binding, with the host port still to be filled in.
    binding: PortBinding,
    /// The acceptable host port range (0, 0 for ephemeral).
    host_range: (u16, u16),
    /// Routed mode: no host port, nothing to allocate.
    nat_disabled: bool,
}

/// Docker's normalisation: a zero range end means "just the start", and
/// IPv4-mapped IPv6 host addresses are IPv4.
fn normalize(m: &PortMapping) -> PortMapping {
    PortMapping {
        host_ip: m.host_ip.map(|ip| ip.to_canonical()),
        host_port_end: if m.host_port_end == 0 {
            m.host_port_start
        } else {
            m.host_port_end
        },
        ..*m
    }
}

/// Docker's `cmpPortBinding` order: exact host ports first, then by
/// container port, protocol (tcp < udp < sctp), host range and host address
/// (none < IPv4 < IPv6).
fn sort_key(m: &PortMapping) -> (bool, u16, Protocol, u16, u16, Option<IpAddr>) {
    let is_range = m.host_port_start == 0 || m.host_port_start != m.host_port_end;
    (
        is_range,
        m.container_port,
        m.proto,
        m.host_port_start,
        m.host_port_end,
        m.host_ip,
    )
}

/// Mappings that only differ in host address share one host port
/// (Docker's `needSamePort`).
fn group_key(m: &PortMapping) -> (u16, Protocol, u16, u16) {
    (
        m.container_port,
        m.proto,
        m.host_port_start,
        m.host_port_end,
    )
}

/// The IPv4 binding for `m`, if there is one (`configurePortBindingIPv4`).
fn request_v4(ctx: &BindingContext, m: &PortMapping) -> Option<Request> {
    let container_ip = ctx.container_v4?;
    let nat_disabled = ctx.gateway_mode_v4.routed();
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let mut host_ip = match m.host_ip {
        Some(IpAddr::V6(_)) => return None,
        Some(ip) => ip,
        None => match ctx.default_host_ip.to_canonical() {
            IpAddr::V6(_) => return None,
            _ if nat_disabled => any,
            default @ IpAddr::V4(_) => default,
        },
    };
    if nat_disabled && host_ip != any {
        info!(mapping = %describe(m), "Using address 0.0.0.0 because NAT is disabled");
        host_ip = any;
    }
    Some(request(m, host_ip, IpAddr::V4(container_ip), nat_disabled))
}

/// The IPv6 binding for `m`, if there is one (`configurePortBindingIPv6`):
/// to the container's IPv6 address or, for an IPv4-only container, to its
/// IPv4 address through the userland proxy.
fn request_v6(ctx: &BindingContext, m: &PortMapping) -> Option<Request> {
    let default = ctx.default_host_ip.to_canonical();
    let container_ip = match (ctx.container_v6, ctx.userland_proxy) {
        (Some(v6), _) => IpAddr::V6(v6),
        (None, true) => IpAddr::V4(ctx.container_v4?),
        (None, false) => {
            if m.host_ip.is_some_and(|ip| ip.is_ipv6()) {
                info!(mapping = %describe(m),
                    "Cannot map from IPv6 to an IPv4-only container because the userland proxy is disabled");
            }
            if m.host_ip.is_none() && default.is_ipv6() {
                info!(mapping = %describe(m), default = %default,
                    "Cannot map from default host binding address to an IPv4-only container because the userland proxy is disabled");
            }
            return None;
        }
    };
    let nat_disabled = ctx.gateway_mode_v6.routed();
    let any = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let mut host_ip = match m.host_ip {
        Some(IpAddr::V4(_)) => return None,
        Some(ip) => ip,
        None if default == IpAddr::V4(Ipv4Addr::UNSPECIFIED) => any,
        None if default.is_ipv6() && nat_disabled => any,
        None if default.is_ipv6() => default,
        None => return None,
    };
    if nat_disabled && host_ip != any {
        info!(mapping = %describe(m), "Using address [::] because NAT is disabled");
        host_ip = any;
    }
    Some(request(m, host_ip, container_ip, nat_disabled))
}

fn request(m: &PortMapping, host_ip: IpAddr, container_ip: IpAddr, nat_disabled: bool) -> Request {
    Request {
        binding: PortBinding {
            proto: m.proto,
            container_ip,
            container_port: m.container_port,
            host_ip,
            host_port: 0,
        },
        host_range: (m.host_port_start, m.host_port_end),
        nat_disabled,
    }
}

/// Allocates one host port for a group of requests (Docker's
/// `bindHostPorts`): shared by all its NAT'd addresses, none for routed ones.
/// Requests repeated within the group (duplicate `-p` options) yield one binding.
fn bind_group(
    ctx: &BindingContext,
    requests: &[Request],
    alloc: &mut dyn PortAllocator,
    allocated: &mut Vec<(Protocol, IpAddr, u16)>,
) -> Result<Vec<PortBinding>, BindingError> {
    let Some(first) = requests.first() else {
        return Ok(Vec::new());
    };
    let proto = first.binding.proto;
    let (start, end) = first.host_range;

    let mut addrs: Vec<IpAddr> = Vec::new();
    for r in requests.iter().filter(|r| !r.nat_disabled) {
        if !addrs.contains(&r.binding.host_ip) {
            addrs.push(r.binding.host_ip);
        }
    }
    let port = if addrs.is_empty() {
        0
    } else {
        let (start, end) = if (start, end) == (0, 0) {
            ctx.ephemeral_range
        } else if start == 0 || end < start {
            return Err(BindingError::InvalidPortRange { start, end });
        } else {
            (start, end)
        };
        let port = alloc.allocate_shared(proto, &addrs, start, end)?;
        allocated.extend(addrs.iter().map(|&ip| (proto, ip, port)));
        port
    };

    let mut bindings: Vec<PortBinding> = Vec::with_capacity(requests.len());
    for r in requests {
        let mut binding = r.binding;
        if r.nat_disabled {
            if (start, end) != (0, 0) {
                info!(mapping = %describe_binding(&binding, r.host_range),
                    "Host port ignored, because NAT is disabled");
            }
        } else {
            binding.host_port = port;
        }
        if !bindings.contains(&binding) {
            bindings.push(binding);
        }
    }
    Ok(bindings)
}

/// A mapping in Docker's log notation, e.g. `127.0.0.1:8080-8090:80/tcp`.
fn describe(m: &PortMapping) -> String {
    let host = match m.host_ip {
        Some(IpAddr::V6(ip)) => format!("[{ip}]"),
        Some(ip) => ip.to_string(),
        None => String::new(),
    };
    format!(
        "{host}:{}:{}/{}",
        port_range(m.host_port_start, m.host_port_end),
        m.container_port,
        m.proto
    )
}

/// A binding in Docker's log notation, e.g. `[::]:2222:[fd00::2]:22/tcp`.
fn describe_binding(b: &PortBinding, (start, end): (u16, u16)) -> String {
    let addr = |ip: IpAddr| match ip {
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip @ IpAddr::V4(_) => ip.to_string(),
    };
    format!(
        "{}:{}:{}:{}/{}",
        addr(b.host_ip),
        port_range(start, end),
        addr(b.container_ip),
        b.container_port,
        b.proto
    )
}

fn port_range(start: u16, end: u16) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}

/// The unspecified address of `ip`'s family.
fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::port_spec::PortSpec;

    const CTR4: Ipv4Addr = Ipv4Addr::new(172, 19, 0, 2);
    const CTR6: Ipv6Addr = Ipv6Addr::new(0xfdf8, 0xb88e, 0xbb5c, 0x3483, 0, 0, 0, 2);
    const EPHEMERAL: (u16, u16) = (49153, 65535);
    const ANY4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

    fn ctx() -> BindingContext {
        BindingContext {
            default_host_ip: ANY4,
            container_v4: Some(CTR4),
            container_v6: Some(CTR6),
            gateway_mode_v4: GatewayMode::Nat,
            gateway_mode_v6: GatewayMode::Nat,
            userland_proxy: true,
            ephemeral_range: EPHEMERAL,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn mappings(specs: &[&str]) -> Vec<PortMapping> {
        specs
            .iter()
            .flat_map(|s| PortSpec::parse(s).unwrap().mappings())
            .collect()
    }

    fn resolve(ctx: &BindingContext, specs: &[&str]) -> Result<Vec<PortBinding>, BindingError> {
        resolve_bindings(ctx, &mappings(specs), &mut SequentialAllocator::new())
    }

    /// The host address and port, container address and port of each binding.
    fn summary(bindings: &[PortBinding]) -> Vec<(IpAddr, u16, IpAddr, u16)> {
        bindings
            .iter()
            .map(|b| (b.host_ip, b.host_port, b.container_ip, b.container_port))
            .collect()
    }

    const C4: IpAddr = IpAddr::V4(CTR4);
    const C6: IpAddr = IpAddr::V6(CTR6);

    #[test]
    fn default_address_expands_to_both_families_with_one_port() {
        let got = resolve(&ctx(), &["8080:80"]).unwrap();
        assert_eq!(
            summary(&got),
            vec![(ANY4, 8080, C4, 80), (ANY6, 8080, C6, 80)]
        );
        assert!(got.iter().all(|b| b.proto == Protocol::Tcp));
    }

    #[test]
    fn ephemeral_ports_are_shared_by_the_pair_and_sequential() {
        let got = resolve(&ctx(), &["22", "80"]).unwrap();
        assert_eq!(
            summary(&got),
            vec![
                (ANY4, 49153, C4, 22),
                (ANY6, 49153, C6, 22),
                (ANY4, 49154, C4, 80),
                (ANY6, 49154, C6, 80),
            ]
        );
    }

    #[test]
    fn host_binding_ipv4_is_ipv4_only() {
        let ctx = BindingContext {
            default_host_ip: ip("127.0.0.1"),
            ..ctx()
        };
        let got = resolve(&ctx, &["8080:80"]).unwrap();
        assert_eq!(summary(&got), vec![(ip("127.0.0.1"), 8080, C4, 80)]);
    }

    #[test]
    fn ipv4_mapped_default_address_is_ipv4() {
        let ctx = BindingContext {
            default_host_ip: ip("::ffff:127.0.0.1"),
            ..ctx()
        };
        let got = resolve(&ctx, &["80"]).unwrap();
        assert_eq!(summary(&got), vec![(ip("127.0.0.1"), 49153, C4, 80)]);
    }

    #[test]
    fn ipv6_default_address_is_ipv6_only() {
        let ctx = BindingContext {
            default_host_ip: ip("::1"),
            ..ctx()
        };
        let got = resolve(&ctx, &["80"]).unwrap();
        assert_eq!(summary(&got), vec![(ip("::1"), 49153, C6, 80)]);
    }

    #[test]
    fn explicit_ipv6_any_is_ipv6_only() {
        let got = resolve(&ctx(), &["[::]:8080:80"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY6, 8080, C6, 80)]);
        let got = resolve(&ctx(), &["[::]::80"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY6, 49153, C6, 80)]);
    }

    #[test]
    fn explicit_ipv4_any_is_ipv4_only() {
        let got = resolve(&ctx(), &["0.0.0.0:8080:80"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY4, 8080, C4, 80)]);
    }

    #[test]
    fn explicit_ipv4_address_is_ipv4_only() {
        let got = resolve(&ctx(), &["127.0.0.1:8080:80/udp"]).unwrap();
        assert_eq!(summary(&got), vec![(ip("127.0.0.1"), 8080, C4, 80)]);
        assert_eq!(got[0].proto, Protocol::Udp);
    }

    #[test]
    fn ipv4_only_container_with_proxy_maps_ipv6_to_ipv4() {
        let ctx = BindingContext {
            container_v6: None,
            ..ctx()
        };
        let got = resolve(&ctx, &["8080:80"]).unwrap();
        assert_eq!(
            summary(&got),
            vec![(ANY4, 8080, C4, 80), (ANY6, 8080, C4, 80)]
        );
        let got = resolve(&ctx, &["[::1]:8080:80"]).unwrap();
        assert_eq!(summary(&got), vec![(ip("::1"), 8080, C4, 80)]);
    }

    #[test]
    fn ipv4_only_container_without_proxy_drops_ipv6_silently() {
        let ctx = BindingContext {
            container_v6: None,
            userland_proxy: false,
            ..ctx()
        };
        let got = resolve(&ctx, &["8080:80"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY4, 8080, C4, 80)]);
        assert_eq!(resolve(&ctx, &["[::1]:8080:80"]).unwrap(), vec![]);
        let v6_default = BindingContext {
            default_host_ip: ip("::1"),
            ..ctx
        };
        assert_eq!(resolve(&v6_default, &["80"]).unwrap(), vec![]);
    }

    #[test]
    fn ipv6_only_container_drops_ipv4_silently() {
        let ctx = BindingContext {
            container_v4: None,
            ..ctx()
        };
        assert_eq!(
            summary(&resolve(&ctx, &["8080:80"]).unwrap()),
            vec![(ANY6, 8080, C6, 80)]
        );
        assert_eq!(resolve(&ctx, &["127.0.0.1:8080:80"]).unwrap(), vec![]);
    }

    #[test]
    fn routed_ipv4_ignores_host_port_and_address() {
        let ctx = BindingContext {
            gateway_mode_v4: GatewayMode::Routed,
            ..ctx()
        };
        let mut alloc = SequentialAllocator::new();
        let got = resolve_bindings(&ctx, &mappings(&["8080:80"]), &mut alloc).unwrap();
        assert_eq!(summary(&got), vec![(ANY4, 0, C4, 80), (ANY6, 8080, C6, 80)]);
        assert!(!alloc.is_allocated(Protocol::Tcp, ANY4, 8080));
        assert!(alloc.is_allocated(Protocol::Tcp, ANY6, 8080));
        let got = resolve(&ctx, &["127.0.0.1:8080:80"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY4, 0, C4, 80)]);
    }

    #[test]
    fn routed_ipv6_with_nat_ipv4_docs_example() {
        let ctx = BindingContext {
            gateway_mode_v6: GatewayMode::Routed,
            ..ctx()
        };
        let got = resolve(&ctx, &["8080:80"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY4, 8080, C4, 80), (ANY6, 0, C6, 80)]);
    }

    #[test]
    fn routed_ipv6_with_ipv6_default_address() {
        let ctx = BindingContext {
            gateway_mode_v6: GatewayMode::Routed,
            default_host_ip: ip("::1"),
            ..ctx()
        };
        let got = resolve(&ctx, &["22", "80"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY6, 0, C6, 22), (ANY6, 0, C6, 80)]);
    }

    #[test]
    fn routed_ipv4_with_specific_ipv4_default_keeps_ipv4_only() {
        let ctx = BindingContext {
            gateway_mode_v4: GatewayMode::Routed,
            default_host_ip: ip("127.0.0.1"),
            ..ctx()
        };
        let got = resolve(&ctx, &["22"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY4, 0, C4, 22)]);
    }

    #[test]
    fn routed_both_families_with_specific_addresses() {
        let ctx = BindingContext {
            gateway_mode_v4: GatewayMode::Routed,
            gateway_mode_v6: GatewayMode::Routed,
            ..ctx()
        };
        let got = resolve(&ctx, &["127.0.0.1:2222:22", "[::1]:2222:22"]).unwrap();
        assert_eq!(summary(&got), vec![(ANY4, 0, C4, 22), (ANY6, 0, C6, 22)]);
    }

    #[test]
    fn exact_ports_sort_before_ranges_and_ephemeral() {
        let got = resolve(
            &ctx(),
            &["80", "12345-12346:12345", "12345:12345", "8080:443"],
        )
        .unwrap();
        assert_eq!(
            summary(&got),
            vec![
                (ANY4, 8080, C4, 443),
                (ANY6, 8080, C6, 443),
                (ANY4, 12345, C4, 12345),
                (ANY6, 12345, C6, 12345),
                (ANY4, 49153, C4, 80),
                (ANY6, 49153, C6, 80),
                (ANY4, 12346, C4, 12345),
                (ANY6, 12346, C6, 12345),
            ]
        );
    }

    #[test]
    fn protocols_sort_tcp_udp_sctp_within_a_port() {
        use Protocol::{Sctp, Tcp, Udp};
        let got = resolve(&ctx(), &["53:53/sctp", "53:53/udp", "53:53"]).unwrap();
        let protos: Vec<Protocol> = got.iter().map(|b| b.proto).collect();
        assert_eq!(protos, vec![Tcp, Tcp, Udp, Udp, Sctp, Sctp]);
    }

    #[test]
    fn matching_mappings_with_different_addresses_share_a_port() {
        let got = resolve(
            &ctx(),
            &[
                "[fd0c:9167:5b11::2]::80",
                "192.168.1.2::80",
                "[fd0c:9167:5b11::2]::22",
                "[fd0c:9167:5b11::3]::22",
                "192.168.1.2::22",
            ],
        )
        .unwrap();
        assert_eq!(
            summary(&got),
            vec![
                (ip("192.168.1.2"), 49153, C4, 22),
                (ip("fd0c:9167:5b11::2"), 49153, C6, 22),
                (ip("fd0c:9167:5b11::3"), 49153, C6, 22),
                (ip("192.168.1.2"), 49154, C4, 80),
                (ip("fd0c:9167:5b11::2"), 49154, C6, 80),
            ]
        );
    }

    #[test]
    fn host_range_skips_taken_ports() {
        let mut alloc = SequentialAllocator::new();
        alloc.allocate(Protocol::Tcp, ANY4, 8080, 8080).unwrap();
        let got = resolve_bindings(&ctx(), &mappings(&["8080-8081:80"]), &mut alloc).unwrap();
        assert_eq!(
            summary(&got),
            vec![(ANY4, 8081, C4, 80), (ANY6, 8081, C6, 80)]
        );
    }

    #[test]
    fn pair_needs_a_port_free_in_both_families() {
        let mut alloc = SequentialAllocator::new();
        alloc
            .allocate(Protocol::Tcp, ip("::1"), 49153, 49153)
            .unwrap();
        let got = resolve_bindings(&ctx(), &mappings(&["80"]), &mut alloc).unwrap();
        assert_eq!(
            summary(&got),
            vec![(ANY4, 49154, C4, 80), (ANY6, 49154, C6, 80)]
        );
        assert!(!alloc.is_allocated(Protocol::Tcp, ANY4, 49153));
    }

    #[test]
    fn range_of_container_ports_maps_one_to_one() {
        let got = resolve(&ctx(), &["8000-8001:80-81/udp"]).unwrap();
        assert_eq!(
            summary(&got),
            vec![
                (ANY4, 8000, C4, 80),
                (ANY6, 8000, C6, 80),
                (ANY4, 8001, C4, 81),
                (ANY6, 8001, C6, 81),
            ]
        );
    }

    #[test]
    fn exhausted_host_range() {
        let err = resolve(&ctx(), &["8080-8081:80", "8080-8081:81", "8080-8081:82"]).unwrap_err();
        assert_eq!(err.to_string(), "all ports are allocated");
        assert_eq!(
            err,
            BindingError::AllPortsAllocated {
                proto: Protocol::Tcp,
                start: 8080,
                end: 8081
            }
        );
    }

    #[test]
    fn exhausted_ephemeral_range() {
        let ctx = BindingContext {
            ephemeral_range: (40000, 40001),
            ..ctx()
        };
        assert_eq!(
            resolve(&ctx, &["80-82"]).unwrap_err().to_string(),
            "all ports are allocated"
        );
    }

    #[test]
    fn conflict_with_earlier_container_names_the_holder() {
        let mut alloc = SequentialAllocator::new();
        resolve_bindings(&ctx(), &mappings(&["127.0.0.1:8080:80"]), &mut alloc).unwrap();
        let err = resolve_bindings(&ctx(), &mappings(&["8080:80"]), &mut alloc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bind for 127.0.0.1:8080 failed: port is already allocated"
        );
        let err =
            resolve_bindings(&ctx(), &mappings(&["127.0.0.1:8080:80"]), &mut alloc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bind for 127.0.0.1:8080 failed: port is already allocated"
        );
    }

    #[test]
    fn conflict_on_ipv6_any() {
        let mut alloc = SequentialAllocator::new();
        alloc.allocate(Protocol::Tcp, ANY6, 8080, 8080).unwrap();
        let err = resolve_bindings(&ctx(), &mappings(&["8080:80"]), &mut alloc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bind for :::8080 failed: port is already allocated"
        );
        // The IPv4 half of the pair was released again.
        assert!(!alloc.is_allocated(Protocol::Tcp, ANY4, 8080));
        // Another protocol is not a conflict.
        assert!(resolve_bindings(&ctx(), &mappings(&["8080:80/udp"]), &mut alloc).is_ok());
    }

    #[test]
    fn failure_midway_releases_earlier_groups() {
        let mut alloc = SequentialAllocator::new();
        alloc.allocate(Protocol::Tcp, ANY4, 7000, 7001).unwrap();
        alloc.allocate(Protocol::Tcp, ANY4, 7000, 7001).unwrap();
        let before = alloc.clone();
        // Order: 8080:80 (exact), then 22 (ephemeral), then 7000-7001:90.
        let err = resolve_bindings(
            &ctx(),
            &mappings(&["7000-7001:90", "22", "8080:80"]),
            &mut alloc,
        )
        .unwrap_err();
        assert_eq!(
            err,
            BindingError::AllPortsAllocated {
                proto: Protocol::Tcp,
                start: 7000,
                end: 7001
            }
        );
        assert_eq!(alloc, before);
    }

    #[test]
    fn failure_on_exact_port_names_the_holder() {
        let mut alloc = SequentialAllocator::new();
        alloc.allocate(Protocol::Tcp, ANY4, 9090, 9090).unwrap();
        let before = alloc.clone();
        let err =
            resolve_bindings(&ctx(), &mappings(&["8080:80", "9090:90"]), &mut alloc).unwrap_err();
        assert_eq!(
            err,
            BindingError::PortAlreadyAllocated {
                host_ip: ANY4,
                port: 9090
            }
        );
        assert_eq!(alloc, before);
    }

    #[test]
    fn zero_based_host_range_is_invalid() {
        assert_eq!(
            resolve(&ctx(), &["0-100:80"]).unwrap_err().to_string(),
            "invalid port range: 0-100"
        );
    }

    #[test]
    fn duplicate_mappings_yield_one_binding_each() {
        let got = resolve(&ctx(), &["8080:80", "8080:80"]).unwrap();
        assert_eq!(
            summary(&got),
            vec![(ANY4, 8080, C4, 80), (ANY6, 8080, C6, 80)]
        );
    }

    #[test]
    fn release_bindings_frees_the_ports() {
        let ctx = BindingContext {
            gateway_mode_v6: GatewayMode::Routed,
            ..ctx()
        };
        let mut alloc = SequentialAllocator::new();
        let got = resolve_bindings(&ctx, &mappings(&["8080:80", "53/udp"]), &mut alloc).unwrap();
        release_bindings(&got, &mut alloc);
        assert_eq!(alloc, SequentialAllocator::new());
    }

    #[test]
    fn allocator_conflict_rules() {
        let mut alloc = SequentialAllocator::new();
        alloc
            .allocate(Protocol::Tcp, ip("10.0.0.1"), 80, 80)
            .unwrap();
        // Another specific address of the family is fine; its unspecified
        // address is not, nor is the same address.
        assert_eq!(
            alloc.allocate(Protocol::Tcp, ip("10.0.0.2"), 80, 80),
            Ok(80)
        );
        assert_eq!(
            alloc.allocate(Protocol::Tcp, ANY4, 80, 80),
            Err(BindingError::PortAlreadyAllocated {
                host_ip: ip("10.0.0.1"),
                port: 80
            })
        );
        // The other family is independent.
        assert_eq!(alloc.allocate(Protocol::Tcp, ANY6, 80, 80), Ok(80));
        assert_eq!(
            alloc.allocate(Protocol::Tcp, ip("::1"), 80, 80),
            Err(BindingError::PortAlreadyAllocated {
                host_ip: ANY6,
                port: 80
            })
        );
        // IPv4-mapped addresses count as IPv4.
        assert_eq!(
            alloc.allocate(Protocol::Tcp, ip("::ffff:10.0.0.1"), 80, 80),
            Err(BindingError::PortAlreadyAllocated {
                host_ip: ip("10.0.0.1"),
                port: 80
            })
        );
        assert_eq!(
            alloc.allocate(Protocol::Tcp, ANY4, 0, 10),
            Err(BindingError::InvalidPortRange { start: 0, end: 10 })
        );
        assert_eq!(
            alloc.allocate_shared(Protocol::Tcp, &[], 80, 80),
            Err(BindingError::NoAddresses)
        );
    }
}
