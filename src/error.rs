//! What kind of failure an error is, independent of how it is reported.
//!
//! Domain code (the daemon, the firewall interface) gives each of its errors
//! a [`ErrorKind`], in the spirit of Docker's `errdefs`; each front end maps
//! kinds to its own vocabulary: the API layer to HTTP statuses, a CNI front
//! end to CNI error codes. Nothing outside the API layer knows HTTP.

/// The kind of a domain error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object named does not exist (a network, a sandbox, an endpoint).
    NotFound,
    /// The request is malformed or names an impossible value.
    InvalidParameter,
    /// The request clashes with the current state (a name in use, a running
    /// sandbox).
    Conflict,
    /// The request is understood but not allowed (a predefined network, a
    /// network with active endpoints).
    Forbidden,
    /// A service the change needs is not there or not answering (the
    /// firewall tools, the kernel).
    Unavailable,
    /// Anything else: a failure of bridgewall or of the system.
    Internal,
}

/// An error that knows its [`ErrorKind`]; its `Display` is the message the
/// user reads (Docker's wording where Docker has one).
pub trait DomainError: std::error::Error + Send + Sync + 'static {
    /// The kind of failure.
    fn kind(&self) -> ErrorKind;
}

impl<E: DomainError> From<E> for Box<dyn DomainError> {
    fn from(e: E) -> Self {
        Box::new(e)
    }
}
