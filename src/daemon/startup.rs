//! Starting the daemon: the stored networks and sandboxes are restored
//! (interrupted changes finished or undone, live sandboxes adopted), the
//! host prepared, and the firewall re-applied whole.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use tokio::sync::Mutex;

use crate::backend::new_backend;
use crate::firewall::Firewall;
use crate::host::conntrack::flush_addresses;
use crate::host::links::Links;
use crate::host::netns::Netns;
use crate::host::sysctl;
use crate::model::daemon_config::DaemonConfig;
use crate::model::state::{ResolvedNetwork, StateBuilder};
use crate::ports::{Proxy, ProxyConfig, SocketAllocator};
use crate::store::{Collection, Store};

use super::bridge;
use super::core::{Daemon, DaemonPaths, Inner, log_file};
use super::error::DaemonError;
use super::firewalld_link::FirewalldLink;
use super::journal::StoreJournal;
use super::plumbing::remove_leftovers;
use super::process::{alive, kill_process};
use super::records::{EndpointRecord, NetworkRecord, Phase, SandboxPhase, SandboxRecord};

impl Daemon {
    /// Starts the engine: restores the stored networks (finishing or undoing
    /// interrupted changes), sets up forwarding, bridges and the firewall.
    ///
    /// Refused, before anything changes, when the namespace holds DOCKER*
    /// chains that no record says are bridgewall's (most likely a dockerd's:
    /// the two must not share a namespace), unless `adopt_chains`.
    pub async fn start(
        config: DaemonConfig,
        paths: DaemonPaths,
        store: Store,
        adopt_chains: bool,
    ) -> Result<Arc<Daemon>, DaemonError> {
        // Chosen first: a backend bridgewall cannot run changes nothing.
        let backend = new_backend(config.firewall_backend, Netns::Current)?;
        let firewall = Firewall::open(
            config.firewall_config(),
            true,
            backend,
            Box::new(StoreJournal::new(store.clone())),
        )?;
        let unrecorded = firewall.unrecorded_chains();
        if !unrecorded.is_empty() {
            let list = unrecorded.join(", ");
            if !adopt_chains {
                return Err(DaemonError::Conflict(format!(
                    "this namespace holds chains bridgewall has no record of making ({list}), most likely a dockerd's: bridgewall owns the DOCKER* chains of its namespace and must not run beside dockerd in the same one; stop dockerd, or start with --adopt-chains to take them over"
                )));
            }
            tracing::warn!(chains = %list, "taking over chains with no record (--adopt-chains)");
        }
        let links = Links::current()?;
        // A namespace made for the daemon starts with `lo` down; a host's is up.
        links.set_up("lo").await?;
        let mut state =
            StateBuilder::new(config.clone()).map_err(|e| DaemonError::Internal(e.to_string()))?;
        match sysctl::ip_local_port_range() {
            Ok(range) => state.set_ephemeral_range(range),
            Err(e) => tracing::warn!("{e}; ephemeral host ports from 32768-60999"),
        }
        let mut records: Vec<NetworkRecord> = store
            .list::<NetworkRecord>(Collection::Networks)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        records.sort_by_key(|r| r.seq);
        let mut active = Vec::new();
        for rec in records {
            if rec.phase == Phase::Active {
                match state.restore_network(&rec.network, rec.user_configured) {
                    Ok(()) => {
                        active.push(rec);
                        continue;
                    }
                    // E.g. the default bridge's subnet changed in daemon.json
                    // and now overlaps: the network cannot come back.
                    Err(e) => {
                        tracing::error!(network = %rec.network.name, "dropping a network that cannot be restored: {e}")
                    }
                }
            } else {
                tracing::info!(network = %rec.network.name, phase = ?rec.phase, "undoing an interrupted change");
            }
            if let Err(e) = bridge::tear_down(&links, &rec.network.bridge).await {
                tracing::warn!("{e}");
            }
            store.write(|tx| tx.delete(Collection::Networks, &rec.network.id))?;
        }

        // Sandboxes: keep those whose namespace and process still live,
        // release the rest.
        let mut sandboxes: Vec<SandboxRecord> = store
            .list::<SandboxRecord>(Collection::Sandboxes)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        sandboxes.sort_by_key(|s| s.seq);
        let mut ports = SocketAllocator::new();
        let mut kept = Vec::new();
        let mut port_errors: HashMap<String, Vec<String>> = HashMap::new();
        let mut unreserved = Vec::new();
        // Addresses whose mappings go: their conntrack entries are flushed
        // once the rules are re-applied without them, as a live removal does.
        let mut released = Vec::new();
        for mut rec in sandboxes {
            // Whatever its phase: a disconnect that was under way is
            // finished, a connect that was under way is undone.
            let mut endpoints = Vec::new();
            let before = rec.endpoints.len();
            for ep in std::mem::take(&mut rec.endpoints) {
                if ep.leaving || ep.joining {
                    tracing::info!(sandbox = %rec.name, network = %ep.endpoint.network, leaving = ep.leaving, "finishing an interrupted connect or disconnect");
                    released.extend(ep.addresses());
                    if let Err(e) = links.delete_link(&ep.host_if).await {
                        tracing::warn!("{e}");
                    }
                } else {
                    endpoints.push(ep);
                }
            }
            rec.endpoints = endpoints;
            if rec.endpoints.len() != before {
                store.write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))?;
            }
            if rec.phase == SandboxPhase::Running && alive(&rec) {
                // An endpoint whose veth is gone is dropped.
                let mut endpoints = Vec::new();
                for ep in std::mem::take(&mut rec.endpoints) {
                    if links.link_index(&ep.host_if).await?.is_some() {
                        endpoints.push(ep);
                    }
                }
                rec.endpoints = endpoints;
                let mut next = state.clone();
                let restored = rec
                    .endpoints
                    .iter()
                    .try_for_each(|ep| next.restore_endpoint(&ep.endpoint));
                match restored {
                    Ok(()) => {
                        state = next;
                        for b in rec.endpoints.iter().flat_map(|e| &e.endpoint.bindings) {
                            if let Err(e) = ports.reserve_exact(b) {
                                tracing::warn!(sandbox = %rec.name, "re-reserving a host port: {e}");
                                unreserved.push(*b);
                                port_errors.entry(rec.id.clone()).or_default().push(format!(
                                    "{}:{}/{}: cannot be reserved again: {e}",
                                    b.host_ip, b.host_port, b.proto
                                ));
                            }
                        }
                        store.write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))?;
                        kept.push(rec);
                        continue;
                    }
                    // E.g. its network was dropped above.
                    Err(e) => {
                        tracing::error!(sandbox = %rec.name, "cannot restore the sandbox's endpoints: {e}")
                    }
                }
            }
            if rec.phase == SandboxPhase::Exited {
                kept.push(rec);
                continue;
            }
            tracing::info!(sandbox = %rec.name, phase = ?rec.phase, "releasing a sandbox that did not survive");
            kill_process(&rec);
            // Its mappings are released as a live removal releases them.
            released.extend(rec.endpoints.iter().flat_map(EndpointRecord::addresses));
            remove_leftovers(&links, &rec).await;
            if rec.phase == SandboxPhase::Running && !rec.auto_remove {
                rec.phase = SandboxPhase::Exited;
                rec.exit_code = Some(-1);
                rec.pid = None;
                store.write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))?;
                kept.push(rec);
            } else {
                let _ = std::fs::remove_file(log_file(&paths, &rec.id));
                store.write(|tx| tx.delete(Collection::Sandboxes, &rec.id))?;
            }
        }

        let firewalld = FirewalldLink::connect(config.iptables || config.ip6tables).await;
        let daemon = Arc::new(Daemon {
            config,
            paths,
            started: SystemTime::now(),
            firewalld,
            inner: Mutex::new(Inner {
                state,
                records: active,
                sandboxes: kept,
                store,
                links,
                firewall,
                ports,
                proxy: Proxy::new(ProxyConfig::default()),
                proxies: HashMap::new(),
                exits: HashMap::new(),
                port_errors,
            }),
            me: OnceLock::new(),
        });
        let _ = daemon.me.set(Arc::downgrade(&daemon));
        daemon.prepare_firewalld().await;
        {
            let mut inner = daemon.inner.lock().await;
            let networks: Vec<ResolvedNetwork> = inner.state.networks().cloned().collect();
            for net in &networks {
                daemon.prepare_host(&mut inner, net).await?;
            }
            let snapshot = inner.state.snapshot().firewall_state();
            let running: Vec<SandboxRecord> = inner
                .sandboxes
                .iter()
                .filter(|s| s.phase == SandboxPhase::Running)
                .cloned()
                .collect();
            let endpoints = running
                .iter()
                .flat_map(|rec| rec.firewall_endpoints(&inner.state))
                .collect();
            inner.firewall.load(snapshot.networks, endpoints);
            inner.in_firewall(|fw| fw.reapply())?;
            tokio::task::block_in_place(|| flush_addresses(&released));
            for rec in &running {
                let (tx, _) = tokio::sync::watch::channel(None);
                inner.exits.insert(rec.id.clone(), tx);
                // A port that could not be reserved again has said so.
                for (_, e) in daemon
                    .start_listening(&mut inner, rec)
                    .into_iter()
                    .filter(|(b, _)| !unreserved.contains(b))
                {
                    tracing::warn!(sandbox = %rec.name, "publishing a port again: {e}");
                    inner.port_errors.entry(rec.id.clone()).or_default().push(e);
                }
                if let Some((pid, start)) = rec.pid {
                    daemon.watch_adopted(rec.id.clone(), pid, start);
                }
            }
        }
        daemon.rejoin_zone().await;
        daemon.log_ufw().await;
        Ok(daemon)
    }
}
