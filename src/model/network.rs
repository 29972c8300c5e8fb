//! Networks: their IPAM config and the bridge driver's options.
//!
//! A [`NetworkSpec`] is what `docker network create` (or a Compose file) asks
//! for. [`NetworkSpec::validate`] checks it the way Docker Engine 28.5 does, in
//! the same order, with the same error texts, and returns the parsed bridge
//! driver options ([`BridgeOptions`]).
//!
//! Where the checks and texts come from (moby/moby):
//! - `daemon/network.go` (`createNetwork`): predefined names are refused;
//! - `api/types/network/ipam.go` (`ValidateIPAM`): the IPAM config;
//! - `libnetwork/controller.go` (`NewNetwork`): empty names;
//! - `libnetwork/drivers/bridge/bridge_linux.go` (`fromLabels`, `newGwMode`,
//!   `parseErr`, `parseNetworkOptions`, `CreateNetwork`, `processIPAM`,
//!   `Validate`, `validateIPv6Subnet`): the driver options and what the bridge
//!   driver checks itself.
//!
//! Like Docker, unknown options are ignored: a driver only reads the labels it
//! knows. Unlike Docker, whose Go map iteration order is random, options are
//! parsed in the (sorted) order of the map, so with several bad options the
//! error is always about the first one.
//!
//! Checks that are bridgewall's own, because Docker leaves them to the kernel
//! or does not have them: the driver must be `bridge`, the bridge name must be
//! a valid Linux interface name, `com.docker.network.host_ipv4`/`_ipv6` must
//! be addresses of the right family.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::firewall::names::{IfName, InterfaceNameError};
use crate::firewall::types::{Family, GatewayMode};

/// The only network driver bridgewall handles.
pub const BRIDGE_DRIVER: &str = "bridge";
/// Option: name of the bridge interface (default `br-` + 12 hex digits of the ID).
pub const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// Option: inter-container communication (bool, default true).
pub const ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";
/// Option: masquerade outgoing traffic (bool, default true).
pub const ENABLE_IP_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
/// Option: default host address for published ports (IPv4 or IPv6 despite its name).
pub const HOST_BINDING_IPV4: &str = "com.docker.network.bridge.host_binding_ipv4";
/// Option: IPv4 gateway mode (`nat`, `nat-unprotected`, `routed`, `isolated`).
pub const GATEWAY_MODE_IPV4: &str = "com.docker.network.bridge.gateway_mode_ipv4";
/// Option: IPv6 gateway mode (`nat`, `nat-unprotected`, `routed`, `isolated`).
pub const GATEWAY_MODE_IPV6: &str = "com.docker.network.bridge.gateway_mode_ipv6";
/// Option: do not give the bridge an IPv4 address (bool, default false).
pub const INHIBIT_IPV4: &str = "com.docker.network.bridge.inhibit_ipv4";
/// Option: colon-separated interfaces allowed to reach containers directly.
pub const TRUSTED_HOST_INTERFACES: &str = "com.docker.network.bridge.trusted_host_interfaces";
/// Option: the network is the default bridge (bool); set by the daemon only.
pub const DEFAULT_BRIDGE: &str = "com.docker.network.bridge.default_bridge";
/// Option: IPv4 source address for outgoing traffic (SNAT instead of MASQUERADE).
pub const HOST_IPV4: &str = "com.docker.network.host_ipv4";
/// Option: IPv6 source address for outgoing traffic (SNAT instead of MASQUERADE).
pub const HOST_IPV6: &str = "com.docker.network.host_ipv6";
/// Option: MTU of the bridge and of its containers' interfaces (integer).
pub const DRIVER_MTU: &str = "com.docker.network.driver.mtu";

/// Network names the daemon reserves on Linux (`network.IsPredefined`).
pub const PREDEFINED_NETWORKS: [&str; 4] = ["bridge", "host", "none", "default"];

/// One entry of a network's IPAM config (`--subnet`, `--gateway`, `--ip-range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct IpamConfig {
    /// The subnet, as given (host bits set are an error in [`NetworkSpec::validate`]).
    pub subnet: Option<IpNet>,
    /// The gateway (bridge) address; by default the first address of the subnet.
    pub gateway: Option<IpAddr>,
    /// The sub-range containers' addresses are allocated from.
    pub ip_range: Option<IpNet>,
}

/// Which IPAM field of an entry is malformed, and Docker's message for it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct IpamFieldError {
    /// `subnet`, `ip_range` or `gateway`.
    pub field: &'static str,
    /// The message, e.g. `invalid subnet 10.0.0/8: invalid CIDR block notation`.
    pub message: String,
}

impl IpamConfig {
    /// An entry from its textual fields, as the API and Compose give them
    /// (`None` or empty: not set).
    pub fn parse(
        subnet: Option<&str>,
        ip_range: Option<&str>,
        gateway: Option<&str>,
    ) -> Result<IpamConfig, IpamFieldError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.filter(|t| !t.is_empty())
        }
        let net = |field: &'static str, what: &str, text: Option<&str>| {
            given(text)
                .map(|t| {
                    t.parse::<IpNet>().map_err(|_| IpamFieldError {
                        field,
                        message: format!("invalid {what} {t}: invalid CIDR block notation"),
                    })
                })
                .transpose()
        };
        let gateway = given(gateway)
            .map(|t| {
                t.parse::<IpAddr>().map_err(|_| IpamFieldError {
                    field: "gateway",
                    message: format!("invalid gateway {t}: invalid IP address"),
                })
            })
            .transpose()?;
        Ok(IpamConfig {
            subnet: net("subnet", "subnet", subnet)?,
            gateway,
            ip_range: net("ip_range", "ip-range", ip_range)?,
        })
    }
}

/// A network as `docker network create` asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The network's name.
    pub name: String,
    /// The driver: `bridge` (or empty, Docker's default driver).
    pub driver: String,
    /// IPv4 enabled (Docker's default: true).
    pub enable_ipv4: bool,
    /// IPv6 enabled (Docker's default: false).
    pub enable_ipv6: bool,
    /// `--internal`: no route out of the network.
    pub internal: bool,
    /// IPAM config entries (at most one per address family for a bridge).
    pub ipam: Vec<IpamConfig>,
    /// Driver options (`-o key=value`).
    pub options: BTreeMap<String, String>,
}

/// The bridge driver's options, parsed (Docker's `networkConfiguration`
/// fields set by `fromLabels`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeOptions {
    /// [`BRIDGE_NAME`]: the bridge interface; `None` for Docker's generated name.
    pub bridge_name: Option<IfName>,
    /// [`ENABLE_ICC`]: inter-container communication.
    pub enable_icc: bool,
    /// [`ENABLE_IP_MASQUERADE`]: masquerade outgoing traffic.
    pub enable_ip_masquerade: bool,
    /// [`HOST_BINDING_IPV4`]: default host address for published ports.
    pub host_binding_ipv4: Option<IpAddr>,
    /// [`GATEWAY_MODE_IPV4`].
    pub gateway_mode_ipv4: GatewayMode,
    /// [`GATEWAY_MODE_IPV6`].
    pub gateway_mode_ipv6: GatewayMode,
    /// [`INHIBIT_IPV4`]: the bridge gets no IPv4 address.
    pub inhibit_ipv4: bool,
    /// [`TRUSTED_HOST_INTERFACES`], split on `:` (empty parts dropped).
    pub trusted_host_interfaces: Vec<IfName>,
    /// [`HOST_IPV4`]: SNAT source address for IPv4.
    pub host_ipv4: Option<Ipv4Addr>,
    /// [`HOST_IPV6`]: SNAT source address for IPv6.
    pub host_ipv6: Option<Ipv6Addr>,
    /// [`DRIVER_MTU`]; `None` when unset or 0 (the kernel's default).
    pub mtu: Option<u32>,
}

/// Why an IPv6 subnet cannot be a bridge's (Docker's `validateIPv6Subnet`).
///
/// Each variant holds the prefix as Docker prints it: the address with its
/// prefix length, host bits included.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Ipv6SubnetError {
    /// An IPv4 prefix, or an IPv4-mapped IPv6 one.
    #[error("'{0}' is not a valid IPv6 subnet")]
    NotIpv6(String),
    /// A multicast prefix (`ff00::/8`).
    #[error("multicast subnet '{0}' is not allowed")]
    Multicast(String),
    /// A prefix overlapping `fe80::/64` without being it.
    #[error("'{0}' clashes with the Link-Local prefix 'fe80::/64'")]
    LinkLocal(String),
}

/// Why a network spec is refused, with Docker's wording.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetworkError {
    /// The name is one of [`PREDEFINED_NETWORKS`] (Docker's text ends with a space).
    #[error("operation is not permitted on predefined {0} network ")]
    Predefined(String),
    /// The name is empty or blank.
    #[error("invalid name: name is empty")]
    EmptyName,
    /// A driver other than `bridge` (bridgewall's own check).
    #[error(
        "network {network}: unsupported driver \"{driver}\": bridgewall only handles the \"bridge\" driver"
    )]
    UnsupportedDriver {
        /// The network's name.
        network: String,
        /// The driver asked for.
        driver: String,
    },
    /// `ValidateIPAM` found problems, each one a line of the message.
    #[error("invalid network config:\n* {}", .0.join("\n* "))]
    InvalidIpam(Vec<String>),
    /// A driver option's value cannot be parsed (Docker's `parseErr`).
    #[error("failed to parse {label} value: {value} ({reason})")]
    ParseOption {
        /// The option's name.
        label: String,
        /// Its value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Gateway mode `isolated` on a network that is not internal.
    #[error("gateway mode 'isolated' can only be used for an internal network")]
    IsolatedNotInternal,
    /// [`DRIVER_MTU`] is negative (or too large to be an MTU).
    #[error("invalid MTU number: {0}")]
    InvalidMtu(i64),
    /// Neither IPv4 nor IPv6 is enabled.
    #[error("IPv4 or IPv6 must be enabled")]
    NoFamilyEnabled,
    /// More than one subnet of an enabled family.
    #[error("bridge driver doesn't support multiple subnets")]
    MultipleSubnets,
    /// The IPv6 subnet cannot be used on a bridge.
    #[error(transparent)]
    Ipv6Subnet(#[from] Ipv6SubnetError),
}

impl Default for BridgeOptions {
    /// Docker's defaults: ICC and masquerading on, gateway modes `nat`.
    fn default() -> Self {
        BridgeOptions {
            bridge_name: None,
            enable_icc: true,
            enable_ip_masquerade: true,
            host_binding_ipv4: None,
            gateway_mode_ipv4: GatewayMode::Nat,
            gateway_mode_ipv6: GatewayMode::Nat,
            inhibit_ipv4: false,
            trusted_host_interfaces: Vec::new(),
            host_ipv4: None,
            host_ipv6: None,
            mtu: None,
        }
    }
}

impl BridgeOptions {
    /// Parses the bridge driver's options as Docker's `fromLabels` and
    /// `parseNetworkOptions` do: unknown options are ignored, invalid values
    /// are errors naming the option and the value, and gateway mode
    /// `isolated` needs an `internal` network.
    pub fn parse(
        options: &BTreeMap<String, String>,
        internal: bool,
    ) -> Result<BridgeOptions, NetworkError> {
        let mut opts = BridgeOptions::default();
        for (label, value) in options {
            let invalid = |reason: String| NetworkError::ParseOption {
                label: label.clone(),
                value: value.clone(),
                reason,
            };
            match label.as_str() {
                // An empty name means "generate one", as in Docker.
                BRIDGE_NAME if !value.is_empty() => {
                    opts.bridge_name =
                        Some(IfName::bridge(value).map_err(|e| invalid(e.to_string()))?);
                }
                DRIVER_MTU => {
                    let mtu = go_atoi(value).map_err(invalid)?;
                    if mtu < 0 {
                        return Err(NetworkError::InvalidMtu(mtu));
                    }
                    let mtu = u32::try_from(mtu).map_err(|_| NetworkError::InvalidMtu(mtu))?;
                    opts.mtu = (mtu != 0).then_some(mtu);
                }
                ENABLE_ICC => opts.enable_icc = go_parse_bool(value).map_err(invalid)?,
                ENABLE_IP_MASQUERADE => {
                    opts.enable_ip_masquerade = go_parse_bool(value).map_err(invalid)?;
                }
                INHIBIT_IPV4 => opts.inhibit_ipv4 = go_parse_bool(value).map_err(invalid)?,
                DEFAULT_BRIDGE => {
                    // Parsed for its errors only: the flag is the daemon's business.
                    go_parse_bool(value).map_err(invalid)?;
                }
                GATEWAY_MODE_IPV4 => {
                    opts.gateway_mode_ipv4 = parse_gateway_mode(value).map_err(invalid)?
                }
                GATEWAY_MODE_IPV6 => {
                    opts.gateway_mode_ipv6 = parse_gateway_mode(value).map_err(invalid)?
                }
                TRUSTED_HOST_INTERFACES => {
                    opts.trusted_host_interfaces = value
                        .split(':')
                        .filter(|name| !name.is_empty())
                        .map(|name| {
                            check_interface_name(name)
                                .map_err(|e| invalid(format!("{name:?}: {e}")))
                        })
                        .collect::<Result<_, _>>()?;
                }
                HOST_BINDING_IPV4 => {
                    opts.host_binding_ipv4 = Some(parse_ip(value).map_err(invalid)?);
                }
                HOST_IPV4 => {
                    let addr = match parse_ip(value).map_err(invalid)? {
                        IpAddr::V4(addr) => addr,
                        IpAddr::V6(addr) => addr
                            .to_ipv4_mapped()
                            .ok_or_else(|| invalid("not an IPv4 address".to_owned()))?,
                    };
                    opts.host_ipv4 = Some(addr);
                }
                HOST_IPV6 => match parse_ip(value).map_err(invalid)? {
                    IpAddr::V6(addr) if addr.to_ipv4_mapped().is_none() => {
                        opts.host_ipv6 = Some(addr);
                    }
                    _ => return Err(invalid("not an IPv6 address".to_owned())),
                },
                _ => {}
            }
        }
        let isolated = GatewayMode::Isolated;
        if (opts.gateway_mode_ipv4 == isolated || opts.gateway_mode_ipv6 == isolated) && !internal {
            return Err(NetworkError::IsolatedNotInternal);
        }
        Ok(opts)
    }
}

impl NetworkSpec {
    /// Checks the network as Docker does when it is created, in Docker's
    /// order: predefined name, IPAM config (all problems at once), empty name,
    /// driver, driver options, enabled families, one subnet per family, and
    /// the IPv6 subnet's suitability for a bridge.
    ///
    /// As in Docker, the IPAM entries of a disabled family are not used: an
    /// IPv6 subnet is not even checked when IPv6 is disabled, and an IPv4 one
    /// is checked (`ValidateIPAM` does) but ignored when IPv4 is disabled.
    pub fn validate(&self) -> Result<BridgeOptions, NetworkError> {
        if PREDEFINED_NETWORKS.contains(&self.name.as_str()) {
            return Err(NetworkError::Predefined(self.name.clone()));
        }
        let problems = ipam_problems(&self.ipam, self.enable_ipv6);
        if !problems.is_empty() {
            return Err(NetworkError::InvalidIpam(problems));
        }
        if self.name.trim().is_empty() {
            return Err(NetworkError::EmptyName);
        }
        if !self.driver.is_empty() && self.driver != BRIDGE_DRIVER {
            return Err(NetworkError::UnsupportedDriver {
                network: self.name.clone(),
                driver: self.driver.clone(),
            });
        }
        let opts = BridgeOptions::parse(&self.options, self.internal)?;
        if !self.enable_ipv4 && !self.enable_ipv6 {
            return Err(NetworkError::NoFamilyEnabled);
        }
        let subnets = |v6: bool| -> Vec<(IpNet, Option<IpAddr>)> {
            self.ipam
                .iter()
                .filter_map(|cfg| cfg.subnet.map(|subnet| (subnet, cfg.gateway)))
                .filter(|(subnet, _)| matches!(subnet, IpNet::V6(_)) == v6)
                .collect()
        };
        let v4 = if self.enable_ipv4 {
            subnets(false)
        } else {
            Vec::new()
        };
        let v6 = if self.enable_ipv6 {
            subnets(true)
        } else {
            Vec::new()
        };
        if v4.len() > 1 || v6.len() > 1 {
            return Err(NetworkError::MultipleSubnets);
        }
        if let Some(&(IpNet::V6(subnet), gateway)) = v6.first() {
            // The bridge's IPv6 address, as Docker's driver sees it: the
            // gateway with the subnet's length; by default the first address
            // after the subnet-router anycast address; the subnet itself when
            // there is no gateway (isolated).
            let addr = if opts.gateway_mode_ipv6 == GatewayMode::Isolated {
                subnet.network()
            } else {
                match gateway {
                    Some(IpAddr::V6(gw)) => gw,
                    _ => {
                        let first = u128::from(subnet.network());
                        Ipv6Addr::from(first.checked_add(1).unwrap_or(first))
                    }
                }
            };
            check_ipv6_subnet(IpAddr::V6(addr), subnet.prefix_len())?;
        }
        Ok(opts)
    }
}

/// Docker's `ValidateIPAM`: every problem of every entry, in order.
fn ipam_problems(ipam: &[IpamConfig], enable_ipv6: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for cfg in ipam {
        let Some(subnet) = cfg.subnet else {
            problems.push("invalid subnet : invalid CIDR block notation".to_owned());
            continue;
        };
        if !enable_ipv6 && matches!(subnet, IpNet::V6(_)) {
            continue;
        }
        if subnet != subnet.trunc() {
            problems.push(format!(
                "invalid subnet {subnet}: it should be {}",
                subnet.trunc()
            ));
        }
        if let Some(range) = cfg.ip_range {
            ip_range_problems(range, subnet, &mut problems);
        }
        if let Some(gateway) = cfg.gateway {
            if gateway.is_ipv6() != subnet_is_v6(subnet) {
                problems.push(format!(
                    "invalid gateway {gateway}: parent subnet is an {} block",
                    family_name(subnet_is_v6(subnet))
                ));
            } else if !subnet.contains(&gateway) {
                problems.push(format!(
                    "invalid gateway {gateway}: parent subnet {subnet} doesn't contain this address"
                ));
            }
        }
    }
    problems
}

/// Docker's `validateIPRange`.
fn ip_range_problems(range: IpNet, subnet: IpNet, problems: &mut Vec<String>) {
    if subnet_is_v6(range) != subnet_is_v6(subnet) {
        problems.push(format!(
            "invalid ip-range {range}: parent subnet is an {} block",
            family_name(subnet_is_v6(subnet))
        ));
        return;
    }
    if range.prefix_len() < subnet.prefix_len() {
        problems.push(format!(
            "invalid ip-range {range}: CIDR block is bigger than its parent subnet {subnet}"
        ));
    }
    if range != range.trunc() {
        problems.push(format!(
            "invalid ip-range {range}: it should be {}",
            range.trunc()
        ));
    }
    let overlaps = subnet.contains(&range.network()) || range.contains(&subnet.network());
    if !overlaps {
        problems.push(format!(
            "invalid ip-range {range}: parent subnet {subnet} doesn't contain ip-range"
        ));
    }
}

fn subnet_is_v6(net: IpNet) -> bool {
    Family::of_net(net) == Family::V6
}

fn family_name(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

/// Docker's `validateIPv6Subnet` for the prefix `addr/len` (host bits kept,
/// as Docker prints them): it must be IPv6 (not IPv4-mapped), not multicast,
/// and must not overlap `fe80::/64` unless it is exactly that.
pub(crate) fn check_ipv6_subnet(addr: IpAddr, len: u8) -> Result<(), Ipv6SubnetError> {
    let shown = format!("{addr}/{len}");
    let addr = match addr {
        IpAddr::V6(addr) if addr.to_ipv4_mapped().is_none() => addr,
        _ => return Err(Ipv6SubnetError::NotIpv6(shown)),
    };
    if addr.is_multicast() {
        return Err(Ipv6SubnetError::Multicast(shown));
    }
    let mask = |bits: u8| -> u128 {
        match bits {
            0 => 0,
            bits => u128::MAX << (128 - u32::from(bits.min(128))),
        }
    };
    let link_local = u128::from(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0));
    let addr = u128::from(addr);
    let is_link_local_prefix = len == 64 && addr & mask(64) == link_local;
    let common = mask(len.min(64));
    if !is_link_local_prefix && addr & common == link_local & common {
        return Err(Ipv6SubnetError::LinkLocal(shown));
    }
    Ok(())
}

/// Checks `name` against the rules for interface names ([`IfName::new`]).
pub fn check_interface_name(name: &str) -> Result<IfName, InterfaceNameError> {
    IfName::new(name)
}

/// Docker's `newGwMode`.
fn parse_gateway_mode(value: &str) -> Result<GatewayMode, String> {
    match value {
        "nat" => Ok(GatewayMode::Nat),
        "nat-unprotected" => Ok(GatewayMode::NatUnprotected),
        "routed" => Ok(GatewayMode::Routed),
        "isolated" => Ok(GatewayMode::Isolated),
        _ => Err(format!("unknown gateway mode {value}")),
    }
}

/// Go's `net.ParseIP`, with Docker's error reason (`nil ip`).
fn parse_ip(value: &str) -> Result<IpAddr, String> {
    value.parse().map_err(|_| "nil ip".to_owned())
}

/// Go's `strconv.ParseBool`, with its error text.
pub(crate) fn go_parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(value)
        )),
    }
}

/// Go's `strconv.Atoi` (64-bit), with its error texts.
pub(crate) fn go_atoi(value: &str) -> Result<i64, String> {
    let fail = |what: &str| format!("strconv.Atoi: parsing {}: {what}", go_quote(value));
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail("invalid syntax"));
    }
    value.parse().map_err(|_| fail("value out of range"))
}

/// Go's `strconv.Quote`: a double-quoted string with Go escapes.
pub(crate) fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> NetworkSpec {
        NetworkSpec {
            name: name.to_owned(),
            driver: "bridge".to_owned(),
            enable_ipv4: true,
            enable_ipv6: false,
            internal: false,
            ipam: Vec::new(),
            options: BTreeMap::new(),
        }
    }

    fn ipam(subnet: Option<&str>, gateway: Option<&str>, ip_range: Option<&str>) -> IpamConfig {
        IpamConfig {
            subnet: subnet.map(|s| s.parse().unwrap()),
            gateway: gateway.map(|s| s.parse().unwrap()),
            ip_range: ip_range.map(|s| s.parse().unwrap()),
        }
    }

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse_err(pairs: &[(&str, &str)]) -> String {
        BridgeOptions::parse(&opts(pairs), false)
            .unwrap_err()
            .to_string()
    }

    fn validate_err(spec: &NetworkSpec) -> String {
        spec.validate().unwrap_err().to_string()
    }

    fn with_ipam(mut s: NetworkSpec, entries: Vec<IpamConfig>) -> NetworkSpec {
        s.ipam = entries;
        s
    }

    // --- Good input -------------------------------------------------------

    #[test]
    fn defaults_when_no_options() {
        let parsed = BridgeOptions::parse(&BTreeMap::new(), false).unwrap();
        assert_eq!(parsed, BridgeOptions::default());
        assert!(parsed.enable_icc && parsed.enable_ip_masquerade);
        assert_eq!(parsed.gateway_mode_ipv4, GatewayMode::Nat);
    }

    #[test]
    fn all_options_parsed() {
        let parsed = BridgeOptions::parse(
            &opts(&[
                (BRIDGE_NAME, "br-test"),
                (ENABLE_ICC, "false"),
                (ENABLE_IP_MASQUERADE, "0"),
                (HOST_BINDING_IPV4, "127.0.0.1"),
                (GATEWAY_MODE_IPV4, "routed"),
                (GATEWAY_MODE_IPV6, "nat-unprotected"),
                (INHIBIT_IPV4, "T"),
                (TRUSTED_HOST_INTERFACES, "eth0::vxlan.1:"),
                (HOST_IPV4, "192.0.2.1"),
                (HOST_IPV6, "2001:db8::1"),
                (DRIVER_MTU, "1400"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(
            parsed,
            BridgeOptions {
                bridge_name: Some(IfName::new("br-test").unwrap()),
                enable_icc: false,
                enable_ip_masquerade: false,
                host_binding_ipv4: Some("127.0.0.1".parse().unwrap()),
                gateway_mode_ipv4: GatewayMode::Routed,
                gateway_mode_ipv6: GatewayMode::NatUnprotected,
                inhibit_ipv4: true,
                trusted_host_interfaces: vec![
                    IfName::new("eth0").unwrap(),
                    IfName::new("vxlan.1").unwrap(),
                ],
                host_ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
                host_ipv6: Some("2001:db8::1".parse().unwrap()),
                mtu: Some(1400),
            }
        );
    }

    #[test]
    fn go_bool_spellings_accepted() {
        for (text, want) in [
            ("1", true),
            ("t", true),
            ("TRUE", true),
            ("True", true),
            ("F", false),
            ("False", false),
        ] {
            let parsed = BridgeOptions::parse(&opts(&[(ENABLE_ICC, text)]), false).unwrap();
            assert_eq!(parsed.enable_icc, want, "{text}");
        }
    }

    #[test]
    fn unknown_options_and_empty_values_ignored() {
        let parsed = BridgeOptions::parse(
            &opts(&[
                ("com.docker.network.bridge.whatever", "x"),
                ("com.example.label", "y"),
                (BRIDGE_NAME, ""),
                (DRIVER_MTU, "0"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(parsed, BridgeOptions::default());
    }

    #[test]
    fn host_binding_may_be_ipv6_and_host_ipv4_may_be_mapped() {
        let parsed = BridgeOptions::parse(
            &opts(&[(HOST_BINDING_IPV4, "::"), (HOST_IPV4, "::ffff:192.0.2.7")]),
            false,
        )
        .unwrap();
        assert_eq!(
            parsed.host_binding_ipv4,
            Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        );
        assert_eq!(parsed.host_ipv4, Some(Ipv4Addr::new(192, 0, 2, 7)));
    }

    #[test]
    fn isolated_allowed_on_internal_network() {
        let parsed = BridgeOptions::parse(&opts(&[(GATEWAY_MODE_IPV4, "isolated")]), true).unwrap();
        assert_eq!(parsed.gateway_mode_ipv4, GatewayMode::Isolated);
    }

    #[test]
    fn valid_network_returns_its_options() {
        let mut s = with_ipam(
            spec("web"),
            vec![
                ipam(
                    Some("172.20.0.0/16"),
                    Some("172.20.0.1"),
                    Some("172.20.5.0/24"),
                ),
                ipam(Some("2001:db8:1::/64"), None, None),
            ],
        );
        s.enable_ipv6 = true;
        s.options = opts(&[(ENABLE_ICC, "false")]);
        assert!(!s.validate().unwrap().enable_icc);
    }

    #[test]
    fn empty_driver_means_bridge() {
        let mut s = spec("web");
        s.driver = String::new();
        assert_eq!(s.validate().unwrap(), BridgeOptions::default());
    }

    #[test]
    fn disabled_family_ipam_is_ignored() {
        // An IPv6 entry is not even checked when IPv6 is disabled.
        let s = with_ipam(
            spec("web"),
            vec![ipam(Some("2001:db8::1/64"), Some("10.0.0.1"), None)],
        );
        assert!(s.validate().is_ok());
        // A second IPv4 subnet does not count when IPv4 is disabled.
        let mut s = with_ipam(
            spec("web"),
            vec![
                ipam(Some("10.1.0.0/16"), None, None),
                ipam(Some("10.2.0.0/16"), None, None),
            ],
        );
        s.enable_ipv4 = false;
        s.enable_ipv6 = true;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn standard_link_local_prefix_is_allowed() {
        let mut s = with_ipam(spec("ll"), vec![ipam(Some("fe80::/64"), None, None)]);
        s.enable_ipv6 = true;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn interface_name_options_are_checked_and_named() {
        let parse = |key: &str, value: &str| {
            BridgeOptions::parse(
                &BTreeMap::from([(key.to_string(), value.to_string())]),
                false,
            )
        };
        let ok = parse(TRUSTED_HOST_INTERFACES, "eth0:vxlan.1").unwrap();
        assert_eq!(ok.trusted_host_interfaces, ["eth0", "vxlan.1"]);
        let injected = "eth0 -j ACCEPT\n-I INPUT 1 -s 6.6.6.6 -j ACCEPT\n#";
        let err = parse(TRUSTED_HOST_INTERFACES, injected)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "failed to parse {TRUSTED_HOST_INTERFACES} value: {injected}"
            )),
            "{err}"
        );
        assert!(err.contains("whitespace"), "{err}");
        let err = parse(BRIDGE_NAME, "br\"x").unwrap_err().to_string();
        assert!(err.contains(BRIDGE_NAME) && err.contains("quotes"), "{err}");
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n\x01é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }

    // --- Bad input: names and drivers ---------------------------------------

    #[test]
    fn predefined_bridge_name_refused() {
        assert_eq!(
            validate_err(&spec("bridge")),
            "operation is not permitted on predefined bridge network "
        );
    }

    #[test]
    fn predefined_host_name_refused_before_ipam() {
        let s = with_ipam(spec("host"), vec![ipam(None, None, None)]);
        assert_eq!(
            validate_err(&s),
            "operation is not permitted on predefined host network "
        );
    }

    #[test]
    fn empty_name_refused() {
        assert_eq!(validate_err(&spec("")), "invalid name: name is empty");
        assert_eq!(validate_err(&spec("  \t")), "invalid name: name is empty");
    }

    #[test]
    fn other_driver_refused() {
        let mut s = spec("ov");
        s.driver = "overlay".to_owned();
        assert_eq!(
            validate_err(&s),
            "network ov: unsupported driver \"overlay\": bridgewall only handles the \"bridge\" driver"
        );
    }

    // --- Bad input: IPAM ------------------------------------------------------

    #[test]
    fn ipam_without_subnet() {
        let s = with_ipam(spec("n"), vec![ipam(None, Some("10.0.0.1"), None)]);
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid subnet : invalid CIDR block notation"
        );
    }

    #[test]
    fn ipam_subnet_with_host_bits() {
        let s = with_ipam(spec("n"), vec![ipam(Some("172.20.0.1/16"), None, None)]);
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid subnet 172.20.0.1/16: it should be 172.20.0.0/16"
        );
    }

    #[test]
    fn ipam_gateway_outside_subnet() {
        let s = with_ipam(
            spec("n"),
            vec![ipam(Some("172.20.0.0/16"), Some("10.0.0.1"), None)],
        );
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid gateway 10.0.0.1: parent subnet 172.20.0.0/16 doesn't contain this address"
        );
    }

    #[test]
    fn ipam_gateway_of_other_family() {
        let s = with_ipam(
            spec("n"),
            vec![ipam(Some("172.20.0.0/16"), Some("2001:db8::1"), None)],
        );
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid gateway 2001:db8::1: parent subnet is an IPv4 block"
        );
    }

    #[test]
    fn ipam_range_outside_subnet() {
        let s = with_ipam(
            spec("n"),
            vec![ipam(Some("172.20.0.0/16"), None, Some("10.0.0.0/24"))],
        );
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid ip-range 10.0.0.0/24: parent subnet 172.20.0.0/16 doesn't contain ip-range"
        );
    }

    #[test]
    fn ipam_range_bigger_than_subnet() {
        let s = with_ipam(
            spec("n"),
            vec![ipam(Some("172.20.0.0/16"), None, Some("172.0.0.0/8"))],
        );
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid ip-range 172.0.0.0/8: CIDR block is bigger than its parent subnet 172.20.0.0/16"
        );
    }

    #[test]
    fn ipam_range_with_host_bits() {
        let s = with_ipam(
            spec("n"),
            vec![ipam(Some("172.20.0.0/16"), None, Some("172.20.1.1/24"))],
        );
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid ip-range 172.20.1.1/24: it should be 172.20.1.0/24"
        );
    }

    #[test]
    fn ipam_range_of_other_family() {
        let mut s = with_ipam(
            spec("n"),
            vec![ipam(Some("2001:db8::/64"), None, Some("10.0.0.0/24"))],
        );
        s.enable_ipv6 = true;
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n* invalid ip-range 10.0.0.0/24: parent subnet is an IPv6 block"
        );
    }

    #[test]
    fn ipam_problems_are_all_reported() {
        let s = with_ipam(
            spec("n"),
            vec![
                ipam(Some("172.20.0.1/16"), Some("10.0.0.1"), None),
                ipam(None, None, None),
            ],
        );
        assert_eq!(
            validate_err(&s),
            "invalid network config:\n\
             * invalid subnet 172.20.0.1/16: it should be 172.20.0.0/16\n\
             * invalid gateway 10.0.0.1: parent subnet 172.20.0.1/16 doesn't contain this address\n\
             * invalid subnet : invalid CIDR block notation"
        );
    }

    #[test]
    fn multiple_ipv4_subnets_refused() {
        let s = with_ipam(
            spec("n"),
            vec![
                ipam(Some("10.1.0.0/16"), None, None),
                ipam(Some("10.2.0.0/16"), None, None),
            ],
        );
        assert_eq!(
            validate_err(&s),
            "bridge driver doesn't support multiple subnets"
        );
    }

    #[test]
    fn no_family_enabled() {
        let mut s = spec("n");
        s.enable_ipv4 = false;
        assert_eq!(validate_err(&s), "IPv4 or IPv6 must be enabled");
    }

    #[test]
    fn ipv6_subnet_clashing_with_link_local() {
        let mut s = with_ipam(spec("n"), vec![ipam(Some("fe80::/80"), None, None)]);
        s.enable_ipv6 = true;
        assert_eq!(
            validate_err(&s),
            "'fe80::1/80' clashes with the Link-Local prefix 'fe80::/64'"
        );
    }

    #[test]
    fn ipv6_multicast_subnet() {
        let mut s = with_ipam(
            spec("n"),
            vec![ipam(Some("ff05::/64"), Some("ff05::10"), None)],
        );
        s.enable_ipv6 = true;
        assert_eq!(
            validate_err(&s),
            "multicast subnet 'ff05::10/64' is not allowed"
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_subnet() {
        let mut s = with_ipam(
            spec("n"),
            vec![ipam(Some("::ffff:10.0.0.0/104"), None, None)],
        );
        s.enable_ipv6 = true;
        s.options = opts(&[(GATEWAY_MODE_IPV6, "isolated")]);
        s.internal = true;
        assert_eq!(
            validate_err(&s),
            "'::ffff:10.0.0.0/104' is not a valid IPv6 subnet"
        );
    }

    // --- Bad input: driver options ---------------------------------------------

    #[test]
    fn bad_bool_icc() {
        assert_eq!(
            parse_err(&[(ENABLE_ICC, "yes")]),
            "failed to parse com.docker.network.bridge.enable_icc value: yes (strconv.ParseBool: parsing \"yes\": invalid syntax)"
        );
    }

    #[test]
    fn bad_bool_masquerade() {
        assert_eq!(
            parse_err(&[(ENABLE_IP_MASQUERADE, "2")]),
            "failed to parse com.docker.network.bridge.enable_ip_masquerade value: 2 (strconv.ParseBool: parsing \"2\": invalid syntax)"
        );
    }

    #[test]
    fn bad_bool_inhibit_ipv4() {
        assert_eq!(
            parse_err(&[(INHIBIT_IPV4, "")]),
            "failed to parse com.docker.network.bridge.inhibit_ipv4 value:  (strconv.ParseBool: parsing \"\": invalid syntax)"
        );
    }

    #[test]
    fn bad_bool_default_bridge() {
        assert_eq!(
            parse_err(&[(DEFAULT_BRIDGE, "on")]),
            "failed to parse com.docker.network.bridge.default_bridge value: on (strconv.ParseBool: parsing \"on\": invalid syntax)"
        );
    }

    #[test]
    fn unknown_gateway_mode() {
        assert_eq!(
            parse_err(&[(GATEWAY_MODE_IPV4, "nat6")]),
            "failed to parse com.docker.network.bridge.gateway_mode_ipv4 value: nat6 (unknown gateway mode nat6)"
        );
        assert_eq!(
            parse_err(&[(GATEWAY_MODE_IPV6, "NAT")]),
            "failed to parse com.docker.network.bridge.gateway_mode_ipv6 value: NAT (unknown gateway mode NAT)"
        );
    }

    #[test]
    fn isolated_needs_internal() {
        assert_eq!(
            parse_err(&[(GATEWAY_MODE_IPV6, "isolated")]),
            "gateway mode 'isolated' can only be used for an internal network"
        );
    }

    #[test]
    fn bad_host_binding_address() {
        assert_eq!(
            parse_err(&[(HOST_BINDING_IPV4, "localhost")]),
            "failed to parse com.docker.network.bridge.host_binding_ipv4 value: localhost (nil ip)"
        );
    }

    #[test]
    fn bad_host_ipv4() {
        assert_eq!(
            parse_err(&[(HOST_IPV4, "192.0.2")]),
            "failed to parse com.docker.network.host_ipv4 value: 192.0.2 (nil ip)"
        );
        assert_eq!(
            parse_err(&[(HOST_IPV4, "2001:db8::1")]),
            "failed to parse com.docker.network.host_ipv4 value: 2001:db8::1 (not an IPv4 address)"
        );
    }

    #[test]
    fn bad_host_ipv6() {
        assert_eq!(
            parse_err(&[(HOST_IPV6, "192.0.2.1")]),
            "failed to parse com.docker.network.host_ipv6 value: 192.0.2.1 (not an IPv6 address)"
        );
    }

    #[test]
    fn bad_mtu_syntax() {
        assert_eq!(
            parse_err(&[(DRIVER_MTU, "1500b")]),
            "failed to parse com.docker.network.driver.mtu value: 1500b (strconv.Atoi: parsing \"1500b\": invalid syntax)"
        );
    }

    #[test]
    fn mtu_out_of_range() {
        assert_eq!(
            parse_err(&[(DRIVER_MTU, "99999999999999999999")]),
            "failed to parse com.docker.network.driver.mtu value: 99999999999999999999 (strconv.Atoi: parsing \"99999999999999999999\": value out of range)"
        );
        assert_eq!(
            parse_err(&[(DRIVER_MTU, "4294967296")]),
            "invalid MTU number: 4294967296"
        );
    }

    #[test]
    fn negative_mtu() {
        assert_eq!(parse_err(&[(DRIVER_MTU, "-1")]), "invalid MTU number: -1");
    }

    #[test]
    fn bad_bridge_names() {
        assert_eq!(
            parse_err(&[(BRIDGE_NAME, "averyveryverylongname")]),
            "failed to parse com.docker.network.bridge.name value: averyveryverylongname (interface name longer than 15 bytes)"
        );
        assert_eq!(
            parse_err(&[(BRIDGE_NAME, "br/0")]),
            "failed to parse com.docker.network.bridge.name value: br/0 (interface name cannot contain '/', ':', whitespace or NUL)"
        );
        assert_eq!(
            parse_err(&[(BRIDGE_NAME, "..")]),
            "failed to parse com.docker.network.bridge.name value: .. (interface name cannot be \".\" or \"..\")"
        );
    }

    #[test]
    fn option_errors_come_before_family_checks() {
        let mut s = spec("n");
        s.enable_ipv4 = false;
        s.options = opts(&[(ENABLE_ICC, "maybe")]);
        assert_eq!(
            validate_err(&s),
            "failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing \"maybe\": invalid syntax)"
        );
    }
}
