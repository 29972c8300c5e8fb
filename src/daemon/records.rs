//! The records the store keeps: networks and sandboxes, with the phase of
//! their life (an intent while a change is under way).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::firewall::{FirewallEndpoint, PortBinding};
use crate::model::network::NetworkSpec;
use crate::model::state::{ResolvedEndpoint, ResolvedNetwork, StateBuilder};

/// Where a network is in its life; anything but `Active` found at start is
/// an interrupted change, undone then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Being created: the system may be half set up.
    Creating,
    /// Created.
    Active,
    /// Being removed: the system may be half torn down.
    Removing,
}

/// A user-defined network as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// Creation order.
    pub seq: u64,
    /// Where the network is in its life.
    pub phase: Phase,
    /// When it was created.
    pub created: SystemTime,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// What was asked for (options and IPAM config as given).
    pub spec: NetworkSpec,
    /// What was allocated.
    pub network: ResolvedNetwork,
    /// Whether its IPv4/IPv6 subnets were configured by the user.
    pub user_configured: (bool, bool),
}

/// Where a sandbox is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxPhase {
    /// Being set up; found at start, it is undone.
    Creating,
    /// Its process (or attached namespace) is alive, its ports published.
    Running,
    /// Its process exited; its networking is released.
    Exited,
    /// Being removed; found at start, the removal is finished.
    Removing,
}

/// One endpoint of a sandbox, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// The endpoint's ID.
    pub id: String,
    /// Network, addresses and port bindings.
    pub endpoint: ResolvedEndpoint,
    /// The host end of the veth pair.
    pub host_if: String,
    /// The interface name inside the sandbox (`eth0`, ...).
    pub if_name: String,
    /// The sandbox interface's MAC address.
    pub mac: [u8; 6],
    /// Being disconnected: found at start, the disconnect is finished.
    #[serde(default)]
    pub leaving: bool,
    /// Being connected: found at start, the connect is undone.
    #[serde(default)]
    pub joining: bool,
}

/// A sandbox as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxRecord {
    /// ID (64 hex digits).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Creation order.
    pub seq: u64,
    /// Where it is in its life.
    pub phase: SandboxPhase,
    /// When it was created.
    pub created: SystemTime,
    /// The command (empty for an attached namespace).
    pub cmd: Vec<String>,
    /// The namespace file.
    pub netns: PathBuf,
    /// Whether bridgewall made the namespace (and deletes it).
    pub owns_netns: bool,
    /// The process, with its start time (to tell a reused PID apart).
    pub pid: Option<(u32, u64)>,
    /// The exit code, once exited.
    pub exit_code: Option<i32>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `-p` specs as given.
    pub publish: Vec<String>,
    /// Endpoints in join order.
    pub endpoints: Vec<EndpointRecord>,
}

impl SandboxRecord {
    /// Its endpoints as the firewall sees them, by endpoint ID, in the
    /// network state `state`.
    pub fn firewall_endpoints(&self, state: &StateBuilder) -> Vec<(String, FirewallEndpoint)> {
        self.endpoints
            .iter()
            .filter_map(|ep| Some((ep.id.clone(), ep.firewall_endpoint(state)?)))
            .collect()
    }

    /// Every port binding of its endpoints, in order.
    pub fn bindings(&self) -> Vec<PortBinding> {
        self.endpoints
            .iter()
            .flat_map(|e| e.endpoint.bindings.iter().copied())
            .collect()
    }
}

impl EndpointRecord {
    /// Its addresses.
    pub fn addresses(&self) -> Vec<std::net::IpAddr> {
        [
            self.endpoint.v4.map(std::net::IpAddr::V4),
            self.endpoint.v6.map(std::net::IpAddr::V6),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The firewall's view of this endpoint, in the network state `state`
    /// (none when its network is not there).
    pub fn firewall_endpoint(&self, state: &StateBuilder) -> Option<FirewallEndpoint> {
        let net = state.network(&self.endpoint.network)?;
        Some(self.endpoint.firewall_endpoint(&net.bridge))
    }
}
