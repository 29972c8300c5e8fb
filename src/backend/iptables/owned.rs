//! Which rules in the built-in chains are bridgewall's: the iptables
//! backend's ownership record.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::firewall::{Family, FirewallConfig, FirewallState};

use super::planner::plan;
use super::ruleset::{Owner, Ruleset, Table};

/// bridgewall's rules in the built-in chains as last applied, by
/// `table/chain`: the rules it may remove there even once they are no longer
/// planned. Kept by the caller between runs (the daemon's store, or a file
/// per namespace for `bridgewall apply`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedRules(BTreeMap<String, BTreeSet<String>>);

impl OwnedRules {
    /// Keeps only the rules `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        for rules in self.0.values_mut() {
            rules.retain(|r| keep(r));
        }
    }

    /// The built-in-chain rules of `ruleset`.
    pub fn of(ruleset: &Ruleset) -> OwnedRules {
        let mut owned = OwnedRules::default();
        owned.add(ruleset);
        owned
    }

    /// Adds the built-in-chain rules of `ruleset`.
    pub fn add(&mut self, ruleset: &Ruleset) {
        for t in &ruleset.tables {
            for c in t.chains.iter().filter(|c| c.owner == Owner::Shared) {
                let set = self
                    .0
                    .entry(format!("{}/{}", t.table.name(), c.name))
                    .or_default();
                set.extend(c.rules.iter().map(|r| r.to_string()));
            }
        }
    }

    /// The jumps into bridgewall's chains that any run may have left in the
    /// built-in chains (with or without hairpin NAT, with `DOCKER-USER`):
    /// always bridgewall's, even with no history.
    pub fn base(family: Family) -> OwnedRules {
        let mut owned = OwnedRules::default();
        for hairpin in [false, true] {
            let state = FirewallState {
                config: FirewallConfig {
                    hairpin,
                    ..FirewallConfig::default()
                },
                daemon_level: true,
                ..FirewallState::default()
            };
            owned.add(&plan(&state, family));
        }
        owned
    }

    pub(super) fn contains(&self, table: Table, chain: &str, spec: &str) -> bool {
        self.0
            .get(&format!("{}/{chain}", table.name()))
            .is_some_and(|s| s.contains(spec))
    }
}
