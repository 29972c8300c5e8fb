//! The userland-proxy benchmark: a sandbox on the default bridge serves,
//! and a client in the daemon's namespace reaches it through three paths,
//! each with a server instance of its own (so that TIME_WAIT 4-tuples of
//! different paths never collide):
//!
//! - bridgewall's proxy: a port published on 127.0.0.1;
//! - Debian's `docker-proxy` (docker.io 20.10), run as dockerd runs it:
//!   `-proto tcp -host-ip 127.0.0.1 -host-port P -container-ip C
//!   -container-port N`, with fd 3 a pipe it reports readiness on;
//! - the direct path to the sandbox's address (the limit).
//!
//! Cases: TCP throughput (iperf3, 1 and 4 streams), new connections per
//! second (wrk, 32 connections, `Connection: close`: connect, one
//! request/response, close), sequential per-connection latency (a loop of
//! our own), UDP request/response rate (a loop of our own), and resident
//! memory with 1,000 and 10,000 published TCP ports against the
//! docker-proxy processes Docker would run for them. Medians of
//! `PROXY_RUNS` (3) runs of `PROXY_SECONDS` (5) s; results in
//! `bench/results/proxy.md` and `.json`.
//!
//! Run as root: `scripts/install-bench-deps && cargo bench --bench proxy`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{TestDaemon, sleeper};
use support::topology::{
    Background, Namespace, NetnsFile, Node, command_in, in_netns, run_in, spawn_in, wait_until,
};

/// A path to the sandbox's servers: the port to dial for each service.
#[derive(Clone)]
struct PathSpec {
    name: &'static str,
    addr: IpAddr,
    iperf: u16,
    http: u16,
    udp: u16,
}

/// The three servers of one path in the sandbox.
const IPERF: [u16; 3] = [5201, 5202, 5203];
const HTTP: [u16; 3] = [8001, 8002, 8003];
const UDP: [u16; 3] = [9001, 9002, 9003];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// A minimal HTTP/1.1 server: one fixed answer, then the connection is
/// closed (`Connection: close`); a tokio runtime, since a thread per
/// connection would cap the rate.
fn http_server(ns: &impl Namespace, port: u16) {
    spawn_in(ns, move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await.unwrap();
            loop {
                let Ok((mut s, _)) = listener.accept().await else { continue };
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    loop {
                        let Ok(n) = s.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
                            if s.write_all(reply).await.is_ok() {
                                let _ = s.shutdown().await;
                            }
                            return;
                        }
                    }
                });
            }
        });
    });
}

/// A UDP server that echoes every datagram.
fn udp_server(ns: &impl Namespace, port: u16) {
    spawn_in(ns, move || {
        let socket = UdpSocket::bind(("0.0.0.0", port)).unwrap();
        let mut buf = [0u8; 2048];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], peer);
        }
    });
}

/// Waits until `ns` has a TCP or UDP socket on `port`.
fn wait_listening(ns: &impl Namespace, udp: bool, port: u16) {
    let flag = if udp { "-Hlun" } else { "-Hltn" };
    let ok = wait_until(Duration::from_secs(10), || {
        let out = run_in(ns, "ss", &[flag]);
        String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} "))
    });
    assert!(ok, "nothing listens on {port} in {}", ns.label());
}

/// `docker-proxy` for one mapping, as dockerd starts it: fd 3 is a pipe
/// it writes `0\n` to when it listens.
fn docker_proxy(
    host: &Node,
    proto: &str,
    host_port: u16,
    container: IpAddr,
    port: u16,
) -> Background {
    let (read, write) = nix::unistd::pipe().unwrap();
    let mut cmd = command_in(host, "docker-proxy");
    cmd.args(["-proto", proto, "-host-ip", "127.0.0.1", "-host-port"])
        .arg(host_port.to_string())
        .args(["-container-ip", &container.to_string(), "-container-port"])
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let fd = write.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; fd 3 is the pipe's write end.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            if nix::libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let bg = Background::spawn(cmd);
    drop(write);
    // It writes its status and keeps the pipe open: one line.
    let mut status = String::new();
    let _ = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(std::fs::File::from(read)),
        &mut status,
    );
    assert_eq!(status.trim(), "0", "docker-proxy did not start: {status}");
    bg
}

/// iperf3 through `path`, `streams` parallel streams: Gbit/s received.
fn iperf(host: &Node, path: &PathSpec, streams: u32, seconds: u64) -> f64 {
    let out = command_in(host, "iperf3")
        .args(["-c", &path.addr.to_string(), "-p", &path.iperf.to_string()])
        .args(["-t", &seconds.to_string(), "-P", &streams.to_string(), "-J"])
        .output()
        .expect("run iperf3");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "iperf3 {}: {e}: {}",
            path.name,
            String::from_utf8_lossy(&out.stdout)
        )
    });
    json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("iperf3 {}: {json}", path.name))
        / 1e9
}

/// wrk through `path`: new connections (requests, one per connection) per
/// second.
fn wrk(host: &Node, path: &PathSpec, seconds: u64) -> f64 {
    let url = match path.addr {
        IpAddr::V4(a) => format!("http://{a}:{}/", path.http),
        IpAddr::V6(a) => format!("http://[{a}]:{}/", path.http),
    };
    let out = command_in(host, "wrk")
        .args(["-t", "1", "-c", "32", "-d", &format!("{seconds}s")])
        .args(["-H", "Connection: close", &url])
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("wrk {}: {text}", path.name))
}

/// One connection after the other (connect, request, response, close):
/// the median time of one, in microseconds.
fn latency(host: &Node, path: &PathSpec, count: usize) -> f64 {
    let target = SocketAddr::new(path.addr, path.http);
    in_netns(host, move || {
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            let t0 = Instant::now();
            let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(2)).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = Vec::new();
            s.read_to_end(&mut reply).unwrap();
            times.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        median(&mut times)
    })
}

/// Request/response datagrams, one at a time, for `seconds`: per second.
fn udp_rate(host: &Node, path: &PathSpec, seconds: u64) -> f64 {
    let target = SocketAddr::new(path.addr, path.udp);
    in_netns(host, move || {
        let s = UdpSocket::bind(if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })
        .unwrap();
        s.connect(target).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let end = Instant::now() + Duration::from_secs(seconds);
        let mut answered = 0u64;
        let mut buf = [0u8; 64];
        while Instant::now() < end {
            s.send(b"ping").unwrap();
            if s.recv(&mut buf).is_ok() {
                answered += 1;
            }
        }
        answered as f64 / seconds as f64
    })
}

/// The resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Case {
    name: String,
    unit: &'static str,
    /// Per path: the median.
    values: Vec<(&'static str, f64)>,
}

fn measure(
    name: &str,
    unit: &'static str,
    paths: &[PathSpec],
    runs: u64,
    mut f: impl FnMut(&PathSpec) -> f64,
) -> Case {
    let values = paths
        .iter()
        .map(|p| {
            let mut v: Vec<f64> = (0..runs).map(|_| f(p)).collect();
            (p.name, median(&mut v))
        })
        .collect();
    let case = Case {
        name: name.into(),
        unit,
        values,
    };
    eprintln!("{}: {:?}", case.name, case.values);
    case
}

fn main() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("the proxy benchmark needs root (it makes network namespaces)");
        std::process::exit(2);
    }
    for tool in ["iperf3", "wrk", "docker-proxy"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            eprintln!("{tool} is missing: run scripts/install-bench-deps");
            std::process::exit(2);
        }
    }
    let runs = env_number("PROXY_RUNS", 3);
    let seconds = env_number("PROXY_SECONDS", 5);
    let host = Node::new("host");
    let d = TestDaemon::start_custom(host.name(), None, None, &[], &[]);
    let publish: Vec<String> = vec![
        format!("127.0.0.1:1{}:{}", IPERF[0], IPERF[0]),
        format!("127.0.0.1:1{}:{}", HTTP[0], HTTP[0]),
        format!("127.0.0.1:1{}:{}/udp", UDP[0], UDP[0]),
    ];
    let publish: Vec<&str> = publish.iter().map(String::as_str).collect();
    d.sandbox(sleeper("srv", "", &publish)).unwrap();
    let srv_ip: IpAddr = d.inspect("srv").network_settings.networks["bridge"]
        .ip_address
        .parse()
        .unwrap();
    let srv = NetnsFile::new(d.inspect("srv").network_settings.sandbox_key, "srv");
    let _iperfs: Vec<Background> = IPERF
        .iter()
        .map(|p| {
            let mut cmd = command_in(&srv, "iperf3");
            cmd.args(["-s", "-p", &p.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            Background::spawn(cmd)
        })
        .collect();
    for (i, &p) in HTTP.iter().enumerate() {
        http_server(&srv, p);
        udp_server(&srv, UDP[i]);
    }
    for i in 0..3 {
        wait_listening(&srv, false, IPERF[i]);
        wait_listening(&srv, false, HTTP[i]);
        wait_listening(&srv, true, UDP[i]);
    }
    let docker_proxies = [
        docker_proxy(&host, "tcp", 10000 + IPERF[1], srv_ip, IPERF[1]),
        docker_proxy(&host, "tcp", 10000 + HTTP[1], srv_ip, HTTP[1]),
        docker_proxy(&host, "udp", 10000 + UDP[1], srv_ip, UDP[1]),
    ];
    // Path i dials server instance i: through a port on 127.0.0.1 (10000
    // above the server's) for the two proxies, the sandbox's own for direct.
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let path = |i: usize, name, addr, offset| PathSpec {
        name,
        addr,
        iperf: offset + IPERF[i],
        http: offset + HTTP[i],
        udp: offset + UDP[i],
    };
    let paths = [
        path(0, "bridgewall", lo, 10000),
        path(1, "docker-proxy", lo, 10000),
        path(2, "direct", srv_ip, 0),
    ];
    let cases = vec![
        measure("TCP throughput, 1 stream", "Gbit/s", &paths, runs, |p| {
            iperf(&host, p, 1, seconds)
        }),
        measure("TCP throughput, 4 streams", "Gbit/s", &paths, runs, |p| {
            iperf(&host, p, 4, seconds)
        }),
        measure(
            "new connections/s (wrk, 32 conns)",
            "conn/s",
            &paths,
            runs,
            |p| wrk(&host, p, seconds),
        ),
        measure("time per connection, sequential", "us", &paths, runs, |p| {
            latency(&host, p, 2000)
        }),
        measure("UDP request/response", "req/s", &paths, runs, |p| {
            udp_rate(&host, p, seconds)
        }),
    ];
    drop(docker_proxies);
    // Memory: the daemon with N published TCP ports (ranges of one sandbox
    // each), against N docker-proxy processes measured on a sample.
    let daemon_pid = d.pid();
    let mut memory = Vec::new();
    let base = rss_kib(daemon_pid);
    let mut published = 3;
    for (n, name) in [(1_000u32, "mem1k"), (9_000, "mem10k")] {
        let first = 20_000 + published - 3;
        // On 127.0.0.1: one socket (and one docker-proxy) per port, so that
        // 10,000 ports fit under a limit of 20,000 open files.
        let spec = format!(
            "127.0.0.1:{first}-{}:{first}-{}",
            first + n - 1,
            first + n - 1
        );
        d.sandbox(sleeper(name, "", &[&spec])).unwrap();
        published += n;
        memory.push((published - 3, rss_kib(daemon_pid)));
    }
    let sample = 20;
    let proxies: Vec<Background> = (0..sample)
        .map(|i| docker_proxy(&host, "tcp", 40_000 + i, srv_ip, 80))
        .collect();
    let per_proxy = proxies.iter().map(|p| rss_kib(p.pid())).sum::<u64>() as f64 / sample as f64;
    drop(proxies);
    write_results(&cases, base, &memory, per_proxy, runs, seconds);
}

fn write_results(
    cases: &[Case],
    base: u64,
    memory: &[(u32, u64)],
    per_proxy: f64,
    runs: u64,
    seconds: u64,
) {
    let mut md = format!(
        "# Userland proxy\n\nMedians of {runs} runs of {seconds} s; client in the daemon's namespace, sandbox on the default bridge, one server instance per path. Ratios: to the direct path (throughput), to docker-proxy (rates); latency is the time per connection, and what the proxy adds to the direct path.\n\n| case | bridgewall | docker-proxy 20.10 | direct | bridgewall / direct | bridgewall / docker-proxy |\n|---|---|---|---|---|---|\n"
    );
    let mut json = Vec::new();
    for c in cases {
        let v = |name: &str| {
            c.values
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0.0, |(_, v)| *v)
        };
        let (bw, dp, direct) = (v("bridgewall"), v("docker-proxy"), v("direct"));
        let (r_direct, r_dp) = if c.unit == "us" {
            (bw - direct, bw / dp)
        } else {
            (bw / direct, bw / dp)
        };
        let first = if c.unit == "us" {
            format!("+{r_direct:.0} us")
        } else {
            format!("{r_direct:.2}x")
        };
        md.push_str(&format!(
            "| {} ({}) | {bw:.2} | {dp:.2} | {direct:.2} | {first} | {r_dp:.2}x |\n",
            c.name, c.unit
        ));
        json.push(serde_json::json!({
            "case": c.name, "unit": c.unit, "bridgewall": bw, "docker_proxy": dp, "direct": direct,
        }));
    }
    md.push_str("\n| published TCP ports | bridgewall resident (MiB) | docker-proxy processes Docker would run (MiB) |\n|---|---|---|\n");
    let mut mem_json = Vec::new();
    for &(ports, kib) in memory {
        // Docker runs one docker-proxy per port published on 127.0.0.1.
        let docker = per_proxy * f64::from(ports) / 1024.0;
        md.push_str(&format!(
            "| {ports} | {:.1} | {docker:.0} |\n",
            kib as f64 / 1024.0
        ));
        mem_json.push(serde_json::json!({"ports": ports, "bridgewall_kib": kib, "docker_proxy_kib": docker * 1024.0}));
    }
    md.push_str(&format!(
        "\nbridgewall with 3 ports: {:.1} MiB. The ports are published on 127.0.0.1 (one socket each; on 0.0.0.0 a port is an IPv4 and an IPv6 socket, and Docker runs two docker-proxy processes). docker-proxy: {:.1} MiB resident each (the mean of 20 started here), times one process per port, as dockerd runs them.\n",
        base as f64 / 1024.0,
        per_proxy / 1024.0
    ));
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("proxy.md"), &md).unwrap();
    std::fs::write(
        out.join("proxy.json"),
        serde_json::to_string_pretty(&serde_json::json!({"cases": json, "memory": mem_json, "docker_proxy_kib_each": per_proxy})).unwrap(),
    )
    .unwrap();
    print!("{md}");
}
