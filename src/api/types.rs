//! The network part of Docker Engine API 1.51 (Docker 28.5), as serde types
//! with Docker's JSON field names.
//!
//! Decoding follows Go's `encoding/json` as the daemon uses it: unknown
//! fields are ignored, missing fields take their zero value, and `null`
//! stands for the zero value too (the docker CLI sends `"Links": null`).
//! Encoding follows Go's field order and `omitempty` rules, so that what
//! `docker network inspect` prints from bridgewall looks like what it prints
//! from Docker. Maps are `BTreeMap`s because Go sorts map keys when encoding.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Decodes `null` (and a missing field, with `#[serde(default)]`) as the
/// type's zero value, as Go does.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Body of `POST /networks/create` (Go: `network.CreateRequest`).
///
/// The docker CLI 28 sends every field but `EnableIPv4`/`EnableIPv6` (only
/// when `--ipv4`/`--ipv6` is given) and `CheckDuplicate` (deprecated since
/// API 1.44, never sent by it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreateRequest {
    /// Driver name; empty means the daemon's default, `bridge`.
    #[serde(rename = "Driver", default, deserialize_with = "null_default")]
    pub driver: String,
    /// Requested scope (`local`, `swarm`, `global`); usually empty.
    #[serde(rename = "Scope", default, deserialize_with = "null_default")]
    pub scope: String,
    /// Whether to enable IPv4; `None` leaves the daemon's default (enabled).
    #[serde(
        rename = "EnableIPv4",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv4: Option<bool>,
    /// Whether to enable IPv6; `None` leaves the daemon's default.
    #[serde(
        rename = "EnableIPv6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv6: Option<bool>,
    /// IP address management; `None` is sent as `null`.
    #[serde(rename = "IPAM", default)]
    pub ipam: Option<Ipam>,
    /// Restrict external access to the network.
    #[serde(rename = "Internal", default, deserialize_with = "null_default")]
    pub internal: bool,
    /// Swarm only: attachable by standalone containers.
    #[serde(rename = "Attachable", default, deserialize_with = "null_default")]
    pub attachable: bool,
    /// Swarm only: the routing-mesh network.
    #[serde(rename = "Ingress", default, deserialize_with = "null_default")]
    pub ingress: bool,
    /// Create a configuration-only network.
    #[serde(rename = "ConfigOnly", default, deserialize_with = "null_default")]
    pub config_only: bool,
    /// The configuration-only network this one takes its configuration from.
    #[serde(rename = "ConfigFrom", default)]
    pub config_from: Option<ConfigReference>,
    /// Driver options (`-o`), e.g. `com.docker.network.bridge.enable_icc`.
    #[serde(rename = "Options", default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, String>,
    /// User labels (`--label`); a label given without `=` has value `""`.
    #[serde(rename = "Labels", default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    /// The network's name.
    #[serde(rename = "Name", default, deserialize_with = "null_default")]
    pub name: String,
    /// Deprecated since API 1.44 (duplicate names are always refused).
    #[serde(
        rename = "CheckDuplicate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub check_duplicate: Option<bool>,
}

/// A network's IP address management (Go: `network.IPAM`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipam {
    /// IPAM driver name (`default`).
    #[serde(rename = "Driver", default, deserialize_with = "null_default")]
    pub driver: String,
    /// IPAM driver options.
    #[serde(rename = "Options", default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, String>,
    /// One entry per subnet.
    #[serde(rename = "Config", default, deserialize_with = "null_default")]
    pub config: Vec<IpamConfig>,
}

/// One subnet of a network (Go: `network.IPAMConfig`); addresses are kept as
/// the strings the client sent, validation is the daemon's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamConfig {
    /// Subnet in CIDR form (`--subnet`).
    #[serde(
        rename = "Subnet",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet: String,
    /// Sub-range to allocate container addresses from (`--ip-range`).
    #[serde(
        rename = "IPRange",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_range: String,
    /// Gateway address (`--gateway`).
    #[serde(
        rename = "Gateway",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
    /// Reserved addresses by host name (`--aux-address`).
    #[serde(
        rename = "AuxiliaryAddresses",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub auxiliary_addresses: BTreeMap<String, String>,
}

/// Reference to a configuration-only network (Go: `network.ConfigReference`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigReference {
    /// Name of the configuration-only network.
    #[serde(rename = "Network", default, deserialize_with = "null_default")]
    pub network: String,
}

/// Response of `POST /networks/create` (Go: `network.CreateResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCreateResponse {
    /// The new network's 64-hex-digit ID; the CLI prints it.
    #[serde(rename = "Id", default, deserialize_with = "null_default")]
    pub id: String,
    /// A warning for the client; empty when there is none.
    #[serde(rename = "Warning", default, deserialize_with = "null_default")]
    pub warning: String,
}

/// A network as `GET /networks` and `GET /networks/{id}` return it (Go:
/// `network.Inspect`, of which `network.Summary` is an alias). Swarm's
/// `Peers` and `Services` are never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkResource {
    /// Name.
    #[serde(rename = "Name", default, deserialize_with = "null_default")]
    pub name: String,
    /// 64 hex digits.
    #[serde(rename = "Id", default, deserialize_with = "null_default")]
    pub id: String,
    /// Creation time, encoded in RFC 3339 with nanoseconds as Go does.
    #[serde(rename = "Created", with = "rfc3339_nano")]
    pub created: SystemTime,
    /// `local` for every network bridgewall manages.
    #[serde(rename = "Scope", default, deserialize_with = "null_default")]
    pub scope: String,
    /// Driver name (`bridge`, `host`, `null`).
    #[serde(rename = "Driver", default, deserialize_with = "null_default")]
    pub driver: String,
    /// Whether IPv4 is enabled.
    #[serde(rename = "EnableIPv4", default, deserialize_with = "null_default")]
    pub enable_ipv4: bool,
    /// Whether IPv6 is enabled.
    #[serde(rename = "EnableIPv6", default, deserialize_with = "null_default")]
    pub enable_ipv6: bool,
    /// IP address management, with the subnets actually in use.
    #[serde(rename = "IPAM", default, deserialize_with = "null_default")]
    pub ipam: Ipam,
    /// Whether external access is restricted.
    #[serde(rename = "Internal", default, deserialize_with = "null_default")]
    pub internal: bool,
    /// Swarm only.
    #[serde(rename = "Attachable", default, deserialize_with = "null_default")]
    pub attachable: bool,
    /// Swarm only.
    #[serde(rename = "Ingress", default, deserialize_with = "null_default")]
    pub ingress: bool,
    /// The configuration-only network this one was created from (empty
    /// `Network` when none).
    #[serde(rename = "ConfigFrom", default, deserialize_with = "null_default")]
    pub config_from: ConfigReference,
    /// Whether this is a configuration-only network.
    #[serde(rename = "ConfigOnly", default, deserialize_with = "null_default")]
    pub config_only: bool,
    /// Endpoints, keyed by container (or sandbox) ID.
    #[serde(rename = "Containers", default, deserialize_with = "null_default")]
    pub containers: BTreeMap<String, EndpointResource>,
    /// Driver options.
    #[serde(rename = "Options", default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, String>,
    /// User labels.
    #[serde(rename = "Labels", default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

impl Default for NetworkResource {
    /// Every field empty, `created` at the Unix epoch.
    fn default() -> Self {
        NetworkResource {
            name: String::new(),
            id: String::new(),
            created: SystemTime::UNIX_EPOCH,
            scope: String::new(),
            driver: String::new(),
            enable_ipv4: false,
            enable_ipv6: false,
            ipam: Ipam::default(),
            internal: false,
            attachable: false,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers: BTreeMap::new(),
            options: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }
}

/// One endpoint of a network (Go: `network.EndpointResource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointResource {
    /// Container (or sandbox) name.
    #[serde(rename = "Name", default, deserialize_with = "null_default")]
    pub name: String,
    /// Endpoint ID, 64 hex digits.
    #[serde(rename = "EndpointID", default, deserialize_with = "null_default")]
    pub endpoint_id: String,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    #[serde(rename = "MacAddress", default, deserialize_with = "null_default")]
    pub mac_address: String,
    /// IPv4 address with prefix length (`192.0.2.2/24`), or empty.
    #[serde(rename = "IPv4Address", default, deserialize_with = "null_default")]
    pub ipv4_address: String,
    /// IPv6 address with prefix length, or empty.
    #[serde(rename = "IPv6Address", default, deserialize_with = "null_default")]
    pub ipv6_address: String,
}

/// Response of `POST /networks/prune` (Go: `network.PruneReport`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworksPruneResponse {
    /// Names of the networks removed; the CLI prints them.
    #[serde(rename = "NetworksDeleted", default, deserialize_with = "null_default")]
    pub networks_deleted: Vec<String>,
}

/// Body of every error response: `{"message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error, as the CLI prints it after `Error response from daemon: `.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
}

/// Body of `POST /networks/{id}/connect` (Go: `network.ConnectOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConnectRequest {
    /// Container ID or name.
    #[serde(rename = "Container", default, deserialize_with = "null_default")]
    pub container: String,
    /// The endpoint's requested configuration.
    #[serde(
        rename = "EndpointConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint_config: Option<EndpointSettings>,
}

/// The configurable part of an endpoint (Go: `network.EndpointSettings`).
/// The operational fields the CLI also sends (`NetworkID`, `IPAddress`, ...)
/// are output-only and ignored, as the daemon ignores them on connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSettings {
    /// Static addresses (`--ip`, `--ip6`, `--link-local-ip`).
    #[serde(rename = "IPAMConfig", default)]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// Legacy links (`--link`), `container:alias`.
    #[serde(rename = "Links", default, deserialize_with = "null_default")]
    pub links: Vec<String>,
    /// Network-scoped aliases (`--alias`).
    #[serde(rename = "Aliases", default, deserialize_with = "null_default")]
    pub aliases: Vec<String>,
    /// Requested MAC address, or empty.
    #[serde(rename = "MacAddress", default, deserialize_with = "null_default")]
    pub mac_address: String,
    /// Endpoint driver options (`--driver-opt`).
    #[serde(rename = "DriverOpts", default, deserialize_with = "null_default")]
    pub driver_opts: BTreeMap<String, String>,
    /// Priority of this endpoint's gateway as the default route (`--gw-priority`).
    #[serde(rename = "GwPriority", default, deserialize_with = "null_default")]
    pub gw_priority: i64,
    /// DNS names the container is known by on this network.
    #[serde(rename = "DNSNames", default, deserialize_with = "null_default")]
    pub dns_names: Vec<String>,
}

/// Static addresses requested for an endpoint (Go: `network.EndpointIPAMConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointIpamConfig {
    /// IPv4 address, without prefix length.
    #[serde(
        rename = "IPv4Address",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    /// IPv6 address, without prefix length.
    #[serde(
        rename = "IPv6Address",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
    /// Link-local addresses.
    #[serde(
        rename = "LinkLocalIPs",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link_local_ips: Vec<String>,
}

/// Body of `POST /networks/{id}/disconnect` (Go: `network.DisconnectOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDisconnectRequest {
    /// Container ID or name.
    #[serde(rename = "Container", default, deserialize_with = "null_default")]
    pub container: String,
    /// Disconnect even if the container is not running.
    #[serde(rename = "Force", default, deserialize_with = "null_default")]
    pub force: bool,
}

/// Response of `GET /version` (Go: `types.Version`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemVersion {
    /// The product (`docker version` prints it after `Server:`).
    #[serde(rename = "Platform", default, deserialize_with = "null_default")]
    pub platform: Platform,
    /// The server's components, each with its version.
    #[serde(
        rename = "Components",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub components: Vec<ComponentVersion>,
    /// The server's version.
    #[serde(rename = "Version", default, deserialize_with = "null_default")]
    pub version: String,
    /// The highest API version served.
    #[serde(rename = "ApiVersion", default, deserialize_with = "null_default")]
    pub api_version: String,
    /// The lowest API version served.
    #[serde(
        rename = "MinAPIVersion",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub min_api_version: String,
    /// Source revision, when known.
    #[serde(rename = "GitCommit", default, deserialize_with = "null_default")]
    pub git_commit: String,
    /// Go's version in Docker; empty for bridgewall.
    #[serde(rename = "GoVersion", default, deserialize_with = "null_default")]
    pub go_version: String,
    /// Operating system, as Go names it (`linux`).
    #[serde(rename = "Os", default, deserialize_with = "null_default")]
    pub os: String,
    /// Architecture, as Go names it (`amd64`, `arm64`).
    #[serde(rename = "Arch", default, deserialize_with = "null_default")]
    pub arch: String,
    /// The running kernel's release.
    #[serde(
        rename = "KernelVersion",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub kernel_version: String,
}

/// The product a server is part of (Go: the anonymous `Platform` struct).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// Product name.
    #[serde(rename = "Name", default, deserialize_with = "null_default")]
    pub name: String,
}

/// One component of a server (Go: `types.ComponentVersion`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentVersion {
    /// Component name.
    #[serde(rename = "Name", default, deserialize_with = "null_default")]
    pub name: String,
    /// Component version.
    #[serde(rename = "Version", default, deserialize_with = "null_default")]
    pub version: String,
    /// Free-form details, printed by `docker version`.
    #[serde(
        rename = "Details",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub details: BTreeMap<String, String>,
}

/// Go's `time.RFC3339Nano` encoding of `time.Time`: UTC as `Z`, fractional
/// seconds with trailing zeros trimmed (none when zero).
pub mod rfc3339_nano {
    use super::*;

    /// Formats `time` as Go's `time.Time.MarshalJSON` does for a UTC time.
    pub fn format(time: SystemTime) -> Result<String, jiff::Error> {
        Ok(jiff::Timestamp::try_from(time)?.to_string())
    }

    /// Parses an RFC 3339 timestamp (any offset, any fraction) as Go's
    /// `time.Time.UnmarshalJSON` does.
    pub fn parse(text: &str) -> Result<SystemTime, jiff::Error> {
        SystemTime::try_from(text.parse::<jiff::Timestamp>()?)
    }

    /// Serde `serialize_with` for a `SystemTime` field.
    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        let text = format(*time).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }

    /// Serde `deserialize_with` for a `SystemTime` field.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Bodies captured from the docker CLI 28.2.2 (API 1.50) pointed at a
    // recording server.

    /// `docker network create --subnet 192.0.2.0/24 -o com.docker.network.bridge.enable_icc=false n1`
    const CLI_CREATE_N1: &str = r#"{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"192.0.2.0/24"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{"com.docker.network.bridge.enable_icc":"false"},"Labels":{},"Name":"n1"}"#;

    /// `docker network create --subnet 192.0.2.0/24 --gateway 192.0.2.1
    /// --ip-range 192.0.2.128/25 --ipv6 --internal --label a=b --label c n2`
    const CLI_CREATE_N2: &str = r#"{"Driver":"bridge","Scope":"","EnableIPv6":true,"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"192.0.2.0/24","IPRange":"192.0.2.128/25","Gateway":"192.0.2.1"}]},"Internal":true,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{"a":"b","c":""},"Name":"n2"}"#;

    /// `docker network create --ipv4=false --ipv6 n3`
    const CLI_CREATE_N3: &str = r#"{"Driver":"bridge","Scope":"","EnableIPv4":false,"EnableIPv6":true,"IPAM":{"Driver":"default","Options":{},"Config":[]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{},"Name":"n3"}"#;

    /// `docker network connect --ip 192.0.2.5 --ip6 2001:db8::5 --alias a1 n1 c1`
    const CLI_CONNECT: &str = r#"{"Container":"c1","EndpointConfig":{"IPAMConfig":{"IPv4Address":"192.0.2.5","IPv6Address":"2001:db8::5"},"Links":null,"Aliases":["a1"],"MacAddress":"","DriverOpts":{},"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}"#;

    /// `docker network disconnect -f n1 c1`
    const CLI_DISCONNECT: &str = r#"{"Container":"c1","Force":true}"#;

    #[test]
    fn create_request_as_the_cli_sends_it() {
        let req: NetworkCreateRequest = serde_json::from_str(CLI_CREATE_N1).unwrap();
        assert_eq!(req.name, "n1");
        assert_eq!(req.driver, "bridge");
        assert_eq!(req.enable_ipv4, None);
        assert_eq!(req.enable_ipv6, None);
        assert_eq!(req.config_from, None);
        let ipam = req.ipam.as_ref().unwrap();
        assert_eq!(ipam.driver, "default");
        assert_eq!(ipam.config.len(), 1);
        assert_eq!(ipam.config[0].subnet, "192.0.2.0/24");
        assert_eq!(ipam.config[0].gateway, "");
        assert_eq!(
            req.options
                .get("com.docker.network.bridge.enable_icc")
                .map(String::as_str),
            Some("false")
        );
        // Re-encoding gives the CLI's bytes back: same fields, same order.
        assert_eq!(serde_json::to_string(&req).unwrap(), CLI_CREATE_N1);

        let req: NetworkCreateRequest = serde_json::from_str(CLI_CREATE_N2).unwrap();
        assert_eq!(req.enable_ipv6, Some(true));
        assert!(req.internal);
        let cfg = &req.ipam.as_ref().unwrap().config[0];
        assert_eq!(
            (
                cfg.subnet.as_str(),
                cfg.ip_range.as_str(),
                cfg.gateway.as_str()
            ),
            ("192.0.2.0/24", "192.0.2.128/25", "192.0.2.1")
        );
        assert_eq!(req.labels.get("c").map(String::as_str), Some(""));
        assert_eq!(serde_json::to_string(&req).unwrap(), CLI_CREATE_N2);

        let req: NetworkCreateRequest = serde_json::from_str(CLI_CREATE_N3).unwrap();
        assert_eq!(
            (req.enable_ipv4, req.enable_ipv6),
            (Some(false), Some(true))
        );
        assert!(req.ipam.unwrap().config.is_empty());
    }

    #[test]
    fn create_request_tolerates_what_go_tolerates() {
        // Unknown fields, nulls for maps and strings, missing fields, the
        // deprecated CheckDuplicate.
        let req: NetworkCreateRequest = serde_json::from_str(
            r#"{"Name":"x","Options":null,"Labels":null,"Driver":null,"IPAM":{"Config":null},
                "CheckDuplicate":true,"SomethingNew":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(req.name, "x");
        assert!(req.options.is_empty() && req.labels.is_empty() && req.driver.is_empty());
        assert_eq!(req.check_duplicate, Some(true));
        assert!(req.ipam.unwrap().config.is_empty());
        assert_eq!(
            serde_json::from_str::<NetworkCreateRequest>("{}").unwrap(),
            NetworkCreateRequest::default()
        );
        // A wrong type is an error, as in Go.
        assert!(serde_json::from_str::<NetworkCreateRequest>(r#"{"Internal":"yes"}"#).is_err());
    }

    #[test]
    fn connect_and_disconnect_as_the_cli_sends_them() {
        let req: NetworkConnectRequest = serde_json::from_str(CLI_CONNECT).unwrap();
        assert_eq!(req.container, "c1");
        let ep = req.endpoint_config.unwrap();
        let ipam = ep.ipam_config.unwrap();
        assert_eq!(ipam.ipv4_address, "192.0.2.5");
        assert_eq!(ipam.ipv6_address, "2001:db8::5");
        assert_eq!(ep.aliases, ["a1"]);
        assert!(ep.links.is_empty() && ep.dns_names.is_empty());

        let req: NetworkDisconnectRequest = serde_json::from_str(CLI_DISCONNECT).unwrap();
        assert_eq!(req.container, "c1");
        assert!(req.force);
        assert_eq!(serde_json::to_string(&req).unwrap(), CLI_DISCONNECT);
    }

    fn sample_network() -> NetworkResource {
        NetworkResource {
            name: "n1".into(),
            id: "ab".repeat(32),
            created: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000),
            scope: "local".into(),
            driver: "bridge".into(),
            enable_ipv4: true,
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                options: BTreeMap::new(),
                config: vec![IpamConfig {
                    subnet: "192.0.2.0/24".into(),
                    gateway: "192.0.2.1".into(),
                    ..Default::default()
                }],
            },
            containers: BTreeMap::from([(
                "cd".repeat(32),
                EndpointResource {
                    name: "web".into(),
                    endpoint_id: "ef".repeat(32),
                    mac_address: "02:42:c0:00:02:02".into(),
                    ipv4_address: "192.0.2.2/24".into(),
                    ipv6_address: String::new(),
                },
            )]),
            options: BTreeMap::from([("com.docker.network.bridge.name".into(), "br0".into())]),
            ..Default::default()
        }
    }

    #[test]
    fn network_resource_is_encoded_as_docker_encodes_it() {
        let json = serde_json::to_string(&sample_network()).unwrap();
        let expected = format!(
            concat!(
                r#"{{"Name":"n1","Id":"{id}","Created":"2023-11-14T22:13:20.12Z","Scope":"local","#,
                r#""Driver":"bridge","EnableIPv4":true,"EnableIPv6":false,"#,
                r#""IPAM":{{"Driver":"default","Options":{{}},"Config":[{{"Subnet":"192.0.2.0/24","Gateway":"192.0.2.1"}}]}},"#,
                r#""Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{{"Network":""}},"ConfigOnly":false,"#,
                r#""Containers":{{"{cid}":{{"Name":"web","EndpointID":"{eid}","MacAddress":"02:42:c0:00:02:02","#,
                r#""IPv4Address":"192.0.2.2/24","IPv6Address":""}}}},"#,
                r#""Options":{{"com.docker.network.bridge.name":"br0"}},"Labels":{{}}}}"#
            ),
            id = "ab".repeat(32),
            cid = "cd".repeat(32),
            eid = "ef".repeat(32),
        );
        assert_eq!(json, expected);
        let back: NetworkResource = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sample_network());
    }

    #[test]
    fn network_resource_from_docker_with_swarm_fields_and_offsets() {
        // What a real daemon may send: a local offset, Peers, Services.
        let json = r#"{"Name":"x","Id":"1","Created":"2025-01-02T03:04:05.123456789+01:00",
            "Scope":"local","Driver":"bridge","IPAM":{"Driver":"default","Options":null,"Config":null},
            "Containers":null,"Options":null,"Labels":null,"Peers":[],"Services":{}}"#;
        let nw: NetworkResource = serde_json::from_str(json).unwrap();
        assert_eq!(
            rfc3339_nano::format(nw.created).unwrap(),
            "2025-01-02T02:04:05.123456789Z"
        );
        assert!(nw.containers.is_empty() && nw.ipam.config.is_empty());
    }

    #[test]
    fn created_has_go_rfc3339nano_shape() {
        let at = |s, n| rfc3339_nano::format(SystemTime::UNIX_EPOCH + Duration::new(s, n)).unwrap();
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1, 500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(at(1, 1), "1970-01-01T00:00:01.000000001Z");
        assert!(rfc3339_nano::parse("yesterday").is_err());
    }

    #[test]
    fn small_responses() {
        let resp: NetworksPruneResponse =
            serde_json::from_str(r#"{"NetworksDeleted":null}"#).unwrap();
        assert!(resp.networks_deleted.is_empty());
        let created = NetworkCreateResponse {
            id: "1".into(),
            warning: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&created).unwrap(),
            r#"{"Id":"1","Warning":""}"#
        );
        let err: ErrorResponse =
            serde_json::from_str(r#"{"message":"network x not found"}"#).unwrap();
        assert_eq!(err.message, "network x not found");
    }
}
