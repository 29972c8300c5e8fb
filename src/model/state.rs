//! The desired state (daemon config, networks with their addresses,
//! containers' endpoints with their port bindings) and its resolution into
//! the firewall layer's [`FirewallState`].
//!
//! [`StateBuilder`] replays what Docker 28.5 does when networks are created and
//! containers connected, in order: it allocates subnets, gateways and
//! addresses with Docker's IPAM ([`crate::model::ipam`]), picks each
//! container's gateway endpoints and resolves port bindings with one port
//! allocator for the whole state, so conflicts surface as they do in Docker.
//!
//! Docker facts it follows:
//! - The default bridge network is named `bridge`, uses the daemon's bridge
//!   (`docker0`), `bip`/`fixed-cidr` (and `fixed-cidr-v6`) or the first free
//!   pool, the daemon's `icc`, `ip-masq` and `ip` (host binding address); it is
//!   created first (`initBridgeDriver`).
//! - A user-defined bridge is named `br-` + the first 12 hex digits of its
//!   network ID unless `com.docker.network.bridge.name` is set. Docker's IDs
//!   are random; here the ID is hex(sha256(network name)), for reproducible
//!   output ([`network_id`]).
//! - `inhibit_ipv4` only keeps the gateway address off the bridge: the network
//!   still has its IPv4 subnet, and the firewall sees it (Docker's bridge
//!   driver sets `bridgeIPv4` from the IPAM data regardless).
//! - No gateway address is allocated for a family in `isolated` gateway mode,
//!   nor for IPv4 of an internal network with `inhibit_ipv4`
//!   (`GetSkipGwAlloc`), unless a gateway is given.
//! - A container's gateway endpoints are chosen as libnetwork does
//!   (`Endpoint.Less`, `selectGatewayEndpoint`): endpoints sorted by gateway
//!   priority (high first), non-internal first, dual-stack gateways before
//!   IPv6-only before IPv4-only, then network name; the first dual-stack one
//!   is the gateway for both families, else the first IPv4 and the first IPv6
//!   one. NAT port bindings go on the gateway endpoints only (IPv4 on the IPv4
//!   gateway; IPv6 on the IPv6 gateway, or on the IPv4 gateway when there is
//!   none); routed-mode bindings go on every endpoint of a routed network
//!   (`ProgramExternalConnectivity`, `sortAndNormPBs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::firewall::names::IfName;
use crate::firewall::types::{Family, GatewayMode};
use crate::model::binding::{BindingContext, SequentialAllocator, resolve_bindings};
use crate::model::daemon_config::DaemonConfig;
use crate::model::ipam::{DEFAULT_HOST_ID, Ipam, IpamError, PoolId};
use crate::model::network::{BridgeOptions, NetworkSpec};
use crate::model::port_spec::PortMapping;

pub use super::resolved::{
    DEFAULT_BRIDGE_NETWORK, DesiredState, EPHEMERAL_PORT_RANGE, ResolvedEndpoint, ResolvedNetwork,
    ResolvedSubnet, network_id,
};
pub use super::state_error::StateError;

/// How a container connects to a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The network's name.
    pub network: String,
    /// A static IPv4 address (`--ip`, compose's `ipv4_address`).
    pub ipv4_address: Option<Ipv4Addr>,
    /// A static IPv6 address (`--ip6`, compose's `ipv6_address`).
    pub ipv6_address: Option<Ipv6Addr>,
    /// The endpoint's gateway priority (`gw-priority`, compose's `gw_priority`).
    pub gw_priority: i64,
    /// The addresses are the endpoint's own from before (a daemon restart,
    /// or a container reconnected), not addresses the user asked for: they
    /// are taken again without the checks on user-specified addresses.
    pub reuse: bool,
}

impl Attachment {
    /// An attachment to `network` with no static address and priority 0.
    pub fn new(network: impl Into<String>) -> Attachment {
        Attachment {
            network: network.into(),
            ipv4_address: None,
            ipv6_address: None,
            gw_priority: 0,
            reuse: false,
        }
    }
}

/// Per-network IPAM bookkeeping, kept beside [`ResolvedNetwork`].
#[derive(Debug, Clone)]
struct NetworkPools {
    v4: Option<PoolId>,
    v6: Option<PoolId>,
    /// Whether each family's subnet was configured (not taken from a pool):
    /// static endpoint addresses need one.
    static_v4: bool,
    static_v6: bool,
}

/// Replays network creation and container connection, as Docker does.
#[derive(Debug, Clone)]
pub struct StateBuilder {
    daemon: DaemonConfig,
    ipam: Ipam,
    networks: Vec<(ResolvedNetwork, NetworkPools)>,
    endpoints: Vec<ResolvedEndpoint>,
    ports: SequentialAllocator,
    ephemeral_range: (u16, u16),
}

/// What to allocate for one family of a new network.
struct FamilyRequest {
    subnet: Option<IpNet>,
    ip_range: Option<IpNet>,
    gateway: Option<IpAddr>,
    skip_gateway: bool,
}

impl StateBuilder {
    /// A state with the daemon's default bridge network, when it has one.
    pub fn new(daemon: DaemonConfig) -> Result<StateBuilder, StateError> {
        let pools: Vec<(IpNet, u8)> = daemon
            .address_pools()
            .iter()
            .map(|p| (p.base, p.size))
            .collect();
        let ipam = Ipam::new(&pools, DEFAULT_HOST_ID).map_err(StateError::AddressPools)?;
        let mut builder = StateBuilder {
            daemon,
            ipam,
            networks: Vec::new(),
            endpoints: Vec::new(),
            ports: SequentialAllocator::new(),
            ephemeral_range: EPHEMERAL_PORT_RANGE,
        };
        if builder.daemon.default_bridge_enabled() {
            builder.add_default_bridge()?;
        }
        Ok(builder)
    }

    /// Sets the range ephemeral host ports come from (the daemon reads the
    /// host's `net.ipv4.ip_local_port_range`, as Docker does).
    pub fn set_ephemeral_range(&mut self, range: (u16, u16)) {
        self.ephemeral_range = range;
    }

    /// The network named `name`, if it was created.
    pub fn network(&self, name: &str) -> Option<&ResolvedNetwork> {
        self.networks
            .iter()
            .map(|(n, _)| n)
            .find(|n| n.name == name)
    }

    fn add_default_bridge(&mut self) -> Result<(), StateError> {
        let d = &self.daemon;
        let options = BridgeOptions {
            bridge_name: Some(bridge_name(d.default_bridge_name())?),
            enable_icc: d.icc,
            enable_ip_masquerade: d.ip_masq,
            host_binding_ipv4: Some(d.ip),
            mtu: d.mtu,
            ..BridgeOptions::default()
        };
        // getDefaultBridgeIPAMConf: bip gives the subnet and the gateway,
        // fixed-cidr the range (and the subnet when there is no bip).
        let v4 = FamilyRequest {
            subnet: d.bip.map(|b| b.trunc()).or(d.fixed_cidr.map(IpNet::V4)),
            ip_range: d.fixed_cidr.map(IpNet::V4),
            gateway: d.bip.map(|b| b.addr()),
            skip_gateway: false,
        };
        let v6 = d.ipv6.then(|| FamilyRequest {
            subnet: d.fixed_cidr_v6.map(IpNet::V6),
            ip_range: d.fixed_cidr_v6.map(IpNet::V6),
            gateway: None,
            skip_gateway: false,
        });
        self.create_network(
            DEFAULT_BRIDGE_NETWORK.to_string(),
            network_id(DEFAULT_BRIDGE_NETWORK),
            false,
            options,
            Some(v4),
            v6,
            true,
        )
    }

    /// Creates a user-defined bridge network (`docker network create`), with
    /// an ID derived from its name ([`network_id`]).
    pub fn add_network(&mut self, spec: &NetworkSpec) -> Result<&ResolvedNetwork, StateError> {
        self.add_network_with_id(spec, network_id(&spec.name))
    }

    /// Creates a user-defined bridge network with the given 64-hex-digit ID
    /// (the daemon's are random, as Docker's).
    pub fn add_network_with_id(
        &mut self,
        spec: &NetworkSpec,
        id: String,
    ) -> Result<&ResolvedNetwork, StateError> {
        let options = spec
            .validate()
            .map_err(|source| StateError::InvalidNetwork {
                network: spec.name.clone(),
                source,
            })?;
        let request = |family: Family| {
            let config = spec
                .ipam
                .iter()
                .find(|c| c.subnet.is_some_and(|s| Family::of_net(s) == family));
            let skip_gateway = match family {
                Family::V4 => {
                    options.gateway_mode_ipv4 == GatewayMode::Isolated
                        || (options.inhibit_ipv4 && spec.internal)
                }
                Family::V6 => options.gateway_mode_ipv6 == GatewayMode::Isolated,
            };
            FamilyRequest {
                subnet: config.and_then(|c| c.subnet),
                ip_range: config.and_then(|c| c.ip_range),
                gateway: config.and_then(|c| c.gateway),
                skip_gateway,
            }
        };
        let v4 = spec.enable_ipv4.then(|| request(Family::V4));
        let v6 = spec.enable_ipv6.then(|| request(Family::V6));
        self.create_network(spec.name.clone(), id, spec.internal, options, v4, v6, false)?;
        Ok(&self.networks.last().expect("just created").0)
    }

    #[allow(clippy::too_many_arguments)] // one call site per kind of network
    fn create_network(
        &mut self,
        name: String,
        id: String,
        internal: bool,
        options: BridgeOptions,
        v4: Option<FamilyRequest>,
        v6: Option<FamilyRequest>,
        is_default_bridge: bool,
    ) -> Result<(), StateError> {
        if self.network(&name).is_some() {
            return Err(StateError::DuplicateNetwork { name });
        }
        let bridge = match &options.bridge_name {
            Some(name) => name.clone(),
            None => bridge_name(&format!("br-{}", id.get(..12).unwrap_or(&id)))?,
        };
        let mut pools = NetworkPools {
            v4: None,
            v6: None,
            static_v4: v4.as_ref().is_some_and(|r| r.subnet.is_some()),
            static_v6: v6.as_ref().is_some_and(|r| r.subnet.is_some()),
        };
        let mut resolved = ResolvedNetwork {
            name,
            id,
            bridge,
            internal,
            options,
            v4: None,
            v6: None,
            is_default_bridge,
        };
        for (family, request) in [(Family::V4, v4), (Family::V6, v6)] {
            let Some(request) = request else { continue };
            let (pool, subnet) = self.allocate_family(&resolved.name, family, request)?;
            match family {
                Family::V4 => (pools.v4, resolved.v4) = (Some(pool), Some(subnet)),
                Family::V6 => (pools.v6, resolved.v6) = (Some(pool), Some(subnet)),
            }
        }
        self.check_conflicts(&resolved)?;
        self.networks.push((resolved, pools));
        Ok(())
    }

    fn allocate_family(
        &mut self,
        network: &str,
        family: Family,
        request: FamilyRequest,
    ) -> Result<(PoolId, ResolvedSubnet), StateError> {
        let pool = self
            .ipam
            .request_pool(family, request.subnet, request.ip_range)
            .map_err(|source| StateError::Subnet {
                network: network.to_string(),
                family,
                source,
            })?;
        let gateway = if request.gateway.is_some() || !request.skip_gateway {
            let gateway = self
                .ipam
                .request_address(pool, request.gateway)
                .map_err(|source| StateError::Gateway {
                    network: network.to_string(),
                    family,
                    gateway: request.gateway,
                    source,
                })?;
            Some(gateway)
        } else {
            None
        };
        let subnet = ResolvedSubnet {
            subnet: pool.subnet,
            gateway,
            ip_range: request.ip_range.map(|r| r.trunc()),
        };
        Ok((pool, subnet))
    }

    /// The bridge driver's `checkConflict`: no two networks on one bridge, and
    /// no network whose subnet holds another's bridge address.
    fn check_conflicts(&self, new: &ResolvedNetwork) -> Result<(), StateError> {
        for (other, _) in &self.networks {
            let reason = if other.bridge == new.bridge {
                Some("networks have same bridge name")
            } else if overlap(new.v4.as_ref(), other.v4.as_ref()) {
                Some("networks have overlapping IPv4")
            } else if overlap(new.v6.as_ref(), other.v6.as_ref()) {
                Some("networks have overlapping IPv6")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(StateError::Conflict {
                    id: new.id.clone(),
                    bridge: new.bridge.to_string(),
                    other_id: other.id.clone(),
                    other_bridge: other.bridge.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Connects a container to its networks, in `attachments` order (the
    /// order the endpoints join), allocating addresses, and publishes
    /// `mappings` through its gateway endpoints.
    pub fn add_container(
        &mut self,
        container: &str,
        attachments: &[Attachment],
        mappings: &[PortMapping],
    ) -> Result<(), StateError> {
        let mut ports = std::mem::take(&mut self.ports);
        let result = self.add_container_with(container, attachments, mappings, &mut ports);
        self.ports = ports;
        result
    }

    /// [`StateBuilder::add_container`] with host ports reserved through
    /// `ports` (the daemon's allocator binds real sockets). On error, the
    /// bindings already resolved for the container stay in this state's
    /// endpoints: the caller, who discards the state, releases them.
    pub fn add_container_with(
        &mut self,
        container: &str,
        attachments: &[Attachment],
        mappings: &[PortMapping],
        ports: &mut dyn crate::model::binding::PortAllocator,
    ) -> Result<(), StateError> {
        let mut joined: Vec<(usize, &Attachment, Option<Ipv4Addr>, Option<Ipv6Addr>)> =
            Vec::with_capacity(attachments.len());
        for attachment in attachments {
            let index = self
                .networks
                .iter()
                .position(|(n, _)| n.name == attachment.network)
                .ok_or_else(|| StateError::UnknownNetwork {
                    network: attachment.network.clone(),
                })?;
            let v4 = self
                .allocate_endpoint_address(
                    container,
                    index,
                    Family::V4,
                    attachment.ipv4_address.map(IpAddr::V4),
                    attachment.reuse,
                )?
                .and_then(as_v4);
            let v6 = self
                .allocate_endpoint_address(
                    container,
                    index,
                    Family::V6,
                    attachment.ipv6_address.map(IpAddr::V6),
                    attachment.reuse,
                )?
                .and_then(as_v6);
            joined.push((index, attachment, v4, v6));
        }

        let (gw4, gw6) = self.gateway_endpoints(&joined);
        for (position, &(index, _, v4, v6)) in joined.iter().enumerate() {
            let network = &self.networks[index].0;
            let is_gw4 = gw4 == Some(position);
            let is_gw6 = gw6 == Some(position);
            let nat4 = is_gw4;
            let nat6 = is_gw6 || (gw6.is_none() && is_gw4);
            let add4 = nat4 || network.options.gateway_mode_ipv4.routed();
            let add6 = nat6 || network.options.gateway_mode_ipv6.routed();
            let bindings = if (add4 || add6) && !mappings.is_empty() {
                let ctx = BindingContext {
                    default_host_ip: network
                        .options
                        .host_binding_ipv4
                        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    container_v4: if add4 { v4 } else { None },
                    container_v6: if add6 { v6 } else { None },
                    gateway_mode_v4: network.options.gateway_mode_ipv4,
                    gateway_mode_v6: network.options.gateway_mode_ipv6,
                    // Host IPv6 to container IPv4 only through the IPv4 gateway.
                    userland_proxy: self.daemon.userland_proxy && nat4 && add6,
                    ephemeral_range: self.ephemeral_range,
                };
                resolve_bindings(&ctx, mappings, ports).map_err(|source| StateError::Binding {
                    container: container.to_string(),
                    source,
                })?
            } else {
                Vec::new()
            };
            self.endpoints.push(ResolvedEndpoint {
                container: container.to_string(),
                network: network.name.clone(),
                v4,
                v6,
                bindings,
            });
        }
        Ok(())
    }

    /// The networks of the IPv4 and IPv6 gateway endpoints of `container`
    /// (all endpoints at gateway priority 0): where its default routes go.
    pub fn gateways(&self, container: &str) -> (Option<String>, Option<String>) {
        let attachments: Vec<Attachment> = self
            .container_endpoints(container)
            .iter()
            .map(|e| Attachment::new(e.network.clone()))
            .collect();
        let joined: Vec<(usize, &Attachment, Option<Ipv4Addr>, Option<Ipv6Addr>)> = attachments
            .iter()
            .filter_map(|a| {
                let index = self
                    .networks
                    .iter()
                    .position(|(n, _)| n.name == a.network)?;
                Some((index, a, None, None))
            })
            .collect();
        let (gw4, gw6) = self.gateway_endpoints(&joined);
        let name = |pos: Option<usize>| pos.map(|p| self.networks[joined[p].0].0.name.clone());
        (name(gw4), name(gw6))
    }

    /// libnetwork's `selectGatewayEndpoint` over endpoints sorted by
    /// `Endpoint.Less`: positions (in `joined`) of the IPv4 and IPv6 gateways.
    fn gateway_endpoints(
        &self,
        joined: &[(usize, &Attachment, Option<Ipv4Addr>, Option<Ipv6Addr>)],
    ) -> (Option<usize>, Option<usize>) {
        let provides = |position: usize| {
            let network = &self.networks[joined[position].0].0;
            (
                network.provides_gateway(Family::V4),
                network.provides_gateway(Family::V6),
            )
        };
        let mut order: Vec<usize> = (0..joined.len()).collect();
        order.sort_by(|&a, &b| {
            let (na, nb) = (&self.networks[joined[a].0].0, &self.networks[joined[b].0].0);
            let score = |position: usize| {
                let (g4, g6) = provides(position);
                u8::from(g4) + 2 * u8::from(g6)
            };
            joined[b]
                .1
                .gw_priority
                .cmp(&joined[a].1.gw_priority)
                .then(na.internal.cmp(&nb.internal))
                .then(score(b).cmp(&score(a)))
                .then(na.name.cmp(&nb.name))
        });
        let (mut gw4, mut gw6) = (None, None);
        for position in order {
            match provides(position) {
                (true, true) => return (Some(position), Some(position)),
                (true, false) => gw4 = gw4.or(Some(position)),
                (false, true) => gw6 = gw6.or(Some(position)),
                (false, false) => {}
            }
        }
        (gw4, gw6)
    }

    /// Allocates an endpoint's address of `family` on network `index`, with
    /// the daemon's checks on static addresses and libnetwork's messages.
    fn allocate_endpoint_address(
        &mut self,
        container: &str,
        index: usize,
        family: Family,
        preferred: Option<IpAddr>,
        reuse: bool,
    ) -> Result<Option<IpAddr>, StateError> {
        let (network, pools) = &self.networks[index];
        let (pool, configured) = match family {
            Family::V4 => (pools.v4, pools.static_v4),
            Family::V6 => (pools.v6, pools.static_v6),
        };
        let error = |reason: String| StateError::Address {
            container: container.to_string(),
            network: network.name.clone(),
            family,
            reason,
        };
        if let Some(address) = preferred.filter(|_| !reuse) {
            // The daemon's validateEndpointIPAddress (Docker 28).
            if network.is_default_bridge {
                return Err(error(
                    "user specified IP address is supported on user defined networks only"
                        .to_string(),
                ));
            }
            if !configured {
                return Err(error(
                    "user specified IP address is supported only when connecting to networks with user configured subnets"
                        .to_string(),
                ));
            }
            if !pool.is_some_and(|p| p.subnet.contains(&address)) {
                return Err(error(format!(
                    "no configured subnet or ip-range contain the IP address {address}"
                )));
            }
        }
        let Some(pool) = pool else {
            return Ok(None);
        };
        let (name, id) = (network.name.clone(), network.id.clone());
        match self.ipam.request_address(pool, preferred) {
            Ok(address) => Ok(Some(address)),
            Err(IpamError::NoAvailableAddresses { .. }) => Err(error(format!(
                "no available IPv{} addresses on this network's address pools: {name} ({id})",
                match family {
                    Family::V4 => 4,
                    Family::V6 => 6,
                }
            ))),
            Err(e) => Err(error(e.to_string())),
        }
    }

    /// The endpoints of `container`, in join order.
    pub fn container_endpoints(&self, container: &str) -> Vec<&ResolvedEndpoint> {
        self.endpoints
            .iter()
            .filter(|e| e.container == container)
            .collect()
    }

    /// Disconnects `container` from every network, releasing its addresses;
    /// returns its endpoints, whose port bindings the caller releases.
    pub fn remove_container(&mut self, container: &str) -> Vec<ResolvedEndpoint> {
        let networks: Vec<String> = self
            .container_endpoints(container)
            .iter()
            .map(|e| e.network.clone())
            .collect();
        networks
            .iter()
            .filter_map(|n| self.remove_endpoint(container, n))
            .collect()
    }

    /// Disconnects `container` from `network` only, releasing the endpoint's
    /// addresses; returns it (the caller releases its port bindings).
    pub fn remove_endpoint(&mut self, container: &str, network: &str) -> Option<ResolvedEndpoint> {
        let pos = self
            .endpoints
            .iter()
            .position(|e| e.container == container && e.network == network)?;
        let ep = self.endpoints.remove(pos);
        if let Some((_, pools)) = self.networks.iter().find(|(n, _)| n.name == network) {
            let (p4, p6) = (pools.v4, pools.v6);
            if let (Some(pool), Some(a)) = (p4, ep.v4) {
                let _ = self.ipam.release_address(pool, IpAddr::V4(a));
            }
            if let (Some(pool), Some(a)) = (p6, ep.v6) {
                let _ = self.ipam.release_address(pool, IpAddr::V6(a));
            }
        }
        Some(ep)
    }

    /// Puts back an endpoint exactly as it was (a daemon restart): its
    /// addresses are taken again, its bindings kept as they are (the caller
    /// re-reserves the host ports).
    pub fn restore_endpoint(&mut self, ep: &ResolvedEndpoint) -> Result<(), StateError> {
        let index = self
            .networks
            .iter()
            .position(|(n, _)| n.name == ep.network)
            .ok_or_else(|| StateError::UnknownNetwork {
                network: ep.network.clone(),
            })?;
        self.allocate_endpoint_address(
            &ep.container,
            index,
            Family::V4,
            ep.v4.map(IpAddr::V4),
            true,
        )?;
        self.allocate_endpoint_address(
            &ep.container,
            index,
            Family::V6,
            ep.v6.map(IpAddr::V6),
            true,
        )?;
        self.endpoints.push(ep.clone());
        Ok(())
    }

    /// The networks, in creation order.
    pub fn networks(&self) -> impl Iterator<Item = &ResolvedNetwork> {
        self.networks.iter().map(|(n, _)| n)
    }

    /// Whether the IPv4 and IPv6 subnets of network `name` were configured by
    /// the user (static endpoint addresses need that), to be stored and given
    /// back to [`StateBuilder::restore_network`].
    pub fn user_configured(&self, name: &str) -> Option<(bool, bool)> {
        self.networks
            .iter()
            .find(|(n, _)| n.name == name)
            .map(|(_, p)| (p.static_v4, p.static_v6))
    }

    /// Re-creates a network exactly as it was allocated before (a daemon
    /// restart): the same subnets, ranges and gateways.
    pub fn restore_network(
        &mut self,
        network: &ResolvedNetwork,
        user_configured: (bool, bool),
    ) -> Result<(), StateError> {
        if self.network(&network.name).is_some() {
            return Err(StateError::DuplicateNetwork {
                name: network.name.clone(),
            });
        }
        let mut pools = NetworkPools {
            v4: None,
            v6: None,
            static_v4: user_configured.0,
            static_v6: user_configured.1,
        };
        for family in Family::ALL {
            let Some(sub) = network.family(family) else {
                continue;
            };
            let (pool, _) = self.allocate_family(
                &network.name,
                family,
                FamilyRequest {
                    subnet: Some(sub.subnet),
                    ip_range: sub.ip_range,
                    gateway: sub.gateway,
                    skip_gateway: sub.gateway.is_none(),
                },
            )?;
            match family {
                Family::V4 => pools.v4 = Some(pool),
                Family::V6 => pools.v6 = Some(pool),
            }
        }
        self.networks.push((network.clone(), pools));
        Ok(())
    }

    /// Removes network `name` and releases its subnets; refused while
    /// containers are connected to it.
    pub fn remove_network(&mut self, name: &str) -> Result<ResolvedNetwork, StateError> {
        let index = self
            .networks
            .iter()
            .position(|(n, _)| n.name == name)
            .ok_or_else(|| StateError::UnknownNetwork {
                network: name.to_string(),
            })?;
        if self.endpoints.iter().any(|e| e.network == name) {
            let network = &self.networks[index].0;
            return Err(StateError::ActiveEndpoints {
                network: network.name.clone(),
                id: network.id.clone(),
            });
        }
        let (network, pools) = self.networks.remove(index);
        for pool in [pools.v4, pools.v6].into_iter().flatten() {
            // The pool was allocated by this state, so releasing cannot fail.
            let _ = self.ipam.release_pool(pool);
        }
        Ok(network)
    }

    /// The state as it stands, leaving the builder usable.
    pub fn snapshot(&self) -> DesiredState {
        self.clone().build()
    }

    /// The state built so far.
    pub fn build(self) -> DesiredState {
        DesiredState {
            daemon: self.daemon,
            networks: self.networks.into_iter().map(|(n, _)| n).collect(),
            endpoints: self.endpoints,
        }
    }
}

/// A bridge's name, checked.
fn bridge_name(name: &str) -> Result<IfName, StateError> {
    IfName::bridge(name).map_err(|source| StateError::BridgeName {
        name: name.to_string(),
        source,
    })
}

fn as_v4(addr: IpAddr) -> Option<Ipv4Addr> {
    match addr {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

fn as_v6(addr: IpAddr) -> Option<Ipv6Addr> {
    match addr {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(_) => None,
    }
}

/// Docker's `Conflicts` test for one family: either network's bridge address
/// (its gateway, or its subnet's address without one) lies in the other's subnet.
fn overlap(a: Option<&ResolvedSubnet>, b: Option<&ResolvedSubnet>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let address = |s: &ResolvedSubnet| s.gateway.unwrap_or(s.subnet.network());
    a.subnet.contains(&address(b)) || b.subnet.contains(&address(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::types::{PortBinding, Protocol};
    use crate::model::network::IpamConfig;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn spec(name: &str) -> NetworkSpec {
        NetworkSpec {
            name: name.to_string(),
            driver: "bridge".to_string(),
            enable_ipv4: true,
            enable_ipv6: false,
            internal: false,
            ipam: Vec::new(),
            options: Default::default(),
        }
    }

    fn with_subnet(mut s: NetworkSpec, subnet: &str) -> NetworkSpec {
        s.ipam.push(IpamConfig {
            subnet: Some(net(subnet)),
            gateway: None,
            ip_range: None,
        });
        s
    }

    fn with_option(mut s: NetworkSpec, key: &str, value: &str) -> NetworkSpec {
        s.options.insert(key.to_string(), value.to_string());
        s
    }

    fn mapping(container_port: u16, host_port: u16) -> PortMapping {
        PortMapping {
            proto: Protocol::Tcp,
            container_port,
            host_ip: None,
            host_port_start: host_port,
            host_port_end: host_port,
        }
    }

    fn builder() -> StateBuilder {
        StateBuilder::new(DaemonConfig::default()).unwrap()
    }

    #[test]
    fn network_ids_are_sha256_of_the_name() {
        assert_eq!(
            network_id(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn default_bridge_uses_bip_and_fixed_cidr() {
        let daemon = DaemonConfig {
            bip: Some(net("192.168.1.5/24")),
            fixed_cidr: Some("192.168.1.128/25".parse().unwrap()),
            icc: false,
            ip: ip("127.0.0.1"),
            ..DaemonConfig::default()
        };
        let mut b = StateBuilder::new(daemon).unwrap();
        b.add_container("c", &[Attachment::new("bridge")], &[mapping(80, 8080)])
            .unwrap();
        let s = b.build();
        let bridge = &s.networks[0];
        assert!(bridge.is_default_bridge);
        assert_eq!(bridge.bridge, "docker0");
        assert!(!bridge.options.enable_icc);
        let v4 = bridge.v4.clone().unwrap();
        assert_eq!(v4.subnet, net("192.168.1.0/24"));
        assert_eq!(v4.gateway, Some(ip("192.168.1.5")));
        assert_eq!(s.endpoints[0].v4, Some("192.168.1.128".parse().unwrap()));
        // The daemon's `ip` is the default bridge's host binding address.
        assert_eq!(s.endpoints[0].bindings[0].host_ip, ip("127.0.0.1"));
    }

    #[test]
    fn default_bridge_can_be_disabled_or_dual_stack() {
        let none = DaemonConfig {
            bridge: Some("none".to_string()),
            ..DaemonConfig::default()
        };
        assert!(StateBuilder::new(none).unwrap().build().networks.is_empty());
        let v6 = DaemonConfig {
            ipv6: true,
            ..DaemonConfig::default()
        };
        let s = StateBuilder::new(v6).unwrap().build();
        assert_eq!(
            s.networks[0].v6.as_ref().unwrap().subnet,
            net("fd42:98fc:1c14::/64")
        );
    }

    #[test]
    fn inhibit_ipv4_keeps_the_subnet_and_isolated_has_no_gateway() {
        let mut b = builder();
        let n = b
            .add_network(&with_option(
                with_subnet(spec("inhibited"), "10.10.0.0/24"),
                "com.docker.network.bridge.inhibit_ipv4",
                "true",
            ))
            .unwrap();
        assert_eq!(n.v4.as_ref().unwrap().gateway, Some(ip("10.10.0.1")));
        let mut isolated = with_option(
            spec("isolated"),
            "com.docker.network.bridge.gateway_mode_ipv4",
            "isolated",
        );
        isolated.internal = true;
        let n = b.add_network(&isolated).unwrap();
        assert_eq!(n.v4.as_ref().unwrap().gateway, None);
        b.add_container("c", &[Attachment::new("isolated")], &[])
            .unwrap();
        let s = b.build();
        assert_eq!(s.endpoints[0].v4, Some("172.18.0.1".parse().unwrap()));
        let fw = s.firewall_state();
        assert_eq!(
            fw.networks[1].v4.as_ref().unwrap().prefix,
            net("10.10.0.0/24")
        );
        assert!(fw.networks[2].internal);
    }

    #[test]
    fn firewall_state_carries_network_options() {
        let mut b = builder();
        let mut s = with_option(spec("snat"), "com.docker.network.host_ipv4", "192.0.2.7");
        s = with_option(s, "com.docker.network.bridge.enable_ip_masquerade", "false");
        s = with_option(
            s,
            "com.docker.network.bridge.trusted_host_interfaces",
            "eth1:eth2",
        );
        b.add_network(&s).unwrap();
        let fw = b.build().firewall_state();
        let n = &fw.networks[1];
        assert!(!n.masquerade);
        assert_eq!(n.trusted_host_interfaces, ["eth1", "eth2"]);
        assert_eq!(n.v4.as_ref().unwrap().host_ip, Some(ip("192.0.2.7")));
        assert_eq!(n.v4.as_ref().unwrap().prefix, net("172.18.0.0/16"));
        assert_eq!(fw.config, DaemonConfig::default().firewall_config());
    }

    #[test]
    fn single_stack_networks_split_the_gateways() {
        let mut b = builder();
        b.add_network(&spec("v4only")).unwrap();
        let mut v6 = with_subnet(spec("v6only"), "2001:db8:1::/64");
        v6.enable_ipv4 = false;
        v6.enable_ipv6 = true;
        b.add_network(&v6).unwrap();
        b.add_container(
            "c",
            &[Attachment::new("v4only"), Attachment::new("v6only")],
            &[mapping(80, 8080)],
        )
        .unwrap();
        let s = b.build();
        let hosts = |i: usize| -> Vec<IpAddr> {
            s.endpoints[i].bindings.iter().map(|b| b.host_ip).collect()
        };
        assert_eq!(hosts(0), [ip("0.0.0.0")]);
        assert_eq!(hosts(1), [ip("::")]);
        assert_eq!(s.endpoints[1].bindings[0].container_ip, ip("2001:db8:1::2"));
    }

    #[test]
    fn routed_networks_open_ports_on_every_endpoint() {
        let mut b = builder();
        b.add_network(&spec("main")).unwrap();
        b.add_network(&with_option(
            with_subnet(spec("routed"), "198.51.100.0/24"),
            "com.docker.network.bridge.gateway_mode_ipv4",
            "routed",
        ))
        .unwrap();
        let mut main = Attachment::new("main");
        main.gw_priority = 1;
        b.add_container(
            "c",
            &[main, Attachment::new("routed")],
            &[mapping(80, 8080)],
        )
        .unwrap();
        let s = b.build();
        assert_eq!(s.endpoints[1].network, "routed");
        assert_eq!(
            s.endpoints[1].bindings,
            [PortBinding {
                proto: Protocol::Tcp,
                container_ip: ip("198.51.100.2"),
                container_port: 80,
                host_ip: ip("0.0.0.0"),
                host_port: 0,
            }]
        );
        assert_eq!(s.endpoints[0].bindings[0].host_port, 8080);
    }

    #[test]
    fn conflicts_are_refused_with_dockers_wording() {
        let mut b = builder();
        b.add_network(&with_option(
            spec("a"),
            "com.docker.network.bridge.name",
            "br0",
        ))
        .unwrap();
        let err = b
            .add_network(&with_option(
                spec("b"),
                "com.docker.network.bridge.name",
                "br0",
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot create network {} (br0): conflicts with network {} (br0): networks have same bridge name",
                network_id("b"),
                network_id("a")
            )
        );
        let err = b.add_network(&spec("a")).unwrap_err();
        assert_eq!(err.to_string(), "network with name a already exists");
        b.add_network(&with_subnet(spec("c"), "10.7.0.0/16"))
            .unwrap();
        let mut shared = with_subnet(spec("d"), "10.7.0.0/16");
        shared.ipam[0].ip_range = Some(net("10.7.9.0/24"));
        let err = b.add_network(&shared).unwrap_err();
        assert!(
            err.to_string().ends_with("networks have overlapping IPv4"),
            "{err}"
        );
    }

    #[test]
    fn endpoint_address_errors_use_dockers_wording() {
        let mut b = builder();
        b.add_network(&with_subnet(spec("tiny"), "10.8.0.0/30"))
            .unwrap();
        b.add_container("a", &[Attachment::new("tiny")], &[])
            .unwrap();
        let err = b
            .add_container("b", &[Attachment::new("tiny")], &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no available IPv4 addresses on this network's address pools: tiny ({})",
                network_id("tiny")
            )
        );
        let mut fixed = Attachment::new("bridge");
        fixed.ipv4_address = Some("172.17.0.9".parse().unwrap());
        let err = b.add_container("c", &[fixed], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "user specified IP address is supported on user defined networks only"
        );
        let err = b
            .add_container("d", &[Attachment::new("missing")], &[])
            .unwrap_err();
        assert_eq!(err.to_string(), "network missing not found");
    }

    #[test]
    fn removed_networks_free_their_subnet_and_restored_ones_keep_theirs() {
        let mut b = StateBuilder::new(DaemonConfig::default()).unwrap();
        b.add_network(&spec("a")).unwrap();
        let second = b.add_network(&spec("b")).unwrap().clone();
        assert_eq!(second.v4.as_ref().unwrap().subnet, net("172.19.0.0/16"));
        assert_eq!(b.user_configured("b"), Some((false, false)));
        b.remove_network("a").unwrap();
        // A daemon restart: the surviving network comes back as it was.
        let mut restarted = StateBuilder::new(DaemonConfig::default()).unwrap();
        restarted.restore_network(&second, (false, false)).unwrap();
        assert_eq!(restarted.network("b"), Some(&second));
        // The next network takes the lowest free pool, not b's.
        let third = restarted.add_network(&spec("c")).unwrap();
        assert_eq!(third.v4.as_ref().unwrap().subnet, net("172.18.0.0/16"));
        assert_eq!(
            restarted.remove_network("nope").unwrap_err().to_string(),
            "network nope not found"
        );
    }

    #[test]
    fn a_network_with_containers_cannot_be_removed() {
        let mut b = StateBuilder::new(DaemonConfig::default()).unwrap();
        b.add_network(&with_subnet(spec("n"), "192.0.2.0/24"))
            .unwrap();
        b.add_container("c1", &[Attachment::new("n")], &[]).unwrap();
        let err = b.remove_network("n").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "error while removing network: network n id {} has active endpoints",
                network_id("n")
            )
        );
        assert!(b.network("n").is_some());
    }
}
