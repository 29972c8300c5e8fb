//! Crash safety at every step, with crash points (`crash_point!`, built in
//! with the `failpoints` feature): the daemon is killed at each named step of
//! network create and remove, sandbox create, connect, disconnect and
//! remove; after the restart it has converged (`support::converged`: rules,
//! bridges, namespaces, processes, veths, listening sockets, a re-apply that
//! changes nothing), a removal or disconnect whose intent was recorded is
//! finished, a connect cut short is undone, and a new sandbox gets an
//! address no other one has.
#![cfg(feature = "failpoints")]

mod support;

use std::collections::BTreeSet;

use bridgewall::api::sandbox::SandboxSummary;
use support::daemon::{TestDaemon, ok, sleeper};

#[derive(Debug, Clone, Copy)]
enum Op {
    NetworkCreate,
    NetworkRemove,
    SandboxCreate,
    Connect,
    Disconnect,
    SandboxRemove,
}

const STEPS: &[(&str, Op)] = &[
    ("network-create:intent", Op::NetworkCreate),
    ("network-create:bridge", Op::NetworkCreate),
    ("network-create:firewall", Op::NetworkCreate),
    ("network-remove:intent", Op::NetworkRemove),
    ("network-remove:firewall", Op::NetworkRemove),
    ("network-remove:bridge", Op::NetworkRemove),
    ("sandbox-create:intent", Op::SandboxCreate),
    ("sandbox-create:netns", Op::SandboxCreate),
    ("sandbox-create:plumb", Op::SandboxCreate),
    ("sandbox-create:publish", Op::SandboxCreate),
    ("sandbox-create:process", Op::SandboxCreate),
    ("connect:intent", Op::Connect),
    ("connect:plumb", Op::Connect),
    ("connect:firewall", Op::Connect),
    ("disconnect:intent", Op::Disconnect),
    ("disconnect:firewall", Op::Disconnect),
    ("disconnect:link", Op::Disconnect),
    ("sandbox-remove:intent", Op::SandboxRemove),
    ("sandbox-remove:kill", Op::SandboxRemove),
    ("sandbox-remove:release", Op::SandboxRemove),
];

/// The addresses of the running sandboxes, one list entry per endpoint.
fn addresses(d: &TestDaemon) -> Vec<String> {
    let all: Vec<SandboxSummary> = d.api(async |c| c.get("/sandboxes").await.unwrap());
    all.iter()
        .flat_map(|s| {
            d.inspect(&s.name)
                .network_settings
                .networks
                .into_values()
                .map(|n| n.ip_address)
        })
        .filter(|a| !a.is_empty())
        .collect()
}

#[test]
fn a_crash_at_every_step_converges_on_restart() {
    if !support::daemon::can_run() {
        return;
    }
    let mut d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "net"]));
    ok(d.docker(&["network", "create", "--subnet", "198.51.100.0/24", "other"]));
    d.sandbox(sleeper("keep", "net", &["29999:80"])).unwrap();
    for (i, (step, op)) in STEPS.iter().enumerate() {
        let name = format!("s{i}");
        let port = format!("{}:80", 30000 + i);
        // What the step needs, made by an unarmed daemon.
        match op {
            Op::NetworkRemove => {
                ok(d.docker(&["network", "create", &name]));
            }
            Op::Connect | Op::SandboxRemove => {
                d.sandbox(sleeper(&name, "net", &[&port])).unwrap();
            }
            Op::Disconnect => {
                d.sandbox(sleeper(&name, "net", &[&port])).unwrap();
                ok(d.docker(&["network", "connect", "other", &name]));
            }
            Op::NetworkCreate | Op::SandboxCreate => {}
        }
        d.stop();
        d.arm(Some(step));
        d.start_again();
        // The request dies with the daemon.
        let _ = match op {
            Op::NetworkCreate => d.docker(&["network", "create", &name]).status.success(),
            Op::NetworkRemove => d.docker(&["network", "rm", &name]).status.success(),
            Op::SandboxCreate => d.sandbox(sleeper(&name, "net", &[&port])).is_ok(),
            Op::Connect => d
                .docker(&["network", "connect", "other", &name])
                .status
                .success(),
            Op::Disconnect => d
                .docker(&["network", "disconnect", "other", &name])
                .status
                .success(),
            Op::SandboxRemove => d.bw(&["rm", "-f", &name]).status.success(),
        };
        d.wait_crashed();
        d.arm(None);
        d.start_again();
        support::converged::networks(&d);
        support::converged::sandboxes(&d);
        // A removal whose intent was recorded is finished; a disconnect too.
        let networks = ok(d.docker(&["network", "ls", "--format", "{{.Name}}"]));
        let sandboxes = ok(d.bw(&["ps", "-a"]));
        match op {
            Op::NetworkRemove => {
                assert!(!networks.lines().any(|n| n == name), "{step}: {networks}")
            }
            Op::SandboxRemove => assert!(!sandboxes.contains(&name), "{step}: {sandboxes}"),
            Op::Disconnect => {
                let on = d.inspect(&name).network_settings.networks;
                assert!(!on.contains_key("other"), "{step}: still on other");
                assert!(on.contains_key("net"), "{step}: lost net");
            }
            // A connect not finished before the crash is undone.
            Op::Connect => {
                let on = d.inspect(&name).network_settings.networks;
                assert!(!on.contains_key("other"), "{step}: half connected");
            }
            Op::NetworkCreate | Op::SandboxCreate => {}
        }
        // No address is handed out twice.
        d.sandbox(sleeper("probe", "net", &[])).unwrap();
        let addrs = addresses(&d);
        let unique: BTreeSet<&String> = addrs.iter().collect();
        assert_eq!(
            unique.len(),
            addrs.len(),
            "{step}: an address used twice: {addrs:?}"
        );
        ok(d.bw(&["rm", "-f", "probe"]));
        // The untouched sandbox still publishes its port.
        assert!(d.exec(&["ss", "-Hltn"]).contains(":29999 "), "{step}");
        println!("{step}: converged");
    }
}
