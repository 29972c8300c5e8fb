//! What "converged" means after a daemon restart, checked against the
//! kernel: what the daemon lists is what the system holds, and nothing else.

use std::collections::BTreeSet;

use bridgewall::api::sandbox::SandboxSummary;

use super::daemon::{TestDaemon, ok};

/// After a restart: one namespace per running sandbox, no sandbox process
/// outside them, one veth per endpoint, exactly the published ports
/// listening, no raw rule for an address no sandbox has, and re-applying
/// changes nothing.
pub fn sandboxes(d: &TestDaemon) {
    let all: Vec<SandboxSummary> = d.api(async |c| c.get("/sandboxes?all=1").await.unwrap());
    let running: Vec<&SandboxSummary> = all.iter().filter(|s| s.state == "running").collect();
    let inspected: Vec<_> = running.iter().map(|s| d.inspect(&s.name)).collect();
    // Namespaces: one per running sandbox.
    let keys: BTreeSet<String> = inspected
        .iter()
        .map(|i| i.network_settings.sandbox_key.clone())
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(d.data_root().join("exec/netns"))
        .map(|r| {
            r.flatten()
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(files, keys, "namespaces left over or missing");
    // Processes: every sandbox process lives in a running sandbox's namespace.
    let ns_inodes: BTreeSet<u64> = keys
        .iter()
        .filter_map(|k| std::fs::metadata(k).ok())
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .collect();
    // (Test binaries run one at a time, and the ones that call this have a
    // single test: every `sleep 600` on the machine is this daemon's.)
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        if cmdline != b"sleep\x00600\x00" {
            continue;
        }
        let Ok(ns) = std::fs::metadata(p.path().join("ns/net")) else {
            continue;
        };
        let ino = std::os::unix::fs::MetadataExt::ino(&ns);
        assert!(
            ns_inodes.contains(&ino),
            "leaked sandbox process {:?}",
            p.file_name()
        );
    }
    // veths: one per endpoint.
    let endpoints: usize = inspected
        .iter()
        .map(|i| i.network_settings.networks.len())
        .sum();
    let veths = d.links().iter().filter(|l| l.starts_with("veth")).count();
    assert_eq!(
        veths,
        endpoints,
        "veths left over or missing: {:?}",
        d.links()
    );
    // Listening sockets: exactly the published host ports.
    let mut want: BTreeSet<String> = BTreeSet::new();
    for i in &inspected {
        for bindings in i.network_settings.ports.values() {
            for b in bindings.iter().filter(|b| !b.host_port.is_empty()) {
                want.insert(b.host_port.clone());
            }
        }
    }
    let got: BTreeSet<String> = d
        .exec(&["ss", "-Hltn"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.rsplit(':').next())
        .map(str::to_string)
        .collect();
    assert_eq!(got, want, "listening sockets differ from published ports");
    // Rules: only running sandboxes' addresses, and re-applying changes nothing.
    let rules = d.rules();
    let addrs: BTreeSet<String> = inspected
        .iter()
        .flat_map(|i| {
            i.network_settings
                .networks
                .values()
                .map(|n| n.ip_address.clone())
        })
        .collect();
    for line in rules
        .lines()
        .filter(|l| l.ends_with("-j DROP") && l.starts_with("-A PREROUTING -d "))
        .filter(|l| {
            l.split_whitespace()
                .nth(3)
                .is_some_and(|a| a.ends_with("/32"))
        })
    {
        let addr = line
            .split_whitespace()
            .nth(3)
            .unwrap()
            .trim_end_matches("/32");
        assert!(addrs.contains(addr), "stale raw rule: {line}");
    }
    reapply_changes_nothing(d, &rules);
}

/// After a restart: every bridge belongs to a listed network, every rule
/// names only listed bridges, and re-applying changes nothing.
pub fn networks(d: &TestDaemon) {
    let bridges: Vec<String> = ok(d.docker(&["network", "ls", "-q", "--no-trunc"]))
        .lines()
        .map(|id| {
            ok(d.docker(&[
                "network",
                "inspect",
                id,
                "--format",
                "{{index .Options \"com.docker.network.bridge.name\"}}|{{.Id}}",
            ]))
        })
        .map(|s| {
            let (name, id) = s.trim().split_once('|').unwrap();
            if name.is_empty() || name == "<no value>" {
                format!("br-{}", &id[..12])
            } else {
                name.to_string()
            }
        })
        .collect();
    for link in d.links() {
        if link.starts_with("br-") || link == "docker0" {
            assert!(
                bridges.contains(&link),
                "leaked bridge {link}; networks: {bridges:?}"
            );
        }
    }
    let rules = d.rules();
    for word in rules.split_whitespace().filter(|w| w.starts_with("br-")) {
        assert!(
            bridges.iter().any(|b| b == word),
            "stale rule for {word}:\n{rules}"
        );
    }
    for b in &bridges {
        assert!(
            rules.contains(&format!("-A DOCKER-BRIDGE -o {b} -j DOCKER")),
            "no rules for {b}"
        );
    }
    reapply_changes_nothing(d, &rules);
}

/// A reload's re-apply (waited for) changes nothing, in the daemon's own
/// words and in the kernel.
pub fn reapply_changes_nothing(d: &TestDaemon, rules: &str) {
    d.hup_and_wait();
    let log = d.log();
    let last = log
        .lines()
        .rev()
        .find(|l| l.contains("firewall re-applied"))
        .unwrap_or_default();
    assert!(last.contains("changed=false"), "{last}");
    assert_eq!(d.rules(), rules, "re-applying changed the rules");
}
