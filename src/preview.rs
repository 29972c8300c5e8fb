//! Previewing and applying a Compose file's firewall rules: the code behind
//! `bridgewall plan` and `bridgewall apply`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::backend::{SelectError, check_supported, new_backend};
use crate::compose::{self, ComposeError};
use crate::firewall::{
    Family, Firewall, FirewallError, FirewallJournal, FirewallState, JournalEntry, JournalError,
    JournalPhase,
};
use crate::host::HostError;
use crate::host::netns::Netns;
use crate::model::daemon_config::{ConfigError, DaemonConfig};

/// Where `bridgewall apply` remembers, per namespace, which rules it put in
/// the built-in chains, so that a later apply can take them out again.
pub const APPLY_STATE_DIR: &str = "/run/bridgewall/apply";

/// Anything that can stop a preview or an apply.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The daemon config file is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Compose file is invalid.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The namespace cannot be used.
    #[error(transparent)]
    Netns(#[from] HostError),
    /// No firewall backend for the config.
    #[error(transparent)]
    Backend(#[from] SelectError),
    /// Applying the rules failed.
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    /// The record of earlier applies cannot be read or written.
    #[error("{path}: {source}")]
    ApplyState {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Removes the records of namespaces that no longer exist under /run/netns
/// (the only place `apply` takes them from), so records do not pile up.
fn forget_deleted_namespaces() {
    let live: Vec<String> = std::fs::read_dir(crate::host::netns::NETNS_RUN_DIR)
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| std::fs::metadata(e.path()).ok())
                .map(|m| format!("{}-{}.json", m.dev(), m.ino()))
                .collect()
        })
        .unwrap_or_default();
    if let Ok(records) = std::fs::read_dir(APPLY_STATE_DIR) {
        for r in records.flatten() {
            if !live.iter().any(|l| *l == r.file_name().to_string_lossy()) {
                let _ = std::fs::remove_file(r.path());
            }
        }
    }
}

/// The daemon config (`None`: Docker's defaults) and the Compose file's
/// firewall state.
fn load(
    compose_file: &Path,
    config_file: Option<&Path>,
) -> Result<(DaemonConfig, FirewallState), PreviewError> {
    let daemon = DaemonConfig::load_or_default(config_file)?;
    check_supported(daemon.firewall_backend)?;
    let state = compose::load(compose_file, &daemon)?;
    Ok((daemon, state.firewall_state()))
}

/// Plans the Compose file with the configured backend and prints the rules
/// of `families` as `bridgewall plan` does: per family, a comment line
/// naming it, then the rules in the backend's syntax.
pub fn plan_compose(
    compose_file: &Path,
    config_file: Option<&Path>,
    families: &[Family],
) -> Result<String, PreviewError> {
    let (daemon, state) = load(compose_file, config_file)?;
    let backend = new_backend(daemon.firewall_backend, Netns::Current)?;
    Ok(families
        .iter()
        .map(|&f| {
            let r = backend.render(&state, f);
            format!("# bridgewall plan: {}\n{}", r.title, r.text)
        })
        .collect())
}

/// The record of one namespace's earlier applies: a file keyed by the
/// namespace's inode, so a namespace deleted and made again under the same
/// name starts with no history.
struct FileJournal {
    path: PathBuf,
}

impl FirewallJournal for FileJournal {
    fn load(&self) -> Result<Option<JournalEntry>, JournalError> {
        // A record that cannot be read is no history (the base jumps are
        // still known to be bridgewall's).
        let Ok(bytes) = std::fs::read(&self.path) else {
            return Ok(None);
        };
        if let Ok(entry) = serde_json::from_slice::<JournalEntry>(&bytes) {
            return Ok(Some(entry));
        }
        // Records of earlier versions hold the iptables backend's ownership
        // alone; an unreadable record is no history.
        Ok(serde_json::from_slice(&bytes)
            .ok()
            .map(|ownership| JournalEntry {
                backend: "iptables".into(),
                phase: JournalPhase::Outcome,
                ownership,
            }))
    }

    /// Written whole or not at all: a temporary file, synced, renamed.
    fn save(&mut self, entry: &JournalEntry) -> Result<(), JournalError> {
        let tmp = self.path.with_extension("json.tmp");
        std::fs::create_dir_all(APPLY_STATE_DIR)
            .and_then(|()| {
                let mut file = std::fs::File::create(&tmp)?;
                std::io::Write::write_all(
                    &mut file,
                    &serde_json::to_vec(entry).expect("journal entries always serialise"),
                )?;
                file.sync_all()?;
                std::fs::rename(&tmp, &self.path)
            })
            .map_err(|e| {
                JournalError(Box::new(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", self.path.display()),
                )))
            })
    }
}

/// Plans the Compose file and applies the result to the network namespace
/// `netns` through the firewall interface: one transaction per family.
/// Nothing is applied unless both files are valid. Returns whether anything
/// changed.
pub fn apply_compose(
    compose_file: &Path,
    config_file: Option<&Path>,
    netns: &str,
) -> Result<bool, PreviewError> {
    let ns = Netns::named(netns)?;
    let (daemon, state) = load(compose_file, config_file)?;
    let Netns::Path(ns_path) = &ns else {
        unreachable!("a named namespace is a path")
    };
    let meta = std::fs::metadata(ns_path).map_err(|e| PreviewError::ApplyState {
        path: ns_path.clone(),
        source: e,
    })?;
    let path = Path::new(APPLY_STATE_DIR).join(format!("{}-{}.json", meta.dev(), meta.ino()));
    let backend = new_backend(daemon.firewall_backend, ns)?;
    forget_deleted_namespaces();
    let mut firewall = Firewall::open(
        state.config.clone(),
        state.daemon_level,
        backend,
        Box::new(FileJournal { path }),
    )?;
    Ok(firewall.replace(state)?.changed)
}
