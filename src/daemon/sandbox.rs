//! Sandboxes, the stand-in for containers: a network namespace (made here,
//! or attached from another program) with, usually, a process in it. Their
//! endpoints are veth pairs into the networks' bridges; their port bindings
//! are reserved host sockets, firewall rules and (with the userland proxy)
//! in-process proxies.
//!
//! A sandbox lives in the store as a [`SandboxRecord`]; starting, stopping
//! and removing follow the engine's intent-then-system-then-outcome steps.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::api::engine::ApiError;
use crate::api::sandbox::{
    EndpointSettingsResource, NetworkSettingsResource, PortBindingResource, SandboxCreateRequest,
    SandboxCreateResponse, SandboxInspect, SandboxState, SandboxSummary, SandboxWaitResponse,
};
use crate::backend::{CommandRunner, Netns, NetnsRunner};
use crate::firewall::{EndpointAddrs, Family, Firewaller, PortBinding, Protocol};
use crate::host::links::{self, Links};
use crate::host::{HostError, netns};
use crate::model::binding::release_bindings;
use crate::model::port_spec::{PortMapping, PortSpec};
use crate::model::state::{Attachment, DEFAULT_BRIDGE_NETWORK, ResolvedEndpoint, StateBuilder};
use crate::store::Collection;

use super::engine::{Daemon, Inner, internal, random_hex, state_error};

/// Where a sandbox is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxPhase {
    /// Being set up; found at start, it is undone.
    Creating,
    /// Its process (or attached namespace) is alive, its ports published.
    Running,
    /// Its process exited; its networking is released.
    Exited,
    /// Being removed; found at start, the removal is finished.
    Removing,
}

/// One endpoint of a sandbox, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// The endpoint's ID.
    pub id: String,
    /// Network, addresses and port bindings.
    pub endpoint: ResolvedEndpoint,
    /// The host end of the veth pair.
    pub host_if: String,
    /// The interface name inside the sandbox (`eth0`, ...).
    pub if_name: String,
    /// The sandbox interface's MAC address.
    pub mac: [u8; 6],
}

/// A sandbox as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxRecord {
    /// ID (64 hex digits).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Creation order.
    pub seq: u64,
    /// Where it is in its life.
    pub phase: SandboxPhase,
    /// When it was created.
    pub created: SystemTime,
    /// The command (empty for an attached namespace).
    pub cmd: Vec<String>,
    /// The namespace file.
    pub netns: PathBuf,
    /// Whether bridgewall made the namespace (and deletes it).
    pub owns_netns: bool,
    /// The process, with its start time (to tell a reused PID apart).
    pub pid: Option<(u32, u64)>,
    /// The exit code, once exited.
    pub exit_code: Option<i32>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `-p` specs as given.
    pub publish: Vec<String>,
    /// Endpoints in join order.
    pub endpoints: Vec<EndpointRecord>,
}

impl SandboxRecord {
    fn addrs(ep: &ResolvedEndpoint) -> EndpointAddrs {
        EndpointAddrs {
            v4: ep.v4,
            v6: ep.v6,
        }
    }

    fn bindings(&self) -> Vec<PortBinding> {
        self.endpoints
            .iter()
            .flat_map(|e| e.endpoint.bindings.iter().copied())
            .collect()
    }
}

/// The process's start time (field 22 of `/proc/PID/stat`), if it runs.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a sandbox's namespace, and process if it has one, still live.
pub(super) fn alive(rec: &SandboxRecord) -> bool {
    netns::netns_exists(&rec.netns)
        && match rec.pid {
            Some((pid, start)) => process_start_time(pid) == Some(start),
            None => rec.cmd.is_empty(),
        }
}

/// Where a sandbox's process writes (under the data-root, like Docker's
/// container logs).
pub(super) fn log_file(paths: &super::engine::DaemonPaths, id: &str) -> PathBuf {
    paths.data_root.join("sandboxes").join(format!("{id}.log"))
}

/// The running sandboxes' endpoints on `net`, as `docker network inspect`
/// shows them under `Containers` (by sandbox ID).
pub(super) fn endpoints_on(
    sandboxes: &[SandboxRecord],
    net: &crate::model::state::ResolvedNetwork,
) -> BTreeMap<String, crate::api::types::EndpointResource> {
    let with_prefix =
        |addr: Option<IpAddr>, sub: Option<&crate::model::state::ResolvedSubnet>| match (addr, sub)
        {
            (Some(a), Some(s)) => format!("{a}/{}", s.subnet.prefix_len()),
            _ => String::new(),
        };
    sandboxes
        .iter()
        .filter(|s| s.phase == SandboxPhase::Running)
        .flat_map(|s| {
            s.endpoints
                .iter()
                .filter(|e| e.endpoint.network == net.name)
                .map(move |e| (s, e))
        })
        .map(|(s, e)| {
            (
                s.id.clone(),
                crate::api::types::EndpointResource {
                    name: s.name.clone(),
                    endpoint_id: e.id.clone(),
                    mac_address: links::format_mac(e.mac),
                    ipv4_address: with_prefix(e.endpoint.v4.map(IpAddr::V4), net.v4.as_ref()),
                    ipv6_address: with_prefix(e.endpoint.v6.map(IpAddr::V6), net.v6.as_ref()),
                },
            )
        })
        .collect()
}

/// Kills a sandbox's process group, if its process still runs, and, in a
/// namespace bridgewall made, every process left in it (a crash between
/// starting the process and recording it leaves one unknown).
pub(super) fn kill_process(rec: &SandboxRecord) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    if let Some((pid, start)) = rec.pid
        && process_start_time(pid) == Some(start)
    {
        // Its own process group: everything it started goes too.
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    if rec.owns_netns {
        for pid in netns::processes_in(&rec.netns) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Removes what a sandbox that did not survive a daemon stop may have left:
/// host veths and the namespace bridgewall made (its rules are simply not
/// planned any more).
pub(super) async fn remove_leftovers(links: &Links, rec: &SandboxRecord) {
    for ep in &rec.endpoints {
        if let Err(e) = links.delete_link(&ep.host_if).await {
            tracing::warn!("{e}");
        }
    }
    if rec.owns_netns
        && let Err(e) = netns::delete_netns(&rec.netns)
    {
        tracing::warn!("{e}");
    }
}

/// Expands `--expose` ports (`80`, `53/udp`, `8000-8010`) into mappings on
/// ephemeral host ports, for `-P`.
fn exposed_mappings(expose: &[String]) -> Result<Vec<PortMapping>, ApiError> {
    let mut out = Vec::new();
    for e in expose {
        let spec =
            PortSpec::parse(e).map_err(|err| ApiError::invalid_parameter(err.to_string()))?;
        if spec.host_ip.is_some() || spec.host_ports.is_some() {
            return Err(ApiError::invalid_parameter(format!(
                "invalid exposed port {e:?}: only PORT[-END][/PROTO]"
            )));
        }
        out.extend(spec.mappings());
    }
    Ok(out)
}

/// `--ip` and `--ip6` (empty: none), each of its own family.
fn static_addrs(ip: &str, ip6: &str) -> Result<(Option<Ipv4Addr>, Option<Ipv6Addr>), ApiError> {
    let v4 = (!ip.is_empty())
        .then(|| ip.parse::<Ipv4Addr>())
        .transpose()
        .map_err(|_| ApiError::invalid_parameter(format!("invalid IPv4 address: {ip}")))?;
    let v6 = (!ip6.is_empty())
        .then(|| ip6.parse::<Ipv6Addr>())
        .transpose()
        .map_err(|_| ApiError::invalid_parameter(format!("invalid IPv6 address: {ip6}")))?;
    Ok((v4, v6))
}

fn conflict_name(name: &str, id: &str) -> ApiError {
    ApiError::conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    ))
}

fn no_such(id_or_name: &str) -> ApiError {
    ApiError::not_found(format!("No such container: {id_or_name}"))
}

/// A sandbox by ID, name or unique ID prefix.
fn find<'a>(sandboxes: &'a [SandboxRecord], term: &str) -> Result<&'a SandboxRecord, ApiError> {
    let term = term.trim_start_matches('/');
    if let Some(s) = sandboxes.iter().find(|s| s.id == term || s.name == term) {
        return Ok(s);
    }
    let mut prefixed = sandboxes
        .iter()
        .filter(|s| !term.is_empty() && s.id.starts_with(term));
    match (prefixed.next(), prefixed.next()) {
        (Some(s), None) => Ok(s),
        _ => Err(no_such(term)),
    }
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Spawns `cmd` inside the namespace `netns_path`, in a process group of its
/// own (so that it outlives a daemon crash), writing to `log`.
fn spawn_in(
    netns_path: &Path,
    cmd: &[String],
    log: &Path,
) -> Result<tokio::process::Child, String> {
    let ns = File::open(netns_path).map_err(|e| format!("open {}: {e}", netns_path.display()))?;
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("open {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new(&cmd[0]);
    command
        .args(&cmd[1..])
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    netns::exec_in(command.as_std_mut(), ns);
    command
        .spawn()
        .map_err(|e| format!("failed to start {:?}: {e}", cmd[0]))
}

/// Deletes conntrack entries to and from the addresses of removed endpoints,
/// as Docker does, so that old flows do not keep using removed mappings.
fn flush_conntrack(endpoints: &[EndpointRecord]) {
    tokio::task::block_in_place(|| flush_conntrack_now(endpoints));
}

fn flush_conntrack_now(endpoints: &[EndpointRecord]) {
    let runner = NetnsRunner::new(Netns::Current);
    for ep in endpoints {
        let addrs = [
            ep.endpoint.v4.map(IpAddr::V4),
            ep.endpoint.v6.map(IpAddr::V6),
        ];
        for addr in addrs.into_iter().flatten() {
            let a = addr.to_string();
            let family = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
            for flag in ["--orig-dst", "--reply-src"] {
                // Exit status 1 means no entry matched.
                let _ = runner.run("conntrack", &["-D", "-f", family, flag, &a], None);
            }
        }
    }
}

impl Daemon {
    /// `POST /sandboxes/create`.
    pub(super) async fn sandbox_create(
        self: &Arc<Self>,
        req: SandboxCreateRequest,
    ) -> Result<SandboxCreateResponse, ApiError> {
        if req.cmd.is_empty() == req.netns.is_empty() {
            return Err(ApiError::invalid_parameter(
                "a sandbox needs either a command to run or an existing namespace (--netns), not both",
            ));
        }
        let mut mappings = Vec::new();
        for spec in &req.publish {
            let parsed =
                PortSpec::parse(spec).map_err(|e| ApiError::invalid_parameter(e.to_string()))?;
            mappings.extend(parsed.mappings());
        }
        if req.publish_all {
            mappings.extend(exposed_mappings(&req.expose)?);
        }
        let mut attachment = Attachment::new(if req.network.is_empty() {
            DEFAULT_BRIDGE_NETWORK.to_string()
        } else {
            req.network.clone()
        });
        (attachment.ipv4_address, attachment.ipv6_address) = static_addrs(&req.ip, &req.ip6)?;
        if !req.name.is_empty() && !valid_name(&req.name) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                req.name
            )));
        }
        if !req.netns.is_empty() {
            self.check_foreign_netns(Path::new(&req.netns))?;
        }

        let mut inner = self.inner.lock().await;
        let id = random_hex(32).map_err(internal)?;
        let name = if req.name.is_empty() {
            format!("sandbox-{}", &id[..12])
        } else {
            req.name.clone()
        };
        if let Some(other) = inner.sandboxes.iter().find(|s| s.name == name) {
            return Err(conflict_name(&name, &other.id));
        }
        // By name, ID or unique ID prefix, as Docker resolves it.
        attachment.network = self.resolve_network(&inner, &attachment.network)?;
        if !req.netns.is_empty()
            && inner
                .sandboxes
                .iter()
                .any(|s| s.phase == SandboxPhase::Running && s.netns == Path::new(&req.netns))
        {
            return Err(ApiError::conflict(format!(
                "netns {}: already attached to a sandbox",
                req.netns
            )));
        }
        let mut next = inner.state.clone();
        if let Err(e) = next.add_container_with(&id, &[attachment], &mappings, &mut inner.ports) {
            for ep in next.container_endpoints(&id) {
                release_bindings(&ep.bindings, &mut inner.ports);
            }
            return Err(state_error(e));
        }
        let (netns_path, owns_netns) = if req.netns.is_empty() {
            (self.paths.exec_root.join("netns").join(&id), true)
        } else {
            (PathBuf::from(&req.netns), false)
        };
        let endpoints: Vec<EndpointRecord> = next
            .container_endpoints(&id)
            .into_iter()
            .enumerate()
            .map(|(i, ep)| {
                Ok(EndpointRecord {
                    id: random_hex(32)?,
                    endpoint: ep.clone(),
                    host_if: format!("veth{}", &random_hex(4)?[..7]),
                    if_name: format!("eth{i}"),
                    mac: links::random_mac()?,
                })
            })
            .collect::<Result<_, super::DaemonError>>()
            .map_err(internal)?;
        let mut rec = SandboxRecord {
            id: id.clone(),
            name: name.clone(),
            seq: 0,
            phase: SandboxPhase::Creating,
            created: SystemTime::now(),
            cmd: req.cmd.clone(),
            netns: netns_path,
            owns_netns,
            pid: None,
            exit_code: None,
            auto_remove: req.auto_remove,
            publish: req.publish.clone(),
            endpoints,
        };
        inner
            .store
            .write(|tx| {
                rec.seq = tx.next_seq("sandbox")?;
                tx.put(Collection::Sandboxes, &rec.id, &rec)
            })
            .map_err(internal)?;

        let started = match self.bring_up(&mut inner, &next, &mut rec).await {
            Ok(child) => {
                rec.phase = SandboxPhase::Running;
                match inner
                    .store
                    .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))
                {
                    Ok(()) => Ok(child),
                    Err(e) => {
                        rec.phase = SandboxPhase::Creating;
                        kill_process(&rec);
                        Err(internal(e))
                    }
                }
            }
            Err(e) => Err(e),
        };
        match started {
            Ok(child) => {
                inner.state = next;
                let (tx, _) = tokio::sync::watch::channel(None);
                inner.exits.insert(rec.id.clone(), tx);
                inner.sandboxes.push(rec);
                if let Some(child) = child {
                    self.watch_child(id.clone(), child);
                }
                tracing::info!(sandbox = %name, "sandbox started");
                Ok(SandboxCreateResponse {
                    id,
                    warnings: Vec::new(),
                })
            }
            Err(e) => {
                self.tear_down(&mut inner, &rec).await;
                for ep in &rec.endpoints {
                    release_bindings(&ep.endpoint.bindings, &mut inner.ports);
                }
                let _ = inner
                    .store
                    .write(|tx| tx.delete(Collection::Sandboxes, &rec.id));
                Err(e)
            }
        }
    }

    /// The name of the network `term` designates (name, ID or unique prefix).
    fn resolve_network(&self, inner: &Inner, term: &str) -> Result<String, ApiError> {
        let all = self.all_resources(inner);
        Ok(crate::api::engine::find_network(&all, term)?.name.clone())
    }

    /// A namespace another program made may be attached, but never the
    /// daemon's own, the host's, or one a sandbox already uses.
    fn check_foreign_netns(&self, path: &Path) -> Result<(), ApiError> {
        use std::os::unix::fs::MetadataExt;
        let refuse = |why: &str| {
            Err(ApiError::invalid_parameter(format!(
                "netns {}: {why}",
                path.display()
            )))
        };
        if !netns::netns_exists(path) {
            return refuse("not a network namespace file");
        }
        let Ok(target) = std::fs::metadata(path) else {
            return refuse("not a network namespace file");
        };
        let same = |other: &Path| {
            std::fs::metadata(other)
                .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
        };
        if same(Path::new("/proc/self/ns/net")) || same(Path::new("/proc/1/ns/net")) {
            return refuse("the daemon's own or the host's namespace cannot be a sandbox");
        }
        if path.starts_with(&self.paths.exec_root) {
            return refuse("a namespace bridgewall made cannot be attached again");
        }
        Ok(())
    }

    /// Sets up the system for a sandbox recorded as `Creating`: namespace,
    /// endpoints, firewall, listening sockets and proxies, then the process.
    async fn bring_up(
        &self,
        inner: &mut Inner,
        next: &StateBuilder,
        rec: &mut SandboxRecord,
    ) -> Result<Option<tokio::process::Child>, ApiError> {
        if rec.owns_netns {
            std::fs::create_dir_all(rec.netns.parent().expect("under exec-root"))
                .map_err(internal)?;
            tokio::task::block_in_place(|| netns::create_netns(&rec.netns)).map_err(internal)?;
        }
        self.plumb(inner, next, rec).await.map_err(internal)?;
        self.publish(inner, next, rec).map_err(internal)?;
        if rec.cmd.is_empty() {
            return Ok(None);
        }
        let log = self.log_path(&rec.id);
        std::fs::create_dir_all(log.parent().expect("under data-root")).map_err(internal)?;
        let child = spawn_in(&rec.netns, &rec.cmd, &log).map_err(ApiError::internal)?;
        let pid = child.id().expect("just spawned");
        // A process that is already gone has no start time: nothing to adopt
        // or kill later, and its exit is reported by the watcher.
        rec.pid = process_start_time(pid).map(|start| (pid, start));
        Ok(Some(child))
    }

    /// The veth pairs of a sandbox's endpoints, configured inside it, with
    /// default routes through its gateway endpoints.
    async fn plumb(
        &self,
        inner: &Inner,
        next: &StateBuilder,
        rec: &SandboxRecord,
    ) -> Result<(), HostError> {
        let (gw4, gw6) = next.gateways(&rec.id);
        let ns_file = File::open(&rec.netns)
            .map_err(|e| HostError::new("open netns", rec.netns.display().to_string(), e))?;
        for ep in &rec.endpoints {
            let Some(net) = next.network(&ep.endpoint.network) else {
                continue;
            };
            let peer = format!(
                "vbw{}",
                &random_hex(4).map_err(|e| HostError::new(
                    "name veth",
                    "",
                    std::io::Error::other(e.to_string())
                ))?[..7]
            );
            let mtu = net.options.mtu.or(self.config().mtu);
            inner.links.create_veth(&ep.host_if, &peer, mtu).await?;
            inner.links.set_master(&ep.host_if, &net.bridge).await?;
            if !self.config().userland_proxy {
                inner.links.set_hairpin(&ep.host_if, true).await?;
            }
            inner.links.set_up(&ep.host_if).await?;
            inner.links.move_to_netns(&peer, &ns_file).await?;
            let mut addrs = Vec::new();
            if let (Some(a), Some(sub)) = (ep.endpoint.v4, &net.v4) {
                addrs.push(
                    IpNet::new(IpAddr::V4(a), sub.subnet.prefix_len()).expect("prefix of a subnet"),
                );
            }
            if let (Some(a), Some(sub)) = (ep.endpoint.v6, &net.v6) {
                addrs.push(
                    IpNet::new(IpAddr::V6(a), sub.subnet.prefix_len()).expect("prefix of a subnet"),
                );
            }
            let gateway4 = (gw4.as_deref() == Some(net.name.as_str()))
                .then(|| net.v4.as_ref().and_then(|s| s.gateway))
                .flatten()
                .and_then(|g| match g {
                    IpAddr::V4(g) => Some(g),
                    IpAddr::V6(_) => None,
                });
            let gateway6 = (gw6.as_deref() == Some(net.name.as_str()))
                .then(|| net.v6.as_ref().and_then(|s| s.gateway))
                .flatten()
                .and_then(|g| match g {
                    IpAddr::V6(g) => Some(g),
                    IpAddr::V4(_) => None,
                });
            links::configure_sandbox_interface(
                &rec.netns,
                &peer,
                &ep.if_name,
                &addrs,
                (gateway4, gateway6),
                ep.mac,
            )
            .await?;
        }
        Ok(())
    }

    /// Firewall rules for the endpoints and their bindings (one transaction
    /// per family and endpoint), then the host sockets start listening, or
    /// are handed to userland proxies.
    fn publish(
        &self,
        inner: &mut Inner,
        next: &StateBuilder,
        rec: &SandboxRecord,
    ) -> Result<(), String> {
        let mut next_fw = inner.firewall.state();
        for ep in &rec.endpoints {
            next_fw.endpoints.push(inner.fw_endpoint(next, ep));
        }
        inner.persist_intent(&next_fw).map_err(|e| e.to_string())?;
        for ep in &rec.endpoints {
            let bridge = next
                .network(&ep.endpoint.network)
                .map(|n| n.bridge.clone())
                .unwrap_or_default();
            inner
                .firewall
                .add_endpoint(
                    &ep.id,
                    &bridge,
                    SandboxRecord::addrs(&ep.endpoint),
                    &ep.endpoint.bindings,
                )
                .map_err(|e| e.to_string())?;
        }
        inner.persist_owned().map_err(|e| e.to_string())?;
        self.start_listening(inner, rec)
    }

    /// Makes a running sandbox's reserved host sockets listen, or hands
    /// them to userland proxies.
    pub(super) fn start_listening(
        &self,
        inner: &mut Inner,
        rec: &SandboxRecord,
    ) -> Result<(), String> {
        let mut handles = Vec::new();
        for b in rec.bindings().into_iter().filter(|b| b.host_port != 0) {
            if self.config().userland_proxy && b.proto != Protocol::Sctp {
                let socket = inner
                    .ports
                    .take_socket(b.proto, b.host_ip, b.host_port)
                    .ok_or_else(|| {
                        format!(
                            "no reserved socket for {}:{}/{}",
                            b.host_ip, b.host_port, b.proto
                        )
                    })?;
                handles.push(inner.proxy.start(b, socket).map_err(|e| e.to_string())?);
            } else {
                inner
                    .ports
                    .listen(b.proto, b.host_ip, b.host_port, false)
                    .map_err(|e| e.to_string())?;
            }
        }
        inner.proxies.insert(rec.id.clone(), handles);
        Ok(())
    }

    /// Releases everything a sandbox holds on the system (best effort, for
    /// undoing and stopping): proxies, firewall rules, ports, conntrack
    /// entries, veths, the namespace it owns.
    pub(super) async fn tear_down(&self, inner: &mut Inner, rec: &SandboxRecord) {
        if let Some(handles) = inner.proxies.remove(&rec.id) {
            for h in handles {
                h.stop().await;
            }
        }
        for ep in &rec.endpoints {
            if inner.firewall.remove_endpoint(&ep.id).is_ok() {
                let _ = inner.persist_owned();
            }
        }
        flush_conntrack(&rec.endpoints);
        remove_leftovers(&inner.links, rec).await;
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.paths
            .data_root
            .join("sandboxes")
            .join(format!("{id}.log"))
    }

    /// Waits for a process this daemon started, then stops its sandbox.
    fn watch_child(self: &Arc<Self>, id: String, mut child: tokio::process::Child) {
        let daemon = Arc::clone(self);
        tokio::spawn(async move {
            let code = match child.wait().await {
                Ok(status) => status.code().unwrap_or_else(|| {
                    128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
                }),
                Err(_) => -1,
            };
            daemon.on_exit(&id, code).await;
        });
    }

    /// Polls a process started by an earlier run of the daemon (it is no
    /// longer our child), then stops its sandbox.
    pub(super) fn watch_adopted(self: &Arc<Self>, id: String, pid: u32, start: u64) {
        let daemon = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while process_start_time(pid) == Some(start) {
                tick.tick().await;
            }
            // Not our child: its exit code is unknown.
            daemon.on_exit(&id, -1).await;
        });
    }

    /// A sandbox's process exited: its networking is released and it is
    /// marked exited, or removed with `--rm`.
    async fn on_exit(&self, id: &str, code: i32) {
        let mut inner = self.inner.lock().await;
        let Some(pos) = inner.sandboxes.iter().position(|s| s.id == id) else {
            return;
        };
        if inner.sandboxes[pos].phase != SandboxPhase::Running {
            return;
        }
        let rec = inner.sandboxes[pos].clone();
        tracing::info!(sandbox = %rec.name, code, "sandbox process exited");
        // What it started in its own namespace goes with it.
        kill_process(&rec);
        self.release(&mut inner, &rec).await;
        let mut done = rec.clone();
        done.phase = SandboxPhase::Exited;
        done.exit_code = Some(code);
        done.pid = None;
        let result = if rec.auto_remove {
            inner.sandboxes.remove(pos);
            let _ = std::fs::remove_file(self.log_path(id));
            inner.store.write(|tx| tx.delete(Collection::Sandboxes, id))
        } else {
            inner.sandboxes[pos] = done.clone();
            inner
                .store
                .write(|tx| tx.put(Collection::Sandboxes, id, &done))
        };
        if let Err(e) = result {
            tracing::error!("{e}");
        }
        if let Some(tx) = inner.exits.get(id) {
            tx.send_replace(Some(code));
        }
        if rec.auto_remove {
            inner.exits.remove(id);
        }
    }

    /// Releases a running sandbox's networking: system, state and ports.
    async fn release(&self, inner: &mut Inner, rec: &SandboxRecord) {
        self.tear_down(inner, rec).await;
        let gone = inner.state.remove_container(&rec.id);
        for ep in &gone {
            release_bindings(&ep.bindings, &mut inner.ports);
        }
    }

    /// `POST /networks/{id}/connect`: a running sandbox joins one more
    /// network. Its port bindings and default routes stay where they are.
    pub(super) async fn sandbox_connect(
        &self,
        network: &str,
        term: &str,
        ip: &str,
        ip6: &str,
    ) -> Result<(), ApiError> {
        let mut attachment = Attachment::new(network);
        (attachment.ipv4_address, attachment.ipv6_address) = static_addrs(ip, ip6)?;
        let mut inner = self.inner.lock().await;
        let mut rec = find(&inner.sandboxes, term)?.clone();
        if rec.phase != SandboxPhase::Running {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                rec.name
            )));
        }
        if rec.endpoints.iter().any(|e| e.endpoint.network == network) {
            return Err(ApiError::forbidden(format!(
                "endpoint with name {} already exists in network {network}",
                rec.name
            )));
        }
        let mut next = inner.state.clone();
        next.add_container_with(&rec.id, &[attachment], &[], &mut inner.ports)
            .map_err(state_error)?;
        let endpoint = next
            .container_endpoints(&rec.id)
            .into_iter()
            .find(|e| e.network == network)
            .cloned()
            .expect("just connected");
        let ep = EndpointRecord {
            id: random_hex(32).map_err(internal)?,
            endpoint,
            host_if: format!("veth{}", &random_hex(4).map_err(internal)?[..7]),
            if_name: (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !rec.endpoints.iter().any(|e| &e.if_name == n))
                .expect("a free interface name"),
            mac: links::random_mac().map_err(internal)?,
        };
        let bridge = next
            .network(network)
            .map(|n| n.bridge.clone())
            .unwrap_or_default();
        let joining = SandboxRecord {
            endpoints: vec![ep.clone()],
            ..rec.clone()
        };
        // Recorded first: after a crash the next start keeps the endpoint
        // if its veth exists, and drops it otherwise.
        let before = rec.clone();
        rec.endpoints.push(ep.clone());
        inner
            .store
            .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))
            .map_err(internal)?;
        let result = async {
            self.plumb(&inner, &next, &joining)
                .await
                .map_err(internal)?;
            let mut next_fw = inner.firewall.state();
            next_fw.endpoints.push(inner.fw_endpoint(&next, &ep));
            inner.persist_intent(&next_fw).map_err(internal)?;
            inner
                .firewall
                .add_endpoint(&ep.id, &bridge, SandboxRecord::addrs(&ep.endpoint), &[])
                .map_err(internal)?;
            inner.persist_owned().map_err(internal)
        }
        .await;
        if let Err(e) = result {
            let _ = inner.links.delete_link(&ep.host_if).await;
            let _ = inner
                .store
                .write(|tx| tx.put(Collection::Sandboxes, &before.id, &before));
            return Err(e);
        }
        inner.state = next;
        let pos = inner
            .sandboxes
            .iter()
            .position(|s| s.id == rec.id)
            .expect("found above");
        inner.sandboxes[pos] = rec;
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`: a sandbox leaves one network, with
    /// the port bindings published through that endpoint.
    pub(super) async fn sandbox_disconnect(
        &self,
        network: &str,
        term: &str,
    ) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().await;
        let mut rec = find(&inner.sandboxes, term)?.clone();
        let Some(pos) = rec
            .endpoints
            .iter()
            .position(|e| e.endpoint.network == network)
        else {
            return Err(ApiError::forbidden(format!(
                "container {} is not connected to network {network}",
                rec.name
            )));
        };
        let ep = rec.endpoints.remove(pos);
        // Recorded first; then the endpoint goes, each step best effort.
        inner
            .store
            .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))
            .map_err(internal)?;
        if rec.phase == SandboxPhase::Running {
            if let Some(handles) = inner.proxies.get_mut(&rec.id) {
                let (stop, keep): (Vec<_>, Vec<_>) = std::mem::take(handles)
                    .into_iter()
                    .partition(|h| ep.endpoint.bindings.contains(h.binding()));
                *handles = keep;
                for h in stop {
                    h.stop().await;
                }
            }
            if let Err(e) = inner.firewall.remove_endpoint(&ep.id) {
                tracing::warn!(sandbox = %rec.name, "removing the endpoint's rules: {e}");
            }
            if let Err(e) = inner.persist_owned() {
                tracing::warn!("{e}");
            }
            flush_conntrack(std::slice::from_ref(&ep));
            if let Err(e) = inner.links.delete_link(&ep.host_if).await {
                tracing::warn!("{e}");
            }
            if let Some(gone) = inner.state.remove_endpoint(&rec.id, network) {
                release_bindings(&gone.bindings, &mut inner.ports);
            }
        }
        let pos = inner
            .sandboxes
            .iter()
            .position(|s| s.id == rec.id)
            .expect("found above");
        inner.sandboxes[pos] = rec;
        Ok(())
    }

    /// `GET /sandboxes`.
    pub(super) async fn sandbox_list(&self, all: bool) -> Result<Vec<SandboxSummary>, ApiError> {
        let inner = self.inner.lock().await;
        // Newest first, as `docker ps` lists containers.
        Ok(inner
            .sandboxes
            .iter()
            .rev()
            .filter(|s| all || s.phase == SandboxPhase::Running)
            .map(|s| SandboxSummary {
                id: s.id.clone(),
                name: s.name.clone(),
                command: s.cmd.join(" "),
                created: s.created,
                state: state_name(s).to_string(),
                status: match s.phase {
                    SandboxPhase::Running => "Up".to_string(),
                    _ => format!("Exited ({})", s.exit_code.unwrap_or(-1)),
                },
                ports: ports_summary(&s.bindings()),
                networks: s
                    .endpoints
                    .iter()
                    .map(|e| e.endpoint.network.clone())
                    .collect::<Vec<_>>()
                    .join(","),
            })
            .collect())
    }

    /// `GET /sandboxes/{id}/json`.
    pub(super) async fn sandbox_inspect(&self, term: &str) -> Result<SandboxInspect, ApiError> {
        let inner = self.inner.lock().await;
        let s = find(&inner.sandboxes, term)?;
        let mut networks = BTreeMap::new();
        for ep in &s.endpoints {
            let Some(net) = inner.state.network(&ep.endpoint.network) else {
                continue;
            };
            let gw = |f: Family| {
                net.family(f)
                    .and_then(|sub| sub.gateway)
                    .map(|g| g.to_string())
                    .unwrap_or_default()
            };
            let settings = if s.phase == SandboxPhase::Running {
                let prefix = |sub: Option<&crate::model::state::ResolvedSubnet>, present: bool| {
                    if present {
                        sub.map_or(0, |s| s.subnet.prefix_len())
                    } else {
                        0
                    }
                };
                EndpointSettingsResource {
                    network_id: net.id.clone(),
                    endpoint_id: ep.id.clone(),
                    gateway: gw(Family::V4),
                    ip_address: opt(ep.endpoint.v4),
                    ip_prefix_len: prefix(net.v4.as_ref(), ep.endpoint.v4.is_some()),
                    ipv6_gateway: gw(Family::V6),
                    global_ipv6_address: opt(ep.endpoint.v6),
                    global_ipv6_prefix_len: prefix(net.v6.as_ref(), ep.endpoint.v6.is_some()),
                    mac_address: links::format_mac(ep.mac),
                }
            } else {
                // An exited container keeps only the network it was on.
                EndpointSettingsResource {
                    network_id: net.id.clone(),
                    ..EndpointSettingsResource::default()
                }
            };
            networks.insert(ep.endpoint.network.clone(), settings);
        }
        let mut ports: BTreeMap<String, Vec<PortBindingResource>> = BTreeMap::new();
        if s.phase == SandboxPhase::Running {
            for b in s.bindings() {
                ports
                    .entry(format!("{}/{}", b.container_port, b.proto))
                    .or_default()
                    .push(PortBindingResource {
                        host_ip: b.host_ip.to_string(),
                        host_port: if b.host_port == 0 {
                            String::new()
                        } else {
                            b.host_port.to_string()
                        },
                    });
            }
        }
        Ok(SandboxInspect {
            id: s.id.clone(),
            name: format!("/{}", s.name),
            created: s.created,
            cmd: s.cmd.clone(),
            state: SandboxState {
                status: state_name(s).to_string(),
                running: s.phase == SandboxPhase::Running,
                pid: s.pid.map_or(0, |(p, _)| p),
                exit_code: s.exit_code.unwrap_or(0),
            },
            publish: s.publish.clone(),
            auto_remove: s.auto_remove,
            network_settings: NetworkSettingsResource {
                sandbox_key: if s.phase == SandboxPhase::Running {
                    s.netns.display().to_string()
                } else {
                    String::new()
                },
                ports,
                networks,
            },
        })
    }

    /// `DELETE /sandboxes/{id}`.
    pub(super) async fn sandbox_remove(&self, term: &str, force: bool) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().await;
        let rec = find(&inner.sandboxes, term)?.clone();
        if rec.phase == SandboxPhase::Running && !rec.cmd.is_empty() && !force {
            return Err(ApiError::conflict(format!(
                "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                rec.name
            )));
        }
        let mut removing = rec.clone();
        removing.phase = SandboxPhase::Removing;
        inner
            .store
            .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &removing))
            .map_err(internal)?;
        kill_process(&rec);
        if rec.phase == SandboxPhase::Running {
            self.release(&mut inner, &rec).await;
        }
        inner
            .store
            .write(|tx| tx.delete(Collection::Sandboxes, &rec.id))
            .map_err(internal)?;
        inner.sandboxes.retain(|s| s.id != rec.id);
        if let Some(tx) = inner.exits.remove(&rec.id) {
            tx.send_replace(Some(rec.exit_code.unwrap_or(137)));
        }
        let _ = std::fs::remove_file(self.log_path(&rec.id));
        tracing::info!(sandbox = %rec.name, "sandbox removed");
        Ok(())
    }

    /// `GET /sandboxes/{id}/logs`.
    pub(super) async fn sandbox_read_logs(&self, term: &str) -> Result<String, ApiError> {
        let id = {
            let inner = self.inner.lock().await;
            find(&inner.sandboxes, term)?.id.clone()
        };
        Ok(std::fs::read_to_string(self.log_path(&id)).unwrap_or_default())
    }

    /// `POST /sandboxes/{id}/wait`.
    pub(super) async fn sandbox_wait(&self, term: &str) -> Result<SandboxWaitResponse, ApiError> {
        let mut rx = {
            let inner = self.inner.lock().await;
            let s = find(&inner.sandboxes, term)?;
            if s.phase == SandboxPhase::Exited {
                return Ok(SandboxWaitResponse {
                    status_code: s.exit_code.unwrap_or(-1),
                });
            }
            inner
                .exits
                .get(&s.id)
                .map(|tx| tx.subscribe())
                .ok_or_else(|| no_such(term))?
        };
        let code = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| ApiError::internal("the sandbox went away"))?
            .unwrap_or(-1);
        Ok(SandboxWaitResponse { status_code: code })
    }
}

fn state_name(s: &SandboxRecord) -> &'static str {
    match s.phase {
        SandboxPhase::Running => "running",
        SandboxPhase::Exited => "exited",
        SandboxPhase::Creating => "created",
        SandboxPhase::Removing => "removing",
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Ports as `docker ps` shows them.
fn ports_summary(bindings: &[PortBinding]) -> String {
    bindings
        .iter()
        .map(|b| {
            let host = match b.host_ip {
                IpAddr::V6(a) if a == Ipv6Addr::UNSPECIFIED => "[::]".to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
                IpAddr::V4(a) => a.to_string(),
            };
            if b.host_port == 0 {
                format!("{}/{}", b.container_port, b.proto)
            } else {
                format!("{host}:{}->{}/{}", b.host_port, b.container_port, b.proto)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_summarised_like_docker_ps() {
        let b = |host: &str, hp: u16| PortBinding {
            proto: Protocol::Tcp,
            container_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            container_port: 80,
            host_ip: host.parse().unwrap(),
            host_port: hp,
        };
        assert_eq!(
            ports_summary(&[b("0.0.0.0", 8080), b("::", 8080), b("::", 0)]),
            "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 80/tcp"
        );
    }

    #[test]
    fn start_times_identify_this_process() {
        let me = std::process::id();
        assert!(process_start_time(me).is_some());
        assert_eq!(process_start_time(u32::MAX), None);
    }

    #[test]
    fn exposed_ports_become_ephemeral_mappings() {
        let m = exposed_mappings(&["80".into(), "53/udp".into()]).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].host_port_start, m[0].host_port_end), (0, 0));
        assert!(exposed_mappings(&["8080:80".into()]).is_err());
    }
}
