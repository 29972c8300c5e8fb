//! The repair-time benchmark: how long after something else changes the
//! rules bridgewall owns (each kind of tampering, a `firewall-cmd --reload`,
//! a firewalld restart) the daemon has them back, with iptables-nft
//! (nf_tables notifications) and iptables-legacy (the timer, 500 ms by
//! default). Median and max over repeated runs, target <= 1 s; written to
//! `bench/results/repair.md` and `bench/results/repair.json`.
//!
//! Run as root: `cargo bench --bench repair` (`REPAIR_RUNS=N`, 10 by
//! default). Everything happens in namespaces the run makes and removes.
//!
//! The time is measured from just before the tampering command starts to
//! the daemon's log line saying it repaired (or re-applied after
//! firewalld); `rules check` then confirms the kernel matches the plan.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::daemon::{TestDaemon, ok, sleeper};
use support::firewalld::Firewalld;
use support::topology::Node;

/// How a case tampers: a command line for `sh -c` in the host namespace
/// (`@` is the variant's iptables).
struct Case {
    name: &'static str,
    shell: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "iptables -F",
        shell: "@ -F",
    },
    Case {
        name: "iptables -t nat -F DOCKER",
        shell: "@ -t nat -F DOCKER",
    },
    Case {
        name: "a deleted chain",
        shell: "printf '*filter\\n-F DOCKER-FORWARD\\n-F DOCKER-CT\\n-X DOCKER-CT\\nCOMMIT\\n' | @-restore --noflush",
    },
    Case {
        name: "a deleted rule",
        shell: "@ -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    },
    Case {
        name: "FORWARD jump moved",
        shell: "printf '*filter\\n-D FORWARD -j DOCKER-USER\\n-A FORWARD -j DOCKER-USER\\nCOMMIT\\n' | @-restore --noflush",
    },
    Case {
        name: "nft flush ruleset",
        shell: "nft flush ruleset",
    },
];

struct Row {
    variant: &'static str,
    case: String,
    runs: Vec<Duration>,
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

/// Waits for the `n`th occurrence of `line` in the daemon's log, polling
/// every millisecond; the time since `from`.
fn until_logged(d: &TestDaemon, line: &str, n: usize, from: Instant) -> Duration {
    let deadline = from + Duration::from_secs(30);
    loop {
        if d.log().matches(line).count() >= n {
            return from.elapsed();
        }
        assert!(Instant::now() < deadline, "no {line:?} #{n}:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn tampering(variant: &'static str, runs: usize, rows: &mut Vec<Row>) {
    let host = Node::new("host");
    let variant_path = support::iptables_variant_path(variant);
    let path = &variant_path.path;
    let d = TestDaemon::start_custom(
        host.name(),
        None,
        Some(path),
        &["--watch-interval-ms", "500"],
        &[],
    );
    ok(d.docker(&["network", "create", "neta"]));
    d.sandbox(sleeper("web", "", &["8080:80"])).unwrap();
    let repaired = "changed by something else: repaired";
    for case in CASES {
        if case.name.starts_with("nft") && variant == "legacy" {
            continue;
        }
        let shell = case.shell.replace('@', &format!("iptables-{variant}"));
        // Each run waits beyond the watcher's "returns at once" window, so
        // that no run looks like a fight, plus a random delay so that the
        // runs sample every phase of the legacy timer.
        let row = Row {
            variant,
            case: case.name.into(),
            runs: timed(
                &d,
                (repaired, 1),
                runs,
                || {
                    let mut jitter = [0u8; 2];
                    getrandom::fill(&mut jitter).unwrap();
                    let extra = u64::from(u16::from_le_bytes(jitter)) % 500;
                    std::thread::sleep(Duration::from_millis(2100 + extra));
                },
                || {
                    d.exec(&["sh", "-c", &shell]);
                },
            ),
        };
        eprintln!("{variant} {}: median {:?}", row.case, median(&row.runs));
        rows.push(row);
    }
}

/// `runs` times: `pause` (not timed), `event`, then the time until the
/// daemon has logged `line` `times` more; `rules check` then agrees with
/// the plan.
fn timed(
    d: &TestDaemon,
    (line, times): (&str, usize),
    runs: usize,
    pause: impl Fn(),
    event: impl Fn(),
) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            pause();
            let before = d.log().matches(line).count();
            let t0 = Instant::now();
            event();
            let took = until_logged(d, line, before + times, t0);
            assert_eq!(
                d.bw(&["rules", "check"]).status.code(),
                Some(0),
                "{}",
                d.log()
            );
            took
        })
        .collect()
}

fn firewalld_events(runs: usize, rows: &mut Vec<Row>) {
    let host = Node::new("host");
    let fw = Firewalld::start(host.name(), "nftables");
    let d = TestDaemon::start_custom(
        host.name(),
        None,
        None,
        &["--watch-interval-ms", "0"],
        &[("DBUS_SYSTEM_BUS_ADDRESS", &fw.bus)],
    );
    d.sandbox(sleeper("web", "", &["8080:80"])).unwrap();
    let rebuilt = "firewalld rebuilt its rules";
    rows.push(Row {
        variant: "nft",
        case: "firewall-cmd --reload".into(),
        runs: timed(&d, (rebuilt, 1), runs, || {}, || fw.reload()),
    });
    rows.push(Row {
        variant: "nft",
        case: "firewalld restart".into(),
        // Its stop and its start each delete every chain: the second repair
        // ends it.
        runs: timed(&d, (rebuilt, 2), runs.min(5), || {}, || fw.restart()),
    });
}

fn main() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("the repair benchmark needs root (it makes network namespaces)");
        std::process::exit(2);
    }
    let runs: usize = std::env::var("REPAIR_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut rows = Vec::new();
    tampering("nft", runs, &mut rows);
    tampering("legacy", runs, &mut rows);
    firewalld_events(runs, &mut rows);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut md = format!(
        "# Repair time\n\nFrom the start of the tampering command to the daemon's repair (its log line), {runs} runs per case (firewalld restarts: {}); target <= 1000 ms.\n\n| iptables | what changed the rules | median ms | max ms | runs |\n|---|---|---|---|---|\n",
        runs.min(5)
    );
    let mut json = Vec::new();
    for r in &rows {
        let max = *r.runs.iter().max().unwrap();
        md.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {} |\n",
            r.variant,
            r.case,
            ms(median(&r.runs)),
            ms(max),
            r.runs.len()
        ));
        json.push(serde_json::json!({
            "iptables": r.variant,
            "case": r.case,
            "median_ms": ms(median(&r.runs)),
            "max_ms": ms(max),
            "runs_ms": r.runs.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        }));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("repair.md"), &md).unwrap();
    std::fs::write(
        out.join("repair.json"),
        serde_json::to_string_pretty(&serde_json::json!({ "repair": json })).unwrap(),
    )
    .unwrap();
    print!("{md}");
}
