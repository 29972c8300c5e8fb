//! `kill -9` of the daemon while sandboxes are being created and removed, at
//! varying points: after each restart the kernel holds exactly what the
//! daemon plans for its stored state (re-applying changes nothing), and no
//! veth, namespace, rule or listening socket is left over.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use bridgewall::api::sandbox::{SandboxCreateResponse, SandboxSummary};
use support::daemon::{TestDaemon, ok, sleeper};

fn check_converged(d: &TestDaemon) {
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
    // (Test binaries run one at a time, and this one has a single test:
    // every `sleep 600` on the machine is this daemon's.)
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
        .filter(|l| l.contains("-j DROP") && l.starts_with("-A PREROUTING -d 172."))
    {
        let addr = line
            .split_whitespace()
            .nth(3)
            .unwrap()
            .trim_end_matches("/32");
        assert!(addrs.contains(addr), "stale raw rule: {line}");
    }
    d.hup_and_wait();
    assert_eq!(d.rules(), rules, "re-applying changed the rules");
}

#[test]
fn crashes_while_sandboxes_come_and_go_leave_nothing_behind() {
    if !support::daemon::can_run() {
        return;
    }
    let mut d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "net"]));
    for round in 0..6u16 {
        let socket = d.socket();
        let worker = std::thread::spawn(move || {
            let client = bridgewall::api::client::Client::new(socket);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for i in 0..4u16 {
                    let name = format!("s{round}-{i}");
                    let port = format!("{}:80", 20000 + round * 10 + i);
                    let req = sleeper(&name, if i % 2 == 0 { "net" } else { "" }, &[&port]);
                    let created: Result<SandboxCreateResponse, _> =
                        client.post("/sandboxes/create", &req).await;
                    if created.is_ok() && i % 2 == 1 {
                        let _ = client.delete(&format!("/sandboxes/{name}?force=1")).await;
                    }
                }
            });
        });
        std::thread::sleep(Duration::from_millis(60 * u64::from(round + 1)));
        d.kill9();
        worker.join().unwrap();
        d.start_again();
        check_converged(&d);
    }
}
