//! Self-healing, with iptables-nft and with iptables-legacy: each kind of
//! tampering with the rules bridgewall owns is reported by `rules check`
//! (exit 1) before a repair and not after it (exit 0), the drift watcher
//! repairs it by itself (through nf_tables notifications under
//! iptables-nft, on its timer under iptables-legacy), the user's DOCKER-USER
//! rules are left alone (a DOCKER-USER deleted with everything else comes
//! back empty, its rules in the log), and a LAN client reaches the
//! published port afterwards.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use support::daemon::{TestDaemon, ok, sleeper};
use support::topology::{Lan, NetnsFile, Node, tcp_connect, tcp_listen, wait_until};

const T: Duration = Duration::from_millis(1500);

/// The iptables binaries a daemon and the tampering run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Nft,
    Legacy,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Nft => "nft",
            Variant::Legacy => "legacy",
        }
    }

    /// The variant's `iptables` (e.g. `iptables-legacy`).
    fn iptables(self) -> String {
        format!("iptables-{}", self.name())
    }
}

/// The daemon on a host of the primary LAN with a client, a sandbox
/// publishing 8080:80 with a server behind it, and a user rule in
/// DOCKER-USER (which drops a documentation address no one uses).
struct Site {
    daemon: TestDaemon,
    client: Node,
    host: Node,
    variant: Variant,
    _path: support::VariantPath,
    _lan: Lan,
    _server: support::topology::TcpServer,
}

const USER_RULE: &str = "-A DOCKER-USER -s 203.0.113.7/32 -j DROP";

fn site(variant: Variant, args: &[&str]) -> Site {
    let lan = Lan::primary();
    let mut host = Node::new("host");
    lan.attach(&mut host, 1);
    let client = lan.node("client", 10);
    let path = support::iptables_variant_path(variant.name());
    let daemon = TestDaemon::start_custom(host.name(), None, Some(&path.path), args, &[]);
    daemon.sandbox(sleeper("web", "", &["8080:80"])).unwrap();
    let web = NetnsFile::new(daemon.inspect("web").network_settings.sandbox_key, "web");
    let server = tcp_listen(&web, "0.0.0.0".parse().unwrap(), 80);
    let s = Site {
        daemon,
        client,
        host,
        variant,
        _path: path,
        _lan: lan,
        _server: server,
    };
    s.iptables(&["-I", "DOCKER-USER", "-s", "203.0.113.7", "-j", "DROP"]);
    s.assert_served();
    s
}

impl Site {
    fn iptables(&self, args: &[&str]) -> String {
        let mut all = vec![self.variant.iptables()];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.daemon.exec(&all)
    }

    fn save(&self) -> String {
        self.daemon
            .exec(&[&format!("{}-save", self.variant.iptables())])
    }

    fn assert_served(&self) {
        let host = IpAddr::V4(self.host.ip4());
        assert_eq!(
            tcp_connect(&self.client, host, 8080, T),
            Ok("web".into()),
            "the published port\n{}",
            self.daemon.log()
        );
    }

    /// `rules check`: its exit code and report.
    fn check(&self) -> (Option<i32>, String) {
        let out = self.daemon.bw(&["rules", "check"]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// One kind of tampering: its name, what `rules check` then reports, and
/// whether it takes the user's DOCKER-USER rule with it for good (a flush
/// of every chain is the user's own doing).
struct Tampering {
    name: &'static str,
    commands: &'static [&'static [&'static str]],
    reported: &'static str,
    loses_user_rule: bool,
}

/// `@` stands for the variant's iptables; `@restore` for its
/// `iptables-restore --noflush`, fed the next word (one transaction, so that
/// a repair cannot land between its steps).
const KINDS: &[Tampering] = &[
    Tampering {
        name: "iptables -F",
        commands: &[&["@", "-F"]],
        reported: "filter + -A FORWARD -j DOCKER-FORWARD",
        loses_user_rule: true,
    },
    Tampering {
        name: "iptables -t nat -F DOCKER",
        commands: &[&["@", "-t", "nat", "-F", "DOCKER"]],
        reported: "nat + -A DOCKER ",
        loses_user_rule: false,
    },
    Tampering {
        name: "a deleted chain",
        commands: &[&[
            "@restore",
            "*filter\n-F DOCKER-FORWARD\n-F DOCKER-CT\n-X DOCKER-CT\nCOMMIT\n",
        ]],
        reported: "filter + -A DOCKER-CT ",
        loses_user_rule: false,
    },
    Tampering {
        name: "a deleted rule",
        commands: &[&[
            "@",
            "-t",
            "nat",
            "-D",
            "PREROUTING",
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            "DOCKER",
        ]],
        reported: "nat + -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        loses_user_rule: false,
    },
    Tampering {
        name: "the DOCKER-USER jump moved",
        commands: &[&[
            "@restore",
            "*filter\n-D FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-USER\nCOMMIT\n",
        ]],
        reported: "~ FORWARD: bridgewall's rules are out of place",
        loses_user_rule: false,
    },
];

/// Under iptables-nft only: every table of every program, gone.
/// DOCKER-USER goes with the rest: it comes back empty (no host firewall
/// deleted it; whoever did meant to), its old rules listed in the log.
const NFT_FLUSH: Tampering = Tampering {
    name: "nft flush ruleset",
    commands: &[&["nft", "flush", "ruleset"]],
    reported: "filter + -A FORWARD -j DOCKER-USER",
    loses_user_rule: true,
};

fn kinds(variant: Variant) -> Vec<&'static Tampering> {
    let mut all: Vec<&Tampering> = KINDS.iter().collect();
    if variant == Variant::Nft {
        all.push(&NFT_FLUSH);
    }
    all
}

fn tamper(s: &Site, kind: &Tampering) {
    for command in kind.commands {
        if command[0] == "@restore" {
            let script = format!(
                "printf '{}' | {}-restore --noflush",
                command[1].replace('\n', "\\n"),
                s.variant.iptables()
            );
            s.daemon.exec(&["sh", "-c", &script]);
            continue;
        }
        let program = if command[0] == "@" {
            s.variant.iptables()
        } else {
            command[0].to_string()
        };
        let mut all = vec![program.as_str()];
        all.extend(&command[1..]);
        s.daemon.exec(&all);
    }
}

/// With the watcher off: each kind is reported by `rules check`, a reload
/// repairs it, `rules check` agrees again and the port is served.
fn reported_then_repaired(variant: Variant) {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(variant, &[]);
    assert_eq!(s.check().0, Some(0), "{}", s.check().1);
    for kind in kinds(variant) {
        tamper(&s, kind);
        let (code, report) = s.check();
        assert_eq!(code, Some(1), "{}: {report}", kind.name);
        assert!(report.contains(kind.reported), "{}: {report}", kind.name);
        s.daemon.hup_and_wait();
        let (code, report) = s.check();
        assert_eq!(code, Some(0), "{} after the repair: {report}", kind.name);
        s.assert_served();
        if kind.loses_user_rule {
            s.iptables(&["-I", "DOCKER-USER", "-s", "203.0.113.7", "-j", "DROP"]);
        }
        assert!(s.save().contains(USER_RULE), "{}:\n{}", kind.name, s.save());
    }
    let log = s.daemon.log();
    if variant == Variant::Nft {
        assert!(
            log.contains("DOCKER-USER was deleted by something else: re-created empty; the rules it had are listed here family=ipv4 rules=-s 203.0.113.7/32 -j DROP"),
            "{log}"
        );
    }
}

/// With the watcher on: each kind is repaired by itself within a generous
/// bound, logged, and the port is served.
fn repaired_by_itself(variant: Variant) {
    if !support::daemon::can_run() {
        return;
    }
    let s = site(variant, &["--watch-interval-ms", "500"]);
    let listening = match variant {
        Variant::Nft => "watching the rules for drift through nf_tables notifications",
        Variant::Legacy => "watching the rules for drift on a timer",
    };
    assert!(s.daemon.log().contains(listening), "{}", s.daemon.log());
    for kind in kinds(variant) {
        let repairs = |log: &str| log.matches("changed by something else: repaired").count();
        let before = repairs(&s.daemon.log());
        let started = Instant::now();
        tamper(&s, kind);
        let repaired = wait_until(Duration::from_secs(10), || {
            repairs(&s.daemon.log()) > before && s.check().0 == Some(0)
        });
        assert!(repaired, "{}: not repaired:\n{}", kind.name, s.daemon.log());
        println!(
            "{variant:?} {}: repaired within {} ms",
            kind.name,
            started.elapsed().as_millis()
        );
        s.assert_served();
        if kind.loses_user_rule {
            s.iptables(&["-I", "DOCKER-USER", "-s", "203.0.113.7", "-j", "DROP"]);
            // The watcher hears (or polls) the user's own change, which is
            // no drift: nothing to wait for but its next look.
        }
        assert!(s.save().contains(USER_RULE), "{}:\n{}", kind.name, s.save());
    }
    let log = s.daemon.log();
    assert!(
        !log.contains("the same drift returns at once"),
        "separate tamperings are no fight:\n{log}"
    );
    let _ = ok(s.daemon.bw(&["rules", "check"]));
}

#[test]
fn tampering_is_reported_then_repaired_with_iptables_nft() {
    reported_then_repaired(Variant::Nft);
}

#[test]
fn tampering_is_reported_then_repaired_with_iptables_legacy() {
    reported_then_repaired(Variant::Legacy);
}

#[test]
fn tampering_is_repaired_by_itself_with_iptables_nft() {
    repaired_by_itself(Variant::Nft);
}

#[test]
fn tampering_is_repaired_by_itself_with_iptables_legacy() {
    repaired_by_itself(Variant::Legacy);
}
