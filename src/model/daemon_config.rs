//! The daemon config file (daemon.json), as far as it concerns bridge networking.
//!
//! [`DaemonConfig::from_json`] reads a daemon.json the way Docker Engine 28.5
//! does (moby/moby `daemon/config/config.go`, `cmd/dockerd/config*.go`,
//! `daemon/daemon_unix.go`, `daemon/config/config_linux.go`,
//! `libnetwork/ipamutils`):
//!
//! - A UTF-8 byte order mark is skipped; an empty (or blank) file is the
//!   default config.
//! - Keys Docker does not know are an error listing them all (sorted, where
//!   Docker's order is random): "the following directives don't match any
//!   configuration option: ...". As in Docker, an object value whose key is
//!   not one of the "flat" options (`log-opts`, `default-ulimits`, ...) is
//!   checked key by key instead: `"proxies": {"http-proxy": ...}` is fine, and
//!   `features` and `builder` are not checked at all.
//! - Keys Docker knows but that do not concern the bridge firewall
//!   (`log-level`, `storage-driver`, `hosts`, `data-root`, `dns`, ... and the
//!   bridge settings bridgewall does not model: `bip6`, `default-gateway`,
//!   `default-gateway-v6`, `userland-proxy-path`, `bridge-accept-fwmark`,
//!   `default-network-opts`, `network-control-plane-mtu`, `host-gateway-ip`)
//!   are accepted and ignored, so that a real daemon.json loads. Their values
//!   are not checked, except that `bip6` is refused together with `bridge`.
//! - The keys bridgewall reads must have the JSON type Docker's Go struct
//!   field has, or the error is Go's: "json: cannot unmarshal string into Go
//!   struct field Config.iptables of type bool". `null` and empty strings mean
//!   "not set", as they do for Go's decoder and Docker.
//! - Then Docker's checks: `mtu` >= 0, `fixed-cidr-v6`, `firewall-backend`,
//!   `bridge` with `bip`/`bip6`, `icc=false` without `iptables`/`ip6tables`,
//!   `default-address-pools`; and `ip-masq` is silently turned off when
//!   `iptables` is false, as Docker does (it is not an error in Docker).
//!
//! bridgewall's own checks (Docker has none, or only fails later): `bip` and
//! `fixed-cidr` must be IPv4, `fixed-cidr` must be inside `bip`'s subnet,
//! `bridge` must be a valid interface name, a pool's size must fit its family.
//!
//! Out of scope: Docker's error for a directive given both in the file and on
//! the command line, and the IPv6 default pool Docker derives from its host ID.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::firewall::types::FirewallConfig;

pub use super::config_error::ConfigError;
use crate::firewall::names::IfName;
use crate::model::network::{check_ipv6_subnet, go_quote};

/// The bridge Docker creates for its default network.
pub const DEFAULT_BRIDGE_NAME: &str = "docker0";
/// `"bridge": "none"`: no default bridge network.
pub const NO_BRIDGE: &str = "none";

/// Keys Docker 28.5 accepts on Linux (its flag names and the names of its
/// "named" options) that bridgewall does not read.
const IGNORED_KEYS: &[&str] = &[
    // Bridge settings bridgewall does not model.
    "bip6",
    "default-gateway",
    "default-gateway-v6",
    "userland-proxy-path",
    "bridge-accept-fwmark",
    "default-network-opt",
    "default-network-opts",
    "network-control-plane-mtu",
    "host-gateway-ip",
    "host-gateway-ips",
    "default-address-pool",
    // Everything else.
    "add-runtime",
    "allow-nondistributable-artifacts",
    "api-cors-header",
    "authorization-plugin",
    "authorization-plugins",
    "cdi-spec-dir",
    "cdi-spec-dirs",
    "cgroup-parent",
    "config-file",
    "containerd",
    "containerd-namespace",
    "containerd-plugins-namespace",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cri-containerd",
    "data-root",
    "debug",
    "default-cgroupns-mode",
    "default-ipc-mode",
    "default-runtime",
    "default-shm-size",
    "default-ulimit",
    "default-ulimits",
    "deprecated-key-path",
    "dns",
    "dns-opt",
    "dns-opts",
    "dns-search",
    "exec-opt",
    "exec-opts",
    "exec-root",
    "experimental",
    "feature",
    "group",
    "host",
    "hosts",
    "http-proxy",
    "https-proxy",
    "init",
    "init-path",
    "insecure-registries",
    "insecure-registry",
    "label",
    "labels",
    "live-restore",
    "log-driver",
    "log-format",
    "log-level",
    "log-opt",
    "log-opts",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "metrics-addr",
    "network-diagnostic-port",
    "no-new-privileges",
    "no-proxy",
    "node-generic-resource",
    "node-generic-resources",
    "pidfile",
    "raw-logs",
    "registry-mirror",
    "registry-mirrors",
    "rootless",
    "runtimes",
    "seccomp-profile",
    "selinux-enabled",
    "shutdown-timeout",
    "storage-driver",
    "storage-opt",
    "storage-opts",
    "swarm-default-advertise-addr",
    "tls",
    "tlscacert",
    "tlscert",
    "tlskey",
    "tlsverify",
    "userns-remap",
    "validate",
];

/// Keys bridgewall reads.
const BRIDGE_KEYS: &[&str] = &[
    "iptables",
    "ip6tables",
    "ip-forward",
    "ip-forward-no-drop",
    "ip-masq",
    "icc",
    "ip",
    "userland-proxy",
    "allow-direct-routing",
    "bridgewall-ufw-routes",
    "bridge",
    "bip",
    "fixed-cidr",
    "fixed-cidr-v6",
    "ipv6",
    "default-address-pools",
    "firewall-backend",
    "mtu",
];

/// Docker's `flatOptions`: object values checked as one key, not key by key.
const FLAT_OPTIONS: &[&str] = &[
    "cluster-store-opts",
    "default-network-opts",
    "log-opts",
    "runtimes",
    "default-ulimits",
    "features",
    "builder",
];

/// Docker's `skipValidateOptions`: never reported as unknown.
const SKIP_VALIDATE: &[&str] = &["features", "builder"];

/// Docker's default local address pools (`ipamutils.localScopeDefaultNetworks`).
const DEFAULT_POOLS: [(Ipv4Addr, u8, u8); 7] = [
    (Ipv4Addr::new(172, 17, 0, 0), 16, 16),
    (Ipv4Addr::new(172, 18, 0, 0), 16, 16),
    (Ipv4Addr::new(172, 19, 0, 0), 16, 16),
    (Ipv4Addr::new(172, 20, 0, 0), 14, 16),
    (Ipv4Addr::new(172, 24, 0, 0), 14, 16),
    (Ipv4Addr::new(172, 28, 0, 0), 14, 16),
    (Ipv4Addr::new(192, 168, 0, 0), 16, 20),
];

/// The daemon config, as far as bridge networking goes. Field names are
/// daemon.json's keys, in snake case.
///
/// Serde support is for storing an already validated config; daemon.json
/// itself must be read with [`DaemonConfig::from_json`] or
/// [`DaemonConfig::load`], which validate it as Docker does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct DaemonConfig {
    /// `iptables`: program IPv4 firewall rules (default true).
    pub iptables: bool,
    /// `ip6tables`: program IPv6 firewall rules (default true).
    pub ip6tables: bool,
    /// `ip-forward`: enable IP forwarding in the kernel (default true).
    pub ip_forward: bool,
    /// `ip-forward-no-drop`: do not set the FORWARD policy to DROP (default false).
    pub ip_forward_no_drop: bool,
    /// `ip-masq`: masquerade the default bridge's traffic (default true;
    /// always false when `iptables` is false).
    pub ip_masq: bool,
    /// `icc`: inter-container communication on the default bridge (default true).
    pub icc: bool,
    /// `ip`: default host address for published ports (default 0.0.0.0).
    pub ip: IpAddr,
    /// `userland-proxy`: use docker-proxy for published ports (default true).
    pub userland_proxy: bool,
    /// `allow-direct-routing`: no rules against direct routing to containers (default false).
    pub allow_direct_routing: bool,
    /// `bridgewall-ufw-routes` (bridgewall's own key): new inbound
    /// connections to published ports obey ufw's `route` rules (default
    /// false: they bypass ufw, as with Docker).
    pub ufw_routes: bool,
    /// `bridge`: a user-managed bridge for the default network, or `none`.
    pub bridge: Option<String>,
    /// `bip`: the default bridge's IPv4 address with its prefix length.
    pub bip: Option<IpNet>,
    /// `fixed-cidr`: the IPv4 range containers of the default bridge get
    /// addresses from (stored as a network: host bits cleared).
    pub fixed_cidr: Option<Ipv4Net>,
    /// `fixed-cidr-v6`: the default bridge's IPv6 subnet (host bits cleared).
    pub fixed_cidr_v6: Option<Ipv6Net>,
    /// `ipv6`: IPv6 on the default bridge (default false).
    pub ipv6: bool,
    /// `default-address-pools` as configured; empty means Docker's defaults
    /// (see [`DaemonConfig::address_pools`]).
    pub default_address_pools: Vec<AddressPool>,
    /// `firewall-backend` (default `iptables`).
    pub firewall_backend: FirewallBackend,
    /// `mtu` of the default bridge; `None` when unset or 0.
    pub mtu: Option<u32>,
}

/// An address pool that networks' subnets are allocated from: `base` split
/// into subnets of prefix length `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddressPool {
    /// The pool (host bits cleared).
    pub base: IpNet,
    /// Prefix length of the subnets taken from it.
    pub size: u8,
}

/// The firewall implementation (`firewall-backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirewallBackend {
    /// iptables and ip6tables (the default).
    #[default]
    Iptables,
    /// nftables.
    Nftables,
}

impl FirewallBackend {
    /// The value as written in daemon.json.
    pub fn as_str(self) -> &'static str {
        match self {
            FirewallBackend::Iptables => "iptables",
            FirewallBackend::Nftables => "nftables",
        }
    }
}

impl Default for DaemonConfig {
    /// Docker's defaults (for a rootful daemon on Linux).
    fn default() -> Self {
        DaemonConfig {
            iptables: true,
            ip6tables: true,
            ip_forward: true,
            ip_forward_no_drop: false,
            ip_masq: true,
            icc: true,
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            userland_proxy: true,
            allow_direct_routing: false,
            ufw_routes: false,
            bridge: None,
            bip: None,
            fixed_cidr: None,
            fixed_cidr_v6: None,
            ipv6: false,
            default_address_pools: Vec::new(),
            firewall_backend: FirewallBackend::Iptables,
            mtu: None,
        }
    }
}

impl DaemonConfig {
    /// Parses and validates the content of a daemon.json (see the module
    /// documentation for the rules).
    pub fn from_json(text: &str) -> Result<DaemonConfig, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim();
        if text.is_empty() {
            return Ok(DaemonConfig::default());
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(ConfigError::NotAnObject(json_kind(&value)));
        };
        check_unknown_keys(&map)?;

        let mut cfg = DaemonConfig::default();
        let mut bip6 = false;
        for (key, value) in &map {
            cfg.read_key(key, value, &mut bip6)?;
        }
        cfg.check(bip6)?;
        Ok(cfg)
    }

    /// The config in `path`, or Docker's defaults without one.
    pub fn load_or_default(path: Option<&Path>) -> Result<DaemonConfig, ConfigError> {
        match path {
            Some(p) => DaemonConfig::load(p),
            None => Ok(DaemonConfig::default()),
        }
    }

    /// Reads and validates a daemon.json file. Errors name the file, as
    /// Docker's do.
    pub fn load(path: &Path) -> Result<DaemonConfig, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| {
            let op = if e.kind() == std::io::ErrorKind::IsADirectory {
                "read"
            } else {
                "open"
            };
            ConfigError::Read {
                path: path.to_owned(),
                op,
                reason: go_io_reason(&e),
            }
        })?;
        let file_error = |error| ConfigError::File {
            path: path.to_owned(),
            error: Box::new(error),
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| file_error(ConfigError::Encoding(e.valid_up_to())))?;
        DaemonConfig::from_json(text).map_err(file_error)
    }

    /// The firewall layer's daemon-wide settings, as Docker's bridge driver
    /// derives them: rules per family from `iptables`/`ip6tables` (Docker
    /// does not tie one to the other), hairpin NAT when the userland proxy is
    /// disabled.
    pub fn firewall_config(&self) -> FirewallConfig {
        FirewallConfig {
            ipv4: self.iptables,
            ipv6: self.ip6tables,
            hairpin: !self.userland_proxy,
            allow_direct_routing: self.allow_direct_routing,
            ufw_routes: self.ufw_routes,
        }
    }

    /// Whether there is a default bridge network (`bridge` is not `none`).
    pub fn default_bridge_enabled(&self) -> bool {
        self.bridge.as_deref() != Some(NO_BRIDGE)
    }

    /// The default bridge's interface: the user-managed `bridge` if one is
    /// named, else `docker0` (also when the default bridge is disabled).
    pub fn default_bridge_name(&self) -> &str {
        match self.bridge.as_deref() {
            Some(name) if name != NO_BRIDGE => name,
            _ => DEFAULT_BRIDGE_NAME,
        }
    }

    /// The address pools for new networks: `default-address-pools` if
    /// configured, else Docker's defaults (172.17.0.0/16 to 172.31.0.0/16
    /// split in /16s, then 192.168.0.0/16 split in /20s).
    pub fn address_pools(&self) -> Vec<AddressPool> {
        if !self.default_address_pools.is_empty() {
            return self.default_address_pools.clone();
        }
        DEFAULT_POOLS
            .iter()
            .map(|&(addr, len, size)| AddressPool {
                base: IpNet::V4(Ipv4Net::new(addr, len).expect("valid default pool")),
                size,
            })
            .collect()
    }

    /// Applies one top-level key of daemon.json (keys bridgewall ignores are
    /// skipped).
    fn read_key(&mut self, key: &str, value: &Value, bip6: &mut bool) -> Result<(), ConfigError> {
        let flag = |target: &mut bool| -> Result<(), ConfigError> {
            match value {
                Value::Null => {}
                Value::Bool(b) => *target = *b,
                other => return Err(wrong_type("Config", key, other, "bool")),
            }
            Ok(())
        };
        match key {
            "iptables" => flag(&mut self.iptables)?,
            "ip6tables" => flag(&mut self.ip6tables)?,
            "ip-forward" => flag(&mut self.ip_forward)?,
            "ip-forward-no-drop" => flag(&mut self.ip_forward_no_drop)?,
            "ip-masq" => flag(&mut self.ip_masq)?,
            "icc" => flag(&mut self.icc)?,
            "userland-proxy" => flag(&mut self.userland_proxy)?,
            "allow-direct-routing" => flag(&mut self.allow_direct_routing)?,
            "bridgewall-ufw-routes" => flag(&mut self.ufw_routes)?,
            "ipv6" => flag(&mut self.ipv6)?,
            "ip" => {
                if let Some(text) = string_value(key, value, "net.IP")? {
                    self.ip = text
                        .parse()
                        .map_err(|_| ConfigError::InvalidIp(text.to_owned()))?;
                }
            }
            "bridge" => {
                if let Some(name) = string_value(key, value, "string")? {
                    if name != NO_BRIDGE {
                        IfName::bridge(name).map_err(|e| ConfigError::BridgeName {
                            value: name.to_owned(),
                            reason: e.to_string(),
                        })?;
                    }
                    self.bridge = Some(name.to_owned());
                }
            }
            "bip" => {
                if let Some(text) = string_value(key, value, "string")? {
                    match parse_cidr("bip", text)? {
                        net @ IpNet::V4(_) => self.bip = Some(net),
                        IpNet::V6(_) => return Err(not_ipv4("bip", text)),
                    }
                }
            }
            "bip6" => *bip6 = string_value(key, value, "string")?.is_some(),
            "fixed-cidr" => {
                if let Some(text) = string_value(key, value, "string")? {
                    match parse_cidr("fixed-cidr", text)? {
                        IpNet::V4(net) => self.fixed_cidr = Some(net.trunc()),
                        IpNet::V6(_) => return Err(not_ipv4("fixed-cidr", text)),
                    }
                }
            }
            "fixed-cidr-v6" => {
                if let Some(text) = string_value(key, value, "string")? {
                    self.fixed_cidr_v6 = Some(parse_fixed_cidr_v6(text)?);
                }
            }
            "firewall-backend" => {
                if let Some(text) = string_value(key, value, "string")? {
                    self.firewall_backend = match text {
                        "iptables" => FirewallBackend::Iptables,
                        "nftables" => FirewallBackend::Nftables,
                        other => return Err(ConfigError::FirewallBackend(other.to_owned())),
                    };
                }
            }
            "mtu" => {
                if let Some(mtu) = int_value("Config", key, value)? {
                    let mtu = u32::try_from(mtu).map_err(|_| ConfigError::Mtu(mtu))?;
                    self.mtu = (mtu != 0).then_some(mtu);
                }
            }
            "default-address-pools" => self.default_address_pools = read_pools(value)?,
            _ => {}
        }
        Ok(())
    }

    /// Docker's checks across keys, and its `ip-masq` adjustment.
    fn check(&mut self, bip6: bool) -> Result<(), ConfigError> {
        if self.bridge.is_some() && self.bip.is_some() {
            return Err(ConfigError::BridgeAndBip);
        }
        if self.bridge.is_some() && bip6 {
            return Err(ConfigError::BridgeAndBip6);
        }
        if !self.icc {
            if !self.iptables {
                return Err(ConfigError::IccWithoutIptables);
            }
            if self.ipv6 && !self.ip6tables {
                return Err(ConfigError::IccWithoutIp6tables);
            }
        }
        if !self.iptables {
            self.ip_masq = false;
        }
        if let (Some(fixed), Some(bip @ IpNet::V4(bip4))) = (self.fixed_cidr, self.bip) {
            let bip_net = bip4.trunc();
            if !bip_net.contains(&fixed.network()) && !fixed.contains(&bip_net.network()) {
                return Err(ConfigError::FixedCidrOutsideBip {
                    fixed_cidr: fixed,
                    bip,
                });
            }
        }
        Ok(())
    }
}

/// Docker's unknown-directive check (`findConfigurationConflicts` on the
/// flattened config).
fn check_unknown_keys(map: &Map<String, Value>) -> Result<(), ConfigError> {
    let mut keys: Vec<&str> = Vec::new();
    for (key, value) in map {
        match value {
            Value::Object(inner) if !FLAT_OPTIONS.contains(&key.as_str()) => {
                keys.extend(inner.keys().map(String::as_str));
            }
            _ => keys.push(key),
        }
    }
    let mut unknown: Vec<String> = keys
        .into_iter()
        .filter(|k| {
            !BRIDGE_KEYS.contains(k) && !IGNORED_KEYS.contains(k) && !SKIP_VALIDATE.contains(k)
        })
        .map(str::to_owned)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    unknown.dedup();
    Err(ConfigError::UnknownDirectives(unknown))
}

/// The kind of a JSON value, as Go's decoder names it.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(
    go_struct: &'static str,
    field: &str,
    value: &Value,
    go_type: &'static str,
) -> ConfigError {
    ConfigError::WrongType {
        go_struct,
        field: field.to_owned(),
        found: json_kind(value).to_owned(),
        go_type,
    }
}

/// A string-typed key: `None` when null or empty (Go's zero value: not set).
fn string_value<'a>(
    key: &str,
    value: &'a Value,
    go_type: &'static str,
) -> Result<Option<&'a str>, ConfigError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(wrong_type("Config", key, other, go_type)),
    }
}

/// An `int`-typed key: `None` when null. Non-integers are Go's "number X" errors.
fn int_value(
    go_struct: &'static str,
    field: &str,
    value: &Value,
) -> Result<Option<i64>, ConfigError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| ConfigError::WrongType {
            go_struct,
            field: field.to_owned(),
            found: format!("number {n}"),
            go_type: "int",
        }),
        other => Err(wrong_type(go_struct, field, other, "int")),
    }
}

fn not_ipv4(key: &'static str, value: &str) -> ConfigError {
    ConfigError::NotIpv4 {
        key,
        value: value.to_owned(),
    }
}

/// Go's `net.ParseCIDR`, with Docker's "parse KEY failed" error.
fn parse_cidr(key: &'static str, text: &str) -> Result<IpNet, ConfigError> {
    text.parse().map_err(|_| ConfigError::InvalidCidr {
        key,
        value: text.to_owned(),
    })
}

/// Docker's `ValidateFixedCIDRV6`: a prefix (Go's `netip.ParsePrefix`) that
/// passes `validateIPv6Subnet`. Stored with host bits cleared.
fn parse_fixed_cidr_v6(text: &str) -> Result<Ipv6Net, ConfigError> {
    let (addr, len) = go_parse_prefix(text).map_err(ConfigError::FixedCidrV6)?;
    check_ipv6_subnet(addr, len).map_err(|e| ConfigError::FixedCidrV6(e.to_string()))?;
    match addr {
        IpAddr::V6(addr) => Ok(Ipv6Net::new(addr, len).expect("length checked").trunc()),
        IpAddr::V4(_) => unreachable!("check_ipv6_subnet refuses IPv4"),
    }
}

/// Go's `netip.ParsePrefix`, with its error texts. Invalid addresses are all
/// reported as "unable to parse IP" (Go's texts for them are more detailed).
fn go_parse_prefix(text: &str) -> Result<(IpAddr, u8), String> {
    let fail = |msg: &str| format!("netip.ParsePrefix({}): {msg}", go_quote(text));
    let Some((addr_text, bits_text)) = text.rsplit_once('/') else {
        return Err(fail("no '/'"));
    };
    let addr: IpAddr = match addr_text.parse() {
        Ok(addr) => addr,
        Err(_) => {
            let zoned = addr_text.split_once('%').is_some_and(|(a, zone)| {
                !zone.is_empty() && a.parse::<std::net::Ipv6Addr>().is_ok()
            });
            if zoned {
                return Err(fail("IPv6 zones cannot be present in a prefix"));
            }
            return Err(fail(&format!(
                "ParseAddr({}): unable to parse IP",
                go_quote(addr_text)
            )));
        }
    };
    let bad_bits = || fail(&format!("bad bits after slash: {}", go_quote(bits_text)));
    let leading_zero = bits_text.len() > 1 && bits_text.starts_with('0');
    if bits_text.is_empty() || leading_zero || !bits_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_bits());
    }
    let bits: u64 = bits_text.parse().map_err(|_| bad_bits())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match u8::try_from(bits) {
        Ok(bits) if bits <= max => Ok((addr, bits)),
        _ => Err(fail("prefix length out of range")),
    }
}

/// `default-address-pools`: a list of `{"base": "CIDR", "size": N}`, checked
/// as Docker's IPAM does (`splitByIPFamily`); unknown fields are ignored as
/// Go's decoder ignores them.
fn read_pools(value: &Value) -> Result<Vec<AddressPool>, ConfigError> {
    const KEY: &str = "default-address-pools";
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(wrong_type("Config", KEY, other, "opts.PoolsOpt")),
    };
    let mut pools = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let fields = match item {
            Value::Object(fields) => fields,
            other => return Err(wrong_type("Config", KEY, other, "ipamutils.NetworkToSplit")),
        };
        let base = match fields.get("base").unwrap_or(&Value::Null) {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(go_parse_prefix(s).map_err(ConfigError::AddressPool)?),
            other => {
                return Err(wrong_type(
                    "NetworkToSplit",
                    "default-address-pools.base",
                    other,
                    "netip.Prefix",
                ));
            }
        };
        let size = int_value(
            "NetworkToSplit",
            "default-address-pools.size",
            fields.get("size").unwrap_or(&Value::Null),
        )?
        .unwrap_or(0);
        let shown = match base {
            Some((addr, len)) => format!("&{{{addr}/{len} {size}}}"),
            None => format!("&{{invalid Prefix {size}}}"),
        };
        let at = format!("network at index {index} ({shown})");
        let Some((addr, len)) = base.filter(|_| size != 0) else {
            return Err(ConfigError::AddressPool(format!(
                "{at} is not in canonical form"
            )));
        };
        if i64::from(len) > size {
            return Err(ConfigError::AddressPool(format!(
                "{at} has a smaller prefix (/{len}) than the target size of that pool (/{size})"
            )));
        }
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let size = u8::try_from(size)
            .ok()
            .filter(|&s| s <= max)
            .ok_or_else(|| {
                ConfigError::AddressPool(format!(
                    "{at} has a target size (/{size}) longer than its addresses (/{max})"
                ))
            })?;
        let base = IpNet::new(addr, len).expect("length checked").trunc();
        pools.push(AddressPool { base, size });
    }
    Ok(pools)
}

/// An I/O error's reason as Go prints it: the system's message, lowercased,
/// without Rust's " (os error N)".
fn go_io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(cut) => &text[..cut],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn err(text: &str) -> String {
        DaemonConfig::from_json(text).unwrap_err().to_string()
    }

    fn temp_file(name: &str, content: &[u8]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("bridgewall-daemon-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    // --- Good input -------------------------------------------------------

    #[test]
    fn defaults_are_dockers() {
        let cfg = DaemonConfig::from_json("").unwrap();
        assert_eq!(cfg, DaemonConfig::default());
        assert!(
            cfg.iptables
                && cfg.ip6tables
                && cfg.ip_forward
                && cfg.ip_masq
                && cfg.icc
                && cfg.userland_proxy
        );
        assert!(!cfg.ip_forward_no_drop && !cfg.allow_direct_routing && !cfg.ipv6);
        assert_eq!(cfg.ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(cfg.firewall_backend, FirewallBackend::Iptables);
        assert!(cfg.default_bridge_enabled());
        assert_eq!(cfg.default_bridge_name(), "docker0");
        assert_eq!(
            cfg.firewall_config(),
            FirewallConfig {
                ipv4: true,
                ipv6: true,
                hairpin: false,
                allow_direct_routing: false,
                ufw_routes: false,
            }
        );
    }

    #[test]
    fn default_address_pools_are_dockers() {
        let pools = DaemonConfig::default().address_pools();
        let shown: Vec<String> = pools
            .iter()
            .map(|p| format!("{} {}", p.base, p.size))
            .collect();
        assert_eq!(
            shown,
            [
                "172.17.0.0/16 16",
                "172.18.0.0/16 16",
                "172.19.0.0/16 16",
                "172.20.0.0/14 16",
                "172.24.0.0/14 16",
                "172.28.0.0/14 16",
                "192.168.0.0/16 20"
            ]
        );
    }

    #[test]
    fn full_config() {
        let cfg = DaemonConfig::from_json(
            r#"{
                "iptables": true, "ip6tables": false, "ip-forward": false,
                "ip-forward-no-drop": true, "ip-masq": false, "icc": false,
                "ip": "127.0.0.1", "userland-proxy": false, "allow-direct-routing": true,
                "bridgewall-ufw-routes": true,
                "bip": "10.10.0.1/16", "fixed-cidr": "10.10.5.7/24",
                "fixed-cidr-v6": "2001:db8:1::5/64", "ipv6": false,
                "default-address-pools": [{"base": "10.20.0.0/16", "size": 24}, {"base": "fd00::/48", "size": 64}],
                "firewall-backend": "nftables", "mtu": 1400
            }"#,
        )
        .unwrap();
        assert_eq!(
            cfg,
            DaemonConfig {
                iptables: true,
                ip6tables: false,
                ip_forward: false,
                ip_forward_no_drop: true,
                ip_masq: false,
                icc: false,
                ip: "127.0.0.1".parse().unwrap(),
                userland_proxy: false,
                allow_direct_routing: true,
                ufw_routes: true,
                bridge: None,
                bip: Some("10.10.0.1/16".parse().unwrap()),
                fixed_cidr: Some("10.10.5.0/24".parse().unwrap()),
                fixed_cidr_v6: Some("2001:db8:1::/64".parse().unwrap()),
                ipv6: false,
                default_address_pools: vec![
                    AddressPool {
                        base: "10.20.0.0/16".parse().unwrap(),
                        size: 24
                    },
                    AddressPool {
                        base: "fd00::/48".parse().unwrap(),
                        size: 64
                    },
                ],
                firewall_backend: FirewallBackend::Nftables,
                mtu: Some(1400),
            }
        );
        assert_eq!(cfg.address_pools(), cfg.default_address_pools);
        assert_eq!(
            cfg.firewall_config(),
            FirewallConfig {
                ipv4: true,
                ipv6: false,
                hairpin: true,
                allow_direct_routing: true,
                ufw_routes: true,
            }
        );
    }

    #[test]
    fn real_world_file_with_ignored_keys_loads() {
        let cfg = DaemonConfig::from_json(
            "\u{feff}{\"log-level\": \"debug\", \"storage-driver\": \"overlay2\", \"debug\": true,\n\
             \"hosts\": [\"unix:///var/run/docker.sock\"], \"data-root\": \"/srv/docker\",\n\
             \"exec-root\": \"/run/docker\", \"live-restore\": true, \"dns\": [\"1.1.1.1\"],\n\
             \"log-opts\": {\"max-size\": \"10m\"}, \"features\": {\"containerd-snapshotter\": true},\n\
             \"proxies\": {\"http-proxy\": \"http://proxy:3128\"}, \"default-network-opts\": {\"bridge\": {}},\n\
             \"bip6\": \"\", \"bridge\": \"\", \"bip\": \"\", \"ip\": \"\", \"mtu\": null}",
        )
        .unwrap();
        assert_eq!(cfg, DaemonConfig::default());
    }

    #[test]
    fn ip_masq_is_turned_off_without_iptables() {
        let cfg = DaemonConfig::from_json(r#"{"iptables": false, "ip-masq": true}"#).unwrap();
        assert!(!cfg.ip_masq);
        assert!(!cfg.firewall_config().ipv4);
        assert!(
            cfg.firewall_config().ipv6,
            "Docker does not tie ip6tables to iptables"
        );
    }

    #[test]
    fn user_managed_and_disabled_bridge() {
        let cfg =
            DaemonConfig::from_json(r#"{"bridge": "br-lan", "fixed-cidr": "192.168.1.0/25"}"#)
                .unwrap();
        assert!(cfg.default_bridge_enabled());
        assert_eq!(cfg.default_bridge_name(), "br-lan");
        let cfg = DaemonConfig::from_json(r#"{"bridge": "none"}"#).unwrap();
        assert!(!cfg.default_bridge_enabled());
        assert_eq!(cfg.default_bridge_name(), "docker0");
    }

    #[test]
    fn fixed_cidr_inside_or_around_bip() {
        let cfg = DaemonConfig::from_json(r#"{"bip": "10.1.0.1/16", "fixed-cidr": "10.1.2.0/24"}"#)
            .unwrap();
        assert_eq!(cfg.fixed_cidr, Some("10.1.2.0/24".parse().unwrap()));
        // Bigger than bip's subnet: Docker then allocates from the whole subnet.
        assert!(
            DaemonConfig::from_json(r#"{"bip": "10.1.0.1/16", "fixed-cidr": "10.0.0.0/8"}"#)
                .is_ok()
        );
    }

    #[test]
    fn mtu_zero_is_unset() {
        assert_eq!(DaemonConfig::from_json(r#"{"mtu": 0}"#).unwrap().mtu, None);
    }

    #[test]
    fn serde_round_trip() {
        let cfg =
            DaemonConfig::from_json(r#"{"bip": "10.1.0.1/24", "firewall-backend": "nftables"}"#)
                .unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.contains("\"firewall-backend\":\"nftables\""), "{json}");
        assert_eq!(serde_json::from_str::<DaemonConfig>(&json).unwrap(), cfg);
        assert_eq!(
            serde_json::from_str::<DaemonConfig>("{}").unwrap(),
            DaemonConfig::default()
        );
    }

    #[test]
    fn load_directory_is_a_read_error() {
        let dir = std::env::temp_dir();
        assert_eq!(
            DaemonConfig::load(&dir).unwrap_err().to_string(),
            format!(
                "unable to configure the Docker daemon with file {0}: read {0}: is a directory",
                dir.display()
            )
        );
    }

    #[test]
    fn load_reads_a_file() {
        let path = temp_file("good.json", br#"{"icc": false}"#);
        assert!(!DaemonConfig::load(&path).unwrap().icc);
    }

    // --- Bad input ----------------------------------------------------------

    #[test]
    fn unknown_keys_listed_sorted() {
        assert_eq!(
            err(r#"{"iptables": true, "foo": 1, "bar": true}"#),
            "the following directives don't match any configuration option: bar, foo"
        );
    }

    #[test]
    fn unknown_nested_key_found() {
        assert_eq!(
            err(r#"{"proxies": {"http-proxy": "http://p", "ftp-proxy": "x"}}"#),
            "the following directives don't match any configuration option: ftp-proxy"
        );
    }

    #[test]
    fn not_json() {
        assert_eq!(
            err("{\"iptables\": tru}"),
            "expected ident at line 1 column 17"
        );
    }

    #[test]
    fn not_an_object() {
        assert_eq!(
            err("[]"),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }

    #[test]
    fn bool_of_wrong_type() {
        assert_eq!(
            err(r#"{"iptables": "false"}"#),
            "json: cannot unmarshal string into Go struct field Config.iptables of type bool"
        );
        assert_eq!(
            err(r#"{"userland-proxy": 0}"#),
            "json: cannot unmarshal number into Go struct field Config.userland-proxy of type bool"
        );
    }

    #[test]
    fn mtu_not_an_integer() {
        assert_eq!(
            err(r#"{"mtu": 1.5}"#),
            "json: cannot unmarshal number 1.5 into Go struct field Config.mtu of type int"
        );
        assert_eq!(
            err(r#"{"mtu": "1500"}"#),
            "json: cannot unmarshal string into Go struct field Config.mtu of type int"
        );
    }

    #[test]
    fn negative_mtu() {
        assert_eq!(err(r#"{"mtu": -1}"#), "invalid default MTU: -1");
    }

    #[test]
    fn bad_ip() {
        assert_eq!(
            err(r#"{"ip": "1.2.3"}"#),
            "invalid ip: invalid IP address: 1.2.3"
        );
        assert_eq!(
            err(r#"{"ip": 0}"#),
            "json: cannot unmarshal number into Go struct field Config.ip of type net.IP"
        );
    }

    #[test]
    fn bip_not_cidr() {
        assert_eq!(
            err(r#"{"bip": "172.17.0.1"}"#),
            "parse bip failed: invalid CIDR address: 172.17.0.1"
        );
    }

    #[test]
    fn bip_ipv6() {
        assert_eq!(
            err(r#"{"bip": "2001:db8::1/64"}"#),
            "invalid bip: 2001:db8::1/64 is not an IPv4 subnet"
        );
    }

    #[test]
    fn fixed_cidr_not_cidr() {
        assert_eq!(
            err(r#"{"fixed-cidr": "nonsense"}"#),
            "parse fixed-cidr failed: invalid CIDR address: nonsense"
        );
    }

    #[test]
    fn fixed_cidr_outside_bip() {
        assert_eq!(
            err(r#"{"bip": "172.17.0.1/16", "fixed-cidr": "10.0.0.0/24"}"#),
            "fixed-cidr=10.0.0.0/24 is outside the subnet of bip=172.17.0.1/16"
        );
    }

    #[test]
    fn fixed_cidr_v6_link_local_clash() {
        assert_eq!(
            err(r#"{"fixed-cidr-v6": "fe80::/80"}"#),
            "invalid fixed-cidr-v6: 'fe80::/80' clashes with the Link-Local prefix 'fe80::/64'"
        );
    }

    #[test]
    fn fixed_cidr_v6_multicast() {
        assert_eq!(
            err(r#"{"fixed-cidr-v6": "ff02::/64"}"#),
            "invalid fixed-cidr-v6: multicast subnet 'ff02::/64' is not allowed"
        );
    }

    #[test]
    fn fixed_cidr_v6_ipv4() {
        assert_eq!(
            err(r#"{"fixed-cidr-v6": "10.0.0.0/8"}"#),
            "invalid fixed-cidr-v6: '10.0.0.0/8' is not a valid IPv6 subnet"
        );
    }

    #[test]
    fn fixed_cidr_v6_syntax() {
        assert_eq!(
            err(r#"{"fixed-cidr-v6": "2001:db8::"}"#),
            "invalid fixed-cidr-v6: netip.ParsePrefix(\"2001:db8::\"): no '/'"
        );
        assert_eq!(
            err(r#"{"fixed-cidr-v6": "2001:db8::/129"}"#),
            "invalid fixed-cidr-v6: netip.ParsePrefix(\"2001:db8::/129\"): prefix length out of range"
        );
        assert_eq!(
            err(r#"{"fixed-cidr-v6": "2001:db8::/064"}"#),
            "invalid fixed-cidr-v6: netip.ParsePrefix(\"2001:db8::/064\"): bad bits after slash: \"064\""
        );
        assert_eq!(
            err(r#"{"fixed-cidr-v6": "2001:zz8::/64"}"#),
            "invalid fixed-cidr-v6: netip.ParsePrefix(\"2001:zz8::/64\"): ParseAddr(\"2001:zz8::\"): unable to parse IP"
        );
    }

    #[test]
    fn bad_firewall_backend() {
        assert_eq!(
            err(r#"{"firewall-backend": "ipfw"}"#),
            "invalid firewall-backend: allowed values are \"iptables\" and \"nftables\""
        );
    }

    #[test]
    fn bridge_with_bip() {
        assert_eq!(
            err(r#"{"bridge": "br0", "bip": "10.0.0.1/24"}"#),
            "You specified -b & --bip, mutually exclusive options. Please specify only one"
        );
    }

    #[test]
    fn bridge_with_bip6() {
        assert_eq!(
            err(r#"{"bridge": "none", "bip6": "2001:db8::1/64"}"#),
            "You specified -b & --bip6, mutually exclusive options. Please specify only one"
        );
    }

    #[test]
    fn bad_bridge_name() {
        assert_eq!(
            err(r#"{"bridge": "a-very-long-bridge-name"}"#),
            "invalid bridge \"a-very-long-bridge-name\": interface name longer than 15 bytes"
        );
    }

    #[test]
    fn icc_off_without_iptables() {
        assert_eq!(
            err(r#"{"icc": false, "iptables": false}"#),
            "You specified --iptables=false with --icc=false. ICC=false uses iptables to function. Please set --icc or --iptables to true"
        );
    }

    #[test]
    fn icc_off_without_ip6tables() {
        assert_eq!(
            err(r#"{"icc": false, "ipv6": true, "ip6tables": false}"#),
            "You specified --ip6tables=false with --icc=false. ICC=false uses ip6tables to function. Please set --icc or --ip6tables to true"
        );
    }

    #[test]
    fn pool_size_smaller_than_base() {
        assert_eq!(
            err(r#"{"default-address-pools": [{"base": "10.10.0.0/16", "size": 8}]}"#),
            "invalid default-address-pools: network at index 0 (&{10.10.0.0/16 8}) has a smaller prefix (/16) than the target size of that pool (/8)"
        );
    }

    #[test]
    fn pool_without_size_or_base() {
        assert_eq!(
            err(
                r#"{"default-address-pools": [{"base": "10.10.0.0/16", "size": 24}, {"base": "10.11.0.0/16"}]}"#
            ),
            "invalid default-address-pools: network at index 1 (&{10.11.0.0/16 0}) is not in canonical form"
        );
        assert_eq!(
            err(r#"{"default-address-pools": [{"size": 24}]}"#),
            "invalid default-address-pools: network at index 0 (&{invalid Prefix 24}) is not in canonical form"
        );
    }

    #[test]
    fn pool_base_not_a_prefix() {
        assert_eq!(
            err(r#"{"default-address-pools": [{"base": "10.10.0.0", "size": 24}]}"#),
            "invalid default-address-pools: netip.ParsePrefix(\"10.10.0.0\"): no '/'"
        );
    }

    #[test]
    fn pool_size_too_long() {
        assert_eq!(
            err(r#"{"default-address-pools": [{"base": "10.10.0.0/16", "size": 33}]}"#),
            "invalid default-address-pools: network at index 0 (&{10.10.0.0/16 33}) has a target size (/33) longer than its addresses (/32)"
        );
    }

    #[test]
    fn pools_of_wrong_type() {
        assert_eq!(
            err(r#"{"default-address-pools": {"base": "10.0.0.0/8"}}"#),
            "the following directives don't match any configuration option: base"
        );
        assert_eq!(
            err(r#"{"default-address-pools": "10.0.0.0/8"}"#),
            "json: cannot unmarshal string into Go struct field Config.default-address-pools of type opts.PoolsOpt"
        );
        assert_eq!(
            err(r#"{"default-address-pools": [{"base": "10.0.0.0/8", "size": "24"}]}"#),
            "json: cannot unmarshal string into Go struct field NetworkToSplit.default-address-pools.size of type int"
        );
    }

    #[test]
    fn load_missing_file() {
        let path = Path::new("/nonexistent-bridgewall/daemon.json");
        assert_eq!(
            DaemonConfig::load(path).unwrap_err().to_string(),
            "unable to configure the Docker daemon with file /nonexistent-bridgewall/daemon.json: \
             open /nonexistent-bridgewall/daemon.json: no such file or directory"
        );
    }

    #[test]
    fn load_bad_content_names_the_file() {
        let path = temp_file("bad.json", br#"{"iptables": "yes"}"#);
        assert_eq!(
            DaemonConfig::load(&path).unwrap_err().to_string(),
            format!(
                "unable to configure the Docker daemon with file {}: \
                 json: cannot unmarshal string into Go struct field Config.iptables of type bool",
                path.display()
            )
        );
    }

    #[test]
    fn load_invalid_utf8() {
        let path = temp_file("latin1.json", b"{\"ip\": \"\xe9\"}");
        assert_eq!(
            DaemonConfig::load(&path).unwrap_err().to_string(),
            format!(
                "unable to configure the Docker daemon with file {}: \
                 failed to decode configuration JSON at offset 8: encoding: invalid UTF-8",
                path.display()
            )
        );
    }
}
