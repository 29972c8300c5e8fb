//! Bad sandbox requests through the API get a clear error and change
//! nothing: no rule, link, namespace or listening socket is left behind.

mod support;

use bridgewall::api::sandbox::SandboxCreateRequest;
use support::daemon::{TestDaemon, ok, sleeper};

/// Rules, links, sandbox namespaces and listening sockets of the daemon.
fn footprint(d: &TestDaemon) -> String {
    let netns: Vec<String> = std::fs::read_dir(d.data_root().join("exec/netns"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let listening = d.exec(&["ss", "-Hltnu"]);
    format!("{}{:?}{netns:?}{listening}", d.rules(), d.links())
}

#[test]
fn bad_sandbox_requests_change_nothing() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "net"]));
    ok(d.docker(&["network", "create", "auto"]));
    d.sandbox(sleeper("c1", "net", &["8080:80"])).unwrap();
    // A port taken by another program in the daemon's namespace.
    let _foreign = d.occupy_port(9090);
    let before = footprint(&d);
    let with = |f: &dyn Fn(&mut SandboxCreateRequest)| {
        let mut r = sleeper("xx", "net", &[]);
        f(&mut r);
        r
    };
    let cases: Vec<(SandboxCreateRequest, &str)> = vec![
        (
            with(&|r| r.network = "nosuch".into()),
            "Error response from daemon: network nosuch not found",
        ),
        (
            with(&|r| r.name = "c1".into()),
            "Error response from daemon: Conflict. The container name \"/c1\" is already in use by container",
        ),
        (
            with(&|r| r.publish = vec!["8080:80".into()]),
            "Error response from daemon: Bind for 0.0.0.0:8080 failed: port is already allocated",
        ),
        (
            with(&|r| r.publish = vec!["9090:80".into()]),
            "Error response from daemon: failed to bind host port 0.0.0.0:9090/tcp: address already in use",
        ),
        (
            with(&|r| r.publish = vec!["80/xyz".into()]),
            "Error response from daemon: invalid proto: xyz",
        ),
        (
            with(&|r| r.publish = vec!["99999:80".into()]),
            "Error response from daemon: invalid hostPort: 99999",
        ),
        (
            with(&|r| r.publish = vec!["8000-8010:80-85".into()]),
            "Error response from daemon: invalid ranges specified for container and host Ports: 80-85 and 8000-8010",
        ),
        (
            with(&|r| r.publish = vec!["1.2.3:8080:80".into()]),
            "Error response from daemon: invalid IP address: 1.2.3",
        ),
        (
            with(&|r| r.ip = "198.51.100.7".into()),
            "Error response from daemon: no configured subnet or ip-range contain the IP address 198.51.100.7",
        ),
        (
            with(&|r| r.ip = "192.0.2.2".into()),
            "Error response from daemon: Address already in use",
        ),
        (
            with(&|r| r.ip = "banana".into()),
            "Error response from daemon: invalid IPv4 address: banana",
        ),
        (
            with(&|r| r.ip6 = "192.0.2.9".into()),
            "Error response from daemon: invalid IPv6 address: 192.0.2.9",
        ),
        (
            with(&|r| {
                r.network = "auto".into();
                r.ip = "172.18.0.9".into()
            }),
            "Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets",
        ),
        (
            with(&|r| {
                r.network = String::new();
                r.ip = "172.17.0.9".into()
            }),
            "Error response from daemon: user specified IP address is supported on user defined networks only",
        ),
        (
            with(&|r| r.cmd = vec![]),
            "Error response from daemon: a sandbox needs either a command to run or an existing namespace (--netns), not both",
        ),
        (
            with(&|r| r.netns = "/nonexistent".into()),
            "Error response from daemon: a sandbox needs either a command to run or an existing namespace (--netns), not both",
        ),
        (
            with(&|r| {
                r.cmd = vec![];
                r.netns = "/etc/hostname".into()
            }),
            "Error response from daemon: netns /etc/hostname: not a network namespace file",
        ),
        (
            with(&|r| {
                r.cmd = vec![];
                r.netns = "run/netns/x".into()
            }),
            "Error response from daemon: netns run/netns/x: must be an absolute path",
        ),
        (
            with(&|r| {
                r.cmd = vec![];
                r.netns = "/proc/self/ns/uts".into()
            }),
            "Error response from daemon: netns /proc/self/ns/uts: not a network namespace file",
        ),
        (
            with(&|r| {
                r.cmd = vec![];
                r.netns = "/proc/1/ns/net".into()
            }),
            // Refused as the host's where /proc/1 can be read, as unreadable
            // where it cannot (checked after the loop).
            "Error response from daemon: netns /proc/1/ns/net: ",
        ),
        (
            with(&|r| {
                r.cmd = vec![];
                r.netns = "/proc/self/ns/net".into()
            }),
            "Error response from daemon: netns /proc/self/ns/net: the daemon's own or the host's namespace cannot be a sandbox",
        ),
        (
            with(&|r| r.cmd = vec!["/nonexistent/program".into()]),
            "Error response from daemon: failed to start \"/nonexistent/program\"",
        ),
        (
            with(&|r| {
                r.publish_all = true;
                r.expose = vec!["8080:80".into()]
            }),
            "Error response from daemon: invalid exposed port \"8080:80\"",
        ),
    ];
    for (req, want) in &cases {
        let got = d.sandbox(req.clone()).unwrap_err();
        if req.netns == "/proc/1/ns/net" {
            assert!(
                got.ends_with("the daemon's own or the host's namespace cannot be a sandbox")
                    || got.contains("not a network namespace file (stat namespace /proc/1/ns/net: Permission denied"),
                "{got}"
            );
        }
        assert!(got.starts_with(want), "{req:?}: got {got:?}, want {want:?}");
        assert_eq!(footprint(&d), before, "{want} left something behind");
    }
    // The daemon's own namespace under another name is caught too.
    let own = format!("/run/netns/{}", d.netns);
    let got = d
        .sandbox(with(&|r| {
            r.cmd = vec![];
            r.netns = own.clone()
        }))
        .unwrap_err();
    assert!(
        got.ends_with("the daemon's own or the host's namespace cannot be a sandbox"),
        "{got}"
    );
    assert_eq!(footprint(&d), before);
    // Removing, connecting and disconnecting wrongly.
    let api_err = |method: &str, path: &str| {
        d.api(async |c| match method {
            "DELETE" => c.delete(path).await.err().map(|e| e.to_string()),
            _ => c
                .get::<serde_json::Value>(path)
                .await
                .err()
                .map(|e| e.to_string()),
        })
        .unwrap_or_default()
    };
    assert_eq!(
        api_err("DELETE", "/sandboxes/nosuch"),
        "Error response from daemon: No such container: nosuch"
    );
    assert_eq!(
        api_err("DELETE", "/sandboxes/c1"),
        "Error response from daemon: cannot remove container \"/c1\": container is running: stop the container before removing or force remove"
    );
    assert_eq!(
        api_err("GET", "/sandboxes/nosuch/json"),
        "Error response from daemon: No such container: nosuch"
    );
    for (args, want) in [
        (
            &["network", "connect", "nosuch", "c1"][..],
            "Error response from daemon: network nosuch not found",
        ),
        (
            &["network", "connect", "net", "c1"][..],
            "Error response from daemon: endpoint with name c1 already exists in network net",
        ),
        (
            &["network", "connect", "auto", "nosuch"][..],
            "Error response from daemon: No such container: nosuch",
        ),
        (
            &["network", "disconnect", "auto", "c1"][..],
            "Error response from daemon: container c1 is not connected to network auto",
        ),
        (
            &["network", "rm", "net"][..],
            "Error response from daemon: error while removing network: network net id",
        ),
    ] {
        let got = support::daemon::err(d.docker(args));
        assert!(got.starts_with(want), "{args:?}: got {got:?}");
        assert_eq!(footprint(&d), before, "{args:?} left something behind");
    }
    assert!(cases.len() + 8 >= 25);
}

#[test]
fn connect_and_disconnect_move_a_sandbox_between_networks() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "one"]));
    ok(d.docker(&["network", "create", "--subnet", "198.51.100.0/24", "two"]));
    d.sandbox(sleeper("c1", "one", &[])).unwrap();
    ok(d.docker(&["network", "connect", "--ip", "198.51.100.50", "two", "c1"]));
    let nets = d.inspect("c1").network_settings.networks;
    assert_eq!(nets["one"].ip_address, "192.0.2.2");
    assert_eq!(nets["two"].ip_address, "198.51.100.50");
    assert_eq!(
        ok(d.docker(&[
            "network",
            "inspect",
            "two",
            "--format",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}"
        ]))
        .trim(),
        "c1 198.51.100.50/24"
    );
    let key = d.inspect("c1").network_settings.sandbox_key;
    let addrs = String::from_utf8(
        std::process::Command::new("nsenter")
            .args([&format!("--net={key}"), "ip", "-o", "addr"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        addrs.contains("eth1") && addrs.contains("198.51.100.50/24"),
        "{addrs}"
    );
    ok(d.docker(&["network", "disconnect", "one", "c1"]));
    let nets = d.inspect("c1").network_settings.networks;
    assert!(!nets.contains_key("one"));
    let rules = d.rules();
    assert!(!rules.contains("192.0.2.2/32"), "{rules}");
    // The network can go now.
    ok(d.docker(&["network", "rm", "one"]));
}

#[test]
fn create_attaches_a_namespace_made_by_another_program() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    ok(d.docker(&["network", "create", "--subnet", "192.0.2.0/24", "net"]));
    let theirs = support::TestNetns::new();
    let path = format!("/run/netns/{}", theirs.name);
    let out = d.bw(&[
        "create",
        "--netns",
        &path,
        "--name",
        "runtime",
        "--network",
        "net",
        "-p",
        "8080:80",
    ]);
    let id = ok(out);
    assert_eq!(id.trim().len(), 64);
    let inspect = d.inspect("runtime");
    assert_eq!(inspect.network_settings.sandbox_key, path);
    assert!(
        theirs
            .exec(&["ip", "-o", "-4", "addr", "show", "eth0"])
            .contains("192.0.2.2/24")
    );
    assert!(d.rules().contains("--to-destination 192.0.2.2:80"));
    // Removing it takes its endpoint and rules away, not the namespace.
    ok(d.bw(&["rm", "runtime"]));
    assert!(!d.rules().contains("192.0.2.2"));
    assert!(!theirs.exec(&["ip", "-o", "link"]).contains("eth0"));
    assert!(std::path::Path::new(&path).exists());
}
