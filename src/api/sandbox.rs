//! bridgewall's own API for sandboxes, the stand-in for containers: a
//! network namespace with (usually) a process in it. Shapes follow Docker's
//! container API where the two meet (`docker inspect`'s `NetworkSettings`),
//! so that scripts reading Docker's JSON read bridgewall's too.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Body of `POST /sandboxes/create`: creates a sandbox and starts its
/// process (`bridgewall run`), or attaches a namespace another program made
/// (`bridgewall create --netns PATH`, no process).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxCreateRequest {
    /// Its name (unique); empty for a generated one.
    #[serde(default)]
    pub name: String,
    /// The network to connect to first; empty for the default bridge.
    #[serde(default)]
    pub network: String,
    /// A static IPv4 address on that network (`--ip`).
    #[serde(default, rename = "IP")]
    pub ip: String,
    /// A static IPv6 address on that network (`--ip6`).
    #[serde(default, rename = "IP6")]
    pub ip6: String,
    /// `-p` specs, as typed.
    #[serde(default)]
    pub publish: Vec<String>,
    /// `-P`: publish every exposed port on an ephemeral host port.
    #[serde(default)]
    pub publish_all: bool,
    /// `--expose` ports (`80`, `53/udp`, `8000-8010`), published by `-P`.
    #[serde(default)]
    pub expose: Vec<String>,
    /// The command to run in the sandbox; empty with `netns`.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// An existing namespace file to attach instead of making one.
    #[serde(default)]
    pub netns: String,
    /// `--rm`: remove the sandbox when its process exits.
    #[serde(default)]
    pub auto_remove: bool,
}

/// Answer to `POST /sandboxes/create` (201).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxCreateResponse {
    /// The sandbox's ID (64 hex digits).
    pub id: String,
    /// Non-fatal remarks (e.g. a host port ignored in routed mode).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One line of `GET /sandboxes` (what `bridgewall ps` prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxSummary {
    /// ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// The command, joined with spaces.
    pub command: String,
    /// When it was created.
    #[serde(with = "super::types::rfc3339_nano")]
    pub created: SystemTime,
    /// `running` or `exited`.
    pub state: String,
    /// Docker-like status: `Up`, `Exited (0)`.
    pub status: String,
    /// Published ports as `docker ps` shows them
    /// (`0.0.0.0:8080->80/tcp, [::]:8080->80/tcp`).
    pub ports: String,
    /// Networks, comma-separated.
    pub networks: String,
}

/// `State` of `GET /sandboxes/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxState {
    /// `running` or `exited`.
    pub status: String,
    /// Whether the process (or attached namespace) is alive.
    pub running: bool,
    /// The process ID, 0 when none.
    pub pid: u32,
    /// The exit code once exited.
    pub exit_code: i32,
    /// What went wrong, e.g. a published port that could not be served
    /// again after a restart (Docker's `State.Error`); empty when nothing.
    #[serde(default)]
    pub error: String,
}

/// One published port as Docker shows it (`HostPort` empty in routed mode).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBindingResource {
    /// Host address.
    pub host_ip: String,
    /// Host port, empty when NAT is disabled (routed mode).
    pub host_port: String,
}

/// A sandbox's endpoint on one network, as Docker's
/// `NetworkSettings.Networks.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSettingsResource {
    /// The network's ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// The endpoint's ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// IPv4 gateway.
    #[serde(rename = "Gateway")]
    pub gateway: String,
    /// IPv4 address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// IPv4 prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// IPv6 gateway.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// IPv6 address.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// IPv6 prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    /// MAC address.
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
}

/// `NetworkSettings` of `GET /sandboxes/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettingsResource {
    /// The namespace file: `nsenter --net=SANDBOXKEY` enters it.
    pub sandbox_key: String,
    /// Published ports by `PORT/PROTO` (`80/tcp`), as Docker shows them.
    pub ports: BTreeMap<String, Vec<PortBindingResource>>,
    /// Endpoints by network name.
    pub networks: BTreeMap<String, EndpointSettingsResource>,
}

/// `GET /sandboxes/{id}/json` (what `bridgewall inspect` prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxInspect {
    /// ID.
    pub id: String,
    /// Name, with Docker's leading `/`.
    pub name: String,
    /// When it was created.
    #[serde(with = "super::types::rfc3339_nano")]
    pub created: SystemTime,
    /// The command.
    pub cmd: Vec<String>,
    /// Process state.
    pub state: SandboxState,
    /// `-p` specs as given.
    pub publish: Vec<String>,
    /// Whether it is removed when its process exits.
    pub auto_remove: bool,
    /// Networking, Docker-shaped.
    pub network_settings: NetworkSettingsResource,
}

impl Default for SandboxInspect {
    fn default() -> Self {
        SandboxInspect {
            id: String::new(),
            name: String::new(),
            created: SystemTime::UNIX_EPOCH,
            cmd: Vec::new(),
            state: SandboxState::default(),
            publish: Vec::new(),
            auto_remove: false,
            network_settings: NetworkSettingsResource::default(),
        }
    }
}

/// Answer to `POST /sandboxes/{id}/wait`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxWaitResponse {
    /// The process's exit code.
    pub status_code: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_has_dockers_field_names() {
        let mut s = SandboxInspect::default();
        s.network_settings.networks.insert(
            "mynet".into(),
            EndpointSettingsResource {
                ip_address: "192.0.2.2".into(),
                global_ipv6_address: "2001:db8::2".into(),
                ..Default::default()
            },
        );
        s.network_settings.ports.insert(
            "80/tcp".into(),
            vec![PortBindingResource {
                host_ip: "::".into(),
                host_port: String::new(),
            }],
        );
        let json = serde_json::to_value(&s).unwrap();
        let ns = &json["NetworkSettings"];
        assert_eq!(ns["Networks"]["mynet"]["IPAddress"], "192.0.2.2");
        assert_eq!(ns["Networks"]["mynet"]["GlobalIPv6Address"], "2001:db8::2");
        assert_eq!(ns["Ports"]["80/tcp"][0]["HostPort"], "");
        assert!(ns.get("SandboxKey").is_some());
        let req: SandboxCreateRequest =
            serde_json::from_str(r#"{"Name":"c1","IP":"192.0.2.9","Publish":["8080:80"]}"#)
                .unwrap();
        assert_eq!(req.ip, "192.0.2.9");
        assert_eq!(req.publish, ["8080:80"]);
    }
}
