//! The daemon's core: its state behind one lock ([`Inner`]), where its files
//! live, and the one way it runs firewall transactions.
//!
//! Architecture invariant: every change takes the lock once and follows the
//! same steps: validate and allocate on a copy of the in-memory state; record
//! the intent in the store (`Creating` / `Removing`); change the system;
//! record the outcome. A failure undoes what was done; a crash leaves an
//! intent that the next start finishes or undoes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::{OnceLock, Weak};
use std::time::SystemTime;

use tokio::sync::Mutex;

use crate::firewall::{Firewall, FirewallError};
use crate::host::links::Links;
use crate::host::netns::NetnsId;
use crate::model::daemon_config::DaemonConfig;
use crate::model::state::StateBuilder;
use crate::ports::{Proxy, ProxyHandle, SocketAllocator};
use crate::store::Store;

use super::bridge::BridgeSettings;
use super::error::{DaemonError, internal};
use super::firewalld_link::FirewalldLink;
use super::records::{NetworkRecord, SandboxRecord};

/// Where the daemon keeps its files, and where it was started.
#[derive(Debug, Clone)]
pub struct DaemonPaths {
    /// The store and sandbox logs.
    pub data_root: PathBuf,
    /// Runtime files: sandbox namespaces.
    pub exec_root: PathBuf,
    /// The network namespace the daemon was started in (the host's, as far
    /// as it can tell), before entering its own.
    pub started_in: NetnsId,
}

/// The daemon: networks and sandboxes as desired state in the store,
/// converged onto the system (bridges, sysctls, firewall).
pub struct Daemon {
    pub(super) config: DaemonConfig,
    pub(super) paths: DaemonPaths,
    pub(super) started: SystemTime,
    /// firewalld, when it runs in the daemon's namespace (outside `inner`:
    /// its state has its own locks).
    pub(super) firewalld: FirewalldLink,
    pub(super) inner: Mutex<Inner>,
    pub(super) me: OnceLock<Weak<Daemon>>,
}

/// The daemon's mutable state, behind one lock: each request is one change.
pub(super) struct Inner {
    /// Networks and endpoints with their allocations.
    pub(super) state: StateBuilder,
    /// User networks' records, in creation order.
    pub(super) records: Vec<NetworkRecord>,
    /// Sandboxes' records, in creation order.
    pub(super) sandboxes: Vec<SandboxRecord>,
    /// The store.
    pub(super) store: Store,
    /// Netlink in the daemon's namespace.
    pub(super) links: Links,
    /// The firewall interface; see [`Inner::in_firewall`].
    pub(super) firewall: Firewall,
    /// Reserved host ports.
    pub(super) ports: SocketAllocator,
    /// Starts userland proxies.
    pub(super) proxy: Proxy,
    /// Running proxies, by sandbox ID.
    pub(super) proxies: HashMap<String, Vec<ProxyHandle>>,
    /// Exit codes for `wait`, by running sandbox ID.
    pub(super) exits: HashMap<String, tokio::sync::watch::Sender<Option<i32>>>,
    /// Published ports that could not be served again after a restart, by
    /// sandbox ID (shown by inspect as `State.Error`).
    pub(super) port_errors: HashMap<String, Vec<String>>,
}

impl Inner {
    /// Runs one firewall transaction. Backends run blocking programs
    /// (`iptables-restore`), so the runtime moves other work (the userland
    /// proxies) off this thread meanwhile.
    pub(super) fn in_firewall<T>(
        &mut self,
        f: impl FnOnce(&mut Firewall) -> Result<T, FirewallError>,
    ) -> Result<T, FirewallError> {
        tokio::task::block_in_place(|| f(&mut self.firewall))
    }
}

impl Inner {
    /// Puts `rec` in the place of the sandbox record with its ID.
    pub(super) fn replace_sandbox(&mut self, rec: SandboxRecord) {
        if let Some(slot) = self.sandboxes.iter_mut().find(|s| s.id == rec.id) {
            *slot = rec;
        }
    }
}

/// `n` random bytes as hex digits (IDs are 32 bytes: 64 digits, as Docker's).
pub(super) fn random_hex(n: usize) -> Result<String, DaemonError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| internal(format!("random ID: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Daemon {
    /// This daemon as an `Arc` (it is always held in one).
    pub(super) fn arc(&self) -> Arc<Daemon> {
        self.me
            .get()
            .and_then(Weak::upgrade)
            .expect("the daemon is held in an Arc while it serves")
    }

    /// The daemon config it runs with.
    pub fn config(&self) -> &DaemonConfig {
        &self.config
    }

    pub(super) fn bridge_settings(&self) -> BridgeSettings {
        BridgeSettings {
            hairpin: !self.config.userland_proxy,
            mtu: self.config.mtu,
        }
    }

    /// Where a sandbox's process writes (under the data-root, like Docker's
    /// container logs).
    pub(super) fn log_path(&self, id: &str) -> PathBuf {
        log_file(&self.paths, id)
    }
}

/// [`Daemon::log_path`], before the daemon exists (at start).
pub(super) fn log_file(paths: &DaemonPaths, id: &str) -> PathBuf {
    paths.data_root.join("sandboxes").join(format!("{id}.log"))
}
