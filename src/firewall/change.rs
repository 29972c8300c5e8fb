//! The desired-state changes the firewall interface accepts, as data: what a
//! transaction was for. Backends may use it to work in proportion to the
//! change; the recording stub keeps it.

use serde::Serialize;

use super::names::IfName;

/// One change of the firewall's desired state: each is one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    /// The whole state again, unchanged (a start, a reload, a repair).
    Reapply,
    /// A whole new desired state (`bridgewall apply` of a Compose file).
    Replace,
    /// A network was created (its bridge interface).
    AddNetwork(IfName),
    /// A network was removed (its bridge interface).
    RemoveNetwork(IfName),
    /// Endpoints joined, with their port bindings (a sandbox started with
    /// all its endpoints, or one endpoint connected), by ID.
    AddEndpoints(Vec<String>),
    /// Endpoints left, with their port bindings, by ID.
    RemoveEndpoints(Vec<String>),
}
