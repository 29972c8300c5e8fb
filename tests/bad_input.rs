//! Bad input — malformed `-p` specs, bad network options, bad daemon.json
//! entries and bad Compose files — gets Docker's wording with the path of the
//! field, and changes nothing: a namespace already programmed by `bridgewall
//! apply` keeps exactly its rules.

mod support;

use std::path::Path;
use std::process::Command;

/// A good stack, applied first; every bad case is a variation of it.
const GOOD: &str = "name: shop
networks:
  front:
    ipam:
      config:
        - subnet: 10.10.0.0/24
services:
  web:
    image: nginx
    networks: [front]
    ports: [\"8080:80\"]
";

/// (compose file, daemon.json or "", expected message after `bridgewall: `).
type Case = (String, &'static str, &'static str);

fn port_case(spec: &str, msg: &'static str) -> Case {
    (GOOD.replace("\"8080:80\"", &format!("{spec:?}")), "", msg)
}

fn option_case(key: &str, value: &str, msg: &'static str) -> Case {
    (
        GOOD.replace(
            "    ipam:\n",
            &format!("    driver_opts:\n      {key}: {value:?}\n    ipam:\n"),
        ),
        "",
        msg,
    )
}

fn config_case(json: &'static str, msg: &'static str) -> Case {
    (GOOD.to_string(), json, msg)
}

fn compose_case(from: &str, to: &str, msg: &'static str) -> Case {
    assert!(GOOD.contains(from), "{from:?} not in the good file");
    (GOOD.replacen(from, to, 1), "", msg)
}

fn cases() -> Vec<Case> {
    vec![
        // The -p grammar.
        port_case("", "services.web.ports[0]: no port specified: <empty>"),
        port_case("abc", "services.web.ports[0]: invalid containerPort: abc"),
        port_case("80/xyz", "services.web.ports[0]: invalid proto: xyz"),
        port_case(
            "8080:80x",
            "services.web.ports[0]: invalid containerPort: 80x",
        ),
        port_case("99999:80", "services.web.ports[0]: invalid hostPort: 99999"),
        port_case("-1:80", "services.web.ports[0]: invalid hostPort: -1"),
        port_case(
            "8080-8079:80",
            "services.web.ports[0]: invalid hostPort: 8080-8079",
        ),
        port_case("0.0.0.0:x:80", "services.web.ports[0]: invalid hostPort: x"),
        port_case(
            "8080:65536",
            "services.web.ports[0]: invalid containerPort: 65536",
        ),
        port_case(
            "80-70",
            "services.web.ports[0]: invalid containerPort: 80-70",
        ),
        port_case(
            "1.2.3:8080:80",
            "services.web.ports[0]: invalid IP address: 1.2.3",
        ),
        port_case(
            "[::1:8080:80",
            "services.web.ports[0]: invalid IP address [::1: address [::1:: missing ']' in address",
        ),
        port_case(
            "127.0.0.1:8080:80:90",
            "services.web.ports[0]: invalid IP address: 127.0.0.1:8080",
        ),
        port_case(
            "8000-8010:80-85",
            "services.web.ports[0]: invalid ranges specified for container and host Ports: 80-85 and 8000-8010",
        ),
        port_case(
            "8080:80-90",
            "services.web.ports[0]: invalid ranges specified for container and host Ports: 80-90 and 8080",
        ),
        port_case(
            "8080:0",
            "services.web.ports[0]: invalid port specification: \"0/tcp\"",
        ),
        port_case(
            "[fe80::1%eth0]:80:80",
            "services.web.ports[0]: invalid IP address: fe80::1%eth0",
        ),
        // Network options.
        option_case(
            "com.docker.network.bridge.enable_icc",
            "yes",
            "networks.front.driver_opts.com.docker.network.bridge.enable_icc: failed to parse com.docker.network.bridge.enable_icc value: yes (strconv.ParseBool: parsing \"yes\": invalid syntax)",
        ),
        option_case(
            "com.docker.network.bridge.enable_ip_masquerade",
            "2",
            "networks.front.driver_opts.com.docker.network.bridge.enable_ip_masquerade: failed to parse com.docker.network.bridge.enable_ip_masquerade value: 2 (strconv.ParseBool: parsing \"2\": invalid syntax)",
        ),
        option_case(
            "com.docker.network.bridge.gateway_mode_ipv4",
            "bogus",
            "networks.front.driver_opts.com.docker.network.bridge.gateway_mode_ipv4: failed to parse com.docker.network.bridge.gateway_mode_ipv4 value: bogus (unknown gateway mode bogus)",
        ),
        option_case(
            "com.docker.network.bridge.gateway_mode_ipv6",
            "isolated",
            "networks.front.driver_opts: gateway mode 'isolated' can only be used for an internal network",
        ),
        option_case(
            "com.docker.network.bridge.host_binding_ipv4",
            "300.1.1.1",
            "networks.front.driver_opts.com.docker.network.bridge.host_binding_ipv4: failed to parse com.docker.network.bridge.host_binding_ipv4 value: 300.1.1.1 (nil ip)",
        ),
        option_case(
            "com.docker.network.bridge.name",
            "bad/name",
            "networks.front.driver_opts.com.docker.network.bridge.name: failed to parse com.docker.network.bridge.name value: bad/name (interface name cannot contain '/', ':', whitespace or NUL)",
        ),
        option_case(
            "com.docker.network.bridge.name",
            "abcdefghijklmnopq",
            "networks.front.driver_opts.com.docker.network.bridge.name: failed to parse com.docker.network.bridge.name value: abcdefghijklmnopq (interface name longer than 15 bytes)",
        ),
        option_case(
            "com.docker.network.driver.mtu",
            "-5",
            "networks.front.driver_opts.com.docker.network.driver.mtu: invalid MTU number: -5",
        ),
        option_case(
            "com.docker.network.driver.mtu",
            "abc",
            "networks.front.driver_opts.com.docker.network.driver.mtu: failed to parse com.docker.network.driver.mtu value: abc (strconv.Atoi: parsing \"abc\": invalid syntax)",
        ),
        option_case(
            "com.docker.network.host_ipv4",
            "fd00::1",
            "networks.front.driver_opts.com.docker.network.host_ipv4: failed to parse com.docker.network.host_ipv4 value: fd00::1 (not an IPv4 address)",
        ),
        option_case(
            "com.docker.network.host_ipv6",
            "10.0.0.1",
            "networks.front.driver_opts.com.docker.network.host_ipv6: failed to parse com.docker.network.host_ipv6 value: 10.0.0.1 (not an IPv6 address)",
        ),
        option_case(
            "com.docker.network.bridge.inhibit_ipv4",
            "maybe",
            "networks.front.driver_opts.com.docker.network.bridge.inhibit_ipv4: failed to parse com.docker.network.bridge.inhibit_ipv4 value: maybe (strconv.ParseBool: parsing \"maybe\": invalid syntax)",
        ),
        // daemon.json.
        config_case(
            r#"{"iptables": "yes"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: json: cannot unmarshal string into Go struct field Config.iptables of type bool",
        ),
        config_case(
            r#"{"foo": 1, "bar": 2}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: the following directives don't match any configuration option: bar, foo",
        ),
        config_case(
            r#"{"ip": "1.2.3"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: invalid ip: invalid IP address: 1.2.3",
        ),
        config_case(
            r#"{"bip": "172.17.0.1"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: parse bip failed: invalid CIDR address: 172.17.0.1",
        ),
        config_case(
            r#"{"bip": "10.0.0.1/8", "bridge": "br0"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: You specified -b & --bip, mutually exclusive options. Please specify only one",
        ),
        config_case(
            r#"{"fixed-cidr": "10.0.0.0/33"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: parse fixed-cidr failed: invalid CIDR address: 10.0.0.0/33",
        ),
        config_case(
            r#"{"fixed-cidr-v6": "fe80::/80"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: invalid fixed-cidr-v6: 'fe80::/80' clashes with the Link-Local prefix 'fe80::/64'",
        ),
        config_case(
            r#"{"mtu": -1}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: invalid default MTU: -1",
        ),
        config_case(
            r#"{"firewall-backend": "pf"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: invalid firewall-backend: allowed values are \"iptables\" and \"nftables\"",
        ),
        config_case(
            r#"{"icc": false, "iptables": false}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: You specified --iptables=false with --icc=false. ICC=false uses iptables to function. Please set --icc or --iptables to true",
        ),
        config_case(
            r#"{"default-address-pools": [{"base": "10.0.0.0/8", "size": 4}]}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: invalid default-address-pools: network at index 0 (&{10.0.0.0/8 4}) has a smaller prefix (/8) than the target size of that pool (/4)",
        ),
        config_case(
            r#"{"bridge": "this-name-is-too-long"}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: invalid bridge \"this-name-is-too-long\": interface name longer than 15 bytes",
        ),
        config_case(
            r#"{"userland-proxy": 1}"#,
            "unable to configure the Docker daemon with file DAEMON_JSON: json: cannot unmarshal number into Go struct field Config.userland-proxy of type bool",
        ),
        // Compose structure, IPAM and allocation.
        compose_case(
            "        - subnet: 10.10.0.0/24",
            "        - subnet: 10.10.0.1/24",
            "networks.front.ipam.config: invalid network config:\n* invalid subnet 10.10.0.1/24: it should be 10.10.0.0/24",
        ),
        compose_case(
            "        - subnet: 10.10.0.0/24",
            "        - subnet: 10.10.0.0/24\n          gateway: 10.99.0.1",
            "networks.front.ipam.config: invalid network config:\n* invalid gateway 10.99.0.1: parent subnet 10.10.0.0/24 doesn't contain this address",
        ),
        compose_case(
            "        - subnet: 10.10.0.0/24",
            "        - subnet: 172.17.0.0/16",
            "networks.front.ipam.config[0].subnet: invalid pool request: Pool overlaps with other one on this address space (172.17.0.0/16)",
        ),
        compose_case(
            "    networks: [front]",
            "    networks: [back]",
            "services.web.networks[0]: service \"web\" refers to undefined network back: invalid compose project",
        ),
        compose_case(
            "    networks: [front]",
            "    networks: {front: {ipv4_address: 10.99.0.5}}",
            "services.web.networks.front.ipv4_address: no configured subnet or ip-range contain the IP address 10.99.0.5",
        ),
        compose_case(
            "    ports: [\"8080:80\"]",
            "    ports: [\"8080:80\", \"8080:81\"]",
            "services.web.ports: Bind for 0.0.0.0:8080 failed: port is already allocated",
        ),
        compose_case(
            "    ports: [\"8080:80\"]",
            "    ports: [{target: 80, protocol: icmp}]",
            "services.web.ports[0]: invalid proto: icmp",
        ),
        compose_case(
            "  front:\n",
            "  front:\n    driver: macvlan\n",
            "networks.front.driver: network shop_front: unsupported driver \"macvlan\": bridgewall only handles the \"bridge\" driver",
        ),
        compose_case(
            "  front:\n",
            "  front:\n    internal: \"sure\"\n",
            "networks.front.internal: must be a boolean, not the string \"sure\"",
        ),
    ]
}

fn write_case(dir: &Path, compose: &str, json: &str) -> Vec<String> {
    let compose_path = dir.join("compose.yml");
    std::fs::write(&compose_path, compose).unwrap();
    let mut args = Vec::new();
    if !json.is_empty() {
        let p = dir.join("daemon.json");
        std::fs::write(&p, json).unwrap();
        args.push("--config".to_string());
        args.push(p.display().to_string());
    }
    args.push(compose_path.display().to_string());
    args
}

fn run(args: &[String]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bridgewall"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn expected(msg: &str, dir: &Path) -> String {
    let json = dir.join("daemon.json").display().to_string();
    format!("bridgewall: {}\n", msg.replace("DAEMON_JSON", &json))
}

#[test]
fn every_bad_input_is_reported_with_docker_wording() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    for (compose, json, msg) in &cases {
        let mut args = vec!["plan".to_string()];
        args.extend(write_case(dir.path(), compose, json));
        let (ok, err) = run(&args);
        assert!(!ok, "accepted: {compose}\n{json}");
        assert_eq!(err, expected(msg, dir.path()));
        let _ = std::fs::remove_file(dir.path().join("daemon.json"));
    }
    println!(
        "{} bad inputs rejected with the expected message",
        cases.len()
    );
}

#[test]
fn bad_input_changes_nothing_in_a_programmed_namespace() {
    if !support::require(support::can_make_namespaces(), "root with ip and iptables") {
        return;
    }
    let ns = support::TestNetns::new();
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["apply".to_string(), "--netns".into(), ns.name.clone()];
    args.extend(write_case(dir.path(), GOOD, ""));
    let (ok, err) = run(&args);
    assert!(ok, "good stack: {err}");
    let snapshot = || {
        let v4 = ns.exec(&["iptables-save"]);
        let v6 = ns.exec(&["ip6tables-save"]);
        format!("{v4}{v6}")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = snapshot();
    assert!(before.contains("--dport 8080 -j DNAT"));
    for (compose, json, msg) in cases() {
        let mut args = vec!["apply".to_string(), "--netns".into(), ns.name.clone()];
        args.extend(write_case(dir.path(), &compose, json));
        let (ok, err) = run(&args);
        assert!(!ok);
        assert_eq!(err, expected(msg, dir.path()));
        assert_eq!(snapshot(), before, "rules changed after: {msg}");
        let _ = std::fs::remove_file(dir.path().join("daemon.json"));
    }
}
