//! The iptables backend: Docker 28.5's iptables layout, rule for rule.
//!
//! - [`planner`]: the pure planner, state → [`Ruleset`] per family.
//! - [`rule`], [`ruleset`]: rules printed exactly as `iptables-save` does.
//! - [`save`]: `iptables-save` output read back.
//! - [`owned`]: which rules in built-in chains are bridgewall's.
//! - [`restore`]: the `iptables-restore --noflush` script for a change.
//! - [`diff`]: the kernel against the plan, for people.
//! - [`backend`]: [`IptablesBackend`], the [`FirewallBackend`](crate::firewall::FirewallBackend).
//!
//! API boundary: the only code that knows iptables syntax.

pub mod backend;
pub mod diff;
pub mod owned;
pub mod planner;
pub mod restore;
pub mod rule;
pub mod ruleset;
pub mod save;

pub use backend::{IptablesBackend, Variant};
pub use owned::OwnedRules;
pub use planner::{plan, plan_all};
pub use rule::Rule;
pub use ruleset::{Chain, Owner, Ruleset, Table, TableRules};
