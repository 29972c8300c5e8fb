//! What every fuzz target checks once an input is accepted: the firewall
//! state it leads to renders, for both families, into restore scripts that
//! the iptables backend's own check passes, one rule line per planned rule.

use std::collections::HashMap;

use bridgewall::backend::iptables::restore::{check_script, restore_script};
use bridgewall::backend::iptables::{OwnedRules, plan};
use bridgewall::firewall::{Family, FirewallState};

/// Panics (a finding) if `state` renders into anything but safe scripts.
pub fn check_state(state: &FirewallState) {
    for family in Family::ALL {
        let rs = plan(state, family);
        let Some(script) = restore_script(&HashMap::new(), &rs, &OwnedRules::default()) else {
            continue;
        };
        if let Err(e) = check_script(&script) {
            panic!("{e}\n{script}");
        }
        let rule_lines = script
            .lines()
            .filter(|l| l.starts_with("-A ") || l.starts_with("-I "))
            .count();
        assert_eq!(rule_lines, rs.rule_count(), "{script}");
    }
}
