//! Sandboxes, the stand-in for containers: a network namespace (made here,
//! or attached from another program) with, usually, a process in it. Their
//! life: create (validate, record, bring up), exit, remove; each step one
//! change with its intent in the store.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::api::sandbox::{
    SandboxCreateRequest, SandboxCreateResponse, SandboxInspect, SandboxSummary,
    SandboxWaitResponse,
};
use crate::host::links;
use crate::host::netns;
use crate::model::binding::release_bindings;
use crate::model::port_spec::{PortMapping, PortSpec};
use crate::model::state::{Attachment, DEFAULT_BRIDGE_NETWORK, StateBuilder};
use crate::store::Collection;

use crate::crash::crash_point;

use super::core::{Daemon, Inner, random_hex};
use super::error::{DaemonError, conflict, internal, invalid};
use super::lookup::find_sandbox;
use super::plumbing::remove_leftovers;
use super::process::{kill_process, process_start_time, spawn_in};
use super::publishing::unpublish;
use super::records::{EndpointRecord, SandboxPhase, SandboxRecord};
use super::views;

/// Expands `--expose` ports (`80`, `53/udp`, `8000-8010`) into mappings on
/// ephemeral host ports, for `-P`.
fn exposed_mappings(expose: &[String]) -> Result<Vec<PortMapping>, DaemonError> {
    let mut out = Vec::new();
    for e in expose {
        let spec = PortSpec::parse(e).map_err(|err| invalid(err.to_string()))?;
        if spec.host_ip.is_some() || spec.host_ports.is_some() {
            return Err(invalid(format!(
                "invalid exposed port {e:?}: only PORT[-END][/PROTO]"
            )));
        }
        out.extend(spec.mappings());
    }
    Ok(out)
}

/// `--ip` and `--ip6` (empty: none), each of its own family.
pub(super) fn static_addrs(
    ip: &str,
    ip6: &str,
) -> Result<(Option<Ipv4Addr>, Option<Ipv6Addr>), DaemonError> {
    let v4 = (!ip.is_empty())
        .then(|| ip.parse::<Ipv4Addr>())
        .transpose()
        .map_err(|_| invalid(format!("invalid IPv4 address: {ip}")))?;
    let v6 = (!ip6.is_empty())
        .then(|| ip6.parse::<Ipv6Addr>())
        .transpose()
        .map_err(|_| invalid(format!("invalid IPv6 address: {ip6}")))?;
    Ok((v4, v6))
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Deletes the conntrack entries of removed endpoints' addresses.
pub(super) fn flush_conntrack(endpoints: &[EndpointRecord]) {
    let addrs: Vec<IpAddr> = endpoints
        .iter()
        .flat_map(EndpointRecord::addresses)
        .collect();
    tokio::task::block_in_place(|| crate::host::conntrack::flush_addresses(&addrs));
}

impl Daemon {
    /// `POST /sandboxes/create`.
    pub(super) async fn sandbox_create(
        self: &Arc<Self>,
        req: SandboxCreateRequest,
    ) -> Result<SandboxCreateResponse, DaemonError> {
        if req.cmd.is_empty() == req.netns.is_empty() {
            return Err(invalid(
                "a sandbox needs either a command to run or an existing namespace (--netns), not both",
            ));
        }
        let mut mappings = Vec::new();
        for spec in &req.publish {
            let parsed = PortSpec::parse(spec).map_err(|e| invalid(e.to_string()))?;
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
            return Err(invalid(format!(
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
            return Err(DaemonError::NameInUse {
                name: name.clone(),
                id: other.id.clone(),
            });
        }
        // By name, ID or unique ID prefix, as Docker resolves it.
        attachment.network = self.resolve_network(&inner, &attachment.network)?;
        // The same namespace under any name (`/proc/PID/ns/net`, another
        // bind mount) is the same namespace.
        let wanted = (!req.netns.is_empty())
            .then(|| netns::namespace_file_id(Path::new(&req.netns)).ok())
            .flatten();
        if wanted.is_some()
            && inner.sandboxes.iter().any(|s| {
                s.phase == SandboxPhase::Running
                    && netns::namespace_file_id(&s.netns).ok() == wanted
            })
        {
            return Err(conflict(format!(
                "netns {}: already attached to a sandbox",
                req.netns
            )));
        }
        let mut next = inner.state.clone();
        if let Err(e) = next.add_container_with(&id, &[attachment], &mappings, &mut inner.ports) {
            for ep in next.container_endpoints(&id) {
                release_bindings(&ep.bindings, &mut inner.ports);
            }
            return Err(e.into());
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
                    leaving: false,
                    joining: false,
                })
            })
            .collect::<Result<_, DaemonError>>()
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
        crash_point!("sandbox-create:intent");

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

    /// A namespace another program made may be attached, but never the
    /// daemon's own, the host's, or one a sandbox already uses.
    ///
    /// The path must be absolute and name a network namespace (the kernel
    /// is asked); namespaces are compared by identity, so aliases such as
    /// `/proc/PID/ns/net` are caught; the host's is refused also when
    /// `/proc/1` cannot be read, as the one the daemon was started in.
    fn check_foreign_netns(&self, path: &Path) -> Result<(), DaemonError> {
        let refuse = |why: String| Err(invalid(format!("netns {}: {why}", path.display())));
        if !path.is_absolute() {
            return refuse("must be an absolute path".into());
        }
        let target = match netns::namespace_file_id(path) {
            Ok(id) => id,
            Err(e) => return refuse(format!("not a network namespace file ({e})")),
        };
        let own = netns::namespace_file_id(Path::new("/proc/self/ns/net")).map_err(internal)?;
        // PID 1's namespace where it can be read; in any case the one the
        // daemon was started in.
        let init = netns::namespace_file_id(Path::new("/proc/1/ns/net")).ok();
        if target == own || target == self.paths.started_in || Some(target) == init {
            return refuse("the daemon's own or the host's namespace cannot be a sandbox".into());
        }
        if path.starts_with(&self.paths.exec_root) {
            return refuse("a namespace bridgewall made cannot be attached again".into());
        }
        if let Err(e) = netns::check_network_namespace(path) {
            return refuse(format!("not a network namespace file ({e})"));
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
    ) -> Result<Option<tokio::process::Child>, DaemonError> {
        if rec.owns_netns {
            std::fs::create_dir_all(rec.netns.parent().expect("under exec-root"))
                .map_err(internal)?;
            tokio::task::block_in_place(|| netns::create_netns(&rec.netns)).map_err(internal)?;
        }
        crash_point!("sandbox-create:netns");
        self.plumb(inner, next, rec).await.map_err(internal)?;
        crash_point!("sandbox-create:plumb");
        self.publish(inner, next, rec)?;
        crash_point!("sandbox-create:publish");
        if rec.cmd.is_empty() {
            return Ok(None);
        }
        let log = self.log_path(&rec.id);
        std::fs::create_dir_all(log.parent().expect("under data-root")).map_err(internal)?;
        let child = spawn_in(&rec.netns, &rec.cmd, &log).map_err(internal)?;
        let pid = child.id().expect("just spawned");
        // A process that is already gone has no start time: nothing to adopt
        // or kill later, and its exit is reported by the watcher.
        rec.pid = process_start_time(pid).map(|start| (pid, start));
        crash_point!("sandbox-create:process");
        Ok(Some(child))
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
        unpublish(inner, rec);
        flush_conntrack(&rec.endpoints);
        remove_leftovers(&inner.links, rec).await;
    }

    /// A sandbox's process exited: its networking is released and it is
    /// marked exited, or removed with `--rm`.
    pub(super) async fn on_exit(&self, id: &str, code: i32) {
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
    pub(super) async fn release(&self, inner: &mut Inner, rec: &SandboxRecord) {
        self.tear_down(inner, rec).await;
        inner.port_errors.remove(&rec.id);
        let gone = inner.state.remove_container(&rec.id);
        for ep in &gone {
            release_bindings(&ep.bindings, &mut inner.ports);
        }
    }

    /// `GET /sandboxes`.
    pub(super) async fn sandbox_list(&self, all: bool) -> Result<Vec<SandboxSummary>, DaemonError> {
        let inner = self.inner.lock().await;
        // Newest first, as `docker ps` lists containers.
        Ok(inner
            .sandboxes
            .iter()
            .rev()
            .filter(|s| all || s.phase == SandboxPhase::Running)
            .map(views::summary)
            .collect())
    }

    /// `GET /sandboxes/{id}/json`.
    pub(super) async fn sandbox_inspect(&self, term: &str) -> Result<SandboxInspect, DaemonError> {
        let inner = self.inner.lock().await;
        let s = find_sandbox(&inner.sandboxes, term)?;
        let errors = inner.port_errors.get(&s.id).map_or(&[][..], Vec::as_slice);
        Ok(views::inspect(s, &inner.state, errors))
    }

    /// `DELETE /sandboxes/{id}`.
    pub(super) async fn sandbox_remove(&self, term: &str, force: bool) -> Result<(), DaemonError> {
        let mut inner = self.inner.lock().await;
        let rec = find_sandbox(&inner.sandboxes, term)?.clone();
        if rec.phase == SandboxPhase::Running && !rec.cmd.is_empty() && !force {
            return Err(conflict(format!(
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
        crash_point!("sandbox-remove:intent");
        kill_process(&rec);
        crash_point!("sandbox-remove:kill");
        if rec.phase == SandboxPhase::Running {
            self.release(&mut inner, &rec).await;
        }
        crash_point!("sandbox-remove:release");
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
    pub(super) async fn sandbox_read_logs(&self, term: &str) -> Result<String, DaemonError> {
        let id = {
            let inner = self.inner.lock().await;
            find_sandbox(&inner.sandboxes, term)?.id.clone()
        };
        Ok(std::fs::read_to_string(self.log_path(&id)).unwrap_or_default())
    }

    /// `POST /sandboxes/{id}/wait`.
    pub(super) async fn sandbox_wait(
        &self,
        term: &str,
    ) -> Result<SandboxWaitResponse, DaemonError> {
        let mut rx = {
            let inner = self.inner.lock().await;
            let s = find_sandbox(&inner.sandboxes, term)?;
            if s.phase == SandboxPhase::Exited {
                return Ok(SandboxWaitResponse {
                    status_code: s.exit_code.unwrap_or(-1),
                });
            }
            inner
                .exits
                .get(&s.id)
                .map(|tx| tx.subscribe())
                .ok_or_else(|| DaemonError::NoSuchContainer(term.to_string()))?
        };
        let code = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| internal("the sandbox went away"))?
            .unwrap_or(-1);
        Ok(SandboxWaitResponse { status_code: code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ports_become_ephemeral_mappings() {
        let m = exposed_mappings(&["80".into(), "53/udp".into()]).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].host_port_start, m[0].host_port_end), (0, 0));
        assert!(exposed_mappings(&["8080:80".into()]).is_err());
    }
}
