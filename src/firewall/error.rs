//! The firewall interface's errors, with their kinds.

use crate::error::{DomainError, ErrorKind};

use super::backend::BackendError;
use super::journal::JournalError;

/// Errors of the firewall interface.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A network with this bridge is already known.
    #[error("network with bridge {0} already exists")]
    DuplicateNetwork(String),
    /// No network uses this bridge.
    #[error("no network with bridge {0}")]
    UnknownNetwork(String),
    /// An endpoint with this ID is already known.
    #[error("endpoint {0} already exists")]
    DuplicateEndpoint(String),
    /// No endpoint has this ID.
    #[error("no endpoint {0}")]
    UnknownEndpoint(String),
    /// A network still has endpoints.
    #[error("network with bridge {0} has active endpoints")]
    NetworkInUse(String),
    /// Applying failed; an addition was rolled back, a removal stays.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The ownership record could not be written or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl DomainError for FirewallError {
    fn kind(&self) -> ErrorKind {
        match self {
            FirewallError::DuplicateNetwork(_) | FirewallError::DuplicateEndpoint(_) => {
                ErrorKind::Conflict
            }
            FirewallError::UnknownNetwork(_) | FirewallError::UnknownEndpoint(_) => {
                ErrorKind::NotFound
            }
            FirewallError::NetworkInUse(_) => ErrorKind::Forbidden,
            FirewallError::Backend(_) => ErrorKind::Unavailable,
            FirewallError::Journal(_) => ErrorKind::Internal,
        }
    }
}
