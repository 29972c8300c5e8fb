//! The networking part of a Compose file, resolved into a [`DesiredState`] as
//! `docker compose up` (v2, with Docker 28.5) would leave the daemon.
//!
//! What is read, and how it maps to Docker:
//! - Top-level `name` (normalised as Compose does: lowercase, only
//!   `[a-z0-9_-]`, no leading `_`/`-`), else the compose file's directory name.
//! - `networks`: `name` (default `<project>_<key>`), `driver` (bridge only),
//!   `driver_opts`, `enable_ipv4`, `enable_ipv6`, `internal`,
//!   `ipam.config[].subnet/gateway/ip_range`, `ipam.driver` (`default` only).
//!   A used `external` network is an error: bridgewall cannot preview a
//!   network it does not create. Networks no service uses are not created
//!   (Compose drops them), and the implicit `default` network exists only when
//!   a service uses it (a service with neither `networks` nor `network_mode`).
//! - `services`: `networks` (a list, or a mapping to `ipv4_address`,
//!   `ipv6_address`, `priority`, `gw_priority`), `network_mode` (`bridge` and
//!   `default` mean the default bridge; `host`, `none`, `service:…` and
//!   `container:…` give no endpoint), `ports` (short syntax as strings or
//!   integers, long syntax with `target`, `published`, `host_ip`, `protocol`,
//!   `mode`), `container_name` and `profiles` (a service with profiles is not
//!   started, as no profile is active). Other keys are ignored. Variables
//!   (`${...}`) are not interpolated.
//!
//! Order, which decides subnets, addresses and rule order:
//! - Networks: Compose creates them by iterating a Go map, so in no stable
//!   order; here they are created sorted by key (the order `docker compose
//!   config` prints them in), after the daemon's default bridge.
//! - Containers: one per service, in file order.
//! - A container's networks: Compose's `NetworksByPriority` (`priority` high
//!   first, then key). Compose passes them all at create time; the daemon then
//!   connects them in Go map order, so this is one of the orders Docker may use.
//! - Ports are published on the container's gateway endpoints only (see
//!   [`crate::model::state`]), with one host-port allocator for the project.
//!
//! The file is parsed into a [`serde_yaml::Value`] and walked by hand, so that
//! every error carries the path of the offending field
//! (`services.web.ports[1]: invalid containerPort: 80x`).

mod error;
mod yaml;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::IpNet;

use crate::firewall::types::Family;
use crate::model::daemon_config::DaemonConfig;
use crate::model::network::{BRIDGE_DRIVER, DRIVER_MTU, IpamConfig, NetworkError, NetworkSpec};
use crate::model::port_spec::{PortMapping, PortSpec};
use crate::model::state::{
    Attachment, DEFAULT_BRIDGE_NETWORK, DesiredState, StateBuilder, StateError,
};
pub use error::ComposeError;
use yaml::{Node, error_at};

/// Loads the compose file at `path`, for a daemon configured as `daemon`.
/// The project name defaults to the file's directory name.
pub fn load(path: &Path, daemon: &DaemonConfig) -> Result<DesiredState, ComposeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ComposeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let dir_name = std::path::absolute(path)
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    from_str(&text, &dir_name, daemon)
}

/// Resolves a compose file's text. `default_project_name` is used (after
/// normalisation) when the file has no top-level `name`.
pub fn from_str(
    text: &str,
    default_project_name: &str,
    daemon: &DaemonConfig,
) -> Result<DesiredState, ComposeError> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| ComposeError::Yaml(e.to_string()))?;
    let empty = serde_yaml::Value::Mapping(serde_yaml::Mapping::new());
    let root = Node::root(if value.is_null() { &empty } else { &value });
    if !root.is_mapping() {
        return Err(root.error("Top-level object must be a mapping"));
    }
    let project = project_name(&root, default_project_name)?;
    let networks = parse_networks(&root, &project)?;
    let services = parse_services(&root, &project)?;
    resolve(daemon, &project, networks, services)
}

/// Compose's `NormalizeProjectName`: lowercase, keep `[a-z0-9_-]`, trim
/// leading `_` and `-`.
pub fn normalize_project_name(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

fn project_name(root: &Node, default: &str) -> Result<String, ComposeError> {
    let (name, path) = match root.member("name")? {
        Some(node) => (normalize_project_name(node.string()?), "name"),
        None => (normalize_project_name(default), "(root)"),
    };
    if name.is_empty() {
        return Err(error_at(path, "project name must not be empty"));
    }
    Ok(name)
}

/// A top-level network, parsed.
struct NetworkDef {
    key: String,
    /// Whether `name` was set.
    named: bool,
    external: bool,
    spec: NetworkSpec,
}

fn parse_networks(root: &Node, project: &str) -> Result<Vec<NetworkDef>, ComposeError> {
    let mut defs = Vec::new();
    if let Some(networks) = root.member("networks")? {
        for (key, node) in networks.entries()? {
            defs.push(parse_network(project, key, &node)?);
        }
    }
    defs.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(defs)
}

fn parse_network(project: &str, key: &str, node: &Node) -> Result<NetworkDef, ComposeError> {
    let mut def = NetworkDef {
        key: key.to_string(),
        named: false,
        external: false,
        spec: NetworkSpec {
            name: format!("{project}_{key}"),
            driver: BRIDGE_DRIVER.to_string(),
            enable_ipv4: true,
            enable_ipv6: false,
            internal: false,
            ipam: Vec::new(),
            options: Default::default(),
        },
    };
    if node.is_null() {
        return Ok(def);
    }
    if let Some(name) = node.member("name")? {
        def.spec.name = name.string()?.to_string();
        def.named = true;
    }
    if let Some(external) = node.member("external")? {
        def.external = if external.is_mapping() {
            true
        } else {
            external.boolean()?
        };
        if def.external && !def.named {
            // External networks are looked up by their key, not prefixed.
            def.spec.name = key.to_string();
        }
    }
    if let Some(driver) = node.member("driver")? {
        def.spec.driver = driver.string()?.to_string();
    }
    if let Some(opts) = node.member("driver_opts")? {
        for (label, value) in opts.entries()? {
            def.spec.options.insert(label.to_string(), value.scalar()?);
        }
    }
    if let Some(v4) = node.member("enable_ipv4")? {
        def.spec.enable_ipv4 = v4.boolean()?;
    }
    if let Some(v6) = node.member("enable_ipv6")? {
        def.spec.enable_ipv6 = v6.boolean()?;
    }
    if let Some(internal) = node.member("internal")? {
        def.spec.internal = internal.boolean()?;
    }
    if let Some(ipam) = node.member("ipam")? {
        if let Some(driver) = ipam.member("driver")? {
            let driver = driver.string()?;
            if driver != "default" {
                return Err(error_at(
                    &ipam.key_path("driver"),
                    format!(
                        "unsupported IPAM driver {driver:?}: bridgewall only handles the \"default\" driver"
                    ),
                ));
            }
        }
        if let Some(configs) = ipam.member("config")? {
            for config in configs.items()? {
                def.spec.ipam.push(parse_ipam_config(&config)?);
            }
        }
    }
    Ok(def)
}

fn parse_ipam_config(node: &Node) -> Result<IpamConfig, ComposeError> {
    let field = |name: &str| -> Result<Option<(Node, String)>, ComposeError> {
        node.member(name)?
            .map(|value| {
                let text = value.string()?.to_string();
                Ok((value, text))
            })
            .transpose()
    };
    let (subnet, ip_range, gateway) = (field("subnet")?, field("ip_range")?, field("gateway")?);
    let text = |f: &Option<(Node, String)>| f.as_ref().map(|(_, t)| t.clone());
    let (s, r, g) = (text(&subnet), text(&ip_range), text(&gateway));
    IpamConfig::parse(s.as_deref(), r.as_deref(), g.as_deref()).map_err(|e| {
        let culprit = match e.field {
            "subnet" => subnet,
            "ip_range" => ip_range,
            _ => gateway,
        };
        match culprit {
            Some((value, _)) => value.error(e.message),
            None => node.error(e.message),
        }
    })
}

/// How a service's container is networked.
enum NetMode {
    /// Connected to networks (by key).
    Networks(Vec<AttachDef>),
    /// `network_mode: bridge`: the daemon's default bridge.
    DefaultBridge,
    /// `host` or `none`: no endpoint; published ports are discarded.
    NoEndpoint,
    /// `service:…` or `container:…`: another container's namespace.
    Shared,
}

/// A service's attachment to a network, parsed.
struct AttachDef {
    key: String,
    /// Path of the attachment (`services.web.networks.front`), or of the
    /// service when the network is the implicit default one.
    path: String,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    priority: i64,
    gw_priority: i64,
}

/// A service, parsed: its container and how it is networked.
struct ServiceDef {
    key: String,
    path: String,
    container: String,
    mode: NetMode,
    mode_path: String,
    ports: Vec<PortMapping>,
}

fn parse_services(root: &Node, project: &str) -> Result<Vec<ServiceDef>, ComposeError> {
    let Some(services) = root.member("services")? else {
        return Ok(Vec::new());
    };
    let mut defs = Vec::new();
    for (key, node) in services.entries()? {
        if node.is_null() {
            return Err(node.error("must be a mapping, not null"));
        }
        if let Some(profiles) = node.member("profiles")?
            && !profiles.items()?.is_empty()
        {
            continue;
        }
        defs.push(parse_service(project, key, &node)?);
    }
    Ok(defs)
}

fn parse_service(project: &str, key: &str, node: &Node) -> Result<ServiceDef, ComposeError> {
    let path = node.path().to_string();
    let container = match node.member("container_name")? {
        Some(name) => name.string()?.to_string(),
        None => format!("{project}-{key}-1"),
    };
    let networks = node.member("networks")?;
    let network_mode = node.member("network_mode")?;
    let attachments = match &networks {
        Some(networks) => parse_attachments(networks)?,
        None => Vec::new(),
    };
    let mode = match &network_mode {
        Some(mode_node) => {
            if !attachments.is_empty() {
                return Err(error_at(
                    &path,
                    format!(
                        "service {key} declares mutually exclusive `network_mode` and `networks`: invalid compose project"
                    ),
                ));
            }
            match mode_node.string()? {
                "bridge" | "default" => NetMode::DefaultBridge,
                "host" | "none" => NetMode::NoEndpoint,
                mode if mode.starts_with("service:") || mode.starts_with("container:") => {
                    NetMode::Shared
                }
                other => {
                    return Err(mode_node.error(format!(
                        "unsupported network_mode {other:?}: bridgewall handles bridge, host, none, service:NAME and container:NAME"
                    )));
                }
            }
        }
        None if attachments.is_empty() => NetMode::Networks(vec![AttachDef {
            key: "default".to_string(),
            path: path.clone(),
            ipv4: None,
            ipv6: None,
            priority: 0,
            gw_priority: 0,
        }]),
        None => NetMode::Networks(attachments),
    };
    let mut ports = Vec::new();
    let mut has_ports = false;
    if let Some(list) = node.member("ports")? {
        for item in list.items()? {
            has_ports = true;
            ports.extend(parse_port(&item)?.mappings());
        }
    }
    if has_ports && matches!(mode, NetMode::Shared) {
        return Err(error_at(
            &node.key_path("ports"),
            "conflicting options: port publishing and the container type network mode",
        ));
    }
    Ok(ServiceDef {
        key: key.to_string(),
        mode_path: node.key_path("network_mode"),
        path,
        container,
        mode,
        ports,
    })
}

fn parse_attachments(networks: &Node) -> Result<Vec<AttachDef>, ComposeError> {
    let mut attachments = Vec::new();
    if networks.is_sequence() {
        for item in networks.items()? {
            attachments.push(AttachDef {
                key: item.string()?.to_string(),
                path: item.path().to_string(),
                ipv4: None,
                ipv6: None,
                priority: 0,
                gw_priority: 0,
            });
        }
        return Ok(attachments);
    }
    for (key, config) in networks.entries()? {
        let mut attachment = AttachDef {
            key: key.to_string(),
            path: networks.key_path(key),
            ipv4: None,
            ipv6: None,
            priority: 0,
            gw_priority: 0,
        };
        if !config.is_null() {
            if let Some(addr) = config.member("ipv4_address")? {
                let text = addr.string()?;
                attachment.ipv4 = Some(
                    text.parse::<Ipv4Addr>()
                        .ok()
                        .filter(|a| !a.is_unspecified())
                        .ok_or_else(|| addr.error(format!("invalid IPv4 address: {text}")))?,
                );
            }
            if let Some(addr) = config.member("ipv6_address")? {
                let text = addr.string()?;
                attachment.ipv6 = Some(
                    text.parse::<Ipv6Addr>()
                        .ok()
                        .filter(|a| !a.is_unspecified() && a.to_ipv4_mapped().is_none())
                        .ok_or_else(|| addr.error(format!("invalid IPv6 address: {text}")))?,
                );
            }
            if let Some(priority) = config.member("priority")? {
                attachment.priority = priority.integer()?;
            }
            if let Some(priority) = config.member("gw_priority")? {
                attachment.gw_priority = priority.integer()?;
            }
        }
        attachments.push(attachment);
    }
    Ok(attachments)
}

fn parse_port(item: &Node) -> Result<PortSpec, ComposeError> {
    let wrap = |e: crate::model::port_spec::PortSpecError| item.error(e.to_string());
    if item.is_integer() || !item.is_mapping() {
        let text = if item.is_integer() {
            item.scalar()?
        } else {
            item.string()?.to_string()
        };
        return PortSpec::parse(&text).map_err(wrap);
    }
    let target_node = item
        .member("target")?
        .ok_or_else(|| item.error("target is required"))?;
    let target = target_node.integer()?;
    let target = u16::try_from(target)
        .ok()
        .ok_or_else(|| target_node.error(format!("invalid containerPort: {target}")))?;
    let published = item.member("published")?.map(|p| p.scalar()).transpose()?;
    let host_ip = item.member("host_ip")?.map(|h| h.string()).transpose()?;
    let protocol = item.member("protocol")?.map(|p| p.string()).transpose()?;
    if let Some(mode) = item.member("mode")? {
        let mode = mode.string()?;
        if mode != "host" && mode != "ingress" {
            return Err(item.error(format!(
                "invalid port mode {mode:?}: must be host or ingress"
            )));
        }
    }
    PortSpec::from_long(target, published.as_deref(), host_ip, protocol).map_err(wrap)
}

/// Creates the used networks, then the containers, with Docker's semantics.
fn resolve(
    daemon: &DaemonConfig,
    project: &str,
    networks: Vec<NetworkDef>,
    services: Vec<ServiceDef>,
) -> Result<DesiredState, ComposeError> {
    // Every referenced network must be declared (`default` is implicit).
    for service in &services {
        if let NetMode::Networks(attachments) = &service.mode {
            for a in attachments {
                if a.key != "default" && !networks.iter().any(|n| n.key == a.key) {
                    return Err(error_at(
                        &a.path,
                        format!(
                            "service {:?} refers to undefined network {}: invalid compose project",
                            service.key, a.key
                        ),
                    ));
                }
            }
        }
    }
    let used = |key: &str| {
        services.iter().any(|s| match &s.mode {
            NetMode::Networks(attachments) => attachments.iter().any(|a| a.key == key),
            _ => false,
        })
    };
    let mut all = networks;
    if used("default") && !all.iter().any(|n| n.key == "default") {
        all.push(parse_network(
            project,
            "default",
            &Node::root(&serde_yaml::Value::Null),
        )?);
        all.sort_by(|a, b| a.key.cmp(&b.key));
    }

    let mut builder =
        StateBuilder::new(daemon.clone()).map_err(|e| ComposeError::Daemon(Box::new(e)))?;
    let mut names: Vec<(String, String)> = Vec::new(); // (key, Docker name)
    for def in all.iter().filter(|d| used(&d.key)) {
        let base = format!("networks.{}", def.key);
        if def.external {
            return Err(error_at(
                &format!("{base}.external"),
                format!(
                    "network {} is external: bridgewall cannot preview a network it does not create",
                    def.spec.name
                ),
            ));
        }
        builder
            .add_network(&def.spec)
            .map_err(|e| network_state_error(def, &base, e))?;
        names.push((def.key.clone(), def.spec.name.clone()));
    }

    for service in &services {
        let attachments: Vec<(Attachment, &AttachDef)> = match &service.mode {
            NetMode::Networks(defs) => {
                let mut sorted: Vec<&AttachDef> = defs.iter().collect();
                sorted.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.key.cmp(&b.key)));
                sorted
                    .into_iter()
                    .map(|a| {
                        let name = names
                            .iter()
                            .find(|(key, _)| *key == a.key)
                            .map(|(_, name)| name.clone())
                            .unwrap_or_default();
                        let attachment = Attachment {
                            network: name,
                            ipv4_address: a.ipv4,
                            ipv6_address: a.ipv6,
                            gw_priority: a.gw_priority,
                            reuse: false,
                        };
                        (attachment, a)
                    })
                    .collect()
            }
            NetMode::DefaultBridge => Vec::new(),
            NetMode::NoEndpoint | NetMode::Shared => continue,
        };
        let list: Vec<Attachment> = match service.mode {
            NetMode::DefaultBridge => vec![Attachment::new(DEFAULT_BRIDGE_NETWORK)],
            _ => attachments.iter().map(|(a, _)| a.clone()).collect(),
        };
        builder
            .add_container(&service.container, &list, &service.ports)
            .map_err(|e| service_state_error(service, &attachments, e))?;
    }
    Ok(builder.build())
}

/// The path and message of an error creating network `def`.
fn network_state_error(def: &NetworkDef, base: &str, error: StateError) -> ComposeError {
    let ipam_path = |family: Family, field: &str| {
        def.spec
            .ipam
            .iter()
            .position(|c| {
                c.subnet
                    .is_some_and(|s| matches!(s, IpNet::V6(_)) == (family == Family::V6))
            })
            .map(|index| format!("{base}.ipam.config[{index}].{field}"))
            .unwrap_or_else(|| base.to_string())
    };
    let path = match &error {
        StateError::InvalidNetwork { source, .. } => match source {
            NetworkError::Predefined(_) | NetworkError::EmptyName if def.named => {
                format!("{base}.name")
            }
            NetworkError::UnsupportedDriver { .. } => format!("{base}.driver"),
            NetworkError::InvalidIpam(_)
            | NetworkError::MultipleSubnets
            | NetworkError::Ipv6Subnet(_) => format!("{base}.ipam.config"),
            NetworkError::ParseOption { label, .. } => format!("{base}.driver_opts.{label}"),
            NetworkError::InvalidMtu(_) => format!("{base}.driver_opts.{DRIVER_MTU}"),
            NetworkError::IsolatedNotInternal => format!("{base}.driver_opts"),
            NetworkError::NoFamilyEnabled => format!("{base}.enable_ipv4"),
            _ => base.to_string(),
        },
        StateError::Subnet { family, .. } => ipam_path(*family, "subnet"),
        StateError::Gateway {
            family,
            gateway: Some(_),
            ..
        } => ipam_path(*family, "gateway"),
        StateError::DuplicateNetwork { .. } if def.named => format!("{base}.name"),
        _ => base.to_string(),
    };
    error_at(&path, error.to_string())
}

/// The path and message of an error connecting `service`'s container.
fn service_state_error(
    service: &ServiceDef,
    attachments: &[(Attachment, &AttachDef)],
    error: StateError,
) -> ComposeError {
    let path = match &error {
        StateError::Address {
            network, family, ..
        } => attachments
            .iter()
            .find(|(a, _)| a.network == *network)
            .map(|(a, def)| {
                let explicit = match family {
                    Family::V4 => a.ipv4_address.is_some(),
                    Family::V6 => a.ipv6_address.is_some(),
                };
                match (explicit, family) {
                    (true, Family::V4) => format!("{}.ipv4_address", def.path),
                    (true, Family::V6) => format!("{}.ipv6_address", def.path),
                    (false, _) => def.path.clone(),
                }
            })
            .unwrap_or_else(|| service.path.clone()),
        StateError::Binding { .. } => format!("{}.ports", service.path),
        StateError::UnknownNetwork { .. } => service.mode_path.clone(),
        _ => service.path.clone(),
    };
    error_at(&path, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::types::{GatewayMode, PortBinding, Protocol};
    use std::net::IpAddr;

    fn load_str(text: &str) -> Result<DesiredState, ComposeError> {
        from_str(text, "My App!", &DaemonConfig::default())
    }

    fn state(text: &str) -> DesiredState {
        load_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(text: &str) -> String {
        match load_str(text) {
            Ok(_) => panic!("no error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn tcp(container_ip: &str, port: u16, host_ip: &str, host_port: u16) -> PortBinding {
        PortBinding {
            proto: Protocol::Tcp,
            container_ip: ip(container_ip),
            container_port: port,
            host_ip: ip(host_ip),
            host_port,
        }
    }

    fn net<'a>(s: &'a DesiredState, name: &str) -> &'a crate::model::state::ResolvedNetwork {
        s.networks.iter().find(|n| n.name == name).unwrap()
    }

    #[test]
    fn default_network_and_published_port() {
        let s = state(
            "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n  db:\n    image: postgres\n",
        );
        let names: Vec<&str> = s.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["bridge", "myapp_default"]);
        let default = net(&s, "myapp_default");
        assert_eq!(*default.bridge, format!("br-{}", &default.id[..12]));
        assert_eq!(
            default.v4.as_ref().unwrap().subnet.to_string(),
            "172.18.0.0/16"
        );
        let web = &s.endpoints[0];
        assert_eq!(web.container, "myapp-web-1");
        assert_eq!(web.v4, Some("172.18.0.2".parse().unwrap()));
        assert_eq!(
            web.bindings,
            [
                tcp("172.18.0.2", 80, "0.0.0.0", 8080),
                tcp("172.18.0.2", 80, "::", 8080)
            ]
        );
        assert_eq!(s.endpoints[1].container, "myapp-db-1");
        assert_eq!(s.endpoints[1].v4, Some("172.18.0.3".parse().unwrap()));
        let fw = s.firewall_state();
        assert!(fw.daemon_level);
        assert_eq!(fw.endpoints[0].network, default.bridge);
    }

    #[test]
    fn project_name_comes_from_the_file_then_the_directory() {
        let s = state("name: Shop_2\nservices:\n  web: {image: x}\n");
        assert_eq!(s.networks[1].name, "shop_2_default");
        let s = from_str(
            "services:\n  web: {image: x}\n",
            "-Dir.Name",
            &DaemonConfig::default(),
        )
        .unwrap();
        assert_eq!(s.networks[1].name, "dirname_default");
    }

    #[test]
    fn explicit_subnets_addresses_and_unused_networks() {
        let s = state(
            r#"
services:
  app:
    image: app
    networks:
      back:
        ipv4_address: 10.5.0.10
      front:
networks:
  zz_unused: {}
  front:
    name: custom-front
    driver_opts:
      com.docker.network.bridge.name: br-front
      com.docker.network.bridge.enable_icc: "false"
  back:
    internal: true
    ipam:
      config:
        - subnet: 10.5.0.0/24
          gateway: 10.5.0.254
"#,
        );
        let names: Vec<&str> = s.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["bridge", "myapp_back", "custom-front"]);
        let back = net(&s, "myapp_back");
        assert_eq!(back.v4.as_ref().unwrap().gateway, Some(ip("10.5.0.254")));
        let front = net(&s, "custom-front");
        assert_eq!(front.bridge, "br-front");
        assert!(!front.options.enable_icc);
        assert_eq!(
            front.v4.as_ref().unwrap().subnet.to_string(),
            "172.18.0.0/16"
        );
        let eps: Vec<(&str, Option<Ipv4Addr>)> = s
            .endpoints
            .iter()
            .map(|e| (e.network.as_str(), e.v4))
            .collect();
        assert_eq!(
            eps,
            [
                ("myapp_back", Some("10.5.0.10".parse().unwrap())),
                ("custom-front", Some("172.18.0.2".parse().unwrap()))
            ]
        );
    }

    #[test]
    fn ip_range_gateway_is_the_first_address_of_the_range() {
        let s = state(
            "services:\n  a: {image: x}\nnetworks:\n  default:\n    ipam:\n      config:\n        - subnet: 172.28.0.0/16\n          ip_range: 172.28.5.0/24\n",
        );
        let subnet = net(&s, "myapp_default").v4.clone().unwrap();
        assert_eq!(subnet.gateway, Some(ip("172.28.5.0")));
        assert_eq!(subnet.ip_range.unwrap().to_string(), "172.28.5.0/24");
        assert_eq!(s.endpoints[0].v4, Some("172.28.5.1".parse().unwrap()));
    }

    #[test]
    fn short_and_long_port_syntax_with_ranges() {
        let s = state(
            r#"
services:
  web:
    image: x
    ports:
      - 53
      - "127.0.0.1::9000/udp"
      - "[::1]:8443:443"
      - "7000-7001:7000-7001"
      - target: 80
        published: "8080-8081"
        host_ip: 0.0.0.0
        protocol: tcp
        mode: host
"#,
        );
        let b = &s.endpoints[0].bindings;
        let find = |port: u16, host: &str| {
            b.iter()
                .find(|x| x.container_port == port && x.host_ip == ip(host))
                .map(|x| x.host_port)
        };
        assert_eq!(find(80, "0.0.0.0"), Some(8080));
        assert_eq!(find(443, "::1"), Some(8443));
        assert_eq!(find(7001, "0.0.0.0"), Some(7001));
        assert_eq!(find(53, "0.0.0.0"), Some(32768));
        let udp = b.iter().find(|x| x.proto == Protocol::Udp).unwrap();
        assert_eq!((udp.host_ip, udp.container_port), (ip("127.0.0.1"), 9000));
        assert!(udp.host_port >= 32768);
    }

    #[test]
    fn ipv6_network_gets_a_ula_subnet() {
        let s = state(
            "services:\n  web:\n    image: x\n    ports: [\"80:80\"]\nnetworks:\n  default:\n    enable_ipv6: true\n",
        );
        let default = net(&s, "myapp_default");
        let v6 = default.v6.as_ref().unwrap();
        assert_eq!(v6.subnet.to_string(), "fd42:98fc:1c14::/64");
        assert_eq!(v6.gateway, Some(ip("fd42:98fc:1c14::1")));
        let web = &s.endpoints[0];
        assert_eq!(web.v6, Some("fd42:98fc:1c14::2".parse().unwrap()));
        assert!(
            web.bindings
                .contains(&tcp("fd42:98fc:1c14::2", 80, "::", 80))
        );
    }

    #[test]
    fn routed_ipv6_network_opens_ports_without_nat() {
        let s = state(
            r#"
services:
  web:
    image: nginx
    ports: ["8080:80"]
networks:
  default:
    enable_ipv6: true
    driver_opts:
      com.docker.network.bridge.gateway_mode_ipv6: routed
    ipam:
      config:
        - subnet: 2001:db8::/64
"#,
        );
        let default = net(&s, "myapp_default");
        assert_eq!(default.options.gateway_mode_ipv6, GatewayMode::Routed);
        let fw = s.firewall_state();
        assert_eq!(
            fw.networks[1].v6.as_ref().unwrap().gateway_mode,
            GatewayMode::Routed
        );
        assert_eq!(
            s.endpoints[0].bindings,
            [
                tcp("172.18.0.2", 80, "0.0.0.0", 8080),
                tcp("2001:db8::2", 80, "::", 0)
            ]
        );
    }

    #[test]
    fn ports_go_to_the_gateway_endpoint_only() {
        let s = state(
            r#"
services:
  app:
    image: x
    ports: ["8080:80"]
    networks: [aaa, zzz]
networks:
  aaa:
    internal: true
  zzz: {}
"#,
        );
        let with_ports: Vec<&str> = s
            .endpoints
            .iter()
            .filter(|e| !e.bindings.is_empty())
            .map(|e| e.network.as_str())
            .collect();
        assert_eq!(with_ports, ["myapp_zzz"]);
    }

    #[test]
    fn network_priority_orders_endpoints_and_gw_priority_picks_the_gateway() {
        let s = state(
            r#"
services:
  app:
    image: x
    ports: ["8080:80"]
    networks:
      aaa: {}
      bbb:
        priority: 10
      ccc:
        gw_priority: 5
networks:
  aaa: {}
  bbb: {}
  ccc: {}
"#,
        );
        let order: Vec<&str> = s.endpoints.iter().map(|e| e.network.as_str()).collect();
        assert_eq!(order, ["myapp_bbb", "myapp_aaa", "myapp_ccc"]);
        let with_ports: Vec<&str> = s
            .endpoints
            .iter()
            .filter(|e| !e.bindings.is_empty())
            .map(|e| e.network.as_str())
            .collect();
        assert_eq!(with_ports, ["myapp_ccc"]);
        // Networks are created sorted by key: subnets follow that order.
        assert_eq!(
            net(&s, "myapp_aaa").v4.as_ref().unwrap().subnet.to_string(),
            "172.18.0.0/16"
        );
        assert_eq!(
            net(&s, "myapp_ccc").v4.as_ref().unwrap().subnet.to_string(),
            "172.20.0.0/16"
        );
    }

    #[test]
    fn default_bridge_host_and_shared_modes() {
        let s = state(
            r#"
services:
  legacy:
    image: x
    network_mode: bridge
    ports: ["9090:90"]
  hostnet:
    image: x
    network_mode: host
    ports: ["80:80"]
  sidecar:
    image: x
    network_mode: "service:legacy"
"#,
        );
        assert_eq!(s.networks.len(), 1);
        assert_eq!(s.endpoints.len(), 1);
        assert_eq!(s.endpoints[0].network, "bridge");
        assert_eq!(s.endpoints[0].v4, Some("172.17.0.2".parse().unwrap()));
        assert_eq!(
            s.endpoints[0].bindings[0],
            tcp("172.17.0.2", 90, "0.0.0.0", 9090)
        );
    }

    #[test]
    fn services_with_profiles_are_not_started() {
        let s = state("services:\n  a: {image: x}\n  b:\n    image: x\n    profiles: [debug]\n");
        assert_eq!(s.endpoints.len(), 1);
    }

    #[test]
    fn bad_inputs_are_reported_with_their_path() {
        let cases: &[(&str, &str)] = &[
            (
                "services:\n  web:\n    image: x\n    ports: [\"80:80\", \"80x\"]\n",
                "services.web.ports[1]: invalid containerPort: 80x",
            ),
            (
                "services:\n  web:\n    image: x\n    networks: [front]\n",
                "services.web.networks[0]: service \"web\" refers to undefined network front: invalid compose project",
            ),
            (
                "services:\n  web:\n    image: x\n    network_mode: host\n    networks: [front]\nnetworks:\n  front: {}\n",
                "services.web: service web declares mutually exclusive `network_mode` and `networks`: invalid compose project",
            ),
            (
                "services:\n  web: {image: x}\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.enable_icc: maybe\n",
                "networks.default.driver_opts.com.docker.network.bridge.enable_icc: failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing \"maybe\": invalid syntax)",
            ),
            (
                "services:\n  web: {image: x, networks: [ext]}\nnetworks:\n  ext:\n    external: true\n",
                "networks.ext.external: network ext is external: bridgewall cannot preview a network it does not create",
            ),
            (
                "services:\n  a: {image: x, networks: [n1, n2]}\nnetworks:\n  n1:\n    ipam: {config: [{subnet: 10.1.0.0/16}]}\n  n2:\n    ipam: {config: [{subnet: 10.1.2.0/24}]}\n",
                "networks.n2.ipam.config[0].subnet: invalid pool request: Pool overlaps with other one on this address space (10.1.2.0/24)",
            ),
            (
                "services:\n  a:\n    image: x\n    networks:\n      n1: {ipv4_address: 10.9.0.5}\nnetworks:\n  n1:\n    ipam: {config: [{subnet: 10.1.0.0/16}]}\n",
                "services.a.networks.n1.ipv4_address: no configured subnet or ip-range contain the IP address 10.9.0.5",
            ),
            (
                "services:\n  a:\n    image: x\n    networks:\n      n1: {ipv4_address: 172.18.0.9}\nnetworks:\n  n1: {}\n",
                "services.a.networks.n1.ipv4_address: user specified IP address is supported only when connecting to networks with user configured subnets",
            ),
            (
                "services:\n  a: {image: x, ports: [\"8080:80\"]}\n  b: {image: x, ports: [\"8080:81\"]}\n",
                "services.b.ports: Bind for 0.0.0.0:8080 failed: port is already allocated",
            ),
            (
                "services:\n  a: {image: x, ports: \"8080:80\"}\n",
                "services.a.ports: must be a list, not the string \"8080:80\"",
            ),
            (
                "services:\n  a: {image: x}\nnetworks:\n  default:\n    enable_ipv6: maybe\n",
                "networks.default.enable_ipv6: must be a boolean, not the string \"maybe\"",
            ),
            (
                "services:\n  a: {image: x}\nnetworks:\n  default:\n    ipam: {config: [{subnet: 10.0.0/8}]}\n",
                "networks.default.ipam.config[0].subnet: invalid subnet 10.0.0/8: invalid CIDR block notation",
            ),
            (
                "services:\n  a: {image: x}\nnetworks:\n  default:\n    ipam: {driver: dhcp}\n",
                "networks.default.ipam.driver: unsupported IPAM driver \"dhcp\": bridgewall only handles the \"default\" driver",
            ),
            (
                "services:\n  a: {image: x, ports: [{published: 80}]}\n",
                "services.a.ports[0]: target is required",
            ),
            (
                "services:\n  a:\n    image: x\n    networks: {n: {ipv4_address: 10.5.0.9}}\n  b:\n    image: x\n    networks: {n: {ipv4_address: 10.5.0.9}}\nnetworks:\n  n:\n    ipam: {config: [{subnet: 10.5.0.0/24}]}\n",
                "services.b.networks.n.ipv4_address: Address already in use: 10.5.0.9",
            ),
            (
                "services:\n  a: {image: x, network_mode: mynet}\n",
                "services.a.network_mode: unsupported network_mode \"mynet\": bridgewall handles bridge, host, none, service:NAME and container:NAME",
            ),
            (
                "name: \"__\"\nservices:\n  a: {image: x}\n",
                "name: project name must not be empty",
            ),
            (
                "services:\n  a: {image: x, network_mode: \"service:b\", ports: [\"80:80\"]}\n",
                "services.a.ports: conflicting options: port publishing and the container type network mode",
            ),
            ("- a\n- b\n", "(root): Top-level object must be a mapping"),
            (
                "services:\n  a: {image: x}\nnetworks:\n  default:\n    driver: overlay\n",
                "networks.default.driver: network myapp_default: unsupported driver \"overlay\": bridgewall only handles the \"bridge\" driver",
            ),
            (
                "services:\n  a:\n    image: x\n    networks:\n      default: {ipv4_address: 300.1.1.1}\n",
                "services.a.networks.default.ipv4_address: invalid IPv4 address: 300.1.1.1",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), *expected, "for:\n{text}");
        }
    }

    #[test]
    fn example_files_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose");
        let daemon = DaemonConfig::default();

        let web = load(&dir.join("web.yml"), &daemon).unwrap();
        let names: Vec<&str> = web.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["bridge", "shop_back", "shop_front"]);
        let published: Vec<&str> = web
            .endpoints
            .iter()
            .filter(|e| !e.bindings.is_empty())
            .map(|e| e.network.as_str())
            .collect();
        assert_eq!(published, ["shop_front"]);

        let routed = load(&dir.join("routed-ipv6.yml"), &daemon).unwrap();
        let web = &routed.endpoints[0];
        assert_eq!(web.v6, Some("2001:db8:123::2".parse().unwrap()));
        assert!(web.bindings.contains(&tcp("2001:db8:123::2", 80, "::", 0)));
        assert!(
            web.bindings
                .iter()
                .any(|b| b.host_ip == ip("0.0.0.0") && b.host_port == 32768)
        );

        let jobs = load(&dir.join("internal.yml"), &daemon).unwrap();
        let internal = net(&jobs, "jobs_jobs").v4.clone().unwrap();
        assert_eq!(internal.gateway, Some(ip("172.30.0.128")));
        let worker = jobs
            .endpoints
            .iter()
            .find(|e| e.container == "jobs-worker-1")
            .unwrap();
        assert_eq!(worker.v4, Some("172.30.0.129".parse().unwrap()));
        let api: Vec<(&str, usize)> = jobs
            .endpoints
            .iter()
            .filter(|e| e.container == "jobs-api-1")
            .map(|e| (e.network.as_str(), e.bindings.len()))
            .collect();
        assert_eq!(api, [("jobs_jobs", 0), ("jobs_public", 2)]);
    }

    #[test]
    fn unreadable_files_name_the_path() {
        let err = load(
            Path::new("/nonexistent/compose.yml"),
            &DaemonConfig::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/compose.yml: "),
            "{err}"
        );
    }
}
