//! The API server against the real `docker` CLI (client only, no daemon, no
//! root) and against bridgewall's own client and CLI, with an in-memory
//! engine.
//!
//! Without a `docker` binary the CLI tests are skipped, except under
//! `CI=true`, where they fail.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use bridgewall::api::client::{Client, ClientError};
use bridgewall::api::engine::{Engine, EngineError};
use bridgewall::api::filters::{Filters, PruneFilter, is_predefined_network};
use bridgewall::api::sandbox::{
    EndpointSettingsResource, PortBindingResource, SandboxCreateRequest, SandboxCreateResponse,
    SandboxInspect, SandboxState, SandboxSummary, SandboxWaitResponse,
};
use bridgewall::api::server::{bind_unix_socket, serve};
use bridgewall::api::types::{
    EndpointResource, Ipam, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkResource, NetworksPruneResponse, SystemVersion,
};
use bridgewall::daemon::lookup::find_network;
use bridgewall::error::{DomainError, ErrorKind};
use bridgewall::model::port_spec::PortSpec;
use sha2::{Digest, Sha256};

/// The fake engine's errors: a kind and Docker's message, as the daemon's
/// domain errors are.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct FakeError {
    kind: ErrorKind,
    message: String,
}

impl DomainError for FakeError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl FakeError {
    fn boxed(kind: ErrorKind, message: impl Into<String>) -> EngineError {
        Box::new(FakeError {
            kind,
            message: message.into(),
        })
    }
    fn not_found(message: impl Into<String>) -> EngineError {
        Self::boxed(ErrorKind::NotFound, message)
    }
    fn conflict(message: impl Into<String>) -> EngineError {
        Self::boxed(ErrorKind::Conflict, message)
    }
    fn invalid_parameter(message: impl Into<String>) -> EngineError {
        Self::boxed(ErrorKind::InvalidParameter, message)
    }
    fn forbidden(message: impl Into<String>) -> EngineError {
        Self::boxed(ErrorKind::Forbidden, message)
    }
    fn network_name_conflict(name: &str) -> EngineError {
        Self::conflict(format!("network with name {name} already exists"))
    }
    fn predefined_network(name: &str) -> EngineError {
        Self::forbidden(format!(
            "{name} is a pre-defined network and cannot be removed"
        ))
    }
}
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An engine keeping networks and sandboxes in memory, with the predefined
/// `bridge`, `host` and `none`, and Docker's answers for the cases the tests
/// hit.
#[derive(Default)]
struct FakeEngine {
    networks: Mutex<Vec<NetworkResource>>,
    sandboxes: Mutex<Vec<FakeSandbox>>,
    /// Ephemeral host ports handed out so far.
    ephemeral: AtomicU16,
}

/// A sandbox of the [`FakeEngine`], which runs nothing: `echo ARGS` has
/// exited at once having printed ARGS, `false` has exited with 1; any other
/// command, and an attached namespace, runs until removed. Published ports
/// get their host port, or one from 32768 up; there are no namespaces.
struct FakeSandbox {
    inspect: SandboxInspect,
    logs: String,
}

impl FakeSandbox {
    fn name(&self) -> &str {
        self.inspect.name.trim_start_matches('/')
    }

    fn summary(&self) -> SandboxSummary {
        let s = &self.inspect;
        let ports = s
            .network_settings
            .ports
            .iter()
            .flat_map(|(port, bindings)| {
                bindings.iter().map(move |b| {
                    if b.host_ip.contains(':') {
                        format!("[{}]:{}->{port}", b.host_ip, b.host_port)
                    } else {
                        format!("{}:{}->{port}", b.host_ip, b.host_port)
                    }
                })
            })
            .collect::<Vec<_>>()
            .join(", ");
        SandboxSummary {
            id: s.id.clone(),
            name: self.name().to_string(),
            command: s.cmd.join(" "),
            created: s.created,
            state: s.state.status.clone(),
            status: if s.state.running {
                "Up".to_string()
            } else {
                format!("Exited ({})", s.state.exit_code)
            },
            ports,
            networks: s
                .network_settings
                .networks
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// The sandbox `term` names: by ID, name, or unique ID prefix.
fn find_sandbox(sandboxes: &[FakeSandbox], term: &str) -> Result<usize, EngineError> {
    let exact = sandboxes
        .iter()
        .position(|s| s.inspect.id == term || s.name() == term);
    let mut prefixed = sandboxes
        .iter()
        .enumerate()
        .filter(|(_, s)| !term.is_empty() && s.inspect.id.starts_with(term));
    match (exact, prefixed.next(), prefixed.next()) {
        (Some(i), _, _) | (None, Some((i, _)), None) => Ok(i),
        _ => Err(FakeError::not_found(format!("No such sandbox: {term}"))),
    }
}

/// The published ports of a create request, as Docker shows them (an
/// unpublished `--expose`d port with no bindings); ephemeral host ports
/// count from 32768 with `ephemeral`.
fn fake_ports(
    req: &SandboxCreateRequest,
    ephemeral: &AtomicU16,
) -> Result<std::collections::BTreeMap<String, Vec<PortBindingResource>>, EngineError> {
    let next_port = || 32768 + ephemeral.fetch_add(1, Ordering::Relaxed);
    let mut ports = std::collections::BTreeMap::new();
    let parse =
        |spec: &str| PortSpec::parse(spec).map_err(|e| FakeError::invalid_parameter(e.to_string()));
    for spec in &req.expose {
        for m in parse(spec)?.mappings() {
            let bindings: &mut Vec<PortBindingResource> = ports
                .entry(format!("{}/{}", m.container_port, m.proto.as_str()))
                .or_default();
            if req.publish_all {
                let host_port = next_port().to_string();
                for host_ip in ["0.0.0.0", "::"] {
                    bindings.push(PortBindingResource {
                        host_ip: host_ip.into(),
                        host_port: host_port.clone(),
                    });
                }
            }
        }
    }
    for spec in &req.publish {
        for m in parse(spec)?.mappings() {
            let host_port = match m.host_port_start {
                0 => next_port(),
                port => port,
            };
            let host_ips = match m.host_ip {
                Some(ip) => vec![ip.to_string()],
                None => vec!["0.0.0.0".to_string(), "::".to_string()],
            };
            let bindings = ports
                .entry(format!("{}/{}", m.container_port, m.proto.as_str()))
                .or_default();
            for host_ip in host_ips {
                bindings.push(PortBindingResource {
                    host_ip,
                    host_port: host_port.to_string(),
                });
            }
        }
    }
    Ok(ports)
}

fn hex_id(seed: &str) -> String {
    Sha256::digest(seed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn resource(name: &str, driver: &str) -> NetworkResource {
    NetworkResource {
        name: name.into(),
        id: hex_id(name),
        created: SystemTime::now(),
        scope: "local".into(),
        driver: driver.into(),
        enable_ipv4: true,
        ipam: Ipam {
            driver: "default".into(),
            ..Ipam::default()
        },
        ..Default::default()
    }
}

impl FakeEngine {
    fn new() -> Self {
        let predefined = vec![
            resource("bridge", "bridge"),
            resource("host", "host"),
            resource("none", "null"),
        ];
        FakeEngine {
            networks: Mutex::new(predefined),
            sandboxes: Mutex::default(),
            ephemeral: AtomicU16::new(0),
        }
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn rules(
        &self,
        _families: Vec<bridgewall::firewall::Family>,
    ) -> Result<bridgewall::api::rules::RulesResponse, EngineError> {
        Ok(Default::default())
    }

    async fn info(&self) -> Result<bridgewall::api::info::SystemInfo, EngineError> {
        Ok(Default::default())
    }

    async fn create_network(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, EngineError> {
        let mut networks = self.networks.lock().unwrap();
        if networks.iter().any(|nw| nw.name == req.name) {
            return Err(FakeError::network_name_conflict(&req.name));
        }
        let mut nw = resource(
            &req.name,
            if req.driver.is_empty() {
                "bridge"
            } else {
                &req.driver
            },
        );
        nw.enable_ipv4 = req.enable_ipv4.unwrap_or(true);
        nw.enable_ipv6 = req.enable_ipv6.unwrap_or(false);
        if let Some(ipam) = req.ipam {
            nw.ipam = ipam;
        }
        nw.internal = req.internal;
        nw.options = req.options;
        nw.labels = req.labels;
        let id = nw.id.clone();
        networks.push(nw);
        Ok(NetworkCreateResponse {
            id,
            warning: String::new(),
        })
    }

    async fn list_networks(&self) -> Result<Vec<NetworkResource>, EngineError> {
        Ok(self.networks.lock().unwrap().clone())
    }

    async fn inspect_network(
        &self,
        id_or_name: &str,
        _: bool,
    ) -> Result<NetworkResource, EngineError> {
        Ok(find_network(&self.networks.lock().unwrap(), id_or_name)?.clone())
    }

    async fn remove_network(&self, id_or_name: &str) -> Result<(), EngineError> {
        let mut networks = self.networks.lock().unwrap();
        let nw = find_network(&networks, id_or_name)?;
        if is_predefined_network(&nw.name) {
            return Err(FakeError::predefined_network(&nw.name));
        }
        if !nw.containers.is_empty() {
            return Err(FakeError::forbidden(format!(
                "error while removing network: network {} has active endpoints",
                nw.name
            )));
        }
        let id = nw.id.clone();
        networks.retain(|nw| nw.id != id);
        Ok(())
    }

    async fn prune_networks(
        &self,
        prune: &PruneFilter,
    ) -> Result<NetworksPruneResponse, EngineError> {
        let mut networks = self.networks.lock().unwrap();
        let mut deleted = Vec::new();
        networks.retain(|nw| {
            let gone = prune.matches(nw);
            if gone {
                deleted.push(nw.name.clone());
            }
            !gone
        });
        Ok(NetworksPruneResponse {
            networks_deleted: deleted,
        })
    }

    async fn connect_network(
        &self,
        id_or_name: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), EngineError> {
        let mut networks = self.networks.lock().unwrap();
        let id = find_network(&networks, id_or_name)?.id.clone();
        let nw = networks.iter_mut().find(|nw| nw.id == id).unwrap();
        let ipv4 = req
            .endpoint_config
            .and_then(|ep| ep.ipam_config)
            .map(|ipam| format!("{}/24", ipam.ipv4_address))
            .unwrap_or_default();
        nw.containers.insert(
            hex_id(&req.container),
            EndpointResource {
                name: req.container.clone(),
                endpoint_id: hex_id(&format!("{}-{}", req.container, nw.name)),
                mac_address: "02:42:c0:00:02:05".into(),
                ipv4_address: ipv4,
                ipv6_address: String::new(),
            },
        );
        Ok(())
    }

    async fn disconnect_network(
        &self,
        id_or_name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), EngineError> {
        let mut networks = self.networks.lock().unwrap();
        let id = find_network(&networks, id_or_name)?.id.clone();
        let nw = networks.iter_mut().find(|nw| nw.id == id).unwrap();
        match nw.containers.remove(&hex_id(&req.container)) {
            Some(_) => Ok(()),
            None => Err(FakeError::forbidden(format!(
                "container {} is not connected to network {}",
                req.container, nw.name
            ))),
        }
    }

    async fn create_sandbox(
        &self,
        req: SandboxCreateRequest,
    ) -> Result<SandboxCreateResponse, EngineError> {
        if req.cmd.is_empty() && req.netns.is_empty() {
            return Err(FakeError::invalid_parameter("no command specified"));
        }
        let network = {
            let networks = self.networks.lock().unwrap();
            let term = if req.network.is_empty() {
                "bridge"
            } else {
                &req.network
            };
            find_network(&networks, term)?.clone()
        };
        let mut sandboxes = self.sandboxes.lock().unwrap();
        let name = match req.name.as_str() {
            "" => format!("sandbox{}", sandboxes.len() + 1),
            name => name.to_string(),
        };
        if sandboxes.iter().any(|s| s.name() == name) {
            return Err(FakeError::conflict(format!(
                "the sandbox name \"/{name}\" is already in use"
            )));
        }
        let ports = fake_ports(&req, &self.ephemeral)?;
        let id = hex_id(&name);
        let (running, exit_code, logs) = match req.cmd.first().map(String::as_str) {
            Some("echo") => (false, 0, format!("{}\n", req.cmd[1..].join(" "))),
            Some("false") => (false, 1, String::new()),
            _ => (true, 0, String::new()),
        };
        let endpoint = EndpointSettingsResource {
            network_id: network.id.clone(),
            endpoint_id: hex_id(&format!("{id}-{}", network.name)),
            ip_address: req.ip.clone(),
            global_ipv6_address: req.ip6.clone(),
            ..Default::default()
        };
        let sandbox = FakeSandbox {
            inspect: SandboxInspect {
                id: id.clone(),
                name: format!("/{name}"),
                created: SystemTime::now(),
                cmd: req.cmd.clone(),
                state: SandboxState {
                    status: if running { "running" } else { "exited" }.into(),
                    running,
                    pid: 0,
                    exit_code,
                    error: String::new(),
                },
                publish: req.publish.clone(),
                auto_remove: req.auto_remove,
                network_settings: bridgewall::api::sandbox::NetworkSettingsResource {
                    sandbox_key: match req.netns.as_str() {
                        "" => format!("/nonexistent/bridgewall-fake/{}", &id[..12]),
                        netns => netns.to_string(),
                    },
                    ports,
                    networks: [(network.name.clone(), endpoint)].into(),
                },
            },
            logs,
        };
        if running || !req.auto_remove {
            sandboxes.push(sandbox);
        }
        Ok(SandboxCreateResponse {
            id,
            warnings: Vec::new(),
        })
    }

    async fn list_sandboxes(&self, all: bool) -> Result<Vec<SandboxSummary>, EngineError> {
        let sandboxes = self.sandboxes.lock().unwrap();
        // Newest first, as Docker lists containers.
        Ok(sandboxes
            .iter()
            .rev()
            .filter(|s| all || s.inspect.state.running)
            .map(FakeSandbox::summary)
            .collect())
    }

    async fn inspect_sandbox(&self, id_or_name: &str) -> Result<SandboxInspect, EngineError> {
        let sandboxes = self.sandboxes.lock().unwrap();
        Ok(sandboxes[find_sandbox(&sandboxes, id_or_name)?]
            .inspect
            .clone())
    }

    async fn remove_sandbox(&self, id_or_name: &str, force: bool) -> Result<(), EngineError> {
        let mut sandboxes = self.sandboxes.lock().unwrap();
        let i = find_sandbox(&sandboxes, id_or_name)?;
        if sandboxes[i].inspect.state.running && !force {
            return Err(FakeError::conflict(format!(
                "cannot remove sandbox \"{}\": sandbox is running: stop the sandbox before \
                 removing or force remove",
                sandboxes[i].inspect.name
            )));
        }
        sandboxes.remove(i);
        Ok(())
    }

    async fn sandbox_logs(&self, id_or_name: &str) -> Result<String, EngineError> {
        let sandboxes = self.sandboxes.lock().unwrap();
        Ok(sandboxes[find_sandbox(&sandboxes, id_or_name)?]
            .logs
            .clone())
    }

    async fn wait_sandbox(&self, id_or_name: &str) -> Result<SandboxWaitResponse, EngineError> {
        let sandboxes = self.sandboxes.lock().unwrap();
        let state = &sandboxes[find_sandbox(&sandboxes, id_or_name)?]
            .inspect
            .state;
        if state.running {
            return Err(FakeError::conflict(
                "the fake engine's running sandboxes never exit",
            ));
        }
        Ok(SandboxWaitResponse {
            status_code: state.exit_code,
        })
    }
}

/// A server on a socket in a temporary directory, stopped on drop.
struct Server {
    dir: tempfile::TempDir,
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bridgewall.sock");
        let listener = bind_unix_socket(&socket, 0o660).unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, Arc::new(FakeEngine::new()), async {
            let _ = stopped.await;
        }));
        Server {
            dir,
            socket,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it to finish cleanly.
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }

    /// Runs `docker -H unix://SOCKET ARGS` with a configuration of its own
    /// and none of the caller's Docker environment.
    async fn docker(&self, args: &[&str]) -> Output {
        self.docker_with(&[], args).await
    }

    async fn docker_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new("docker");
        cmd.arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env("NO_COLOR", "1");
        for var in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_API_VERSION",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        cmd.output().await.expect("running docker")
    }

    /// Runs `bridgewall -H unix://SOCKET ARGS`, without the caller's
    /// `BRIDGEWALL_HOST`.
    async fn bridgewall(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_bridgewall"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .env_remove("BRIDGEWALL_HOST")
            .output()
            .await
            .expect("running bridgewall")
    }

    /// One raw HTTP/1.0 exchange: the status line, headers and body.
    fn raw(&self, request: &str) -> (u16, String, String) {
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_ascii_lowercase(), body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Whether the `docker` CLI is here; without it, skip (fail under CI).
fn have_docker() -> bool {
    let found = std::process::Command::new("docker")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    support::require(found, "the docker CLI is not installed")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "docker failed ({}): {}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Asserts exit code 1 and returns stderr.
fn fails(out: Output) -> String {
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    stderr(&out)
}

/// Asserts exit code 1 and returns stderr's first line (`docker network rm`
/// 28.2 follows the daemon's error with `exit status 1`).
fn fails_first_line(out: Output) -> String {
    fails(out).lines().next().unwrap_or_default().to_string()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

fn inspect_json(out: Output) -> serde_json::Value {
    let text = ok(out);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value.as_array().map(Vec::len), Some(1), "{text}");
    value[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_cli_creates_lists_inspects_and_removes() {
    if !have_docker() {
        return;
    }
    let server = Server::start();

    let id = ok(server
        .docker(&[
            "network",
            "create",
            "--subnet",
            "192.0.2.0/24",
            "--gateway",
            "192.0.2.1",
            "--ip-range",
            "192.0.2.128/25",
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "--label",
            "env=test",
            "n1",
        ])
        .await);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    ok(server
        .docker(&["network", "create", "--ipv6", "--internal", "n2"])
        .await);

    // The default table: ID (12 digits), name, driver, scope.
    let table = ok(server.docker(&["network", "ls"]).await);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]);
    assert!(
        rows.contains(&vec![&id[..12], "n1", "bridge", "local"]),
        "{table}"
    );
    assert_eq!(rows.len(), 6, "{table}");

    // Sorted by name by the CLI.
    let names = ok(server
        .docker(&["network", "ls", "--format", "{{.Name}}"])
        .await);
    assert_eq!(lines(&names), ["bridge", "host", "n1", "n2", "none"]);
    let named = ok(server
        .docker(&[
            "network",
            "ls",
            "-f",
            "name=n1",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ])
        .await);
    assert_eq!(lines(&named), ["n1 bridge local"]);
    let custom = ok(server
        .docker(&[
            "network",
            "ls",
            "-f",
            "type=custom",
            "--format",
            "{{.Name}}",
        ])
        .await);
    assert_eq!(lines(&custom), ["n1", "n2"]);
    let labelled = ok(server
        .docker(&["network", "ls", "--filter", "label=env=test", "-q"])
        .await);
    assert_eq!(lines(&labelled), [&id[..12]]);
    let ipv6 = ok(server
        .docker(&[
            "network",
            "ls",
            "-f",
            "type=custom",
            "--format",
            "{{.Name}} {{.IPv6}} {{.Internal}}",
        ])
        .await);
    assert_eq!(lines(&ipv6), ["n1 false false", "n2 true true"]);

    // Inspect prints the whole object.
    let n1 = inspect_json(server.docker(&["network", "inspect", "n1"]).await);
    assert_eq!(n1["Name"], "n1");
    assert_eq!(n1["Id"], id.as_str());
    assert_eq!(n1["Scope"], "local");
    assert_eq!(n1["Driver"], "bridge");
    assert_eq!(n1["EnableIPv4"], true);
    assert_eq!(n1["EnableIPv6"], false);
    assert_eq!(n1["Internal"], false);
    assert_eq!(n1["IPAM"]["Driver"], "default");
    assert_eq!(
        n1["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "192.0.2.0/24", "IPRange": "192.0.2.128/25", "Gateway": "192.0.2.1"}])
    );
    assert_eq!(
        n1["Options"],
        serde_json::json!({"com.docker.network.bridge.enable_icc": "false"})
    );
    assert_eq!(n1["Labels"], serde_json::json!({"env": "test"}));
    assert_eq!(n1["Containers"], serde_json::json!({}));
    assert_eq!(n1["ConfigFrom"], serde_json::json!({"Network": ""}));
    let created = n1["Created"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    let n2 = inspect_json(server.docker(&["network", "inspect", "n2"]).await);
    assert_eq!(
        (n2["EnableIPv6"].clone(), n2["Internal"].clone()),
        (true.into(), true.into())
    );
    // By ID prefix, with a template.
    let by_prefix = ok(server
        .docker(&["network", "inspect", "--format", "{{.Name}}", &id[..6]])
        .await);
    assert_eq!(by_prefix, "n1\n");

    assert_eq!(ok(server.docker(&["network", "rm", "n2"]).await), "n2\n");
    assert_eq!(
        ok(server.docker(&["network", "rm", &id]).await),
        format!("{id}\n")
    );
    let names = ok(server
        .docker(&["network", "ls", "--format", "{{.Name}}"])
        .await);
    assert_eq!(lines(&names), ["bridge", "host", "none"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_cli_prints_the_daemon_errors() {
    if !have_docker() {
        return;
    }
    let server = Server::start();
    let got = fails_first_line(server.docker(&["network", "rm", "nosuch"]).await);
    // The docker CLI before 23 (Debian's docker.io) rewords this 404 itself.
    assert!(
        got == "Error response from daemon: network nosuch not found"
            || got == "Error: No such network: nosuch",
        "{got}"
    );
    assert_eq!(
        fails_first_line(server.docker(&["network", "rm", "bridge"]).await),
        "Error response from daemon: bridge is a pre-defined network and cannot be removed"
    );
    ok(server.docker(&["network", "create", "n1"]).await);
    assert_eq!(
        fails(server.docker(&["network", "create", "n1"]).await),
        "Error response from daemon: network with name n1 already exists\n"
    );
    let err = fails(server.docker(&["network", "inspect", "nosuch"]).await);
    // The docker CLI before 23 (Debian's docker.io) rewords this 404 itself.
    assert!(
        err.contains("network nosuch not found") || err.contains("No such network: nosuch"),
        "{err}"
    );
    assert_eq!(
        fails(server.docker(&["network", "ls", "-f", "colour=red"]).await),
        "Error response from daemon: invalid filter 'colour'\n"
    );
    assert_eq!(
        fails(
            server
                .docker(&["network", "ls", "-f", "dangling=maybe"])
                .await
        ),
        "Error response from daemon: invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")\n"
    );
    assert_eq!(
        fails(
            server
                .docker(&["network", "prune", "-f", "--filter", "until=soon"])
                .await
        ),
        "Error response from daemon: failed to parse value as time or duration: \"soon\"\n"
    );
    // A client speaking an API version below ours' minimum is refused.
    let old = server
        .docker_with(&[("DOCKER_API_VERSION", "1.23")], &["network", "ls"])
        .await;
    let refused = fails(old);
    let message = "client version 1.23 is too old. Minimum supported API version is 1.24, \
                   please upgrade your client to a newer version";
    // The docker CLI before 23 prints the JSON body of an error it reads at
    // API 1.23 as it is.
    assert!(
        refused == format!("Error response from daemon: {message}\n")
            || refused == format!("Error response from daemon: {{\"message\":\"{message}\"}}\n"),
        "{refused}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_cli_connects_disconnects_and_prunes() {
    if !have_docker() {
        return;
    }
    let server = Server::start();
    for args in [
        &["network", "create", "--subnet", "192.0.2.0/24", "used"][..],
        &["network", "create", "unused"],
        &["network", "create", "--label", "keep", "kept"],
    ] {
        ok(server.docker(args).await);
    }
    ok(server
        .docker(&["network", "connect", "--ip", "192.0.2.5", "used", "c1"])
        .await);
    let used = inspect_json(server.docker(&["network", "inspect", "used"]).await);
    let endpoint = &used["Containers"][hex_id("c1")];
    assert_eq!(endpoint["Name"], "c1");
    assert_eq!(endpoint["IPv4Address"], "192.0.2.5/24");
    // Listed, a network's endpoints are left out since API 1.28.
    let list = |version: &str| {
        let request = format!(
            "GET /v{version}/networks?filters=%7B%22name%22%3A%5B%22%5Eused%22%5D%7D HTTP/1.0\r\n\r\n"
        );
        let (status, _, body) = server.raw(&request);
        assert_eq!(status, 200, "{body}");
        let listed: Vec<NetworkResource> = serde_json::from_str(&body).unwrap();
        assert_eq!(listed.len(), 1, "{body}");
        listed[0].containers.len()
    };
    assert_eq!((list("1.27"), list("1.28"), list("1.51")), (1, 0, 0));
    let dangling = ok(server
        .docker(&[
            "network",
            "ls",
            "-f",
            "dangling=true",
            "--format",
            "{{.Name}}",
        ])
        .await);
    assert_eq!(lines(&dangling), ["kept", "unused"]);
    assert_eq!(
        fails_first_line(server.docker(&["network", "rm", "used"]).await),
        "Error response from daemon: error while removing network: network used has active endpoints"
    );

    // Prune spares the predefined, the used and, here, the labelled.
    let pruned = ok(server
        .docker(&["network", "prune", "-f", "--filter", "label!=keep"])
        .await);
    assert_eq!(pruned, "Deleted Networks:\nunused\n\n");
    ok(server
        .docker(&["network", "disconnect", "used", "c1"])
        .await);
    assert_eq!(
        fails(
            server
                .docker(&["network", "disconnect", "used", "c1"])
                .await
        ),
        "Error response from daemon: container c1 is not connected to network used\n"
    );
    // Created more than an hour ago: none.
    assert_eq!(
        ok(server
            .docker(&["network", "prune", "-f", "--filter", "until=1h"])
            .await),
        ""
    );
    let pruned = ok(server.docker(&["network", "prune", "-f"]).await);
    assert_eq!(pruned, "Deleted Networks:\nused\nkept\n\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_cli_reads_the_version() {
    if !have_docker() {
        return;
    }
    let server = Server::start();
    let version = ok(server
        .docker(&[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}",
        ])
        .await);
    assert_eq!(
        version,
        format!("{} 1.51 1.24 linux\n", env!("CARGO_PKG_VERSION"))
    );
    let full = ok(server.docker(&["version"]).await);
    assert!(
        full.contains("\nServer: bridgewall\n bridgewall:\n  Version:"),
        "{full}"
    );
    assert!(full.contains("1.51 (minimum version 1.24)"), "{full}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_routes_versions_and_headers() {
    let server = Server::start();
    let (status, head, body) = server.raw("GET /_ping HTTP/1.0\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, "OK"));
    for header in [
        "api-version: 1.51",
        "ostype: linux",
        "docker-experimental: false",
        "swarm: inactive",
    ] {
        assert!(head.contains(header), "{header} in {head}");
    }
    let (status, _, body) = server.raw("HEAD /v1.40/_ping HTTP/1.0\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, _, body) = server.raw("GET /v1.52/_ping HTTP/1.0\r\n\r\n");
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "{\"message\":\"client version 1.52 is too new. Maximum supported API version is 1.51\"}\n"
    );
    let (status, head, body) = server.raw("GET /nowhere HTTP/1.0\r\n\r\n");
    assert_eq!(
        (status, body.as_str()),
        (404, "{\"message\":\"page not found\"}\n")
    );
    assert!(head.contains("content-type: application/json"), "{head}");
    let (status, _, body) = server.raw("PUT /v1.51/networks HTTP/1.0\r\n\r\n");
    assert_eq!(
        (status, body.as_str()),
        (404, "{\"message\":\"page not found\"}\n")
    );
    // A network may be called "create": GET on that path inspects it.
    let (status, _, body) = server.raw("GET /v1.51/networks/create HTTP/1.0\r\n\r\n");
    assert_eq!(
        (status, body.as_str()),
        (404, "{\"message\":\"network create not found\"}\n")
    );
    let bad_json = "POST /networks/create HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"Na\"";
    let (status, _, body) = server.raw(bad_json);
    assert_eq!(status, 400);
    assert!(body.starts_with("{\"message\":\"invalid JSON: "), "{body}");
    let (status, _, body) = server.raw("GET /networks?filters=%7Bnope HTTP/1.0\r\n\r\n");
    assert_eq!(
        (status, body.as_str()),
        (400, "{\"message\":\"invalid filter\"}\n")
    );
    let (status, _, body) = server.raw("GET /networks/bridge?verbose=maybe HTTP/1.0\r\n\r\n");
    assert_eq!(status, 400);
    assert!(body.contains("invalid value for verbose: maybe"), "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bridgewall_client_against_the_server() {
    let server = Server::start();
    let client = Client::new(&server.socket);
    assert_eq!(client.socket(), server.socket.as_path());

    let mut req = NetworkCreateRequest {
        name: "n1".into(),
        ..Default::default()
    };
    req.labels.insert("env".into(), "test".into());
    let created: NetworkCreateResponse = client.post("/networks/create", &req).await.unwrap();
    assert_eq!(created.id, hex_id("n1"));

    let mut filters = Filters::new();
    filters.add("label", "env=test");
    let listed: Vec<NetworkResource> = client
        .get(&format!("/networks?{}", filters.to_query()))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|nw| nw.name.as_str()).collect::<Vec<_>>(),
        ["n1"]
    );

    let inspected: NetworkResource = client.get("/networks/n1").await.unwrap();
    assert_eq!(inspected.id, created.id);
    assert_eq!(
        inspected.labels.get("env").map(String::as_str),
        Some("test")
    );

    let connect = NetworkConnectRequest {
        container: "c1".into(),
        endpoint_config: None,
    };
    client
        .post::<_, ()>("/networks/n1/connect", &connect)
        .await
        .unwrap();

    match client
        .post::<_, NetworkCreateResponse>("/networks/create", &req)
        .await
    {
        Err(ClientError::Daemon {
            status, message, ..
        }) => {
            assert_eq!(
                (status, message.as_str()),
                (409, "network with name n1 already exists")
            );
        }
        other => panic!("{other:?}"),
    }
    let err = client.delete("/networks/nosuch").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error response from daemon: network nosuch not found"
    );

    let disconnect = NetworkDisconnectRequest {
        container: "c1".into(),
        force: false,
    };
    client
        .post::<_, ()>("/networks/n1/disconnect", &disconnect)
        .await
        .unwrap();
    let pruned: NetworksPruneResponse = client.post_empty("/networks/prune").await.unwrap();
    assert_eq!(pruned.networks_deleted, ["n1"]);

    let version: SystemVersion = client.get("/version").await.unwrap();
    assert_eq!(version.api_version, "1.51");
    assert_eq!(version.components[0].name, "bridgewall");
    server.stop().await;
}

/// A `POST` of a JSON body, as raw HTTP/1.0.
fn post_json(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_sandbox_routes() {
    let server = Server::start();
    let (status, _, body) = server.raw(&post_json(
        "/v1.51/sandboxes/create",
        r#"{"Name":"web","Cmd":["sleep","1000"],"Publish":["8080:80"]}"#,
    ));
    assert_eq!(status, 201, "{body}");
    let created: SandboxCreateResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(created.id, hex_id("web"));
    let (status, _, body) = server.raw(&post_json(
        "/sandboxes/create",
        r#"{"Name":"done","Cmd":["echo","hi"]}"#,
    ));
    assert_eq!(status, 201, "{body}");

    // Running ones only, unless `all` (Docker's reading of the flag).
    let names = |query: &str| {
        let (status, _, body) = server.raw(&format!("GET /sandboxes{query} HTTP/1.0\r\n\r\n"));
        assert_eq!(status, 200, "{body}");
        let listed: Vec<SandboxSummary> = serde_json::from_str(&body).unwrap();
        listed.into_iter().map(|s| s.name).collect::<Vec<_>>()
    };
    assert_eq!(names(""), ["web"]);
    assert_eq!(names("?all=0"), ["web"]);
    assert_eq!(names("?all=1"), ["done", "web"]);
    assert_eq!(names("?all=true"), ["done", "web"]);

    let (status, _, body) = server.raw("GET /v1.51/sandboxes/web/json HTTP/1.0\r\n\r\n");
    assert_eq!(status, 200, "{body}");
    let inspect: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(inspect["Name"], "/web");
    assert_eq!(
        inspect["NetworkSettings"]["Ports"]["80/tcp"],
        serde_json::json!([{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}])
    );
    // By ID prefix.
    let (status, _, _) = server.raw(&format!(
        "GET /sandboxes/{}/json HTTP/1.0\r\n\r\n",
        &created.id[..8]
    ));
    assert_eq!(status, 200);

    let (status, head, body) = server.raw("GET /sandboxes/done/logs HTTP/1.0\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, "hi\n"));
    assert!(
        head.contains("content-type: text/plain; charset=utf-8"),
        "{head}"
    );
    let (status, head, body) = server.raw("POST /v1.40/sandboxes/done/wait HTTP/1.0\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, "{\"StatusCode\":0}\n"));
    assert!(head.contains("api-version: 1.51"), "{head}");

    // A running sandbox needs `force`.
    let (status, _, body) = server.raw("DELETE /sandboxes/web HTTP/1.0\r\n\r\n");
    assert_eq!(status, 409, "{body}");
    let (status, _, body) = server.raw("DELETE /sandboxes/web?force=false HTTP/1.0\r\n\r\n");
    assert_eq!(status, 409, "{body}");
    let (status, _, body) = server.raw("DELETE /v1.51/sandboxes/web?force=1 HTTP/1.0\r\n\r\n");
    assert_eq!((status, body.as_str()), (204, ""));
    let (status, _, body) = server.raw("GET /sandboxes/web/json HTTP/1.0\r\n\r\n");
    assert_eq!(
        (status, body.as_str()),
        (404, "{\"message\":\"No such sandbox: web\"}\n")
    );

    // A sandbox may be called "create": DELETE on that path removes it.
    let (status, _, _) = server.raw(&post_json(
        "/sandboxes/create",
        r#"{"Name":"create","Cmd":["echo"]}"#,
    ));
    assert_eq!(status, 201);
    let (status, _, _) = server.raw("DELETE /sandboxes/create HTTP/1.0\r\n\r\n");
    assert_eq!(status, 204);
    assert_eq!(names("?all=1"), ["done"]);

    // Bad bodies and unknown methods, as for networks.
    let (status, _, body) = server.raw(&post_json("/sandboxes/create", "{\"Cmd\":"));
    assert_eq!(status, 400);
    assert!(body.starts_with("{\"message\":\"invalid JSON: "), "{body}");
    let (status, _, body) = server.raw(&post_json("/sandboxes/create", "{}"));
    assert_eq!(
        (status, body.as_str()),
        (400, "{\"message\":\"no command specified\"}\n")
    );
    let (status, _, body) = server.raw("GET /sandboxes/done/wait HTTP/1.0\r\n\r\n");
    assert_eq!(
        (status, body.as_str()),
        (404, "{\"message\":\"page not found\"}\n")
    );
    let (status, _, _) = server.raw("GET /v1.52/sandboxes HTTP/1.0\r\n\r\n");
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bridgewall_client_sandboxes() {
    let server = Server::start();
    let client = Client::new(&server.socket);
    let req = SandboxCreateRequest {
        name: "c1".into(),
        cmd: vec!["echo".into(), "out".into()],
        ..Default::default()
    };
    let created: SandboxCreateResponse = client.post("/sandboxes/create", &req).await.unwrap();
    let waited: SandboxWaitResponse = client
        .post_empty(&format!("/sandboxes/{}/wait", created.id))
        .await
        .unwrap();
    assert_eq!(waited.status_code, 0);
    assert_eq!(
        client.get_text("/sandboxes/c1/logs").await.unwrap(),
        "out\n"
    );
    let inspect: SandboxInspect = client.get("/sandboxes/c1/json").await.unwrap();
    assert_eq!(inspect.cmd, ["echo", "out"]);
    assert!(!inspect.state.running);
    let all: Vec<SandboxSummary> = client.get("/sandboxes?all=1").await.unwrap();
    assert_eq!(all[0].status, "Exited (0)");
    client.delete("/sandboxes/c1").await.unwrap();
    let err = client.get_text("/sandboxes/c1/logs").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error response from daemon: No such sandbox: c1"
    );
    server.stop().await;
}

/// Asserts the exit status and returns stdout and stderr.
fn exited(out: Output, code: i32) -> (String, String) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    (stdout(&out), stderr(&out))
}

#[tokio::test(flavor = "multi_thread")]
async fn bridgewall_cli_runs_lists_and_removes_sandboxes() {
    let server = Server::start();
    // Without -d: the output, then the command's exit status.
    let (out, err) = exited(server.bridgewall(&["run", "echo", "hello", "-n"]).await, 0);
    assert_eq!((out.as_str(), err.as_str()), ("hello -n\n", ""));
    assert_eq!(exited(server.bridgewall(&["run", "false"]).await, 1).0, "");
    let (out, _) = exited(
        server
            .bridgewall(&["run", "--rm", "--name", "once", "--", "echo", "hi"])
            .await,
        0,
    );
    assert_eq!(out, "hi\n");

    let (id, _) = exited(
        server
            .bridgewall(&[
                "run",
                "-d",
                "--name",
                "web",
                "-p",
                "8080:80",
                "-p",
                "127.0.0.1::53/udp",
                "--expose",
                "9000",
                "sleep",
                "1000",
            ])
            .await,
        0,
    );
    assert_eq!(id, format!("{}\n", hex_id("web")));

    // --rm removed `once`; the others are listed, newest first.
    let (table, _) = exited(server.bridgewall(&["ps", "-a"]).await, 0);
    let rows = lines(&table);
    assert_eq!(rows.len(), 4, "{table}");
    let columns: Vec<&str> = rows[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "CONTAINER ID",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert!(rows[1].starts_with(&hex_id("web")[..12]), "{table}");
    assert!(rows[1].contains("   \"sleep 1000\"   "), "{table}");
    assert!(
        rows[1].ends_with(
            "   Up           127.0.0.1:32768->53/udp, 0.0.0.0:8080->80/tcp, \
             [::]:8080->80/tcp   web"
        ),
        "{table}"
    );
    assert!(
        rows[2].contains("Exited (1)") && rows[2].ends_with("sandbox2"),
        "{table}"
    );
    let (quiet, _) = exited(server.bridgewall(&["ps", "-q"]).await, 0);
    assert_eq!(quiet, format!("{}\n", &hex_id("web")[..12]));
    let (quiet, _) = exited(server.bridgewall(&["ps", "-aq", "--no-trunc"]).await, 0);
    assert_eq!(lines(&quiet)[0], hex_id("web"));
    assert_eq!(lines(&quiet).len(), 3);

    // Ports as `docker port` prints them; 9000 is exposed, not published.
    let (ports, _) = exited(server.bridgewall(&["port", "web"]).await, 0);
    assert_eq!(
        ports,
        "53/udp -> 127.0.0.1:32768\n80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n"
    );
    let (ports, _) = exited(server.bridgewall(&["port", "web", "80/tcp"]).await, 0);
    assert_eq!(ports, "0.0.0.0:8080\n[::]:8080\n");
    let (_, err) = exited(server.bridgewall(&["port", "web", "9000"]).await, 1);
    assert_eq!(err, "Error: No public port '9000' published for web\n");

    // Inspect: what was found, then every error.
    let (json, err) = exited(
        server
            .bridgewall(&["inspect", "web", "nosuch", "gone"])
            .await,
        1,
    );
    assert!(json.starts_with("[\n    {\n        \"Id\": \""), "{json}");
    let found: Vec<SandboxInspect> = serde_json::from_str(&json).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "/web");
    assert_eq!(
        found[0].network_settings.networks["bridge"].network_id,
        hex_id("bridge")
    );
    assert_eq!(
        err,
        "Error response from daemon: No such sandbox: nosuch\n\
         Error response from daemon: No such sandbox: gone\n"
    );

    let (logs, _) = exited(
        server.bridgewall(&["logs", &hex_id("sandbox1")[..6]]).await,
        0,
    );
    assert_eq!(logs, "hello -n\n");

    // rm: running needs -f; with -f a missing one is reported, not failed.
    let (out, err) = exited(server.bridgewall(&["rm", "web", "sandbox1"]).await, 1);
    assert_eq!(out, "sandbox1\n");
    assert_eq!(
        err,
        "Error response from daemon: cannot remove sandbox \"/web\": sandbox is running: \
         stop the sandbox before removing or force remove\n"
    );
    let (out, err) = exited(server.bridgewall(&["rm", "-f", "nosuch", "/web/"]).await, 0);
    assert_eq!(out, "/web/\n");
    assert_eq!(err, "Error response from daemon: No such sandbox: nosuch\n");
    let (_, err) = exited(server.bridgewall(&["rm", "nosuch", "/"]).await, 1);
    assert_eq!(
        err,
        "Error response from daemon: No such sandbox: nosuch\nsandbox name cannot be empty\n"
    );
    let (quiet, _) = exited(server.bridgewall(&["ps", "-aq"]).await, 0);
    assert_eq!(lines(&quiet).len(), 1, "{quiet}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bridgewall_cli_errors_create_exec_and_connect() {
    let server = Server::start();
    // `run` fails as `docker run` does: 125 and a pointer to the help.
    let (out, err) = exited(
        server
            .bridgewall(&["run", "--network", "nosuch", "echo", "x"])
            .await,
        125,
    );
    assert_eq!(out, "");
    assert_eq!(
        err,
        "bridgewall: Error response from daemon: network nosuch not found.\n\
         See 'bridgewall run --help'.\n"
    );
    let (_, err) = exited(
        server
            .bridgewall(&["run", "-p", "80/xyz", "sleep", "1"])
            .await,
        125,
    );
    assert!(
        err.starts_with("bridgewall: Error response from daemon: invalid proto: xyz"),
        "{err}"
    );

    // `create` attaches a namespace by its absolute path; `exec` needs it.
    let dir = tempfile::tempdir().unwrap();
    let netns = dir.path().join("ns1");
    let (id, _) = exited(
        server
            .bridgewall(&[
                "create",
                "--netns",
                netns.to_str().unwrap(),
                "--name",
                "ns1",
                "--ip",
                "192.0.2.9",
            ])
            .await,
        0,
    );
    assert_eq!(id, format!("{}\n", hex_id("ns1")));
    let (json, _) = exited(server.bridgewall(&["inspect", "ns1"]).await, 0);
    let found: Vec<SandboxInspect> = serde_json::from_str(&json).unwrap();
    let settings = &found[0].network_settings;
    assert_eq!(settings.sandbox_key, netns.to_str().unwrap());
    assert_eq!(settings.networks["bridge"].ip_address, "192.0.2.9");
    assert!(found[0].state.running && found[0].cmd.is_empty());
    let (_, err) = exited(server.bridgewall(&["exec", "ns1", "true"]).await, 1);
    assert_eq!(
        err,
        format!(
            "Error: cannot open the network namespace of sandbox ns1 ({}): \
             No such file or directory (os error 2)\n",
            netns.display()
        )
    );
    let (_, err) = exited(server.bridgewall(&["exec", "nosuch", "true"]).await, 1);
    assert_eq!(err, "Error response from daemon: No such sandbox: nosuch\n");

    // network connect / disconnect send Docker's bodies.
    exited(
        server
            .bridgewall(&["network", "create", "--subnet", "192.0.2.0/24", "n1"])
            .await,
        0,
    );
    let (out, _) = exited(
        server
            .bridgewall(&["network", "connect", "--ip", "192.0.2.5", "n1", "ns1"])
            .await,
        0,
    );
    assert_eq!(out, "");
    let client = Client::new(&server.socket);
    let n1: NetworkResource = client.get("/networks/n1").await.unwrap();
    assert_eq!(n1.containers[&hex_id("ns1")].ipv4_address, "192.0.2.5/24");
    exited(
        server
            .bridgewall(&["network", "disconnect", "-f", "n1", "ns1"])
            .await,
        0,
    );
    let (_, err) = exited(
        server
            .bridgewall(&["network", "disconnect", "n1", "ns1"])
            .await,
        1,
    );
    assert_eq!(
        err,
        "Error response from daemon: container ns1 is not connected to network n1\n"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bridgewall_exec_enters_the_sandbox_namespace() {
    if !support::require(
        support::can_make_namespaces(),
        "exec needs root and iproute2",
    ) {
        return;
    }
    let netns = support::TestNetns::new();
    let server = Server::start();
    let path = format!("/run/netns/{}", netns.name);
    exited(
        server
            .bridgewall(&["create", "--netns", &path, "--name", "ns1"])
            .await,
        0,
    );
    // The command runs in the namespace, and its options are its own.
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
    let (link, _) = exited(
        server
            .bridgewall(&["exec", "ns1", "readlink", "-n", "/proc/self/ns/net"])
            .await,
        0,
    );
    assert_eq!(link, format!("net:[{inode}]"));
    exited(
        server
            .bridgewall(&["exec", "ns1", "--", "sh", "-c", "exit 7"])
            .await,
        7,
    );
    let (_, err) = exited(
        server
            .bridgewall(&["exec", "ns1", "bwt-no-such-program"])
            .await,
        127,
    );
    assert!(
        err.starts_with(&format!(
            "bridgewall: running \"bwt-no-such-program\" in {path}: "
        )),
        "{err}"
    );
    // stdin is the command's.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridgewall"))
        .arg("-H")
        .arg(format!("unix://{}", server.socket.display()))
        .args(["exec", "ns1", "cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"through\n")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(exited(out, 0).0, "through\n");
    server.stop().await;
}
