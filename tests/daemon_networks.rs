//! The daemon's networks, driven by the real docker CLI and the bridgewall
//! CLI: creation, listing, inspection, removal and pruning; bridges and rules
//! in the daemon's namespace; state that survives restarts and crashes; bad
//! input that changes nothing.

mod support;

use support::daemon::{TestDaemon, err, ok};

#[test]
fn docker_cli_manages_networks_and_the_firewall_follows() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    // A new daemon: the default bridge, forwarding on with the FORWARD DROP policy.
    assert_eq!(
        ok(d.docker(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"])),
        "bridge bridge\n"
    );
    assert!(d.links().contains(&"docker0".to_string()));
    let rules = d.rules();
    assert!(rules.contains(":FORWARD DROP"), "{rules}");
    assert!(rules.contains("-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-FORWARD\n"));
    assert!(rules.contains("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"));

    let id = ok(d.docker(&[
        "network",
        "create",
        "--subnet",
        "192.0.2.0/24",
        "--gateway",
        "192.0.2.254",
        "-o",
        "com.docker.network.bridge.name=bw-front",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "--label",
        "tier=front",
        "front",
    ]));
    assert_eq!(id.trim().len(), 64);
    ok(d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "2001:db8:1::/64",
        "--internal",
        "back",
    ]));
    let names = ok(d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert_eq!(names, "back\nbridge\nfront\n");
    assert_eq!(
        ok(d.docker(&[
            "network",
            "inspect",
            "front",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.tier}} {{.Internal}}"
        ]))
        .trim(),
        "192.0.2.0/24 192.0.2.254 front false"
    );
    assert_eq!(
        ok(d.docker(&[
            "network",
            "ls",
            "-f",
            "label=tier=front",
            "--format",
            "{{.Name}}"
        ])),
        "front\n"
    );
    // The bridge and its gateway address are there; the rules match Docker's.
    let addrs = d.exec(&["ip", "-o", "addr", "show", "dev", "bw-front"]);
    assert!(addrs.contains("192.0.2.254/24"), "{addrs}");
    let rules = d.rules();
    for rule in [
        "-A DOCKER ! -i bw-front -o bw-front -j DROP",
        "-A DOCKER-FORWARD -i bw-front -o bw-front -j DROP",
        "-A DOCKER-FORWARD -i bw-front ! -o bw-front -j ACCEPT",
        "-A POSTROUTING -s 192.0.2.0/24 ! -o bw-front -j MASQUERADE",
        "-A DOCKER-ISOLATION-STAGE-1 ! -s 2001:db8:1::/64 ! -i br-",
    ] {
        assert!(rules.contains(rule), "missing {rule}:\n{rules}");
    }
    // The bridgewall CLI sees the same.
    let ls = ok(d.bw(&["network", "ls"]));
    assert!(ls.starts_with("NETWORK ID     NAME"), "{ls}");
    assert!(ls.contains(" front "), "{ls}");

    ok(d.docker(&["network", "rm", "front"]));
    assert!(!d.links().contains(&"bw-front".to_string()));
    let rules = d.rules();
    assert!(!rules.contains("bw-front"), "stale rules:\n{rules}");
    assert!(!rules.contains("192.0.2.0/24"), "stale rules:\n{rules}");
    let pruned = ok(d.docker(&["network", "prune", "-f"]));
    assert!(pruned.contains("back"), "{pruned}");
    assert_eq!(
        ok(d.docker(&["network", "ls", "--format", "{{.Name}}"])),
        "bridge\n"
    );
    assert_eq!(d.links().iter().filter(|l| l.starts_with("br-")).count(), 0);
}

#[test]
fn networks_and_user_rules_survive_a_restart() {
    if !support::daemon::can_run() {
        return;
    }
    let mut d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "one"]));
    ok(d.docker(&["network", "create", "--subnet", "198.51.100.0/24", "two"]));
    ok(d.docker(&["network", "create", "three"]));
    ok(d.docker(&["network", "rm", "one"]));
    d.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-s",
        "203.0.113.7",
        "-j",
        "DROP",
    ]);
    let before = d.rules();
    let inspect = ok(d.docker(&["network", "inspect", "two", "three"]));
    d.restart();
    assert_eq!(d.rules(), before);
    assert_eq!(
        ok(d.docker(&["network", "inspect", "two", "three"])),
        inspect
    );
    // The next network takes the freed pool, not one in use.
    ok(d.docker(&["network", "create", "four"]));
    let subnets = ok(d.docker(&[
        "network",
        "inspect",
        "three",
        "four",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
    ]));
    assert_eq!(subnets, "172.19.0.0/16\n172.18.0.0/16\n");
    assert!(
        d.rules()
            .contains("-A DOCKER-USER -s 203.0.113.7/32 -j DROP")
    );
    // A flushed FORWARD chain is repaired by SIGHUP.
    d.exec(&["iptables", "-F", "FORWARD"]);
    let v4 = || d.exec(&["iptables-save"]);
    assert!(!v4().contains("-A FORWARD -j DOCKER-USER"));
    d.hup_and_wait();
    assert!(
        v4().contains("-A FORWARD -j DOCKER-USER"),
        "not repaired:\n{}",
        d.log()
    );
    assert!(d.log().contains("changed=true drift=true"), "{}", d.log());
}

#[test]
fn crashes_in_the_middle_of_changes_converge_on_restart() {
    if !support::daemon::can_run() {
        return;
    }
    let mut d = TestDaemon::start(None);
    // Kill -9 while creations and removals are in flight, at varying points.
    for round in 0..6u32 {
        let host = d.host();
        let worker = std::thread::spawn(move || {
            for i in 0..4 {
                let name = format!("n{round}-{i}");
                let _ = std::process::Command::new("docker")
                    .args(["-H", &host, "network", "create", &name])
                    .output();
                if i % 2 == 1 {
                    let _ = std::process::Command::new("docker")
                        .args(["-H", &host, "network", "rm", &name])
                        .output();
                }
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(40 * u64::from(round + 1)));
        d.kill9();
        worker.join().unwrap();
        d.start_again();
        support::converged::networks(&d);
    }
}

#[test]
fn bad_network_requests_change_nothing() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "taken"]));
    let rules = d.rules();
    let links = d.links();
    let cases: &[(&[&str], &str)] = &[
        (
            &["network", "create", "taken"],
            "Error response from daemon: network with name taken already exists",
        ),
        (
            &["network", "create", "--subnet", "192.0.2.0/25", "overlap"],
            "Error response from daemon: invalid pool request: Pool overlaps with other one on this address space",
        ),
        (
            &["network", "create", "--subnet", "172.17.0.0/16", "overlap2"],
            "Error response from daemon: invalid pool request: Pool overlaps with other one on this address space",
        ),
        (
            &["network", "create", "--subnet", "10.1.0.1/24", "hostbits"],
            "Error response from daemon: invalid network config:",
        ),
        (
            &["network", "create", "--subnet", "10.2.0.0/33", "badcidr"],
            "Error response from daemon: invalid network config:",
        ),
        (
            &["network", "create", "-d", "macvlan", "mac"],
            "Error response from daemon: network mac: unsupported driver \"macvlan\": bridgewall only handles the \"bridge\" driver",
        ),
        (
            &[
                "network",
                "create",
                "-o",
                "com.docker.network.bridge.enable_icc=maybe",
                "badopt",
            ],
            "Error response from daemon: failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing \"maybe\": invalid syntax)",
        ),
        (
            &[
                "network",
                "create",
                "-o",
                "com.docker.network.bridge.gateway_mode_ipv4=isolated",
                "iso",
            ],
            "Error response from daemon: gateway mode 'isolated' can only be used for an internal network",
        ),
        (
            &[
                "network",
                "create",
                "-o",
                "com.docker.network.bridge.name=docker0",
                "samebridge",
            ],
            "Error response from daemon: cannot create network",
        ),
        (
            &[
                "network",
                "create",
                "-o",
                "com.docker.network.driver.mtu=-1",
                "mtu",
            ],
            "Error response from daemon: invalid MTU number: -1",
        ),
        (
            &["network", "create", "--ipv4=false", "noip"],
            "Error response from daemon: IPv4 or IPv6 must be enabled",
        ),
        (
            &["network", "rm", "nosuch"],
            "Error response from daemon: network nosuch not found",
        ),
        (
            &["network", "rm", "bridge"],
            "Error response from daemon: bridge is a pre-defined network and cannot be removed",
        ),
        (
            &["network", "inspect", "nosuch"],
            "Error response from daemon: network nosuch not found",
        ),
        (
            &["network", "ls", "-f", "colour=red"],
            "Error response from daemon: invalid filter 'colour'",
        ),
        (
            &["network", "prune", "-f", "--filter", "until=yesterday"],
            "Error response from daemon: failed to parse value as time or duration: \"yesterday\"",
        ),
    ];
    for (args, want) in cases {
        let mut got = err(d.docker(args));
        // The docker CLI before 23 (Debian's docker.io) has no --ipv4: the
        // same request goes through the API.
        if got == "unknown flag: --ipv4" {
            let req = bridgewall::api::types::NetworkCreateRequest {
                name: "noip".into(),
                enable_ipv4: Some(false),
                ..Default::default()
            };
            got = d
                .api(async |c| {
                    c.post::<_, bridgewall::api::types::NetworkCreateResponse>(
                        "/networks/create",
                        &req,
                    )
                    .await
                })
                .unwrap_err()
                .to_string();
        }
        // The docker CLI before 23 rewords a 404 on a network itself.
        let old_cli_404 = want
            .strip_prefix("Error response from daemon: network ")
            .and_then(|w| w.strip_suffix(" not found"))
            .is_some_and(|n| got == format!("Error: No such network: {n}"));
        assert!(
            got.starts_with(want) || old_cli_404,
            "{args:?}: got {got:?}, want {want:?}"
        );
        assert_eq!(d.rules(), rules, "{args:?} changed the rules");
        assert_eq!(d.links(), links, "{args:?} changed the links");
    }
    // The same through the bridgewall CLI.
    assert_eq!(
        err(d.bw(&["network", "create", "taken"])),
        "Error response from daemon: network with name taken already exists"
    );
    assert_eq!(
        err(d.bw(&[
            "network",
            "create",
            "--subnet",
            "192.0.2.0/24",
            "--gateway",
            "198.51.100.1",
            "g"
        ])),
        "no matching subnet for gateway 198.51.100.1"
    );
    assert_eq!(d.rules(), rules);
}

#[test]
fn daemon_json_shapes_the_default_bridge_and_forwarding() {
    if !support::daemon::can_run() {
        return;
    }
    // bip and fixed-cidr, and forwarding without the DROP policy.
    let d = TestDaemon::start(Some(
        r#"{"bip": "198.51.100.1/24", "fixed-cidr": "198.51.100.128/25", "ip-forward-no-drop": true, "icc": false}"#,
    ));
    let addrs = d.exec(&["ip", "-o", "addr", "show", "dev", "docker0"]);
    assert!(addrs.contains("198.51.100.1/24"), "{addrs}");
    assert_eq!(
        ok(d.docker(&["network", "inspect", "bridge", "--format",
            "{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{.Gateway}}{{end}} {{index .Options \"com.docker.network.bridge.enable_icc\"}}"])).trim(),
        "198.51.100.0/24 198.51.100.128/25 198.51.100.1 false"
    );
    assert_eq!(d.exec(&["sysctl", "-n", "net.ipv4.ip_forward"]).trim(), "1");
    let rules = d.rules();
    assert!(
        rules.contains(":FORWARD ACCEPT"),
        "ip-forward-no-drop: {rules}"
    );
    assert!(rules.contains("-A DOCKER-FORWARD -i docker0 -o docker0 -j DROP"));
    let sb = d.sandbox(support::daemon::sleeper("c0", "", &[])).unwrap();
    assert_eq!(
        sb.network_settings.networks["bridge"].ip_address,
        "198.51.100.128"
    );
    drop(d);

    // No default bridge at all.
    let d = TestDaemon::start(Some(r#"{"bridge": "none"}"#));
    assert_eq!(
        ok(d.docker(&["network", "ls", "--format", "{{.Name}}"])),
        ""
    );
    assert!(!d.links().contains(&"docker0".to_string()));
    assert!(!d.rules().contains("docker0"));
}

/// `"ip6tables": false` in a namespace with IPv6 switched off, and no
/// ip6tables program on the daemon's PATH: networks, sandboxes and published
/// ports work over IPv4, and no IPv6 rule is made.
#[test]
fn a_disabled_ipv6_needs_neither_ip6tables_nor_the_kernels_ipv6() {
    if !support::daemon::can_run() {
        return;
    }
    let ns = support::TestNetns::new();
    ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    // Every program the daemon runs, but none of the ip6tables family.
    let bin = tempfile::tempdir().unwrap();
    for prog in [
        "iptables",
        "iptables-save",
        "iptables-restore",
        "conntrack",
        "sleep",
    ] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {prog}")])
            .output()
            .unwrap();
        let target = String::from_utf8_lossy(&found.stdout).trim().to_string();
        assert!(!target.is_empty(), "{prog} not found");
        std::os::unix::fs::symlink(target, bin.path().join(prog)).unwrap();
    }
    let path = bin.path().display().to_string();
    // The control: that PATH really has no ip6tables.
    let probe = std::process::Command::new("/bin/sh")
        .args(["-c", "command -v ip6tables-restore"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(!probe.status.success(), "ip6tables on the reduced PATH");

    let d = TestDaemon::start_in_with_path(
        &ns.name,
        Some(r#"{"ip6tables": false, "ipv6": false}"#),
        &path,
    );
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "v4only"]));
    d.sandbox(support::daemon::sleeper("web", "v4only", &["8080:80"]))
        .unwrap();
    let v4 = ns.exec(&["iptables-save"]);
    assert!(
        v4.contains("--dport 8080 -j DNAT --to-destination 192.0.2.2:80"),
        "{v4}"
    );
    let v6 = ns.exec(&["ip6tables-save"]);
    assert!(!v6.contains("DOCKER"), "IPv6 rules made: {v6}");
    ok(d.docker(&["network", "create", "second"]));
    ok(d.docker(&["network", "rm", "second"]));
    let log = d.log();
    assert!(
        !log.contains("ERROR") && !log.contains("ip6tables"),
        "{log}"
    );
}

/// A namespace holding DOCKER chains the daemon has no record of (a
/// dockerd's, say): the daemon refuses to start, naming them, and changes
/// nothing; `--adopt-chains` takes them over.
#[test]
fn chains_of_another_owner_stop_the_start_unless_adopted() {
    if !support::daemon::can_run() {
        return;
    }
    let ns = support::TestNetns::new();
    ns.exec(&["iptables", "-N", "DOCKER"]);
    ns.exec(&[
        "iptables",
        "-A",
        "DOCKER",
        "-d",
        "198.51.100.9/32",
        "-j",
        "ACCEPT",
    ]);
    ns.exec(&["iptables", "-t", "nat", "-N", "DOCKER"]);
    let before = ns.exec(&["iptables-save"]);
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::daemon::bridgewall_bin())
        .args(["daemon", "--netns", &ns.name])
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}", dir.path().join("s.sock").display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started: {stderr}");
    assert!(
        stderr.contains("no record of making (ipv4 filter DOCKER, ipv4 nat DOCKER)")
            && stderr.contains("--adopt-chains"),
        "{stderr}"
    );
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&ns.exec(&["iptables-save"])), strip(&before));
    // Taken over: the daemon starts and the chain is bridgewall's.
    let d = TestDaemon::start_in_with_args(&ns.name, None, &["--adopt-chains"]);
    let after = ns.exec(&["iptables-save"]);
    assert!(!after.contains("198.51.100.9"), "{after}");
    assert!(after.contains("-A DOCKER-FORWARD"), "{after}");
    assert!(d.log().contains("taking over chains"));
}

/// A `bip` changed between two runs moves the default bridge; running
/// sandboxes of the other networks keep running, with their ports.
#[test]
fn changing_bip_keeps_the_other_networks_sandboxes_running() {
    if !support::daemon::can_run() {
        return;
    }
    let mut d = TestDaemon::start(Some(r#"{"bip": "10.99.0.1/24"}"#));
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "keep"]));
    d.sandbox(support::daemon::sleeper("aa", "keep", &["8081:80"]))
        .unwrap();
    d.sandbox(support::daemon::sleeper("bb", "", &["8082:80"]))
        .unwrap();
    let pid = d.inspect("aa").state.pid;
    assert!(pid > 0);
    std::fs::write(
        d.dir.path().join("daemon.json"),
        r#"{"bip": "10.98.0.1/24"}"#,
    )
    .unwrap();
    d.restart();
    let a = d.inspect("aa");
    assert!(a.state.running, "{:?}", a.state);
    assert_eq!(a.state.pid, pid, "the sandbox's process was replaced");
    assert!(d.exec(&["ss", "-Hltn"]).contains(":8081 "));
    let rules = d.exec(&["iptables-save"]);
    assert!(
        rules.contains("--dport 8081 -j DNAT --to-destination 192.0.2.2:80"),
        "{rules}"
    );
    assert!(
        rules.contains("-s 10.98.0.0/24 ! -o docker0 -j MASQUERADE"),
        "{rules}"
    );
    assert!(!rules.contains("10.99.0."), "{rules}");
    // The sandbox whose address the new bip no longer holds is released.
    assert!(!d.inspect("bb").state.running);
    assert!(!d.exec(&["ss", "-Hltn"]).contains(":8082 "));
}

/// A published port another program took while the daemon was down cannot
/// be served again: the log and inspect (`State.Error`) say so, and the
/// sandbox's other ports are served.
#[test]
fn a_port_taken_while_the_daemon_was_down_is_reported_and_the_others_served() {
    if !support::daemon::can_run() {
        return;
    }
    let mut d = TestDaemon::start(None);
    d.sandbox(support::daemon::sleeper("web", "", &["8091:80", "8092:80"]))
        .unwrap();
    assert!(d.inspect("web").state.error.is_empty());
    d.stop();
    let _foreign = d.occupy_port(8091);
    d.start_again();
    let web = d.inspect("web");
    assert!(web.state.running);
    assert!(
        web.state
            .error
            .contains("0.0.0.0:8091/tcp: cannot be reserved again"),
        "{:?}",
        web.state.error
    );
    assert!(!web.state.error.contains("8092"), "{:?}", web.state.error);
    let listening = d.exec(&["ss", "-Hltn"]);
    assert!(listening.contains("0.0.0.0:8092 "), "{listening}");
    assert!(d.log().contains("re-reserving a host port"));
}

/// `bridgewall rules check` reports the kernel's differences from the plan
/// (exit 1) and agrees again after a reload's repair; `rules show` prints
/// the plan of the running state.
#[test]
fn rules_check_reports_drift_and_show_prints_the_plan() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "web"]));
    let shown = ok(d.bw(&["rules", "show", "--family", "ipv4"]));
    assert!(
        shown.starts_with("# bridgewall rules: ipv4 (iptables-save)\n"),
        "{shown}"
    );
    assert!(shown.contains("-A DOCKER-BRIDGE -o br-"), "{shown}");
    assert!(!shown.contains("ip6tables"), "{shown}");
    let synced = ok(d.bw(&["rules", "check"]));
    assert!(
        synced.contains("ipv4 (iptables-save): in sync with the plan"),
        "{synced}"
    );
    d.exec(&["iptables", "-D", "FORWARD", "-j", "DOCKER-FORWARD"]);
    let out = d.bw(&["rules", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("ipv4 (iptables-save): 1 differences from the plan"),
        "{report}"
    );
    assert!(
        report.contains("  filter + -A FORWARD -j DOCKER-FORWARD"),
        "{report}"
    );
    assert!(
        report.contains("ipv6 (ip6tables-save): in sync"),
        "{report}"
    );
    d.hup_and_wait();
    let repaired = ok(d.bw(&["rules", "check"]));
    assert!(!repaired.contains("differences"), "{repaired}");
}

/// The drift watcher repairs, without a signal, rules something else
/// flushed, and leaves the user's DOCKER-USER rules as they are.
#[test]
fn the_drift_watcher_repairs_a_flush_by_itself() {
    if !support::daemon::can_run() {
        return;
    }
    let ns = support::TestNetns::new();
    let d = TestDaemon::start_in_with_args(&ns.name, None, &["--watch-interval-ms", "100"]);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "web"]));
    d.exec(&[
        "iptables",
        "-I",
        "DOCKER-USER",
        "-s",
        "203.0.113.7",
        "-j",
        "DROP",
    ]);
    let v4 = || d.exec(&["iptables-save"]);
    let planned = v4();
    assert!(planned.contains("-A DOCKER-FORWARD -j DOCKER-CT"));
    d.exec(&["iptables", "-F", "DOCKER-FORWARD"]);
    let started = std::time::Instant::now();
    let repaired = support::topology::wait_until(std::time::Duration::from_secs(5), || {
        v4().contains("-A DOCKER-FORWARD -j DOCKER-CT")
    });
    assert!(repaired, "not repaired:\n{}", d.log());
    println!(
        "repaired {} ms after the flush",
        started.elapsed().as_millis()
    );
    assert!(v4().contains("-A DOCKER-USER -s 203.0.113.7/32 -j DROP"));
    // The watcher logs once its repair is done: wait for the line (the
    // rules can be seen back just before it is written).
    let logged = support::topology::wait_until(std::time::Duration::from_secs(5), || {
        d.log()
            .contains("rules bridgewall owns were changed by something else: repaired")
    });
    assert!(logged, "{}", d.log());
    let synced = ok(d.bw(&["rules", "check"]));
    assert!(!synced.contains("differences"), "{synced}");
    // A program that flushes the chain again and again is not fought in a
    // loop: the watcher backs off and says so (40 flushes at most, 4 s).
    let backing_off = |log: &str| log.contains("the same drift returns at once");
    for _ in 0..40 {
        d.exec(&["iptables", "-F", "DOCKER-FORWARD"]);
        if backing_off(&d.log()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(backing_off(&d.log()), "{}", d.log());
}
