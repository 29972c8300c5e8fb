//! How the kernel's rules compare with the plan, for people
//! (`bridgewall rules check`): bridgewall's part only, in the words of
//! `iptables-save`.

use std::collections::HashMap;

use super::owned::OwnedRules;
use super::planner::all_owned_chains;
use super::ruleset::{Owner, Ruleset};
use super::save::SavedTable;

/// The differences between `current` (from `iptables-save`) and `desired`,
/// one line each: `+ RULE` planned but missing, `- RULE` bridgewall's but
/// not planned, `~ …` present but out of place; empty when they agree.
/// `owned` lists bridgewall's earlier rules in the built-in chains.
pub fn diff(
    current: &HashMap<String, SavedTable>,
    desired: &Ruleset,
    owned: &OwnedRules,
) -> Vec<String> {
    let empty = SavedTable::default();
    let base = OwnedRules::base(desired.family);
    let mut out = Vec::new();
    for tr in &desired.tables {
        let table = tr.table;
        let cur = current.get(table.name()).unwrap_or(&empty);
        let at = |line: String| format!("{} {line}", table.name());
        for chain in &tr.chains {
            let name = &chain.name;
            let want: Vec<String> = chain.rules.iter().map(|r| r.to_string()).collect();
            let Some(cur_rules) = cur.rules.get(name) else {
                if chain.owner != Owner::Shared {
                    out.push(at(format!("+ -N {name}")));
                }
                out.extend(want.iter().map(|r| at(format!("+ -A {name} {r}"))));
                continue;
            };
            if chain.owner == Owner::User {
                continue;
            }
            if let Some(policy) = chain.policy
                && cur.policies.get(name).map(String::as_str) != Some(policy)
            {
                out.push(at(format!("~ :{name} policy is not {policy}")));
            }
            // What the restore script would judge: a chain bridgewall owns
            // holds exactly the plan; a built-in chain holds bridgewall's
            // rules in place.
            let (ours, in_place): (Vec<&String>, bool) = match chain.owner {
                Owner::Bridgewall => (cur_rules.iter().collect(), *cur_rules == want),
                _ => {
                    let split = owned.split_builtin(&base, table, chain, &want, cur_rules);
                    (split.ours, split.in_place)
                }
            };
            let missing: Vec<&String> = want.iter().filter(|w| !ours.contains(w)).collect();
            let extra: Vec<&&String> = ours.iter().filter(|s| !want.contains(s)).collect();
            out.extend(missing.iter().map(|r| at(format!("+ -A {name} {r}"))));
            out.extend(extra.iter().map(|r| at(format!("- -A {name} {r}"))));
            if missing.is_empty() && extra.is_empty() && !in_place {
                out.push(at(format!("~ {name}: bridgewall's rules are out of place")));
            }
        }
        for (_, name) in all_owned_chains().filter(|(t, _)| *t == table) {
            if tr.chain(name).is_none() && cur.rules.contains_key(*name) {
                out.push(at(format!("- -N {name} (not planned)")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::iptables::planner::plan;
    use crate::backend::iptables::save::parse_save;
    use crate::firewall::{Family, FirewallState};

    #[test]
    fn differences_are_named_rule_by_rule() {
        let state = FirewallState {
            daemon_level: true,
            ..FirewallState::default()
        };
        let rs = plan(&state, Family::V4);
        let text = rs.to_save_text();
        let none = OwnedRules::default();
        assert!(diff(&parse_save(&text), &rs, &none).is_empty());
        // A flushed FORWARD chain and a foreign rule: only what is ours.
        let flushed = text
            .replace(
                "-A FORWARD -j DOCKER-USER\n",
                "-A FORWARD -i eth9 -j ACCEPT\n",
            )
            .replace("-A FORWARD -j DOCKER-FORWARD\n", "");
        let d = diff(&parse_save(&flushed), &rs, &none);
        assert_eq!(
            d,
            [
                "filter + -A FORWARD -j DOCKER-USER",
                "filter + -A FORWARD -j DOCKER-FORWARD"
            ]
        );
        // Jumps in the wrong order.
        let swapped = text.replace(
            "-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-FORWARD\n",
            "-A FORWARD -j DOCKER-FORWARD\n-A FORWARD -j DOCKER-USER\n",
        );
        assert_eq!(
            diff(&parse_save(&swapped), &rs, &none),
            ["filter ~ FORWARD: bridgewall's rules are out of place"]
        );
        // A rule added to a chain bridgewall owns.
        let added = text.replace(
            "-A DOCKER-FORWARD -j DOCKER-CT\n",
            "-A DOCKER-FORWARD -j DOCKER-CT\n-A DOCKER-FORWARD -j ACCEPT\n",
        );
        assert_eq!(
            diff(&parse_save(&added), &rs, &none),
            ["filter - -A DOCKER-FORWARD -j ACCEPT"]
        );
    }
}
