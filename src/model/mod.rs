//! Desired state as data, with Docker's names and semantics: the daemon
//! config (daemon.json), networks and their options, `-p` port specs and how
//! they resolve into port bindings.
//!
//! This layer validates input and resolves it into the firewall layer's types
//! ([`crate::firewall::types`]); it never touches the system.

pub mod binding;
pub mod config_error;
pub mod daemon_config;
pub mod ipam;
pub mod network;
pub mod port_spec;
pub mod resolved;
pub mod state;
pub mod state_error;
