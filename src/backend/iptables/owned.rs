//! Which rules in the built-in chains are bridgewall's: the iptables
//! backend's ownership record.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::firewall::{Family, FirewallConfig, FirewallState};

use super::planner::plan;
use super::ruleset::{Chain, Owner, Ruleset, Table};

/// A built-in chain's rules as the kernel holds them, split between
/// bridgewall's and everyone else's.
pub(super) struct BuiltinChain<'a> {
    /// bridgewall's rules, in the kernel's order.
    pub ours: Vec<&'a String>,
    /// The other rules, in the kernel's order.
    pub theirs: Vec<&'a String>,
    /// Whether bridgewall's stand as planned: all there, once each, in the
    /// planned order, the pinned head at the top.
    pub in_place: bool,
}

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

    /// Splits `current`, the kernel's rules of the built-in `chain`, into
    /// bridgewall's (planned in `want`, recorded here, or among `base`) and
    /// the others', and says whether bridgewall's stand as planned.
    pub(super) fn split_builtin<'a>(
        &self,
        base: &OwnedRules,
        table: Table,
        chain: &Chain,
        want: &[String],
        current: &'a [String],
    ) -> BuiltinChain<'a> {
        let is_ours = |s: &String| {
            want.contains(s)
                || self.contains(table, &chain.name, s)
                || base.contains(table, &chain.name, s)
        };
        let (ours, theirs): (Vec<&String>, Vec<&String>) = current.iter().partition(|s| is_ours(s));
        let in_place = ours.len() == want.len()
            && ours.iter().zip(want).all(|(a, b)| *a == b)
            && current.get(..chain.pinned) == want.get(..chain.pinned);
        BuiltinChain {
            ours,
            theirs,
            in_place,
        }
    }

    pub(super) fn contains(&self, table: Table, chain: &str, spec: &str) -> bool {
        self.0
            .get(&format!("{}/{chain}", table.name()))
            .is_some_and(|s| s.contains(spec))
    }
}
