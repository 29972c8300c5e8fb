//! Why a Compose file cannot be previewed, with the path of the field.

use std::path::PathBuf;

use thiserror::Error;

use crate::model::state::StateError;

/// A Compose file that cannot be previewed.
#[derive(Debug, Error)]
pub enum ComposeError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A field with a bad value; `path` is like `services.web.ports[1]`.
    #[error("{path}: {message}")]
    Invalid {
        /// Where the bad value is.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The daemon config cannot host any network.
    #[error("daemon config: {0}")]
    Daemon(Box<StateError>),
}
