//! The errors the API answers with, and the one mapping from a domain
//! error's kind to an HTTP status.

use crate::error::{DomainError, ErrorKind};

/// An engine's error: a domain error with its kind, answered with the
/// kind's status and the error's text.
pub type EngineError = Box<dyn DomainError>;

/// An error answered to the client: an HTTP status and the message the CLI
/// prints after `Error response from daemon: `.
///
/// The statuses are Docker's (`errdefs` → HTTP): not found 404, invalid
/// parameter 400, conflict 409, forbidden 403, anything else 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The message, sent as `{"message": ...}`.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// 400 Bad Request (Docker's "invalid parameter").
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }
}

/// Docker's status for each kind (`errdefs` → HTTP).
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::NotFound => 404,
        ErrorKind::InvalidParameter => 400,
        ErrorKind::Conflict => 409,
        ErrorKind::Forbidden => 403,
        ErrorKind::Unavailable | ErrorKind::Internal => 500,
    }
}

/// The kind a daemon's status stands for (the client's side of
/// [`status_of`]).
pub fn kind_of(status: u16) -> ErrorKind {
    match status {
        404 => ErrorKind::NotFound,
        400 => ErrorKind::InvalidParameter,
        409 => ErrorKind::Conflict,
        403 => ErrorKind::Forbidden,
        503 => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError::new(status_of(e.kind()), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_kind() {
        assert_eq!(ApiError::not_found("x").status, 404);
        assert_eq!(ApiError::conflict("x").status, 409);
        assert_eq!(ApiError::invalid_parameter("x").status, 400);
        assert_eq!(ApiError::forbidden("x").status, 403);
        assert_eq!(ApiError::internal("x").status, 500);
        assert_eq!(ApiError::internal("boom").to_string(), "boom");
        assert_eq!(status_of(ErrorKind::NotFound), 404);
        assert_eq!(status_of(ErrorKind::InvalidParameter), 400);
        assert_eq!(status_of(ErrorKind::Conflict), 409);
        assert_eq!(status_of(ErrorKind::Forbidden), 403);
        assert_eq!(status_of(ErrorKind::Unavailable), 500);
        assert_eq!(status_of(ErrorKind::Internal), 500);
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::InvalidParameter,
            ErrorKind::Conflict,
            ErrorKind::Forbidden,
            ErrorKind::Internal,
        ] {
            assert_eq!(kind_of(status_of(kind)), kind);
        }
    }
}
