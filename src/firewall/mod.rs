//! The firewall layer: the desired state's types, the rule model, and the
//! pure planner that turns state into rules.

pub mod firewaller;
pub mod planner;
pub mod rule;
pub mod ruleset;
pub mod types;

pub use firewaller::{Backend, Firewall, FirewallError, Firewaller};
pub use planner::{plan, plan_all};
pub use rule::Rule;
pub use ruleset::{Chain, Owner, Ruleset, Table, TableRules};
pub use types::*;
