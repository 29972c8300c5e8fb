//! Address allocation, as Docker's built-in `default` IPAM driver does it
//! (libnetwork's `ipams/defaultipam`).
//!
//! What is reproduced, from Docker 28.5:
//! - Subnets: an explicit subnet is allocated as is; it must not overlap a
//!   subnet already allocated in its address space, unless an ip range is
//!   given with it (Docker then skips the overlap check, see moby#46756).
//!   Without a subnet, the lowest free subnet of the predefined pools is taken:
//!   the pools are sorted by address, a pool overlapping an earlier one is
//!   dropped, and each pool is split in subnets of its `size`.
//! - IPv6: when no IPv6 pool is configured, Docker adds a ULA `/48` split in
//!   `/64`s, derived from the engine's host ID ([`derive_ula_pool`]).
//! - Addresses: the first free address of the ip range, or of the subnet when
//!   there is no ip range ("first available", not serial: the mode Docker uses
//!   for local networks). The subnet's first address is reserved (IPv4 network
//!   address, IPv6 subnet-router anycast) and so is the IPv4 broadcast address,
//!   except in a `/31` or `/32`. The ip range's own first and last addresses are
//!   not reserved: with `--ip-range 172.28.5.0/24`, Docker's gateway is
//!   `172.28.5.0`.
//!
//! What is not: Docker also avoids subnets that overlap the host's routes and
//! name servers; this module is pure and knows nothing of the host.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::firewall::types::Family;

/// The host ID bridgewall derives its IPv6 ULA pool from, in place of Docker's
/// random engine ID. With the empty ID the pool is `fd42:98fc:1c14::/48` (the
/// value Docker's own tests give for it), so output is reproducible.
pub const DEFAULT_HOST_ID: &str = "";

/// An IPAM error, with Docker's wording where it has one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IpamError {
    /// A predefined pool whose prefix is longer than the subnets cut from it.
    #[error(
        "network at index {index} ({base}) has a smaller prefix (/{}) than the target size of that pool (/{size})",
        base.prefix_len()
    )]
    PoolTooSmall {
        /// Position of the pool in the configured list.
        index: usize,
        /// The pool.
        base: IpNet,
        /// The size of the subnets cut from it.
        size: u8,
    },
    /// A predefined pool whose size is longer than an address.
    #[error("network at index {index} ({base}) has an invalid size /{size}")]
    InvalidPoolSize {
        /// Position of the pool in the configured list.
        index: usize,
        /// The pool.
        base: IpNet,
        /// The size of the subnets cut from it.
        size: u8,
    },
    /// A subnet or ip range of the wrong family.
    #[error("pool {subnet} and subpool {ip_range} are of incompatible address families")]
    FamilyMismatch {
        /// The subnet.
        subnet: IpNet,
        /// The ip range.
        ip_range: IpNet,
    },
    /// A subnet requested for the other family.
    #[error("subnet {subnet} is not an {family} subnet")]
    WrongFamily {
        /// The subnet.
        subnet: IpNet,
        /// The family it was requested for.
        family: Family,
    },
    /// An ip range without a subnet.
    #[error("invalid address subpool: ip range {ip_range} needs a subnet")]
    SubPoolWithoutPool {
        /// The ip range.
        ip_range: IpNet,
    },
    /// An explicit subnet overlapping an allocated one.
    #[error("invalid pool request: Pool overlaps with other one on this address space ({subnet})")]
    PoolOverlap {
        /// The requested subnet.
        subnet: IpNet,
    },
    /// No predefined subnet left.
    #[error("all predefined address pools have been fully subnetted ({family})")]
    NoMoreSubnets {
        /// The family that ran out.
        family: Family,
    },
    /// A pool that was not allocated here.
    #[error("cannot find address pool for poolID:{}", pool_label(*subnet, *ip_range))]
    UnknownPool {
        /// The subnet.
        subnet: IpNet,
        /// The ip range, if any.
        ip_range: Option<IpNet>,
    },
    /// An address that is taken (or reserved).
    #[error("Address already in use: {address}")]
    AddressInUse {
        /// The address.
        address: IpAddr,
    },
    /// An address outside the subnet.
    #[error("requested address is out of range: {address} is not in {subnet}")]
    OutOfRange {
        /// The address.
        address: IpAddr,
        /// The subnet.
        subnet: IpNet,
    },
    /// An ip range that is not inside its subnet.
    #[error("add-any, range '{ip_range}' is not in subnet '{subnet}'")]
    RangeOutsideSubnet {
        /// The subnet.
        subnet: IpNet,
        /// The ip range.
        ip_range: IpNet,
    },
    /// Every address of the range is taken.
    #[error("no available addresses on this pool: {}", pool_label(*subnet, *ip_range))]
    NoAvailableAddresses {
        /// The subnet.
        subnet: IpNet,
        /// The ip range, if any.
        ip_range: Option<IpNet>,
    },
}

fn pool_label(subnet: IpNet, ip_range: Option<IpNet>) -> String {
    match ip_range {
        Some(range) => format!("{subnet}/{range}"),
        None => subnet.to_string(),
    }
}

/// An allocated pool: a subnet, and the ip range addresses are taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolId {
    /// The network's subnet (masked).
    pub subnet: IpNet,
    /// The range automatic addresses come from (masked), if not the subnet.
    pub ip_range: Option<IpNet>,
}

impl PoolId {
    /// The family of the pool.
    pub fn family(&self) -> Family {
        Family::of_net(self.subnet)
    }
}

/// The ULA pool Docker adds when no IPv6 pool is configured: `fdXX:XXXX:XXXX::/48`
/// (global ID = the low 40 bits of the first 8 bytes of sha256(host ID)), split
/// in `/64`s. Returns the pool and its subnet size.
pub fn derive_ula_pool(host_id: &str) -> (IpNet, u8) {
    let digest = Sha256::digest(host_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let global_id = u128::from(u64::from_be_bytes(first) & ((1u64 << 40) - 1));
    let addr = (0xfd00u128 << 112) | (global_id << 80);
    let net = Ipv6Net::new(Ipv6Addr::from(addr), 48).expect("48 is a valid IPv6 prefix length");
    (IpNet::V6(net), 64)
}

/// Docker's IPAM state: the subnets allocated in each family's address space
/// and the addresses allocated in each subnet.
#[derive(Debug, Clone)]
pub struct Ipam {
    v4: AddrSpace,
    v6: AddrSpace,
}

impl Ipam {
    /// An empty IPAM with predefined `pools` (base, subnet size), in the order
    /// they are configured (`default-address-pools`). When none of them is
    /// IPv6, the ULA pool derived from `host_id` is added, as Docker does.
    pub fn new(pools: &[(IpNet, u8)], host_id: &str) -> Result<Ipam, IpamError> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (index, &(base, size)) in pools.iter().enumerate() {
            if size > base.max_prefix_len() {
                return Err(IpamError::InvalidPoolSize { index, base, size });
            }
            if base.prefix_len() > size {
                return Err(IpamError::PoolTooSmall { index, base, size });
            }
            let pool = Predefined {
                base: base.trunc(),
                size,
            };
            match base {
                IpNet::V4(_) => v4.push(pool),
                IpNet::V6(_) => v6.push(pool),
            }
        }
        if v6.is_empty() {
            let (base, size) = derive_ula_pool(host_id);
            v6.push(Predefined { base, size });
        }
        Ok(Ipam {
            v4: AddrSpace::new(Family::V4, v4),
            v6: AddrSpace::new(Family::V6, v6),
        })
    }

    fn space(&mut self, family: Family) -> &mut AddrSpace {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    /// Allocates a pool of `family`: `subnet` (with `ip_range`) when given,
    /// else the lowest free predefined subnet.
    pub fn request_pool(
        &mut self,
        family: Family,
        subnet: Option<IpNet>,
        ip_range: Option<IpNet>,
    ) -> Result<PoolId, IpamError> {
        let Some(subnet) = subnet else {
            if let Some(ip_range) = ip_range {
                return Err(IpamError::SubPoolWithoutPool { ip_range });
            }
            let subnet = self.space(family).allocate_predefined()?;
            return Ok(PoolId {
                subnet,
                ip_range: None,
            });
        };
        if Family::of_net(subnet) != family {
            return Err(IpamError::WrongFamily { subnet, family });
        }
        let subnet = subnet.trunc();
        let mut ip_range = ip_range.map(|range| range.trunc());
        if let Some(range) = ip_range {
            if Family::of_net(range) != family {
                return Err(IpamError::FamilyMismatch {
                    subnet,
                    ip_range: range,
                });
            }
            // Docker, for networks made before v24: a range bigger than its
            // subnet means the whole subnet.
            if range.prefix_len() < subnet.prefix_len() {
                ip_range = Some(subnet);
            }
        }
        self.space(family).allocate_subnet(subnet, ip_range)?;
        Ok(PoolId { subnet, ip_range })
    }

    /// Releases a pool allocated by [`Ipam::request_pool`].
    pub fn release_pool(&mut self, pool: PoolId) -> Result<(), IpamError> {
        self.space(pool.family()).release_subnet(pool)
    }

    /// Allocates `preferred` in `pool`, or the first free address of its range.
    pub fn request_address(
        &mut self,
        pool: PoolId,
        preferred: Option<IpAddr>,
    ) -> Result<IpAddr, IpamError> {
        self.space(pool.family()).request_address(pool, preferred)
    }

    /// Releases an address allocated by [`Ipam::request_address`].
    pub fn release_address(&mut self, pool: PoolId, address: IpAddr) -> Result<(), IpamError> {
        self.space(pool.family()).release_address(pool, address)
    }
}

#[derive(Debug, Clone, Copy)]
struct Predefined {
    base: IpNet,
    size: u8,
}

#[derive(Debug, Clone, Default)]
struct PoolData {
    /// Allocated (and reserved) addresses, as integers.
    addrs: BTreeSet<u128>,
    /// Ip ranges of the networks using this subnet.
    children: BTreeSet<IpNet>,
    /// Released by its network: goes when its last child goes.
    auto_release: bool,
}

#[derive(Debug, Clone)]
struct AddrSpace {
    family: Family,
    predefined: Vec<Predefined>,
    pools: BTreeMap<IpNet, PoolData>,
}

impl AddrSpace {
    fn new(family: Family, mut predefined: Vec<Predefined>) -> AddrSpace {
        predefined.sort_by_key(|p| (net_start(p.base), p.base.prefix_len()));
        let mut kept: Vec<Predefined> = Vec::with_capacity(predefined.len());
        for pool in predefined {
            // A pool overlapping an earlier (so shorter or equal) one is dropped.
            if kept
                .last()
                .is_some_and(|last| overlaps(last.base, pool.base))
            {
                continue;
            }
            kept.push(pool);
        }
        AddrSpace {
            family,
            predefined: kept,
            pools: BTreeMap::new(),
        }
    }

    fn overlapping_end(&self, net: IpNet) -> Option<u128> {
        self.pools
            .keys()
            .filter(|allocated| overlaps(**allocated, net))
            .map(|allocated| net_end(*allocated))
            .max()
    }

    fn allocate_predefined(&mut self) -> Result<IpNet, IpamError> {
        for pool in &self.predefined {
            let host_bits = u32::from(pool.base.max_prefix_len() - pool.size);
            let block = 1u128.checked_shl(host_bits).unwrap_or(0);
            let last = net_end(pool.base);
            let mut start = net_start(pool.base);
            loop {
                let candidate = make_net(self.family, start, pool.size);
                let Some(end) = self.overlapping_end(candidate) else {
                    self.pools.insert(candidate, PoolData::new(candidate));
                    return Ok(candidate);
                };
                // Skip past the allocation, to the next aligned subnet.
                let next = match end.checked_add(1) {
                    Some(next) if end < last && block != 0 => next.div_ceil(block) * block,
                    _ => break,
                };
                if next > last {
                    break;
                }
                start = next;
            }
        }
        Err(IpamError::NoMoreSubnets {
            family: self.family,
        })
    }

    fn allocate_subnet(&mut self, subnet: IpNet, ip_range: Option<IpNet>) -> Result<(), IpamError> {
        if let Some(pool) = self.pools.get(&subnet) {
            let child_exists = ip_range.is_some_and(|range| pool.children.contains(&range));
            if ip_range.is_none() || child_exists {
                return Err(IpamError::PoolOverlap { subnet });
            }
        }
        match ip_range {
            None => {
                if self.overlapping_end(subnet).is_some() {
                    return Err(IpamError::PoolOverlap { subnet });
                }
                self.pools.insert(subnet, PoolData::new(subnet));
            }
            Some(range) => {
                let pool = self.pools.entry(subnet).or_insert_with(|| {
                    let mut pool = PoolData::new(subnet);
                    pool.auto_release = true;
                    pool
                });
                pool.children.insert(range);
            }
        }
        Ok(())
    }

    fn release_subnet(&mut self, id: PoolId) -> Result<(), IpamError> {
        let unknown = IpamError::UnknownPool {
            subnet: id.subnet,
            ip_range: id.ip_range,
        };
        let pool = self.pools.get_mut(&id.subnet).ok_or(unknown.clone())?;
        match id.ip_range {
            Some(range) => {
                if !pool.children.remove(&range) {
                    return Err(unknown);
                }
            }
            None => pool.auto_release = true,
        }
        if pool.children.is_empty() && pool.auto_release {
            self.pools.remove(&id.subnet);
        }
        Ok(())
    }

    fn pool_data(&mut self, id: PoolId) -> Result<&mut PoolData, IpamError> {
        let unknown = IpamError::UnknownPool {
            subnet: id.subnet,
            ip_range: id.ip_range,
        };
        let pool = self.pools.get_mut(&id.subnet).ok_or(unknown.clone())?;
        if id
            .ip_range
            .is_some_and(|range| !pool.children.contains(&range))
        {
            return Err(unknown);
        }
        Ok(pool)
    }

    fn request_address(
        &mut self,
        id: PoolId,
        preferred: Option<IpAddr>,
    ) -> Result<IpAddr, IpamError> {
        let family = self.family;
        if let Some(address) = preferred
            && !id.subnet.contains(&address)
        {
            return Err(IpamError::OutOfRange {
                address,
                subnet: id.subnet,
            });
        }
        let pool = self.pool_data(id)?;
        if let Some(address) = preferred {
            if !pool.addrs.insert(addr_to_int(address)) {
                return Err(IpamError::AddressInUse { address });
            }
            return Ok(address);
        }
        let range = match id.ip_range {
            Some(range) if range != id.subnet => {
                if !id.subnet.contains(&range.network())
                    || range.prefix_len() < id.subnet.prefix_len()
                {
                    return Err(IpamError::RangeOutsideSubnet {
                        subnet: id.subnet,
                        ip_range: range,
                    });
                }
                range
            }
            _ => id.subnet,
        };
        let free = first_free(&pool.addrs, net_start(range), net_end(range)).ok_or(
            IpamError::NoAvailableAddresses {
                subnet: id.subnet,
                ip_range: id.ip_range,
            },
        )?;
        pool.addrs.insert(free);
        Ok(int_to_addr(family, free))
    }

    fn release_address(&mut self, id: PoolId, address: IpAddr) -> Result<(), IpamError> {
        if !id.subnet.contains(&address) {
            return Err(IpamError::OutOfRange {
                address,
                subnet: id.subnet,
            });
        }
        self.pool_data(id)?.addrs.remove(&addr_to_int(address));
        Ok(())
    }
}

impl PoolData {
    /// A new subnet, with its reserved addresses: the first one (IPv4 network
    /// address, IPv6 subnet-router anycast) and the IPv4 broadcast address,
    /// except in an IPv4 `/31` or `/32` (RFC 3021).
    fn new(subnet: IpNet) -> PoolData {
        let host_bits = subnet.max_prefix_len() - subnet.prefix_len();
        let v4 = matches!(subnet, IpNet::V4(_));
        let mut addrs = BTreeSet::new();
        if !v4 || host_bits > 1 {
            addrs.insert(net_start(subnet));
        }
        if v4 && host_bits > 1 {
            addrs.insert(net_end(subnet));
        }
        PoolData {
            addrs,
            children: BTreeSet::new(),
            auto_release: false,
        }
    }
}

/// The first integer of `start..=end` not in `taken`.
fn first_free(taken: &BTreeSet<u128>, start: u128, end: u128) -> Option<u128> {
    let mut candidate = start;
    for &used in taken.range(start..=end) {
        if used != candidate {
            break;
        }
        candidate = candidate.checked_add(1)?;
    }
    (candidate <= end).then_some(candidate)
}

fn addr_to_int(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn int_to_addr(family: Family, value: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

fn net_start(net: IpNet) -> u128 {
    addr_to_int(net.network())
}

fn net_end(net: IpNet) -> u128 {
    addr_to_int(net.broadcast())
}

fn make_net(family: Family, start: u128, prefix_len: u8) -> IpNet {
    match family {
        Family::V4 => IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(start as u32), prefix_len).expect("pool sizes are checked"),
        ),
        Family::V6 => IpNet::V6(
            Ipv6Net::new(Ipv6Addr::from(start), prefix_len).expect("pool sizes are checked"),
        ),
    }
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    net_start(a) <= net_end(b)
        && net_start(b) <= net_end(a)
        && Family::of_net(a) == Family::of_net(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Docker 28's default local pools.
    fn docker_pools() -> Vec<(IpNet, u8)> {
        vec![
            (net("172.17.0.0/16"), 16),
            (net("172.18.0.0/16"), 16),
            (net("172.19.0.0/16"), 16),
            (net("172.20.0.0/14"), 16),
            (net("172.24.0.0/14"), 16),
            (net("172.28.0.0/14"), 16),
            (net("192.168.0.0/16"), 20),
        ]
    }

    fn ipam() -> Ipam {
        Ipam::new(&docker_pools(), DEFAULT_HOST_ID).unwrap()
    }

    #[test]
    fn ula_pool_matches_dockers_test_vectors() {
        assert_eq!(derive_ula_pool(""), (net("fd42:98fc:1c14::/48"), 64));
        assert_eq!(
            derive_ula_pool("499d4bc0-b0b3-416f-b1ee-cf6486315593"),
            (net("fd62:fb69:18af::/48"), 64)
        );
    }

    #[test]
    fn predefined_subnets_are_taken_in_order() {
        let mut ipam = ipam();
        let first = ipam.request_pool(Family::V4, None, None).unwrap();
        let second = ipam.request_pool(Family::V4, None, None).unwrap();
        assert_eq!(first.subnet, net("172.17.0.0/16"));
        assert_eq!(second.subnet, net("172.18.0.0/16"));
    }

    #[test]
    fn predefined_allocation_skips_explicit_subnets() {
        let mut ipam = ipam();
        ipam.request_pool(Family::V4, Some(net("172.17.5.0/24")), None)
            .unwrap();
        ipam.request_pool(Family::V4, Some(net("172.18.0.0/15")), None)
            .unwrap();
        let pool = ipam.request_pool(Family::V4, None, None).unwrap();
        assert_eq!(pool.subnet, net("172.20.0.0/16"));
    }

    #[test]
    fn predefined_pools_are_sorted_and_deduplicated() {
        let pools = vec![(net("10.10.0.0/16"), 24), (net("10.0.0.0/8"), 24)];
        let mut ipam = Ipam::new(&pools, DEFAULT_HOST_ID).unwrap();
        let pool = ipam.request_pool(Family::V4, None, None).unwrap();
        assert_eq!(pool.subnet, net("10.0.0.0/24"));
    }

    #[test]
    fn exhaustion_uses_dockers_wording() {
        let mut ipam = Ipam::new(&[(net("10.0.0.0/23"), 24)], DEFAULT_HOST_ID).unwrap();
        ipam.request_pool(Family::V4, None, None).unwrap();
        ipam.request_pool(Family::V4, None, None).unwrap();
        let err = ipam.request_pool(Family::V4, None, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "all predefined address pools have been fully subnetted (ipv4)"
        );
    }

    #[test]
    fn explicit_overlap_uses_dockers_wording() {
        let mut ipam = ipam();
        ipam.request_pool(Family::V4, Some(net("10.1.0.0/16")), None)
            .unwrap();
        let err = ipam
            .request_pool(Family::V4, Some(net("10.1.2.0/24")), None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid pool request: Pool overlaps with other one on this address space (10.1.2.0/24)"
        );
    }

    #[test]
    fn ip_range_skips_the_overlap_check_like_docker() {
        let mut ipam = ipam();
        ipam.request_pool(Family::V4, Some(net("10.1.0.0/16")), None)
            .unwrap();
        let shared = ipam
            .request_pool(
                Family::V4,
                Some(net("10.1.0.0/16")),
                Some(net("10.1.9.0/24")),
            )
            .unwrap();
        assert_eq!(shared.ip_range, Some(net("10.1.9.0/24")));
        let again = ipam.request_pool(
            Family::V4,
            Some(net("10.1.0.0/16")),
            Some(net("10.1.9.0/24")),
        );
        assert!(matches!(again, Err(IpamError::PoolOverlap { .. })));
    }

    #[test]
    fn gateway_and_addresses_are_allocated_in_order() {
        let mut ipam = ipam();
        let pool = ipam.request_pool(Family::V4, None, None).unwrap();
        assert_eq!(ipam.request_address(pool, None).unwrap(), ip("172.17.0.1"));
        assert_eq!(ipam.request_address(pool, None).unwrap(), ip("172.17.0.2"));
        assert_eq!(
            ipam.request_address(pool, Some(ip("172.17.0.5"))).unwrap(),
            ip("172.17.0.5")
        );
        assert_eq!(ipam.request_address(pool, None).unwrap(), ip("172.17.0.3"));
    }

    #[test]
    fn released_addresses_are_reused_first() {
        let mut ipam = ipam();
        let pool = ipam.request_pool(Family::V4, None, None).unwrap();
        for _ in 0..3 {
            ipam.request_address(pool, None).unwrap();
        }
        ipam.release_address(pool, ip("172.17.0.2")).unwrap();
        assert_eq!(ipam.request_address(pool, None).unwrap(), ip("172.17.0.2"));
    }

    #[test]
    fn reserved_and_taken_addresses_are_refused() {
        let mut ipam = ipam();
        let pool = ipam
            .request_pool(Family::V4, Some(net("192.168.7.0/24")), None)
            .unwrap();
        for reserved in ["192.168.7.0", "192.168.7.255"] {
            let err = ipam.request_address(pool, Some(ip(reserved))).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("Address already in use: {reserved}")
            );
        }
        let err = ipam
            .request_address(pool, Some(ip("192.168.8.1")))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "requested address is out of range: 192.168.8.1 is not in 192.168.7.0/24"
        );
    }

    #[test]
    fn ip_range_addresses_start_at_the_range() {
        let mut ipam = ipam();
        let pool = ipam
            .request_pool(
                Family::V4,
                Some(net("172.28.0.0/16")),
                Some(net("172.28.5.0/24")),
            )
            .unwrap();
        // The range's network address is not reserved: Docker's gateway is .0.
        assert_eq!(ipam.request_address(pool, None).unwrap(), ip("172.28.5.0"));
        assert_eq!(ipam.request_address(pool, None).unwrap(), ip("172.28.5.1"));
    }

    #[test]
    fn small_subnets_run_out() {
        let mut ipam = ipam();
        let pool = ipam
            .request_pool(Family::V4, Some(net("10.9.9.0/30")), None)
            .unwrap();
        ipam.request_address(pool, None).unwrap();
        ipam.request_address(pool, None).unwrap();
        let err = ipam.request_address(pool, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no available addresses on this pool: 10.9.9.0/30"
        );
        let p2p = ipam
            .request_pool(Family::V4, Some(net("10.9.8.0/31")), None)
            .unwrap();
        assert_eq!(ipam.request_address(p2p, None).unwrap(), ip("10.9.8.0"));
    }

    #[test]
    fn ipv6_uses_the_ula_pool_and_skips_the_anycast_address() {
        let mut ipam = ipam();
        let first = ipam.request_pool(Family::V6, None, None).unwrap();
        let second = ipam.request_pool(Family::V6, None, None).unwrap();
        assert_eq!(first.subnet, net("fd42:98fc:1c14::/64"));
        assert_eq!(second.subnet, net("fd42:98fc:1c14:1::/64"));
        assert_eq!(
            ipam.request_address(first, None).unwrap(),
            ip("fd42:98fc:1c14::1")
        );
    }

    #[test]
    fn configured_ipv6_pools_replace_the_ula_pool() {
        let mut pools = docker_pools();
        pools.push((net("2001:db8::/56"), 64));
        let mut ipam = Ipam::new(&pools, DEFAULT_HOST_ID).unwrap();
        let pool = ipam.request_pool(Family::V6, None, None).unwrap();
        assert_eq!(pool.subnet, net("2001:db8::/64"));
    }

    #[test]
    fn released_pools_are_reallocated() {
        let mut ipam = ipam();
        let first = ipam.request_pool(Family::V4, None, None).unwrap();
        ipam.request_pool(Family::V4, None, None).unwrap();
        ipam.release_pool(first).unwrap();
        assert!(matches!(
            ipam.release_pool(first),
            Err(IpamError::UnknownPool { .. })
        ));
        assert_eq!(
            ipam.request_pool(Family::V4, None, None).unwrap().subnet,
            net("172.17.0.0/16")
        );
    }

    #[test]
    fn bad_pools_are_rejected() {
        let err = Ipam::new(&[(net("10.0.0.0/24"), 16)], DEFAULT_HOST_ID).unwrap_err();
        assert_eq!(
            err.to_string(),
            "network at index 0 (10.0.0.0/24) has a smaller prefix (/24) than the target size of that pool (/16)"
        );
        let mut ipam = ipam();
        let err = ipam
            .request_pool(Family::V6, Some(net("10.0.0.0/24")), None)
            .unwrap_err();
        assert_eq!(err.to_string(), "subnet 10.0.0.0/24 is not an ipv6 subnet");
    }
}
