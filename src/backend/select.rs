//! The one place a firewall backend is chosen, from daemon.json's
//! `firewall-backend`.

use crate::firewall::FirewallBackend;
use crate::host::netns::{Netns, NetnsRunner};
use crate::model::daemon_config::FirewallBackend as BackendChoice;

use super::iptables::{IptablesBackend, Variant};

/// Why no backend could be had.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A valid Docker setting bridgewall does not implement yet.
    #[error(
        "firewall-backend \"{0}\" is not supported: bridgewall programs iptables (set \"firewall-backend\": \"iptables\" or remove it)"
    )]
    Unsupported(&'static str),
}

/// Refuses a backend bridgewall does not have, before anything is set up.
pub fn check_supported(choice: BackendChoice) -> Result<(), SelectError> {
    match choice {
        BackendChoice::Iptables => Ok(()),
        BackendChoice::Nftables => Err(SelectError::Unsupported(choice.as_str())),
    }
}

/// The backend `choice` names, programming the namespace `netns`.
pub fn new_backend(
    choice: BackendChoice,
    netns: Netns,
) -> Result<Box<dyn FirewallBackend>, SelectError> {
    check_supported(choice)?;
    match choice {
        BackendChoice::Iptables => Ok(Box::new(IptablesBackend::new(
            Box::new(NetnsRunner::new(netns)),
            Variant::System,
        ))),
        BackendChoice::Nftables => Err(SelectError::Unsupported(choice.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_is_chosen_and_nftables_refused_with_a_clear_message() {
        let b = new_backend(BackendChoice::Iptables, Netns::Current).unwrap();
        assert_eq!(b.name(), "iptables");
        let err = new_backend(BackendChoice::Nftables, Netns::Current)
            .err()
            .expect("refused");
        assert_eq!(
            err.to_string(),
            "firewall-backend \"nftables\" is not supported: bridgewall programs iptables (set \"firewall-backend\": \"iptables\" or remove it)"
        );
    }
}
