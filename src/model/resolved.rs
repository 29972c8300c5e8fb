//! What the state resolves to: networks with their subnets and gateways,
//! containers' endpoints with their addresses and port bindings, and their
//! translation into the firewall layer's [`FirewallState`].

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::firewall::names::IfName;
use crate::firewall::types::{
    EndpointAddrs, Family, FamilyConfig, FirewallEndpoint, FirewallState, GatewayMode,
    NetworkConfig, PortBinding,
};
use crate::model::daemon_config::DaemonConfig;
use crate::model::network::BridgeOptions;

/// The name of the default bridge network.
pub const DEFAULT_BRIDGE_NETWORK: &str = "bridge";

/// The host port range ephemeral ports come from (Linux's default
/// `net.ipv4.ip_local_port_range`, which Docker reads).
pub const EPHEMERAL_PORT_RANGE: (u16, u16) = (32768, 60999);

/// One family's addressing of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedSubnet {
    /// The subnet (masked).
    pub subnet: IpNet,
    /// The gateway address; `None` when Docker allocates none (isolated
    /// gateway mode, or IPv4 of an internal network with `inhibit_ipv4`).
    pub gateway: Option<IpAddr>,
    /// The range automatic addresses come from, when not the whole subnet.
    pub ip_range: Option<IpNet>,
}

/// A network, with its addressing resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedNetwork {
    /// The network's name (`bridge` for the default bridge).
    pub name: String,
    /// Its ID: 64 hex digits ([`network_id`]).
    pub id: String,
    /// Its bridge interface.
    pub bridge: IfName,
    /// `--internal`.
    pub internal: bool,
    /// The bridge driver's options.
    pub options: BridgeOptions,
    /// IPv4 addressing, when the network has IPv4.
    pub v4: Option<ResolvedSubnet>,
    /// IPv6 addressing, when the network has IPv6.
    pub v6: Option<ResolvedSubnet>,
    /// True for the default bridge network.
    pub is_default_bridge: bool,
}

impl ResolvedNetwork {
    /// The addressing of `family`, if the network has that family.
    pub fn family(&self, family: Family) -> Option<&ResolvedSubnet> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }

    fn gateway_mode(&self, family: Family) -> GatewayMode {
        match family {
            Family::V4 => self.options.gateway_mode_ipv4,
            Family::V6 => self.options.gateway_mode_ipv6,
        }
    }

    /// Whether endpoints get a default gateway of `family` from this network
    /// (the bridge driver's `Join`: not internal, and the family is enabled).
    pub fn provides_gateway(&self, family: Family) -> bool {
        !self.internal && self.family(family).is_some()
    }

    /// The firewall layer's view of the network.
    pub fn firewall_config(&self) -> NetworkConfig {
        let fam = |family: Family, host_ip: Option<IpAddr>| {
            self.family(family).map(|s| FamilyConfig {
                prefix: s.subnet.trunc(),
                host_ip,
                gateway_mode: self.gateway_mode(family),
            })
        };
        NetworkConfig {
            if_name: self.bridge.clone(),
            internal: self.internal,
            icc: self.options.enable_icc,
            masquerade: self.options.enable_ip_masquerade,
            trusted_host_interfaces: self.options.trusted_host_interfaces.clone(),
            v4: fam(Family::V4, self.options.host_ipv4.map(IpAddr::V4)),
            v6: fam(Family::V6, self.options.host_ipv6.map(IpAddr::V6)),
        }
    }
}

/// A container's endpoint on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedEndpoint {
    /// The container's name.
    pub container: String,
    /// The network's name.
    pub network: String,
    /// The endpoint's IPv4 address.
    pub v4: Option<Ipv4Addr>,
    /// The endpoint's IPv6 address.
    pub v6: Option<Ipv6Addr>,
    /// The port bindings programmed through this endpoint, in Docker's order.
    pub bindings: Vec<PortBinding>,
}

impl ResolvedEndpoint {
    /// The firewall's view of this endpoint, on the network whose bridge is
    /// `bridge`.
    pub fn firewall_endpoint(&self, bridge: &IfName) -> FirewallEndpoint {
        FirewallEndpoint {
            network: bridge.clone(),
            addrs: EndpointAddrs {
                v4: self.v4,
                v6: self.v6,
            },
            bindings: self.bindings.clone(),
        }
    }
}

/// Everything bridgewall programs: the daemon's config, networks in creation
/// order and endpoints in the order they joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    /// The daemon config.
    pub daemon: DaemonConfig,
    /// Networks, in creation order (the default bridge first).
    pub networks: Vec<ResolvedNetwork>,
    /// Endpoints, in join order.
    pub endpoints: Vec<ResolvedEndpoint>,
}

impl DesiredState {
    /// The firewall layer's input for this state (daemon-level rules included).
    pub fn firewall_state(&self) -> FirewallState {
        let endpoints = self
            .endpoints
            .iter()
            .filter_map(|ep| {
                let network = self.networks.iter().find(|n| n.name == ep.network)?;
                Some(ep.firewall_endpoint(&network.bridge))
            })
            .collect();
        FirewallState {
            config: self.daemon.firewall_config(),
            daemon_level: true,
            networks: self
                .networks
                .iter()
                .map(ResolvedNetwork::firewall_config)
                .collect(),
            endpoints,
            drop_forward: Vec::new(),
        }
    }
}

/// A network's ID: hex(sha256(name)), standing in for Docker's random ID.
pub fn network_id(name: &str) -> String {
    let mut id = String::with_capacity(64);
    for byte in Sha256::digest(name.as_bytes()) {
        write!(id, "{byte:02x}").expect("writing to a String cannot fail");
    }
    id
}
