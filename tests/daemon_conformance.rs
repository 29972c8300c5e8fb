//! Daemon-level conformance: Docker 28.5.2's documented scenarios
//! (`../shared/conformance/docker-28.5.2/iptablesdoc/`), driven by the Compose
//! files in `tests/scenarios/`, through `bridgewall plan` and applied to a real
//! namespace with `bridgewall apply`. The key scenarios' expectations are also
//! written here, so they hold without `../shared`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIOS: &[&str] = &[
    "new-daemon",
    "usernet-internal",
    "usernet-portmap",
    "usernet-portmap-lo",
    "usernet-portmap-natunprot",
    "usernet-portmap-noicc",
    "usernet-portmap-noproxy",
    "usernet-portmap-routed",
];

fn scenario_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// Runs the `bridgewall` binary; returns (success, stdout, stderr).
fn bridgewall(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bridgewall"))
        .args(args)
        .output()
        .expect("run bridgewall");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scenario_args(name: &str) -> Vec<String> {
    let dir = scenario_dir(name);
    let mut args = Vec::new();
    let config = dir.join("daemon.json");
    if config.exists() {
        args.push("--config".to_string());
        args.push(config.display().to_string());
    }
    args.push(dir.join("compose.yml").display().to_string());
    args
}

/// `bridgewall plan --family ipv4` for a scenario, as `iptables -S` blocks
/// per table: (filter, nat, raw).
fn planned_blocks(name: &str) -> [String; 3] {
    let mut args = vec!["plan".to_string(), "--family".into(), "ipv4".into()];
    args.extend(scenario_args(name));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = bridgewall(&args);
    assert!(ok, "plan {name} failed: {err}");
    let mut blocks = [String::new(), String::new(), String::new()];
    let mut idx = None;
    for line in out.lines() {
        if let Some(t) = line.strip_prefix('*') {
            idx = Some(match t {
                "filter" => 0,
                "nat" => 1,
                _ => 2,
            });
            continue;
        }
        let Some(i) = idx else { continue };
        let s = if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let (chain, policy) = (parts.next().unwrap(), parts.next().unwrap());
            if policy == "-" {
                format!("-N {chain}")
            } else {
                format!("-P {chain} {policy}")
            }
        } else if line.starts_with("-A ") {
            line.to_string()
        } else {
            continue;
        };
        blocks[i].push_str(&s);
        blocks[i].push('\n');
    }
    blocks
}

/// The `iptables -S` blocks of Docker's documentation of a scenario:
/// (filter, nat, raw); raw is empty when the page shows none.
fn documented_blocks(dir: &Path, name: &str) -> [String; 3] {
    let text = std::fs::read_to_string(dir.join(format!("{name}.md"))).unwrap();
    let mut blocks = [String::new(), String::new(), String::new()];
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("<details>") {
            current = Some(String::new());
        } else if line.starts_with("</details>") {
            let block = current.take().unwrap_or_default();
            let i = if block.contains("-P FORWARD") {
                0
            } else if block.contains("-P POSTROUTING") {
                1
            } else {
                2
            };
            blocks[i] = block;
        } else if let Some(b) = current.as_mut() {
            let l = line.trim();
            if l.starts_with('-') {
                b.push_str(l);
                b.push('\n');
            }
        }
    }
    blocks
}

#[test]
fn plan_reproduces_docker_documented_scenarios() {
    let Some(dir) = support::conformance_dir() else {
        support::require(false, "../shared conformance data");
        return;
    };
    let dir = dir.join("iptablesdoc");
    let mut passed = 0;
    for name in SCENARIOS {
        let want = documented_blocks(&dir, name);
        assert!(
            !want[0].is_empty() && !want[1].is_empty(),
            "{name}: page has filter and nat"
        );
        let got = planned_blocks(name);
        assert_eq!(got[0], want[0], "{name}: filter");
        assert_eq!(got[1], want[1], "{name}: nat");
        // Some pages do not show the raw table.
        if !want[2].is_empty() {
            assert_eq!(got[2], want[2], "{name}: raw");
        }
        passed += 1;
    }
    println!(
        "daemon scenarios via plan: {passed} of {} reproduced",
        SCENARIOS.len()
    );
}

#[test]
fn applied_scenarios_match_docker_documentation() {
    let Some(dir) = support::conformance_dir() else {
        support::require(false, "../shared conformance data");
        return;
    };
    if !support::require(support::can_make_namespaces(), "root with ip and iptables") {
        return;
    }
    let dir = dir.join("iptablesdoc");
    for name in SCENARIOS {
        let ns = support::TestNetns::new();
        let mut args = vec!["apply".to_string(), "--netns".into(), ns.name.clone()];
        args.extend(scenario_args(name));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = bridgewall(&args);
        assert!(ok, "apply {name} failed: {err}");
        let want = documented_blocks(&dir, name);
        for (i, table) in ["filter", "nat", "raw"].iter().enumerate() {
            // Some pages do not show the raw table.
            if want[i].is_empty() {
                continue;
            }
            let got = ns.exec(&["iptables", "-S", "-t", table]);
            assert_eq!(got, want[i], "{name}: {table} applied");
        }
    }
}

/// Applying one stack and then another to the same namespace leaves exactly
/// the second one's rules: nothing stale in the built-in chains either.
#[test]
fn reapplying_a_changed_stack_leaves_no_stale_rule() {
    let Some(dir) = support::conformance_dir() else {
        support::require(false, "../shared conformance data");
        return;
    };
    if !support::require(support::can_make_namespaces(), "root with ip and iptables") {
        return;
    }
    let dir = dir.join("iptablesdoc");
    let ns = support::TestNetns::new();
    for name in [
        "usernet-portmap-lo",
        "usernet-portmap-noproxy",
        "new-daemon",
    ] {
        let mut args = vec!["apply".to_string(), "--netns".into(), ns.name.clone()];
        args.extend(scenario_args(name));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = bridgewall(&args);
        assert!(ok, "apply {name} failed: {err}");
    }
    let want = documented_blocks(&dir, "new-daemon");
    assert_eq!(ns.exec(&["iptables", "-S", "-t", "filter"]), want[0]);
    assert_eq!(ns.exec(&["iptables", "-S", "-t", "nat"]), want[1]);
    assert_eq!(
        ns.exec(&["iptables", "-S", "-t", "raw"]),
        "-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n"
    );
}

/// The default-bridge rules every scenario shares, as Docker documents them.
const NEW_DAEMON_FILTER: &str = "-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-BRIDGE
-N DOCKER-CT
-N DOCKER-FORWARD
-N DOCKER-ISOLATION-STAGE-1
-N DOCKER-ISOLATION-STAGE-2
-N DOCKER-USER
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-FORWARD
-A DOCKER ! -i docker0 -o docker0 -j DROP
-A DOCKER-BRIDGE -o docker0 -j DOCKER
-A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-FORWARD -j DOCKER-CT
-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1
-A DOCKER-FORWARD -j DOCKER-BRIDGE
-A DOCKER-FORWARD -i docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
";

#[test]
fn own_expectation_new_daemon() {
    let got = planned_blocks("new-daemon");
    assert_eq!(got[0], NEW_DAEMON_FILTER);
    assert_eq!(
        got[1],
        "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n-N DOCKER\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n\
         -A DOCKER -i docker0 -j RETURN\n"
    );
}

#[test]
fn own_expectation_published_port_on_user_network() {
    let got = planned_blocks("usernet-portmap");
    for rule in [
        "-A DOCKER -d 192.0.2.2/32 ! -i bridge1 -o bridge1 -p tcp -m tcp --dport 80 -j ACCEPT\n\
         -A DOCKER ! -i docker0 -o docker0 -j DROP\n\
         -A DOCKER ! -i bridge1 -o bridge1 -j DROP\n",
        "-A DOCKER-ISOLATION-STAGE-2 -o bridge1 -j DROP\n-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP\n",
        "-A DOCKER-FORWARD -i docker0 -j ACCEPT\n-A DOCKER-FORWARD -i bridge1 -j ACCEPT\n",
    ] {
        assert!(got[0].contains(rule), "filter lacks {rule}:\n{}", got[0]);
    }
    assert!(got[1].ends_with(
        "-A POSTROUTING -s 192.0.2.0/24 ! -o bridge1 -j MASQUERADE\n\
         -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n\
         -A DOCKER -i bridge1 -j RETURN\n\
         -A DOCKER -i docker0 -j RETURN\n\
         -A DOCKER ! -i bridge1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80\n"
    ));
    assert_eq!(
        got[2],
        "-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n-A PREROUTING -d 192.0.2.2/32 ! -i bridge1 -j DROP\n"
    );
}

#[test]
fn own_expectation_loopback_publish_is_protected() {
    let got = planned_blocks("usernet-portmap-lo");
    assert!(got[1].contains(
        "-A DOCKER -d 127.0.0.1/32 ! -i bridge1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80\n"
    ));
    assert!(got[2].ends_with(
        "-A PREROUTING -d 192.0.2.2/32 ! -i bridge1 -j DROP\n\
         -A PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 8080 -j DROP\n"
    ));
}

#[test]
fn own_expectation_hairpin_nat_without_userland_proxy() {
    let got = planned_blocks("usernet-portmap-noproxy");
    assert!(got[1].ends_with(
        "-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A POSTROUTING -o bridge1 -m addrtype --src-type LOCAL -j MASQUERADE\n\
         -A POSTROUTING -s 192.0.2.0/24 ! -o bridge1 -j MASQUERADE\n\
         -A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE\n\
         -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n\
         -A POSTROUTING -s 192.0.2.2/32 -d 192.0.2.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE\n\
         -A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80\n"
    ));
}

#[test]
fn own_expectation_internal_networks() {
    let got = planned_blocks("usernet-internal");
    assert!(got[0].contains(
        "-A DOCKER-FORWARD -i docker0 -j ACCEPT\n\
         -A DOCKER-FORWARD -i bridgeICC -o bridgeICC -j ACCEPT\n\
         -A DOCKER-FORWARD -i bridgeNoICC -o bridgeNoICC -j DROP\n\
         -A DOCKER-ISOLATION-STAGE-1 ! -s 198.51.100.0/24 -o bridgeNoICC -j DROP\n\
         -A DOCKER-ISOLATION-STAGE-1 ! -d 198.51.100.0/24 -i bridgeNoICC -j DROP\n\
         -A DOCKER-ISOLATION-STAGE-1 ! -s 192.0.2.0/24 -o bridgeICC -j DROP\n\
         -A DOCKER-ISOLATION-STAGE-1 ! -d 192.0.2.0/24 -i bridgeICC -j DROP\n\
         -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2\n"
    ));
}

#[test]
fn own_expectation_routed_network() {
    let got = planned_blocks("usernet-portmap-routed");
    assert!(got[0].contains(
        "-A DOCKER ! -i docker0 -o docker0 -j DROP\n\
         -A DOCKER -o bridge1 -p icmp -j ACCEPT\n\
         -A DOCKER ! -i bridge1 -o bridge1 -j DROP\n"
    ));
    assert!(got[0].contains(
        "-A DOCKER-ISOLATION-STAGE-1 -i bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A DOCKER-ISOLATION-STAGE-1 -o bridge1 -j RETURN\n"
    ));
    // Routed: no DNAT and no masquerading for the network, the host port is ignored.
    assert!(!got[1].contains("DNAT"));
    assert!(!got[1].contains("192.0.2.0/24"));
}

/// The `docker ...` commands a scenario's page was made with, from the
/// comment lines of its Compose file (continued with `\`), as arguments.
fn docker_commands(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(scenario_dir(name).join("compose.yml")).unwrap();
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in text.lines().filter_map(|l| l.strip_prefix('#')) {
        let line = line.trim();
        if current.is_empty() && !line.starts_with("docker ") {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(more) => current.push_str(more),
            None => {
                current.push_str(line);
                commands.push(
                    current
                        .split_whitespace()
                        .skip(1)
                        .map(str::to_string)
                        .collect(),
                );
                current.clear();
            }
        }
    }
    commands
}

/// The scenarios on a running daemon: the networks and containers of each
/// page made through the docker CLI and the API (a sandbox for each
/// container), in a namespace that forwards already (as the host the pages
/// were made on did), and the daemon's rules compared with the page's.
#[test]
fn a_running_daemon_matches_docker_documentation() {
    let Some(dir) = support::conformance_dir() else {
        support::require(false, "../shared conformance data");
        return;
    };
    if !support::daemon::can_run() {
        return;
    }
    let dir = dir.join("iptablesdoc");
    for name in SCENARIOS {
        let ns = support::TestNetns::new();
        ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        let config = std::fs::read_to_string(scenario_dir(name).join("daemon.json")).ok();
        let d = support::daemon::TestDaemon::start_in(&ns.name, config.as_deref());
        let mut networks = Vec::new();
        let mut containers = 0;
        for args in docker_commands(name) {
            if args[0] == "run" {
                let value = |flag: &str| {
                    args.windows(2)
                        .filter(|w| w[0] == flag)
                        .map(|w| w[1].as_str())
                        .collect::<Vec<_>>()
                };
                let req = support::daemon::sleeper(
                    value("--name")[0],
                    value("--network")[0],
                    &value("-p"),
                );
                d.sandbox(req).unwrap();
                containers += 1;
            } else {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                support::daemon::ok(d.docker(&args));
                networks.push(args.last().unwrap().to_string());
            }
        }
        // "one container on each" network, where the page says so.
        if containers == 0 {
            for (i, net) in networks.iter().enumerate() {
                d.sandbox(support::daemon::sleeper(&format!("c{}", i + 1), net, &[]))
                    .unwrap();
            }
        }
        let want = documented_blocks(&dir, name);
        for (i, table) in ["filter", "nat", "raw"].iter().enumerate() {
            // Some pages do not show the raw table.
            if want[i].is_empty() {
                continue;
            }
            let got = ns.exec(&["iptables", "-S", "-t", table]);
            assert_eq!(got, want[i], "{name}: {table} of the running daemon");
        }
    }
}
