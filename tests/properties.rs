//! Property tests (no root): arbitrary strings in a network's name, every
//! bridge option and `-p` specs either get an error, or give a firewall
//! state whose restore scripts contain only lines bridgewall writes: rules of
//! the chains it owns, or of its own rules in built-in chains, one line per
//! planned rule, and nothing `iptables-restore` could read as more.

mod support;

use std::collections::{BTreeMap, HashMap};

use bridgewall::backend::iptables::planner::OWNED_CHAINS;
use bridgewall::backend::iptables::restore::{check_script, restore_script};
use bridgewall::backend::iptables::{OwnedRules, Ruleset, plan};
use bridgewall::firewall::Family;
use bridgewall::model::daemon_config::DaemonConfig;
use bridgewall::model::network::NetworkSpec;
use bridgewall::model::port_spec::PortSpec;
use bridgewall::model::state::{Attachment, StateBuilder};
use proptest::prelude::*;

/// Every bridge option, and one Docker ignores.
fn option_key() -> impl Strategy<Value = String> {
    let mut keys: Vec<&'static str> = support::NETWORK_OPTIONS.to_vec();
    keys.push("com.docker.network.bridge.whatever");
    prop::sample::select(keys).prop_map(str::to_string)
}

/// Pieces that are valid somewhere, and pieces that are syntax somewhere.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,6}",
        2 => ".{0,4}",
        1 => Just("eth0".to_string()),
        1 => Just("br-x".to_string()),
        1 => Just(":".to_string()),
        1 => Just(" ".to_string()),
        1 => Just("\n".to_string()),
        1 => Just("\"".to_string()),
        1 => Just("#".to_string()),
        1 => Just("-j ACCEPT".to_string()),
        1 => Just("COMMIT".to_string()),
        1 => Just("*filter".to_string()),
        1 => Just("true".to_string()),
        1 => Just("routed".to_string()),
        1 => Just("192.0.2.1".to_string()),
        1 => Just("::1".to_string()),
        1 => Just("1400".to_string()),
        1 => Just("8080".to_string()),
        1 => Just("/udp".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..4).prop_map(|parts| parts.concat())
}

fn options() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(option_key(), value(), 0..4)
}

fn port_spec() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("8080:80".to_string()),
        1 => Just("127.0.0.1:9090:90/udp".to_string()),
        2 => value(),
        1 => (value(), value()).prop_map(|(a, b)| format!("{a}:{b}")),
    ]
}

/// Checks one family's plan: the script from a fresh namespace passes the
/// renderer's check, has one `-A`/`-I` line per planned rule, and each of
/// those is in a chain bridgewall owns or is a planned rule of a built-in
/// chain.
fn check_family(rs: &Ruleset) -> Result<(), TestCaseError> {
    let Some(script) = restore_script(&HashMap::new(), rs, &OwnedRules::default()) else {
        return Ok(());
    };
    prop_assert!(check_script(&script).is_ok(), "{script}");
    let mut rule_lines = 0;
    for line in script.lines() {
        let mut words = line.split(' ');
        let first = words.next().unwrap_or_default();
        if first != "-A" && first != "-I" {
            continue;
        }
        rule_lines += 1;
        let chain = words.next().unwrap_or_default();
        let owned = chain == "DOCKER-USER" || OWNED_CHAINS.iter().any(|(_, c)| *c == chain);
        let ours = rs
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .filter(|c| c.name == chain)
            .flat_map(|c| &c.rules)
            .any(|r| line.ends_with(&format!(" {r}")));
        prop_assert!(owned || ours, "a line outside bridgewall's rules: {line}");
    }
    prop_assert_eq!(rule_lines, rs.rule_count(), "{}", script);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_network_input_is_refused_or_only_makes_bridgewall_rules(
        name in value(),
        options in options(),
        ports in prop::collection::vec(port_spec(), 0..3),
        internal in any::<bool>(),
        ipv6 in any::<bool>(),
    ) {
        let mut state = StateBuilder::new(DaemonConfig::default()).unwrap();
        let spec = NetworkSpec {
            name: name.clone(),
            driver: "bridge".into(),
            enable_ipv4: true,
            enable_ipv6: ipv6,
            internal,
            ipam: Vec::new(),
            options,
        };
        if let Err(e) = state.add_network(&spec) {
            prop_assert!(!e.to_string().is_empty());
            return Ok(());
        }
        let mut mappings = Vec::new();
        for p in &ports {
            match PortSpec::parse(p) {
                Ok(spec) => mappings.extend(spec.mappings()),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
        if state.add_container("c1", &[Attachment::new(name)], &mappings).is_err() {
            return Ok(());
        }
        let fw = state.build().firewall_state();
        for family in Family::ALL {
            check_family(&plan(&fw, family))?;
        }
    }
}
