//! Previewing and applying a Compose file's firewall rules: the code behind
//! `bridgewall plan` and `bridgewall apply`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::backend::iptables::OwnedRules;
use crate::backend::{BackendError, IptablesBackend, Netns, NetnsRunner, Variant};
use crate::compose::{self, ComposeError};
use crate::firewall::{Family, Ruleset, plan};
use crate::host::HostError;
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
    /// Applying the rules failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
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

/// Loads the daemon config (`None`: Docker's defaults) and the Compose file,
/// and plans the rulesets of `families`.
pub fn plan_compose(
    compose_file: &Path,
    config_file: Option<&Path>,
    families: &[Family],
) -> Result<Vec<Ruleset>, PreviewError> {
    let daemon = DaemonConfig::load_for_bridgewall(config_file)?;
    let state = compose::load(compose_file, &daemon)?;
    let fw = state.firewall_state();
    Ok(families.iter().map(|&f| plan(&fw, f)).collect())
}

/// Prints rulesets as `bridgewall plan` does: per family, a comment line
/// naming it, then the tables in `iptables-save` format.
pub fn render(rulesets: &[Ruleset]) -> String {
    rulesets
        .iter()
        .map(|rs| {
            format!(
                "# bridgewall plan: {} ({}-save)\n{rs}",
                rs.family,
                rs.family.iptables()
            )
        })
        .collect()
}

/// Plans the Compose file and applies the result to the network namespace
/// `netns`, one `iptables-restore` per family. Nothing is applied unless both
/// files are valid. Returns how many families changed.
pub fn apply_compose(
    compose_file: &Path,
    config_file: Option<&Path>,
    netns: &str,
) -> Result<usize, PreviewError> {
    let ns = Netns::named(netns)?;
    let rulesets = plan_compose(compose_file, config_file, &Family::ALL)?;
    let Netns::Path(ns_path) = &ns else {
        unreachable!("a named namespace is a path")
    };
    // Keyed by the namespace's inode: a namespace deleted and made again
    // under the same name starts with no history.
    let meta = std::fs::metadata(ns_path).map_err(|e| PreviewError::ApplyState {
        path: ns_path.clone(),
        source: e,
    })?;
    let record = Path::new(APPLY_STATE_DIR).join(format!("{}-{}.json", meta.dev(), meta.ino()));
    let mut owned: HashMap<Family, OwnedRules> = match std::fs::read(&record) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => HashMap::new(),
    };
    let mut backend = IptablesBackend::new(Box::new(NetnsRunner::new(ns)), Variant::System);
    for (family, rules) in owned.drain() {
        backend.set_owned(family, rules);
    }
    let mut changed = 0;
    let mut result: Result<(), PreviewError> = Ok(());
    for rs in &rulesets {
        match backend.apply(rs) {
            Ok(report) => changed += usize::from(report.script.is_some()),
            Err(e) => {
                result = Err(e.into());
                break;
            }
        }
    }
    let owned: HashMap<Family, OwnedRules> =
        Family::ALL.iter().map(|&f| (f, backend.owned(f))).collect();
    forget_deleted_namespaces();
    let write = std::fs::create_dir_all(APPLY_STATE_DIR).and_then(|()| {
        std::fs::write(
            &record,
            serde_json::to_vec(&owned).expect("rule sets always serialise"),
        )
    });
    result?;
    write.map_err(|e| PreviewError::ApplyState {
        path: record,
        source: e,
    })?;
    Ok(changed)
}
