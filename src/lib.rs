//! bridgewall: Docker's bridge-network firewall, as a standalone library,
//! daemon and CLI.
//!
//! Layers, from input to kernel:
//! - [`model`]: desired state as data (daemon config, networks, port specs).
//! - [`compose`]: a Compose file's networking part, resolved into that state.
//! - [`firewall`]: the backend-neutral firewall interface: each change one
//!   transaction, recorded in a journal.
//! - [`backend`]: the backends (iptables: Docker's planner, one atomic
//!   `iptables-restore` per family).
//! - [`daemon`], [`api`], [`cli`]: the daemon, its HTTP API, the command.
//! - [`host`], [`ports`], [`store`]: namespaces and links, host ports and
//!   the proxy, the embedded store.

pub mod api;
pub mod backend;
pub mod cli;
pub mod compose;
mod crash;
pub mod daemon;
pub mod error;
pub mod firewall;
pub mod host;
pub mod model;
pub mod ports;
pub mod preview;
pub mod store;
