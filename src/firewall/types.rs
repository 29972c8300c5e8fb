//! The firewall layer's input: resolved, family-split facts, in the shape of
//! Docker's firewaller (network config, endpoint addresses, port bindings).
//!
//! Nothing here knows about daemon.json, compose files or IPAM: the model layer
//! resolves those into these types.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::names::IfName;

/// An IP family: each one has its own ruleset (iptables or ip6tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// IPv4, programmed with iptables.
    V4,
    /// IPv6, programmed with ip6tables.
    V6,
}

impl Family {
    /// Both families, IPv4 first (the order in which output is printed).
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// The family of an address.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The family of a network.
    pub fn of_net(net: IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// The family's iptables command: `iptables` or `ip6tables`.
    pub fn iptables(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    /// The loopback network of the family, as iptables prints it.
    pub fn loopback_net(self) -> &'static str {
        match self {
            Family::V4 => "127.0.0.0/8",
            Family::V6 => "::1/128",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        })
    }
}

/// A transport protocol a port can be published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The protocol's name as iptables and Docker print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a network's gateway treats traffic of one family
/// (`com.docker.network.bridge.gateway_mode_ipv4/ipv6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum GatewayMode {
    /// NAT and masquerading, with direct access to containers blocked.
    #[default]
    Nat,
    /// NAT, but any port of a container may be reached directly.
    NatUnprotected,
    /// No NAT: containers are routed to; only published ports are open.
    Routed,
    /// No gateway address at all (internal networks only).
    Isolated,
}

impl GatewayMode {
    /// Docker's spelling of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayMode::Nat => "nat",
            GatewayMode::NatUnprotected => "nat-unprotected",
            GatewayMode::Routed => "routed",
            GatewayMode::Isolated => "isolated",
        }
    }

    /// True for `routed` (no NAT).
    pub fn routed(self) -> bool {
        self == GatewayMode::Routed
    }

    /// True for `nat-unprotected` (no per-port filtering).
    pub fn unprotected(self) -> bool {
        self == GatewayMode::NatUnprotected
    }
}

impl fmt::Display for GatewayMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Daemon-wide firewall settings (Docker's `firewaller.Config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallConfig {
    /// `"iptables"`: program IPv4 rules.
    pub ipv4: bool,
    /// `"ip6tables"`: program IPv6 rules.
    pub ipv6: bool,
    /// Hairpin NAT: true when the userland proxy is disabled.
    pub hairpin: bool,
    /// `"allow-direct-routing"`: no raw-table rules against direct access.
    pub allow_direct_routing: bool,
    /// `"bridgewall-ufw-routes"` (bridgewall's own): new connections to
    /// published ports obey ufw's `route` rules.
    #[serde(default)]
    pub ufw_routes: bool,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        FirewallConfig {
            ipv4: true,
            ipv6: true,
            hairpin: false,
            allow_direct_routing: false,
            ufw_routes: false,
        }
    }
}

impl FirewallConfig {
    /// Whether rules are programmed for `family`.
    pub fn enabled(&self, family: Family) -> bool {
        match family {
            Family::V4 => self.ipv4,
            Family::V6 => self.ipv6,
        }
    }
}

/// One family's view of a network (Docker's `NetworkConfigFam`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyConfig {
    /// The network's subnet (masked), e.g. `192.168.0.0/24`.
    pub prefix: IpNet,
    /// `com.docker.network.host_ipv4/6`: SNAT to this address instead of MASQUERADE.
    pub host_ip: Option<IpAddr>,
    /// The gateway mode for this family.
    pub gateway_mode: GatewayMode,
}

/// A bridge network as the firewall sees it (Docker's `firewaller.NetworkConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// The bridge interface, e.g. `docker0` or `br-1a2b3c4d5e6f`.
    pub if_name: IfName,
    /// No route out: `--internal`.
    pub internal: bool,
    /// Inter-container communication on this bridge.
    pub icc: bool,
    /// Masquerade (or SNAT) outgoing traffic.
    pub masquerade: bool,
    /// Interfaces allowed to reach containers directly, like the bridge itself.
    pub trusted_host_interfaces: Vec<IfName>,
    /// IPv4 config, when the network has IPv4.
    pub v4: Option<FamilyConfig>,
    /// IPv6 config, when the network has IPv6.
    pub v6: Option<FamilyConfig>,
}

impl NetworkConfig {
    /// The config of `family`, if the network has that family.
    pub fn family(&self, family: Family) -> Option<&FamilyConfig> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }
}

/// An endpoint's addresses on one network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EndpointAddrs {
    /// IPv4 address, if any.
    pub v4: Option<Ipv4Addr>,
    /// IPv6 address, if any.
    pub v6: Option<Ipv6Addr>,
}

/// A resolved port binding, as the firewall layer receives it
/// (Docker's `types.PortBinding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortBinding {
    /// Transport protocol.
    pub proto: Protocol,
    /// The container's address the port is forwarded to.
    pub container_ip: IpAddr,
    /// The container's port.
    pub container_port: u16,
    /// The host address the port is published on (`0.0.0.0`/`::` for all).
    pub host_ip: IpAddr,
    /// The host port; 0 when there is no NAT (routed mode).
    pub host_port: u16,
}

/// An endpoint with the port bindings published through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallEndpoint {
    /// The bridge interface of the endpoint's network ([`NetworkConfig::if_name`]).
    pub network: IfName,
    /// The endpoint's addresses.
    pub addrs: EndpointAddrs,
    /// Its port bindings, in the order they were added.
    pub bindings: Vec<PortBinding>,
}

/// Everything the planner needs: the whole desired state of the firewall.
///
/// Order matters, as it does for Docker, which inserts some rules at the head
/// of a chain and appends others: networks are listed in creation order and
/// endpoints in the order they joined (across all networks).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FirewallState {
    /// Daemon-wide settings.
    pub config: FirewallConfig,
    /// Daemon-level rules (DOCKER-USER and its jump). False at the bare
    /// firewaller level, as in Docker's firewall-layer tests.
    pub daemon_level: bool,
    /// Networks in creation order.
    pub networks: Vec<NetworkConfig>,
    /// Endpoints in the order they joined.
    pub endpoints: Vec<FirewallEndpoint>,
    /// Families whose filter-FORWARD policy is set to DROP: Docker does that
    /// when it enabled IP forwarding itself (and `ip-forward-no-drop` is not
    /// set). Otherwise the policy is left as it is.
    #[serde(default)]
    pub drop_forward: Vec<Family>,
}
