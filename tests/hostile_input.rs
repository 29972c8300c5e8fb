//! Nothing a client sends becomes firewall text: hostile values (newlines,
//! spaces, quotes, `#`, `-j`, `COMMIT`, overlong and unicode names) in every
//! network option, through the docker CLI, the API and a Compose file, are
//! each refused with a message naming the option, and the rules of the
//! daemon's namespace (or the one a Compose file is applied to) stay
//! byte-identical.

mod support;

use std::collections::BTreeMap;

use bridgewall::api::types::{NetworkCreateRequest, NetworkCreateResponse};
use support::NETWORK_OPTIONS as OPTIONS;
use support::daemon::{TestDaemon, err, ok, sleeper};

/// The injection from the report, and more of its kind.
const HOSTILE: &[&str] = &[
    "eth0 -j ACCEPT\n-I INPUT 1 -s 6.6.6.6 -j ACCEPT\n#",
    "eth0\nCOMMIT\n*filter\n-I INPUT 1 -j ACCEPT\nCOMMIT",
    "eth0\n-A INPUT -j ACCEPT",
    "eth0\r\n-A INPUT -j ACCEPT",
    "eth0 -j ACCEPT",
    "eth0\t-j",
    " eth0",
    "eth0 ",
    "\"eth0\"",
    "'eth0'",
    "eth0\"",
    "e\\th0",
    "`id`",
    "#",
    "#eth0",
    "eth#0",
    "-j",
    "-jACCEPT",
    "!eth0",
    "COMMIT\n",
    "\nCOMMIT",
    "eth0\0",
    "eth0\u{7}",
    "eth0\u{1b}[31m",
    "aaaaaaaaaaaaaaaa",
    "a-very-long-interface-name",
    "brü",
    "br\u{a0}0",
    "eth0\u{2028}x",
    "\u{65e5}\u{672c}",
    "eth0\u{200b}",
    "..",
];

/// The options whose values are interface names.
const NAME_OPTIONS: &[&str] = &[
    "com.docker.network.bridge.name",
    "com.docker.network.bridge.trusted_host_interfaces",
];

fn check_refused(what: &str, got: &str, option: &str) {
    assert!(
        got.contains(option),
        "{what}: the error does not name {option}: {got:?}"
    );
}

#[test]
fn hostile_option_values_are_refused_everywhere_and_change_nothing() {
    if !support::daemon::can_run() {
        return;
    }
    let d = TestDaemon::start(None);
    // Positive control: trusted host interfaces do reach the rules once a
    // sandbox publishes a port, which is where the injection used to land.
    ok(d.docker(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.trusted_host_interfaces=eth7:eth8",
        "--subnet",
        "192.0.2.0/24",
        "trusted",
    ]));
    d.sandbox(sleeper("web", "trusted", &["8080:80"])).unwrap();
    // And a bridge name of the user's is taken.
    ok(d.docker(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.name=br-mine.1",
        "named",
    ]));
    let rules = d.rules();
    assert!(rules.contains("-i eth7 -j ACCEPT"), "{rules}");
    assert!(rules.contains("-o br-mine.1 -j DOCKER"), "{rules}");
    let links = d.links();

    let mut cases = 0;
    // The docker CLI, for the options that take interface names.
    for option in NAME_OPTIONS {
        // A NUL cannot be in an argument (the API cases below have it).
        for value in HOSTILE.iter().filter(|v| !v.contains('\0')) {
            let opt = format!("{option}={value}");
            let got = err(d.docker(&["network", "create", "-o", &opt, "hostile"]));
            check_refused(&format!("docker -o {opt:?}"), &got, option);
            cases += 1;
        }
    }
    assert_eq!(d.rules(), rules, "the docker CLI cases changed the rules");
    // The API, for every option.
    for option in OPTIONS {
        for value in HOSTILE {
            let req = NetworkCreateRequest {
                name: "hostile".into(),
                options: BTreeMap::from([(option.to_string(), value.to_string())]),
                ..Default::default()
            };
            let got = d.api(async |c| {
                c.post::<_, NetworkCreateResponse>("/networks/create", &req)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            let got = got.expect_err(&format!("{option}={value:?} was accepted"));
            check_refused(&format!("API {option}={value:?}"), &got, option);
            cases += 1;
        }
        assert_eq!(
            d.rules(),
            rules,
            "API cases with {option} changed the rules"
        );
    }
    assert_eq!(d.links(), links, "a refused network left a link");
    assert!(cases > 400, "{cases} cases");
    println!("{cases} hostile values refused through the docker CLI and the API");
}

#[test]
fn hostile_option_values_in_a_compose_file_are_refused_with_their_path() {
    if !support::require(support::can_make_namespaces(), "root with ip and iptables") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yml");
    let stack = |opts: &str| {
        format!(
            "name: shop\nnetworks:\n  front:\n    driver_opts:\n{opts}services:\n  web:\n    image: nginx\n    networks: [front]\n    ports: [\"8080:80\"]\n"
        )
    };
    let apply = |ns: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bridgewall"))
            .args(["apply", "--netns", ns])
            .arg(&file)
            .output()
            .unwrap()
    };
    // A namespace programmed by a good stack first: every refusal must
    // leave its rules exactly as they are.
    let ns = support::TestNetns::new();
    std::fs::write(
        &file,
        stack("      com.docker.network.bridge.trusted_host_interfaces: \"eth7\"\n"),
    )
    .unwrap();
    assert!(apply(&ns.name).status.success());
    let rules = || {
        let mut out = String::new();
        for save in ["iptables-save", "ip6tables-save"] {
            for line in ns.exec(&[save]).lines().filter(|l| !l.starts_with('#')) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    };
    let before = rules();
    assert!(before.contains("-i eth7 -j ACCEPT"), "{before}");
    let mut cases = 0;
    for option in OPTIONS {
        for value in HOSTILE {
            // A YAML double-quoted scalar takes JSON's escapes.
            let quoted = serde_json::to_string(value).unwrap();
            std::fs::write(&file, stack(&format!("      {option}: {quoted}\n"))).unwrap();
            let out = apply(&ns.name);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{option}={value:?} was applied");
            assert!(
                stderr.contains("networks.front.driver_opts"),
                "{option}={value:?}: no field path in {stderr:?}"
            );
            check_refused(&format!("compose {option}={value:?}"), &stderr, option);
            cases += 1;
        }
        assert_eq!(
            rules(),
            before,
            "compose cases with {option} changed the rules"
        );
    }
    println!("{cases} hostile values refused in Compose files applied to a namespace");
}
