//! An apply through the firewall interface is one `iptables-restore`
//! process per family, whatever the number
//! of networks and ports; a second identical apply runs no restore and changes
//! nothing; the user's DOCKER-USER rules and FORWARD rules are left alone.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use bridgewall::backend::iptables::{Ruleset, plan_all};
use bridgewall::backend::{IptablesBackend, Variant};
use bridgewall::firewall::*;
use bridgewall::host::netns::{CommandError, CommandRunner, Netns, NetnsRunner};

/// Records every program it runs, then runs it in the namespace.
struct Counting {
    inner: NetnsRunner,
    calls: Arc<Mutex<Vec<String>>>,
}

impl CommandRunner for Counting {
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, CommandError> {
        self.calls.lock().unwrap().push(program.to_string());
        self.inner.run(program, args, stdin)
    }
}

/// `networks` networks with `per_net` endpoints of 4 published ports each.
fn big_state(networks: u8, per_net: u8) -> FirewallState {
    let mut state = FirewallState {
        daemon_level: true,
        ..FirewallState::default()
    };
    for n in 0..networks {
        let br = IfName::new(&format!("br-test{n}")).unwrap();
        state.networks.push(NetworkConfig {
            if_name: br.clone(),
            internal: n % 7 == 6,
            icc: n % 3 != 0,
            masquerade: true,
            trusted_host_interfaces: vec![],
            v4: Some(FamilyConfig {
                prefix: format!("10.{n}.0.0/24").parse().unwrap(),
                host_ip: None,
                gateway_mode: if n % 5 == 4 {
                    GatewayMode::Routed
                } else {
                    GatewayMode::Nat
                },
            }),
            v6: Some(FamilyConfig {
                prefix: format!("2001:db8:{n}::/64").parse().unwrap(),
                host_ip: None,
                gateway_mode: GatewayMode::Nat,
            }),
        });
        for e in 0..per_net {
            let v4 = Ipv4Addr::new(10, n, 0, e + 2);
            let v6: Ipv6Addr = format!("2001:db8:{n}::{}", e + 2).parse().unwrap();
            let mut bindings = Vec::new();
            for p in 0..2u16 {
                let host_port = 10000 + u16::from(n) * 100 + u16::from(e) * 2 + p;
                bindings.push(PortBinding {
                    proto: if p == 0 { Protocol::Tcp } else { Protocol::Udp },
                    container_ip: IpAddr::V4(v4),
                    container_port: 80 + p,
                    host_ip: "0.0.0.0".parse().unwrap(),
                    host_port,
                });
                bindings.push(PortBinding {
                    proto: if p == 0 { Protocol::Tcp } else { Protocol::Udp },
                    container_ip: IpAddr::V6(v6),
                    container_port: 80 + p,
                    host_ip: "::".parse().unwrap(),
                    host_port,
                });
            }
            state.endpoints.push(FirewallEndpoint {
                network: br.clone(),
                addrs: EndpointAddrs {
                    v4: Some(v4),
                    v6: Some(v6),
                },
                bindings,
            });
        }
    }
    state
}

/// The firewall interface over the iptables backend running through
/// `runner`, with a journal in memory.
fn firewall(runner: Box<dyn CommandRunner>, state: &FirewallState) -> Firewall {
    Firewall::open(
        state.config.clone(),
        true,
        Box::new(IptablesBackend::new(runner, Variant::System)),
        Box::new(MemoryJournal::default()),
    )
    .unwrap()
}

fn restores(calls: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    calls
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.ends_with("-restore"))
        .cloned()
        .collect()
}

#[test]
fn one_restore_per_family_and_idempotent() {
    if !support::require(support::can_make_namespaces(), "root with ip and iptables") {
        return;
    }
    let ns = support::TestNetns::new();
    // The user's own policy, which must survive every apply.
    ns.exec(&["iptables", "-N", "DOCKER-USER"]);
    ns.exec(&[
        "iptables",
        "-A",
        "DOCKER-USER",
        "-s",
        "198.51.100.7",
        "-j",
        "DROP",
    ]);
    ns.exec(&["iptables", "-A", "FORWARD", "-i", "eth9", "-j", "ACCEPT"]);

    let calls = Arc::new(Mutex::new(Vec::new()));
    let state = big_state(30, 4);
    let runner = Counting {
        inner: NetnsRunner::new(Netns::named(&ns.name).unwrap()),
        calls: calls.clone(),
    };
    let mut firewall = firewall(Box::new(runner), &state);
    let rulesets = plan_all(&state);
    let planned: usize = rulesets.iter().map(Ruleset::rule_count).sum();
    assert!(planned > 1000, "a big plan: {planned} rules");
    assert!(firewall.replace(state.clone()).unwrap().changed);
    assert_eq!(restores(&calls), ["iptables-restore", "ip6tables-restore"]);

    // The kernel holds exactly the plan, plus the user's rules.
    let saved = ns.exec(&["iptables-save"]);
    for rs in &rulesets[..1] {
        for t in &rs.tables {
            for c in &t.chains {
                for r in &c.rules {
                    let line = format!("-A {} {}", c.name, r);
                    assert!(saved.contains(&line), "missing after apply: {line}");
                }
            }
        }
    }
    assert!(saved.contains("-A DOCKER-USER -s 198.51.100.7/32 -j DROP"));
    assert!(saved.contains(
        "-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-FORWARD\n-A FORWARD -i eth9 -j ACCEPT\n"
    ));

    // A second identical apply: no restore at all, and identical rules.
    calls.lock().unwrap().clear();
    let again = firewall.replace(state.clone()).unwrap();
    assert!(!again.changed && !again.drift, "{again:?}");
    assert!(restores(&calls).is_empty());
    let again = ns.exec(&["iptables-save"]);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&again), strip(&saved));

    // Removing half the networks is again one restore per family.
    calls.lock().unwrap().clear();
    firewall.replace(big_state(15, 4)).unwrap();
    assert_eq!(restores(&calls), ["iptables-restore", "ip6tables-restore"]);
    let after = ns.exec(&["iptables-save"]);
    assert!(
        !after.contains("br-test20"),
        "rules of removed networks are gone"
    );
    assert!(after.contains("br-test14"));
    assert!(after.contains("-A DOCKER-USER -s 198.51.100.7/32 -j DROP"));
}

/// A backend reports drift: someone else's flush of an owned chain is found
/// and repaired at the next reapply, a change of bridgewall's own is not
/// drift, and a repaired state reapplies with no change at all.
#[test]
fn drift_is_reported_and_repaired_by_a_reapply() {
    if !support::require(support::can_make_namespaces(), "root with ip and iptables") {
        return;
    }
    let ns = support::TestNetns::new();
    let state = big_state(2, 1);
    let runner = NetnsRunner::new(Netns::named(&ns.name).unwrap());
    let mut firewall = firewall(Box::new(runner), &state);
    let first = firewall.replace(state.clone()).unwrap();
    assert!(first.changed && !first.drift, "{first:?}");
    let reapplied = firewall.reapply().unwrap();
    assert_eq!(reapplied, ApplyOutcome::default());

    ns.exec(&["iptables", "-F", "DOCKER-FORWARD"]);
    assert!(!ns.exec(&["iptables-save"]).contains("-A DOCKER-FORWARD"));
    let repaired = firewall.reapply().unwrap();
    assert!(repaired.changed && repaired.drift, "{repaired:?}");
    assert!(ns.exec(&["iptables-save"]).contains("-A DOCKER-FORWARD"));
    assert_eq!(firewall.reapply().unwrap(), ApplyOutcome::default());

    // A change bridgewall makes itself is no drift.
    let grown = firewall.replace(big_state(3, 1)).unwrap();
    assert!(grown.changed && !grown.drift, "{grown:?}");
}
