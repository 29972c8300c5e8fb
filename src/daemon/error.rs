//! The daemon's errors: Docker's wording for what a request got wrong, and
//! the system's failures, each with its [`ErrorKind`]. Only the API layer
//! turns kinds into HTTP statuses.

use crate::backend::SelectError;
use crate::error::{DomainError, ErrorKind};
use crate::firewall::FirewallError;
use crate::host::HostError;
use crate::host::firewalld::FirewalldError;
use crate::model::daemon_config::ConfigError;
use crate::model::network::NetworkError;
use crate::model::state::StateError;
use crate::store::StoreError;

/// Why a request or the daemon's start failed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Docker's `ErrNoSuchNetwork`.
    #[error("network {0} not found")]
    NetworkNotFound(String),
    /// Docker's `NetworkNameError`.
    #[error("network with name {0} already exists")]
    NetworkNameConflict(String),
    /// Docker's refusal to remove `bridge`, `host` or `none`.
    #[error("{0} is a pre-defined network and cannot be removed")]
    PredefinedNetwork(String),
    /// No sandbox by that ID, name or prefix.
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// A sandbox name already taken.
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse {
        /// The name asked for.
        name: String,
        /// The sandbox that has it.
        id: String,
    },
    /// A value in the request is invalid (the text says which).
    #[error("{0}")]
    Invalid(String),
    /// The request clashes with the current state (the text says how).
    #[error("{0}")]
    Conflict(String),
    /// The request is not allowed (the text says why).
    #[error("{0}")]
    Forbidden(String),
    /// Networks, endpoints and addresses refused by the model.
    #[error(transparent)]
    State(StateError),
    /// The config file is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No firewall backend for the config.
    #[error(transparent)]
    Backend(#[from] SelectError),
    /// A system change failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The firewall interface failed.
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    /// firewalld refused or did not answer.
    #[error(transparent)]
    Firewalld(#[from] FirewalldError),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Anything else that went wrong inside the daemon.
    #[error("{0}")]
    Internal(String),
}

/// A failure of the daemon's own, from anything printable.
pub(super) fn internal(e: impl std::fmt::Display) -> DaemonError {
    DaemonError::Internal(e.to_string())
}

/// [`DaemonError::Invalid`].
pub(super) fn invalid(message: impl Into<String>) -> DaemonError {
    DaemonError::Invalid(message.into())
}

/// [`DaemonError::Conflict`].
pub(super) fn conflict(message: impl Into<String>) -> DaemonError {
    DaemonError::Conflict(message.into())
}

/// [`DaemonError::Forbidden`].
pub(super) fn forbidden(message: impl Into<String>) -> DaemonError {
    DaemonError::Forbidden(message.into())
}

impl From<StateError> for DaemonError {
    fn from(e: StateError) -> DaemonError {
        match e {
            StateError::DuplicateNetwork { name } => DaemonError::NetworkNameConflict(name),
            StateError::UnknownNetwork { network } => DaemonError::NetworkNotFound(network),
            other => DaemonError::State(other),
        }
    }
}

impl DomainError for DaemonError {
    fn kind(&self) -> ErrorKind {
        match self {
            DaemonError::NetworkNotFound(_) | DaemonError::NoSuchContainer(_) => {
                ErrorKind::NotFound
            }
            DaemonError::NetworkNameConflict(_)
            | DaemonError::NameInUse { .. }
            | DaemonError::Conflict(_) => ErrorKind::Conflict,
            DaemonError::PredefinedNetwork(_) | DaemonError::Forbidden(_) => ErrorKind::Forbidden,
            DaemonError::Invalid(_) => ErrorKind::InvalidParameter,
            DaemonError::State(e) => match e {
                StateError::InvalidNetwork {
                    source: NetworkError::Predefined { .. },
                    ..
                }
                | StateError::ActiveEndpoints { .. }
                | StateError::Subnet { .. }
                | StateError::Conflict { .. } => ErrorKind::Forbidden,
                _ => ErrorKind::InvalidParameter,
            },
            DaemonError::Firewall(e) => e.kind(),
            DaemonError::Config(_)
            | DaemonError::Backend(_)
            | DaemonError::Host(_)
            | DaemonError::Firewalld(_)
            | DaemonError::Store(_)
            | DaemonError::Io { .. }
            | DaemonError::Internal(_) => ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_wording_and_kinds() {
        let cases = [
            (
                DaemonError::NetworkNameConflict("n1".into()),
                "network with name n1 already exists",
                ErrorKind::Conflict,
            ),
            (
                DaemonError::PredefinedNetwork("bridge".into()),
                "bridge is a pre-defined network and cannot be removed",
                ErrorKind::Forbidden,
            ),
            (
                DaemonError::NetworkNotFound("x".into()),
                "network x not found",
                ErrorKind::NotFound,
            ),
            (
                DaemonError::NoSuchContainer("c".into()),
                "No such container: c",
                ErrorKind::NotFound,
            ),
        ];
        for (e, text, kind) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.kind(), kind);
        }
        let state: DaemonError = StateError::UnknownNetwork {
            network: "front".into(),
        }
        .into();
        assert!(matches!(state, DaemonError::NetworkNotFound(ref n) if n == "front"));
    }
}
