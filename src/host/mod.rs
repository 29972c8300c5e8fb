//! The host layer: everything the daemon changes on the system, inside
//! network namespaces, without running `ip`.
//!
//! - [`netns`]: network namespaces as files (`ip netns add/del` and
//!   entering one, for the process or for one closure).
//! - [`conntrack`]: deleting the conntrack entries of removed endpoints.
//! - [`firewalld`]: firewalld over D-Bus (the `docker` zone and policy, and
//!   its reload and restart events).
//! - [`limits`]: the daemon's limit on open files.
//! - [`links`]: links, addresses and routes over rtnetlink, bound to one
//!   namespace, and the configuration of a sandbox's interface.
//! - [`nf_events`]: the kernel's nf_tables change notifications.
//! - [`sysctl`]: `/proc/sys` for the calling thread's namespace, with the
//!   settings Docker's bridge driver makes (forwarding, `route_localnet`,
//!   `bridge-nf-call-ip*tables`, per-interface IPv6).
//!
//! Every failure is a [`HostError`] naming the operation and its object.

pub mod conntrack;
pub mod firewalld;
pub mod limits;
pub mod links;
pub mod netns;
pub mod nf_events;
pub mod sysctl;
#[cfg(test)]
pub(crate) mod test_support;

use std::io;

/// A failed host operation: what was done (`op`), to what (`object`), and
/// the system's answer (`source`), displayed as
/// `create bridge br-1234: File exists (os error 17)`.
#[derive(Debug, thiserror::Error)]
#[error("{op} {object}: {source}")]
pub struct HostError {
    /// The operation, e.g. `create bridge` or `write sysctl`.
    pub op: &'static str,
    /// The object of the operation: an interface, a path, an address...
    pub object: String,
    /// The underlying error; netlink errors carry the kernel's errno.
    #[source]
    pub source: io::Error,
}

impl HostError {
    /// An error for `op` on `object`.
    pub fn new(op: &'static str, object: impl Into<String>, source: io::Error) -> HostError {
        HostError {
            op,
            object: object.into(),
            source,
        }
    }

    /// The errno the kernel answered, when there is one (e.g. `EEXIST`).
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_operation_object_and_cause() {
        let e = HostError::new(
            "create bridge",
            "br-1234",
            io::Error::from_raw_os_error(nix::libc::EEXIST),
        );
        assert_eq!(
            e.to_string(),
            "create bridge br-1234: File exists (os error 17)"
        );
        assert_eq!(e.raw_os_error(), Some(nix::libc::EEXIST));
    }
}
