//! Backends: render a planned [`Ruleset`](crate::firewall::Ruleset) and apply
//! it to a network namespace as one atomic transaction per family.

pub mod iptables;
pub mod netns;

use std::path::PathBuf;

pub use iptables::{ApplyReport, IptablesBackend, Variant};
pub use netns::{CommandRunner, Netns, NetnsRunner};

/// Errors from applying rules.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The namespace file could not be opened.
    #[error("cannot open network namespace {path}: {source}")]
    Netns {
        /// The namespace file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A program could not be started or talked to.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A program exited with an error.
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on standard error.
        stderr: String,
        /// What it was fed, if anything (a restore script).
        input: Option<String>,
    },
}
