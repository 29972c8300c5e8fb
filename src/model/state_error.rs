//! Why a state cannot be built, with Docker's wording where it has one.

use std::net::IpAddr;

use thiserror::Error;

use crate::firewall::names::InterfaceNameError;
use crate::firewall::types::Family;
use crate::model::binding::BindingError;
use crate::model::ipam::IpamError;
use crate::model::network::NetworkError;

/// Why a state cannot be built, with Docker's wording where it has one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StateError {
    /// The daemon's address pools are invalid.
    #[error("invalid default-address-pools: {0}")]
    AddressPools(IpamError),
    /// A bridge name that cannot be an interface's.
    #[error("invalid bridge name {name:?}: {source}")]
    BridgeName {
        /// The name.
        name: String,
        /// Why.
        source: InterfaceNameError,
    },
    /// A network name used twice.
    #[error("network with name {name} already exists")]
    DuplicateNetwork {
        /// The name.
        name: String,
    },
    /// A network spec the bridge driver refuses.
    #[error("{source}")]
    InvalidNetwork {
        /// The network's name.
        network: String,
        /// What is wrong with it.
        source: NetworkError,
    },
    /// A subnet that cannot be allocated.
    #[error("{source}")]
    Subnet {
        /// The network's name.
        network: String,
        /// The family of the subnet.
        family: Family,
        /// Why.
        source: IpamError,
    },
    /// A gateway that cannot be allocated.
    #[error("failed to allocate gateway ({}): {source}", opt_addr(*gateway))]
    Gateway {
        /// The network's name.
        network: String,
        /// The family of the gateway.
        family: Family,
        /// The gateway asked for, if any.
        gateway: Option<IpAddr>,
        /// Why.
        source: IpamError,
    },
    /// Two bridge networks on the same bridge, or with overlapping subnets.
    #[error(
        "cannot create network {id} ({bridge}): conflicts with network {other_id} ({other_bridge}): {reason}"
    )]
    Conflict {
        /// The new network's ID.
        id: String,
        /// Its bridge.
        bridge: String,
        /// The existing network's ID.
        other_id: String,
        /// Its bridge.
        other_bridge: String,
        /// Docker's reason.
        reason: &'static str,
    },
    /// A network that cannot be removed while containers are connected.
    #[error("error while removing network: network {network} id {id} has active endpoints")]
    ActiveEndpoints {
        /// The network's name.
        network: String,
        /// Its ID.
        id: String,
    },
    /// A container connected to a network that does not exist.
    #[error("network {network} not found")]
    UnknownNetwork {
        /// The network's name.
        network: String,
    },
    /// An endpoint address that cannot be allocated.
    #[error("{reason}")]
    Address {
        /// The container.
        container: String,
        /// The network.
        network: String,
        /// The family of the address.
        family: Family,
        /// Why.
        reason: String,
    },
    /// A host port that cannot be allocated.
    #[error("{source}")]
    Binding {
        /// The container.
        container: String,
        /// Why.
        source: BindingError,
    },
}

fn opt_addr(addr: Option<IpAddr>) -> String {
    addr.map(|a| a.to_string()).unwrap_or_default()
}
