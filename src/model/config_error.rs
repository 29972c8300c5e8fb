//! Why a daemon config (daemon.json) is refused, with Docker's wording.

use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net};
use thiserror::Error;

use crate::model::network::go_quote;

/// Why a daemon config is refused, with Docker's wording where it has one.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("unable to configure the Docker daemon with file {path}: {op} {path}: {reason}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The failed operation, as Go names it (`open` or `read`).
        op: &'static str,
        /// The system's reason, lowercased as Go prints it.
        reason: String,
    },
    /// The file's content is refused.
    #[error("unable to configure the Docker daemon with file {}: {error}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        error: Box<ConfigError>,
    },
    /// The file is not valid UTF-8.
    #[error("failed to decode configuration JSON at offset {0}: encoding: invalid UTF-8")]
    Encoding(usize),
    /// Not JSON.
    #[error("{0}")]
    Syntax(String),
    /// JSON, but not an object.
    #[error("json: cannot unmarshal {0} into Go value of type map[string]interface {{}}")]
    NotAnObject(&'static str),
    /// Keys Docker does not know (sorted).
    #[error("the following directives don't match any configuration option: {}", .0.join(", "))]
    UnknownDirectives(Vec<String>),
    /// A value of the wrong JSON type (Go's `UnmarshalTypeError`).
    #[error(
        "json: cannot unmarshal {found} into Go struct field {go_struct}.{field} of type {go_type}"
    )]
    WrongType {
        /// The Go struct holding the field (`Config`, `NetworkToSplit`).
        go_struct: &'static str,
        /// The path of the key, e.g. `iptables` or `default-address-pools.size`.
        field: String,
        /// The JSON value's kind, e.g. `string` or `number 1.5`.
        found: String,
        /// The Go type expected, e.g. `bool`.
        go_type: &'static str,
    },
    /// `ip` is not an IP address.
    #[error("invalid ip: invalid IP address: {0}")]
    InvalidIp(String),
    /// `bip` or `fixed-cidr` is not in CIDR notation.
    #[error("parse {key} failed: invalid CIDR address: {value}")]
    InvalidCidr {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// `bip` or `fixed-cidr` is an IPv6 prefix.
    #[error("invalid {key}: {value} is not an IPv4 subnet")]
    NotIpv4 {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// `fixed-cidr-v6` is not a usable IPv6 subnet.
    #[error("invalid fixed-cidr-v6: {0}")]
    FixedCidrV6(String),
    /// `firewall-backend` is neither `iptables` nor `nftables` (the value is
    /// kept, though Docker's message does not show it).
    #[error("invalid firewall-backend: allowed values are \"iptables\" and \"nftables\"")]
    FirewallBackend(String),
    /// `mtu` is negative (or too large for an MTU).
    #[error("invalid default MTU: {0}")]
    Mtu(i64),
    /// `bridge` is not a valid interface name.
    #[error("invalid bridge {}: {reason}", go_quote(.value))]
    BridgeName {
        /// The value.
        value: String,
        /// Why it is not an interface name.
        reason: String,
    },
    /// `bridge` and `bip` together.
    #[error("You specified -b & --bip, mutually exclusive options. Please specify only one")]
    BridgeAndBip,
    /// `bridge` and `bip6` together.
    #[error("You specified -b & --bip6, mutually exclusive options. Please specify only one")]
    BridgeAndBip6,
    /// `icc` false with `iptables` false.
    #[error(
        "You specified --iptables=false with --icc=false. ICC=false uses iptables to function. Please set --icc or --iptables to true"
    )]
    IccWithoutIptables,
    /// `icc` false with `ipv6` true and `ip6tables` false.
    #[error(
        "You specified --ip6tables=false with --icc=false. ICC=false uses ip6tables to function. Please set --icc or --ip6tables to true"
    )]
    IccWithoutIp6tables,
    /// A `default-address-pools` entry is invalid.
    #[error("invalid default-address-pools: {0}")]
    AddressPool(String),
    /// `fixed-cidr` is not inside the subnet of `bip`.
    #[error("fixed-cidr={fixed_cidr} is outside the subnet of bip={bip}")]
    FixedCidrOutsideBip {
        /// `fixed-cidr`.
        fixed_cidr: Ipv4Net,
        /// `bip`.
        bip: IpNet,
    },
}
