//! `GET /info`: Docker's `system.Info` fields that apply to bridgewall
//! (its firewall backend as Docker 28 reports it, `FirewallBackend`, with
//! firewalld's last reload), and bridgewall's own details (`Bridgewall`).

use serde::{Deserialize, Serialize};

/// Answer to `GET /info` (Go: `system.Info`, the fields that apply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemInfo {
    /// Sandboxes, in every state.
    pub containers: usize,
    /// Running sandboxes.
    pub containers_running: usize,
    /// Paused sandboxes (none: bridgewall does not pause).
    pub containers_paused: usize,
    /// Exited sandboxes.
    pub containers_stopped: usize,
    /// The host's name.
    pub name: String,
    /// bridgewall's version.
    pub server_version: String,
    /// `linux`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// Go's name for the architecture (`x86_64` as Docker prints it).
    pub architecture: String,
    /// The running kernel's release.
    pub kernel_version: String,
    /// Processors.
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    /// The data-root.
    pub docker_root_dir: String,
    /// What the user should know (ufw bypassed, for one), as `docker info`
    /// prints them.
    pub warnings: Vec<String>,
    /// Docker 28's firewall report: driver `iptables`, or
    /// `iptables+firewalld` while firewalld is in use, with `ReloadedAt`.
    pub firewall_backend: FirewallInfo,
    /// bridgewall's own details.
    pub bridgewall: BridgewallInfo,
}

/// Docker's `system.FirewallInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirewallInfo {
    /// `iptables` or `iptables+firewalld`.
    pub driver: String,
    /// Name and value pairs, e.g. `["ReloadedAt", "2026-12-01T17:00:00Z"]`.
    pub info: Vec<[String; 2]>,
}

/// bridgewall's own part of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BridgewallInfo {
    /// What the firewall backend programs, e.g. `iptables (nf_tables)`.
    pub firewall: String,
    /// firewalld, as the daemon sees it.
    pub firewalld: FirewalldInfo,
    /// ufw, as the daemon sees it.
    pub ufw: UfwInfo,
}

/// firewalld's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirewalldInfo {
    /// firewalld runs in the daemon's namespace and is in use.
    pub running: bool,
    /// Its version, when it said.
    pub version: String,
    /// When bridgewall last re-applied successfully after a firewalld
    /// reload, start or stop (RFC 3339), or empty.
    pub reloaded_at: String,
}

/// ufw's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UfwInfo {
    /// ufw's chains are in the daemon's namespace.
    pub active: bool,
    /// `bridgewall-ufw-routes`: published ports obey ufw's route rules.
    pub routes: bool,
}
