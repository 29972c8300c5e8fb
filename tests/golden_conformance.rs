//! Conformance with Docker 28.5.2's firewall-layer goldens
//! (`../shared/conformance/docker-28.5.2/iptables-golden/`), driven through
//! the firewall interface: every non-WSL2 golden is reproduced as the
//! iptables backend's rendered text, and as what `iptables-save` prints after
//! the interface applied the state to a fresh namespace; removal then
//! restores the `cleaned` golden.

mod support;

use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;

use bridgewall::backend::{IptablesBackend, Variant};
use bridgewall::firewall::*;
use bridgewall::host::netns::{Netns, NetnsRunner};

/// The interface over the iptables backend for `family` in `netns`, with a
/// journal in memory, at the firewall layer (no daemon-level rules).
fn firewall(netns: Netns, variant: Variant, family: Family, config: FirewallConfig) -> Firewall {
    let backend = IptablesBackend::new(Box::new(NetnsRunner::new(netns)), variant).only(family);
    Firewall::open(
        config,
        false,
        Box::new(backend),
        Box::new(MemoryJournal::default()),
    )
    .unwrap()
}

/// The parameters encoded in a golden's file name.
#[derive(Debug, Clone)]
struct Case {
    file: String,
    family: Family,
    params: HashMap<String, String>,
}

fn flag(c: &Case, key: &str) -> bool {
    c.params.get(key).is_some_and(|v| v == "true")
}

fn cases() -> Option<Vec<Case>> {
    let dir = support::conformance_dir()?.join("iptables-golden");
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).ok()? {
        let file = entry.ok()?.file_name().to_string_lossy().into_owned();
        if file.contains("wsl2mirrored=true") {
            continue;
        }
        let stem = file
            .strip_prefix("TestIptabler_")?
            .strip_suffix(".golden")?;
        let (params, fam) = stem.split_once("__")?;
        let family = if fam == "ip6tables" {
            Family::V6
        } else {
            Family::V4
        };
        let params = params
            .split(',')
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), "true".to_string()),
            })
            .collect();
        out.push(Case {
            file,
            family,
            params,
        });
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    Some(out)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The inputs of Docker's test for a case (see the conformance README).
fn state_for(c: &Case) -> FirewallState {
    let mut config = FirewallConfig {
        hairpin: flag(c, "hairpin"),
        ..FirewallConfig::default()
    };
    if flag(c, "no") {
        match c.family {
            Family::V4 => config.ipv4 = false,
            Family::V6 => config.ipv6 = false,
        }
    }
    let mut state = FirewallState {
        config,
        daemon_level: false,
        networks: Vec::new(),
        endpoints: Vec::new(),
        drop_forward: Vec::new(),
    };
    if flag(c, "cleaned") {
        return state;
    }
    let gwm = match c.params.get("gwm").map(String::as_str) {
        Some("routed") => GatewayMode::Routed,
        Some("nat-unprotected") => GatewayMode::NatUnprotected,
        _ => GatewayMode::Nat,
    };
    let snat = flag(c, "snat");
    state.networks.push(NetworkConfig {
        if_name: IfName::new("br-dummy").unwrap(),
        internal: flag(c, "internal"),
        icc: flag(c, "icc"),
        masquerade: flag(c, "masq"),
        trusted_host_interfaces: vec![],
        v4: Some(FamilyConfig {
            prefix: "192.168.0.0/24".parse().unwrap(),
            host_ip: snat.then(|| ip("192.168.123.0")),
            gateway_mode: gwm,
        }),
        v6: Some(FamilyConfig {
            prefix: "fd49:efd7:54aa::/64".parse().unwrap(),
            host_ip: snat.then(|| ip("fd34:d0d4:672f::123")),
            gateway_mode: gwm,
        }),
    });
    let lh = flag(c, "bindlh");
    let b = |cip: &str, hip: &str| PortBinding {
        proto: Protocol::Tcp,
        container_ip: ip(cip),
        container_port: 80,
        host_ip: ip(hip),
        host_port: 8080,
    };
    state.endpoints.push(FirewallEndpoint {
        network: IfName::new("br-dummy").unwrap(),
        addrs: EndpointAddrs {
            v4: Some("192.168.0.2".parse().unwrap()),
            v6: Some("fd49:efd7:54aa::1".parse().unwrap()),
        },
        bindings: vec![
            b("192.168.0.2", if lh { "127.0.0.1" } else { "0.0.0.0" }),
            b("fd49:efd7:54aa::1", if lh { "::1" } else { "::" }),
        ],
    });
    state
}

fn golden(c: &Case) -> String {
    let dir = support::conformance_dir().unwrap().join("iptables-golden");
    fs::read_to_string(dir.join(&c.file)).unwrap()
}

fn cleaned_golden(c: &Case) -> String {
    let dir = support::conformance_dir().unwrap().join("iptables-golden");
    let fam = if c.family == Family::V6 {
        "ip6tables"
    } else {
        "iptables"
    };
    let hp = flag(c, "hairpin");
    fs::read_to_string(dir.join(format!("TestIptabler_cleaned,hairpin={hp}__{fam}.golden")))
        .unwrap()
}

#[test]
fn planner_reproduces_every_golden() {
    if !support::require(
        support::conformance_dir().is_some(),
        "../shared conformance data",
    ) {
        return;
    }
    let cases = cases().unwrap();
    assert_eq!(cases.len(), 206, "expected 206 non-WSL2 goldens");
    let mut failed = Vec::new();
    for c in &cases {
        let state = state_for(c);
        let fw = firewall(
            Netns::Current,
            Variant::System,
            c.family,
            state.config.clone(),
        );
        let rendered = fw.render(&state, c.family);
        assert_eq!(
            rendered.title,
            format!("{} ({}-save)", c.family, c.family.iptables())
        );
        let got = rendered.text;
        let want = golden(c);
        if got != want {
            failed.push(format!("{}\n--- want\n{want}--- got\n{got}", c.file));
        }
    }
    report("planner", cases.len(), &failed);
}

#[test]
fn applied_rules_match_every_golden_and_removal_restores_cleaned() {
    apply_all(Variant::System);
}

/// The same with iptables-legacy, whatever the machine's default variant is.
#[test]
fn applied_rules_match_every_golden_with_legacy_iptables() {
    let legacy = std::process::Command::new("sh")
        .args(["-c", "command -v iptables-legacy-restore"])
        .output()
        .is_ok_and(|o| o.status.success());
    if support::require(legacy, "iptables-legacy") {
        apply_all(Variant::Legacy);
    }
}

fn apply_all(variant: Variant) {
    if !support::require(
        support::conformance_dir().is_some(),
        "../shared conformance data",
    ) || !support::require(support::can_make_namespaces(), "root with ip and iptables")
    {
        return;
    }
    let cases = cases().unwrap();
    let mut failed = Vec::new();
    for c in &cases {
        let ns = support::TestNetns::new();
        let state = state_for(c);
        let mut fw = firewall(
            Netns::named(&ns.name).unwrap(),
            variant,
            c.family,
            state.config.clone(),
        );
        let save = variant.programs(c.family).0;
        fw.replace(state.clone()).unwrap();
        let got = ns.saved_tables_with(&save);
        if got != golden(c) {
            failed.push(format!(
                "{} (applied)\n--- want\n{}--- got\n{got}",
                c.file,
                golden(c)
            ));
            continue;
        }
        let again = fw.replace(state.clone()).unwrap();
        if again.changed || again.drift {
            failed.push(format!("{}: second apply: {again:?}", c.file));
        }
        if flag(c, "no") {
            continue;
        }
        let cleaned = FirewallState {
            networks: vec![],
            endpoints: vec![],
            ..state
        };
        fw.replace(cleaned).unwrap();
        let got = ns.saved_tables_with(&save);
        if got != cleaned_golden(c) {
            failed.push(format!(
                "{} (removed)\n--- want\n{}--- got\n{got}",
                c.file,
                cleaned_golden(c)
            ));
        }
    }
    report(&format!("applied ({variant:?})"), cases.len(), &failed);
}

/// Prints how many goldens were reproduced, and fails with the first
/// mismatch if any.
fn report(what: &str, total: usize, failed: &[String]) {
    println!(
        "{what}: {} of {total} goldens reproduced",
        total - failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} mismatches, first:\n{}",
        failed.len(),
        failed[0]
    );
}
