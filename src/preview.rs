//! Previewing and applying a Compose file's firewall rules: the code behind
//! `bridgewall plan` and `bridgewall apply`.

use std::path::Path;

use crate::backend::{BackendError, IptablesBackend, Netns, NetnsRunner, Variant};
use crate::compose::{self, ComposeError};
use crate::firewall::{Family, Ruleset, plan};
use crate::model::daemon_config::{ConfigError, DaemonConfig};

/// Anything that can stop a preview or an apply.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The daemon config file is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Compose file is invalid.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// Applying the rules failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Loads the daemon config (`None`: Docker's defaults) and the Compose file,
/// and plans the rulesets of `families`.
pub fn plan_compose(
    compose_file: &Path,
    config_file: Option<&Path>,
    families: &[Family],
) -> Result<Vec<Ruleset>, PreviewError> {
    let daemon = match config_file {
        Some(p) => DaemonConfig::load(p)?,
        None => DaemonConfig::default(),
    };
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
            let tool = match rs.family {
                Family::V4 => "iptables",
                Family::V6 => "ip6tables",
            };
            format!("# bridgewall plan: {} ({tool}-save)\n{rs}", rs.family)
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
    let rulesets = plan_compose(compose_file, config_file, &Family::ALL)?;
    let mut backend = IptablesBackend::new(
        Box::new(NetnsRunner::new(Netns::named(netns))),
        Variant::System,
    );
    let mut changed = 0;
    for rs in &rulesets {
        if backend.apply(rs)?.script.is_some() {
            changed += 1;
        }
    }
    Ok(changed)
}
