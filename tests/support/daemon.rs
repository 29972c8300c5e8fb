//! A `bridgewall daemon` run for a test: in its own network namespace, with
//! its own data-root, exec-root and socket in a temporary directory. Stopped
//! (killed if need be) and its namespace deleted on drop, even when the test
//! fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A running (or stopped) daemon.
pub struct TestDaemon {
    /// The daemon's network namespace (`bwt-d<pid>-<n>`).
    pub netns: String,
    /// Its temporary directory (data-root, exec-root, socket, config).
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    owns_netns: bool,
    /// The daemon's `PATH`, when not the test's.
    path: Option<String>,
    /// More arguments for `bridgewall daemon`.
    args: Vec<String>,
    /// The crash point armed at the next starts (builds with failpoints).
    crash_point: Option<String>,
    /// More environment for the daemon (a test's own D-Bus bus, say).
    env: Vec<(String, String)>,
}

/// Whether daemon tests can run here: root, iproute2, iptables and the
/// docker CLI (skipped otherwise, except under CI, where it fails).
pub fn can_run() -> bool {
    super::require(super::can_make_namespaces(), "root with ip and iptables")
        && super::require(
            Command::new("docker").arg("--version").output().is_ok(),
            "the docker CLI",
        )
}

/// The `bridgewall` binary under test.
pub fn bridgewall_bin() -> &'static str {
    env!("CARGO_BIN_EXE_bridgewall")
}

impl TestDaemon {
    /// Starts a daemon with `daemon_json` (None: no config file) and waits
    /// until its API answers.
    pub fn start(daemon_json: Option<&str>) -> TestDaemon {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let netns = format!("bwt-d{}-{n}", std::process::id());
        Self::launch(netns, true, daemon_json, None, &[])
    }

    /// Starts a daemon in an existing namespace (a topology node, the
    /// "host"), which the caller owns and deletes.
    pub fn start_in(netns: &str, daemon_json: Option<&str>) -> TestDaemon {
        Self::launch(netns.to_string(), false, daemon_json, None, &[])
    }

    /// [`TestDaemon::start_in`], the daemon finding its programs on `path`
    /// only.
    pub fn start_in_with_path(netns: &str, daemon_json: Option<&str>, path: &str) -> TestDaemon {
        Self::launch(
            netns.to_string(),
            false,
            daemon_json,
            Some(path.to_string()),
            &[],
        )
    }

    /// [`TestDaemon::start_in`] with more `bridgewall daemon` arguments.
    pub fn start_in_with_args(netns: &str, daemon_json: Option<&str>, args: &[&str]) -> TestDaemon {
        Self::launch(netns.to_string(), false, daemon_json, None, args)
    }

    /// [`TestDaemon::start_in_with_args`] with more environment, e.g. the
    /// `DBUS_SYSTEM_BUS_ADDRESS` of a test's own bus.
    pub fn start_in_with_env(
        netns: &str,
        daemon_json: Option<&str>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestDaemon {
        Self::start_custom(netns, daemon_json, None, args, env)
    }

    /// A daemon in `netns` with everything chosen: its `PATH` (None: the
    /// test's), more arguments and more environment.
    pub fn start_custom(
        netns: &str,
        daemon_json: Option<&str>,
        path: Option<&str>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestDaemon {
        Self::launch_with(
            netns.to_string(),
            false,
            daemon_json,
            path.map(str::to_string),
            args,
            env,
        )
    }

    fn launch(
        netns: String,
        owns_netns: bool,
        daemon_json: Option<&str>,
        path: Option<String>,
        args: &[&str],
    ) -> TestDaemon {
        Self::launch_with(netns, owns_netns, daemon_json, path, args, &[])
    }

    fn launch_with(
        netns: String,
        owns_netns: bool,
        daemon_json: Option<&str>,
        path: Option<String>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestDaemon {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(json) = daemon_json {
            std::fs::write(dir.path().join("daemon.json"), json).unwrap();
        }
        let mut d = TestDaemon {
            netns,
            dir,
            child: None,
            owns_netns,
            path,
            args: args.iter().map(|a| a.to_string()).collect(),
            crash_point: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        d.spawn();
        d
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("bridgewall.sock")
    }

    /// `unix://SOCKET`, for `-H`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn spawn(&mut self) {
        let dir = self.dir.path();
        let mut cmd = Command::new(bridgewall_bin());
        cmd.args(["daemon", "--netns", &self.netns])
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .args(["-H", &self.host()])
            .env("BRIDGEWALL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("daemon.log"))
                    .unwrap(),
            );
        if dir.join("daemon.json").exists() {
            cmd.arg("--config").arg(dir.join("daemon.json"));
        }
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }
        // Never the machine's own system bus (a firewalld there is the
        // machine's): a bus nobody listens on, unless the test has its own.
        cmd.env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", dir.join("no-system-bus").display()),
        );
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.args(&self.args);
        // The drift watcher would repair what tests tamper with on purpose:
        // off, unless a test asks for it.
        if !self.args.iter().any(|a| a == "--watch-interval-ms") {
            cmd.args(["--watch-interval-ms", "0"]);
        }
        if let Some(point) = &self.crash_point {
            cmd.env("FAILPOINTS", format!("{point}=return"));
        }
        self.child = Some(cmd.spawn().expect("start bridgewall daemon"));
        self.wait_ready();
    }

    /// Waits (10 s at most) until `/_ping` answers; panics with the log if
    /// the daemon exits or never answers.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited ({status}):\n{}", self.log());
            }
            let ping = Command::new("docker")
                .args([
                    "-H",
                    &self.host(),
                    "version",
                    "--format",
                    "{{.Server.APIVersion}}",
                ])
                .output();
            if ping.is_ok_and(|o| o.status.success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Deletes the raw-table rule that keeps other hosts off TCP `port`
    /// published on 127.0.0.1 (the control of a "blocked" check).
    pub fn delete_loopback_protection(&self, port: u16) {
        let port = port.to_string();
        self.exec(&[
            "iptables",
            "-t",
            "raw",
            "-D",
            "PREROUTING",
            "-d",
            "127.0.0.1/32",
            "!",
            "-i",
            "lo",
            "-p",
            "tcp",
            "-m",
            "tcp",
            "--dport",
            &port,
            "-j",
            "DROP",
        ]);
    }

    /// The daemon's process ID, while it runs.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Stops the daemon with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("daemon ignored SIGTERM:\n{}", self.log());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Kills the daemon with SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGHUP and waits (10 s at most) for the daemon's log line that
    /// ends the reload (`reload=N`, re-applied or failed).
    pub fn hup_and_wait(&self) {
        let done = |log: &str| log.matches(" reload=").count();
        let before = done(&self.log());
        self.hup();
        let finished =
            super::topology::wait_until(Duration::from_secs(10), || done(&self.log()) > before);
        assert!(finished, "the reload did not finish:\n{}", self.log());
    }

    /// Sends SIGHUP.
    pub fn hup(&self) {
        let child = self.child.as_ref().expect("running");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap();
    }

    /// Starts the daemon again (after [`TestDaemon::stop`] or
    /// [`TestDaemon::kill9`]) on the same state.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Arms `point` (a `crash_point!` name) for the next starts; `None`
    /// disarms.
    pub fn arm(&mut self, point: Option<&str>) {
        self.crash_point = point.map(str::to_string);
    }

    /// Waits (10 s at most) for the daemon to die by itself, at an armed
    /// crash point; panics if it does not.
    pub fn wait_crashed(&mut self) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(status.signal(), Some(9), "not killed at the crash point");
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the crash point was not reached:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again after a crash, without stopping it first.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    /// Runs the real docker CLI against the daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(["-H", &self.host()])
            .args(args)
            .output()
            .expect("run docker")
    }

    /// Runs the bridgewall CLI against the daemon.
    pub fn bw(&self, args: &[&str]) -> Output {
        Command::new(bridgewall_bin())
            .args(["-H", &self.host()])
            .args(args)
            .output()
            .expect("run bridgewall")
    }

    /// Runs a command in the daemon's namespace; returns stdout (panics on failure).
    pub fn exec(&self, args: &[&str]) -> String {
        super::netns_exec(&self.netns, args)
    }

    /// Both families' rules, without comments and counters.
    pub fn rules(&self) -> String {
        let mut out = String::new();
        for prog in ["iptables-save", "ip6tables-save"] {
            for line in self.exec(&[prog]).lines() {
                if !line.starts_with('#') {
                    out.push_str(&line.replace(['[', ']'], ""));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The names of the links in the daemon's namespace.
    pub fn links(&self) -> Vec<String> {
        self.exec(&["ip", "-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    /// The data directory (for tests that look at the store).
    pub fn data_root(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill9();
        // Sandbox processes (in process groups of their own) and the
        // namespaces the daemon made for them.
        let netns_dir = self.dir.path().join("exec/netns");
        if let Ok(entries) = std::fs::read_dir(&netns_dir) {
            for entry in entries.flatten() {
                super::kill_processes_in(&entry.path());
                let _ = nix::mount::umount2(&entry.path(), nix::mount::MntFlags::MNT_DETACH);
            }
            // The directory is a bind mount of itself (made shared, as
            // `ip netns` does for /run/netns).
            let _ = nix::mount::umount2(&netns_dir, nix::mount::MntFlags::MNT_DETACH);
        }
        if self.owns_netns {
            super::kill_processes_in(Path::new(&format!("/run/netns/{}", self.netns)));
            let _ = Command::new("ip")
                .args(["netns", "del", &self.netns])
                .status();
        }
    }
}

/// stdout of a successful command, or a panic with its stderr.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first line of stderr of a failed command, or a panic if it succeeded.
pub fn err(out: Output) -> String {
    assert!(
        !out.status.success(),
        "unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

impl TestDaemon {
    /// Calls the daemon's API with bridgewall's client.
    pub fn api<T>(&self, f: impl AsyncFnOnce(&bridgewall::api::client::Client) -> T) -> T {
        let client = bridgewall::api::client::Client::new(self.socket());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f(&client))
    }

    /// Creates a sandbox through the API; returns its inspect data.
    pub fn sandbox(
        &self,
        req: bridgewall::api::sandbox::SandboxCreateRequest,
    ) -> Result<bridgewall::api::sandbox::SandboxInspect, String> {
        let name = req.name.clone();
        self.api(async |c| {
            let _: bridgewall::api::sandbox::SandboxCreateResponse = c
                .post("/sandboxes/create", &req)
                .await
                .map_err(|e| e.to_string())?;
            c.get(&format!("/sandboxes/{name}/json"))
                .await
                .map_err(|e| e.to_string())
        })
    }

    /// A sandbox's inspect data.
    pub fn inspect(&self, name: &str) -> bridgewall::api::sandbox::SandboxInspect {
        self.api(async |c| c.get(&format!("/sandboxes/{name}/json")).await.unwrap())
    }
}

/// A sandbox running `sleep` (to hold its namespace), named `name`, on
/// `network` ("" for the default bridge), publishing `publish`.
pub fn sleeper(
    name: &str,
    network: &str,
    publish: &[&str],
) -> bridgewall::api::sandbox::SandboxCreateRequest {
    bridgewall::api::sandbox::SandboxCreateRequest {
        name: name.into(),
        network: network.into(),
        publish: publish.iter().map(|s| s.to_string()).collect(),
        cmd: vec!["sleep".into(), "600".into()],
        ..Default::default()
    }
}

impl TestDaemon {
    /// Another program listening on TCP `port` (all IPv4 addresses) in the
    /// daemon's namespace, until the returned guard is dropped (60 s at
    /// most); waits until it listens.
    pub fn occupy_port(&self, port: u16) -> super::topology::Background {
        let mut foreign = super::topology::command_in(
            &super::topology::NetnsFile::new(format!("/run/netns/{}", self.netns), "x"),
            "python3",
        );
        foreign.args([
            "-c",
            &format!(
                "import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',{port}));s.listen();time.sleep(60)"
            ),
        ]);
        let guard = super::topology::Background::spawn(foreign);
        let listening = super::topology::wait_until(Duration::from_secs(5), || {
            self.exec(&["ss", "-Hltn"])
                .contains(&format!("0.0.0.0:{port} "))
        });
        assert!(listening, "nothing listens on {port}");
        guard
    }
}
