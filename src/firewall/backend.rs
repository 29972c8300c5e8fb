//! What a firewall backend is: something that renders the backend-neutral
//! [`FirewallState`] into its own rules and brings the kernel to them in one
//! transaction. The [`Firewall`](super::Firewall) interface is its only
//! caller; nothing else plans rules or reads the kernel's rules.

use super::change::Change;
use super::types::{Family, FirewallState};

/// One transaction, as the interface hands it to a backend.
#[derive(Debug, Clone, Copy)]
pub struct Transaction<'a> {
    /// What the transaction is for.
    pub change: &'a Change,
    /// The state the backend last applied, as the interface knows it.
    pub previous: &'a FirewallState,
    /// The state to bring the kernel to.
    pub next: &'a FirewallState,
}

/// What an apply did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The kernel's rules were changed.
    pub changed: bool,
    /// Before the change, the kernel's rules differed from those the backend
    /// last applied (or, at the first reapply, from the desired state):
    /// something else changed what bridgewall owns.
    pub drift: bool,
}

/// A backend's rules for one family, as text for people (`bridgewall plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRules {
    /// What the text is, e.g. `ipv4 (iptables-save)`.
    pub title: String,
    /// The rules, in the backend's own syntax.
    pub text: String,
}

/// How the kernel's rules of one family compare with the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesCheck {
    /// What was compared, e.g. `ipv4 (iptables-save)`.
    pub title: String,
    /// One line per difference (`+` planned but missing, `-` bridgewall's
    /// but not planned, `~` out of place); empty when they agree.
    pub differences: Vec<String>,
}

/// A backend's failure, carried through the interface without it knowing
/// the backend's error type.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct BackendError {
    /// The backend's name (`iptables`, ...).
    pub backend: &'static str,
    /// The backend's own error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Something that programs the kernel's firewall from a [`FirewallState`].
///
/// Contract: `apply` is one atomic transaction per family (or none when
/// nothing differs), idempotent, and touches only what bridgewall owns (never
/// the user's `DOCKER-USER` content). Ownership bookkeeping is opaque JSON:
/// the interface records [`FirewallBackend::ownership_after`] before each
/// apply and [`FirewallBackend::ownership`] after it, and hands the last
/// record back through [`FirewallBackend::adopt`] at the next start.
pub trait FirewallBackend: Send + Sync {
    /// The backend's name, as `firewall-backend` spells it.
    fn name(&self) -> &'static str;

    /// The rules of `family` that `state` gives, as text (pure).
    fn render(&self, state: &FirewallState, family: Family) -> RenderedRules;

    /// Takes back the ownership record of an earlier run.
    fn adopt(&mut self, record: serde_json::Value) -> Result<(), BackendError>;

    /// What the backend owns now, to be recorded.
    fn ownership(&self) -> serde_json::Value;

    /// What the backend may own once `next` is applied (now or then): to be
    /// recorded before applying, so that a crash mid-apply leaves nothing the
    /// next start would not know to remove.
    fn ownership_after(&self, next: &FirewallState) -> serde_json::Value;

    /// Brings the kernel to `txn.next`.
    fn apply(&mut self, txn: &Transaction<'_>) -> Result<ApplyOutcome, BackendError>;

    /// Compares the kernel's rules of `family` with what `state` plans,
    /// reading only (a family whose tools do not work has no differences
    /// when it is switched off).
    fn check(&self, state: &FirewallState, family: Family) -> Result<RulesCheck, BackendError>;

    /// The chains (or tables) of bridgewall's names the kernel holds now,
    /// other than the user's hook (`DOCKER-USER`): with no ownership record
    /// to say they are bridgewall's, they are most likely a dockerd's.
    fn existing_chains(&self) -> Vec<String>;

    /// Whether the kernel holds `chain` in `table` for `family` (another
    /// program's, such as ufw's `ufw-user-input`).
    fn has_chain(&self, family: Family, table: &str, chain: &str) -> bool {
        let _ = (family, table, chain);
        false
    }

    /// Whether a deleted user hook (`DOCKER-USER`) gets back the rules last
    /// seen in it: on while a host firewall that deletes every chain when
    /// it reloads (firewalld) is in use; off, it comes back empty.
    fn restore_user_rules(&mut self, on: bool) {
        let _ = on;
    }

    /// A short description of what the backend programs (`info`): e.g.
    /// `iptables (nf_tables)`.
    fn describe(&self) -> String {
        self.name().to_string()
    }

    /// Whether the kernel announces changes to this backend's rules through
    /// nf_tables notifications (so drift can be heard, not polled for).
    fn announces_changes(&self) -> bool {
        false
    }
}
