//! bridgewall: Docker's bridge-network firewall, as a standalone library,
//! daemon and CLI.
//!
//! Layers, from input to kernel:
//! - [`model`]: desired state as data (daemon config, networks, port specs).
//! - [`compose`]: a Compose file's networking part, resolved into that state.
//! - [`firewall`]: the firewall layer: a pure planner from state to rules.
//! - [`backend`]: renders a plan and applies it atomically to a namespace.

pub mod api;
pub mod backend;
pub mod cli;
pub mod compose;
pub mod daemon;
pub mod error;
pub mod firewall;
pub mod host;
pub mod model;
pub mod ports;
pub mod preview;
pub mod store;
