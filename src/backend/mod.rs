//! Firewall backends: each renders the backend-neutral firewall state in its
//! own syntax and applies it to a network namespace as one atomic
//! transaction per family. [`select::new_backend`] picks one from
//! daemon.json.
//!
//! API boundary: only backends know a rule syntax or run the firewall tools.

pub mod iptables;
pub mod select;

pub use iptables::{IptablesBackend, Variant};
pub use select::{SelectError, check_supported, new_backend};
