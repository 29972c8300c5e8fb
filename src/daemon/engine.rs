//! The daemon's engine: networks and sandboxes as desired state in
//! the store, converged onto the system (bridges, sysctls, firewall), served
//! through the Docker-compatible API ([`crate::api::Engine`]).
//!
//! Every change follows the same steps: validate and allocate on a copy of
//! the in-memory state; record the intent in the store (`Creating` /
//! `Removing`); change the system; record the outcome. A failure undoes what
//! was done; a crash leaves an intent that the next start finishes or undoes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::api::engine::{ApiError, Engine, Filters, filter_networks, find_network};
use crate::api::sandbox::{
    SandboxCreateRequest, SandboxCreateResponse, SandboxInspect, SandboxSummary,
    SandboxWaitResponse,
};
use crate::api::types::{
    ConfigReference, Ipam, IpamConfig as ApiIpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkResource,
    NetworksPruneResponse,
};
use crate::backend::iptables::OwnedRules;
use crate::backend::{IptablesBackend, Netns, NetnsRunner, Variant};
use crate::firewall::{Family, Firewall, FirewallState, Firewaller, plan};
use crate::host::links::Links;
use crate::host::sysctl;
use crate::model::daemon_config::DaemonConfig;
use crate::model::network::{IpamConfig, NetworkError, NetworkSpec};
use crate::model::state::{ResolvedNetwork, StateBuilder, StateError};
use crate::store::{Collection, Store};

use super::DaemonError;
use super::bridge::{self, BridgeSettings};
use super::sandbox::{self, EndpointRecord, SandboxPhase, SandboxRecord};
use crate::ports::{Proxy, ProxyConfig, ProxyHandle, SocketAllocator};

/// Where a network is in its life; anything but `Active` found at start is
/// an interrupted change, undone then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Being created: the system may be half set up.
    Creating,
    /// Created.
    Active,
    /// Being removed: the system may be half torn down.
    Removing,
}

/// A user-defined network as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// Creation order.
    pub seq: u64,
    /// Where the network is in its life.
    pub phase: Phase,
    /// When it was created.
    pub created: SystemTime,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// What was asked for (options and IPAM config as given).
    pub spec: NetworkSpec,
    /// What was allocated.
    pub network: ResolvedNetwork,
    /// Whether its IPv4/IPv6 subnets were configured by the user.
    pub user_configured: (bool, bool),
}

/// Where the daemon keeps its files.
#[derive(Debug, Clone)]
pub struct DaemonPaths {
    /// The store and sandbox logs.
    pub data_root: PathBuf,
    /// Runtime files: sandbox namespaces.
    pub exec_root: PathBuf,
}

/// The engine behind the API.
pub struct Daemon {
    config: DaemonConfig,
    pub(super) paths: DaemonPaths,
    started: SystemTime,
    pub(super) inner: Mutex<Inner>,
    me: OnceLock<Weak<Daemon>>,
}

/// The engine's mutable state, behind one lock: each API call is one change.
pub(super) struct Inner {
    /// Networks and endpoints with their allocations.
    pub(super) state: StateBuilder,
    /// User networks' records, in creation order.
    records: Vec<NetworkRecord>,
    /// Sandboxes' records, in creation order.
    pub(super) sandboxes: Vec<SandboxRecord>,
    /// The store.
    pub(super) store: Store,
    /// Netlink in the daemon's namespace.
    pub(super) links: Links,
    /// The firewall, one backend per family.
    pub(super) firewall: Firewall<RuntimeBackend>,
    /// Reserved host ports.
    pub(super) ports: SocketAllocator,
    /// Starts userland proxies.
    pub(super) proxy: Proxy,
    /// Running proxies, by sandbox ID.
    pub(super) proxies: HashMap<String, Vec<ProxyHandle>>,
    /// Exit codes for `wait`, by running sandbox ID.
    pub(super) exits: HashMap<String, tokio::sync::watch::Sender<Option<i32>>>,
}

/// The iptables backend as the daemon runs it: `iptables-restore` blocks,
/// so it runs with [`tokio::task::block_in_place`], letting the runtime move
/// other work (the userland proxies) off this thread meanwhile.
pub(super) struct RuntimeBackend(IptablesBackend);

impl crate::firewall::Backend for RuntimeBackend {
    type Error = crate::backend::BackendError;

    fn apply(&mut self, ruleset: &crate::firewall::Ruleset) -> Result<bool, Self::Error> {
        tokio::task::block_in_place(|| self.0.apply(ruleset)).map(|r| r.script.is_some())
    }
}

fn owned_key(family: Family) -> String {
    format!("owned-rules/{family}")
}

/// `n` random bytes as hex digits (IDs are 32 bytes: 64 digits, as Docker's).
pub(super) fn random_hex(n: usize) -> Result<String, DaemonError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| DaemonError::Startup(format!("random ID: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Daemon {
    /// Starts the engine: restores the stored networks (finishing or undoing
    /// interrupted changes), sets up forwarding, bridges and the firewall.
    pub async fn start(
        config: DaemonConfig,
        paths: DaemonPaths,
        store: Store,
    ) -> Result<Arc<Daemon>, DaemonError> {
        let links = Links::current()?;
        // A namespace made for the daemon starts with `lo` down; a host's is up.
        links.set_up("lo").await?;
        let mut state =
            StateBuilder::new(config.clone()).map_err(|e| DaemonError::Startup(e.to_string()))?;
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
        for mut rec in sandboxes {
            if rec.phase == SandboxPhase::Running && sandbox::alive(&rec) {
                // An endpoint whose veth is gone (a crash in the middle of a
                // connect or disconnect) is dropped.
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
            sandbox::kill_process(&rec);
            sandbox::remove_leftovers(&links, &rec).await;
            if rec.phase == SandboxPhase::Running && !rec.auto_remove {
                rec.phase = SandboxPhase::Exited;
                rec.exit_code = Some(-1);
                rec.pid = None;
                store.write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))?;
                kept.push(rec);
            } else {
                let _ = std::fs::remove_file(sandbox::log_file(&paths, &rec.id));
                store.write(|tx| tx.delete(Collection::Sandboxes, &rec.id))?;
            }
        }

        let mut backends = Vec::new();
        for family in Family::ALL {
            let mut backend =
                IptablesBackend::new(Box::new(NetnsRunner::new(Netns::Current)), Variant::System);
            if let Some(owned) = store.get::<OwnedRules>(Collection::Meta, &owned_key(family))? {
                backend.set_owned(family, owned);
            }
            backends.push((family, RuntimeBackend(backend)));
        }
        let firewall = Firewall::new(config.firewall_config(), true, backends);
        let daemon = Arc::new(Daemon {
            config,
            paths,
            started: SystemTime::now(),
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
            }),
            me: OnceLock::new(),
        });
        let _ = daemon.me.set(Arc::downgrade(&daemon));
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
                .flat_map(|rec| &rec.endpoints)
                .map(|ep| (ep.id.clone(), inner.fw_endpoint(&inner.state, ep)))
                .collect();
            inner.firewall.load(snapshot.networks, endpoints);
            inner.firewall.reapply()?;
            inner.persist_owned()?;
            for rec in &running {
                let (tx, _) = tokio::sync::watch::channel(None);
                inner.exits.insert(rec.id.clone(), tx);
                if let Err(e) = daemon.start_listening(&mut inner, rec) {
                    tracing::warn!(sandbox = %rec.name, "publishing ports again: {e}");
                }
                if let Some((pid, start)) = rec.pid {
                    daemon.watch_adopted(rec.id.clone(), pid, start);
                }
            }
        }
        Ok(daemon)
    }

    /// This engine as an `Arc` (the engine is always held in one).
    pub(super) fn arc(&self) -> Arc<Daemon> {
        self.me
            .get()
            .and_then(Weak::upgrade)
            .expect("the daemon is held in an Arc while it serves")
    }

    /// The daemon config the engine runs with.
    pub fn config(&self) -> &DaemonConfig {
        &self.config
    }

    fn bridge_settings(&self) -> BridgeSettings {
        BridgeSettings {
            hairpin: !self.config.userland_proxy,
            mtu: self.config.mtu,
        }
    }

    /// Forwarding for the families of `net` (Docker's `setupIPForwarding`),
    /// the FORWARD DROP policy when the daemon enabled it itself, then the
    /// bridge.
    async fn prepare_host(
        &self,
        inner: &mut Inner,
        net: &ResolvedNetwork,
    ) -> Result<(), DaemonError> {
        if self.config.ip_forward {
            for family in Family::ALL {
                if net.family(family).is_none() {
                    continue;
                }
                let filtering = match family {
                    Family::V4 => self.config.iptables,
                    Family::V6 => self.config.ip6tables,
                };
                if sysctl::enable_forwarding(family)?
                    && filtering
                    && !self.config.ip_forward_no_drop
                {
                    inner.firewall.drop_forward(family);
                }
            }
        }
        bridge::set_up(&inner.links, net, self.bridge_settings()).await?;
        Ok(())
    }

    /// Re-applies the whole firewall (after a reload, or rules flushed by
    /// someone else).
    pub async fn reapply(&self) -> Result<(), DaemonError> {
        let mut inner = self.inner.lock().await;
        inner.firewall.reapply()?;
        inner.persist_owned()
    }

    fn resource(&self, net: &ResolvedNetwork, rec: Option<&NetworkRecord>) -> NetworkResource {
        let config = Family::ALL
            .iter()
            .filter_map(|&f| net.family(f))
            .map(|sub| ApiIpamConfig {
                subnet: sub.subnet.to_string(),
                ip_range: sub.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                gateway: sub.gateway.map(|g| g.to_string()).unwrap_or_default(),
                ..ApiIpamConfig::default()
            })
            .collect();
        let options = match rec {
            Some(rec) => rec.spec.options.clone(),
            None => self.default_bridge_options(net),
        };
        NetworkResource {
            name: net.name.clone(),
            id: net.id.clone(),
            created: rec.map_or(self.started, |r| r.created),
            scope: "local".into(),
            driver: "bridge".into(),
            enable_ipv4: net.v4.is_some(),
            enable_ipv6: net.v6.is_some(),
            ipam: Ipam {
                driver: "default".into(),
                options: BTreeMap::new(),
                config,
            },
            internal: net.internal,
            config_from: ConfigReference::default(),
            options,
            labels: rec.map(|r| r.labels.clone()).unwrap_or_default(),
            ..NetworkResource::default()
        }
    }

    /// The options `docker network inspect bridge` shows.
    fn default_bridge_options(&self, net: &ResolvedNetwork) -> BTreeMap<String, String> {
        let o = &net.options;
        [
            (
                "com.docker.network.bridge.default_bridge",
                "true".to_string(),
            ),
            (
                "com.docker.network.bridge.enable_icc",
                o.enable_icc.to_string(),
            ),
            (
                "com.docker.network.bridge.enable_ip_masquerade",
                o.enable_ip_masquerade.to_string(),
            ),
            (
                "com.docker.network.bridge.host_binding_ipv4",
                self.config.ip.to_string(),
            ),
            ("com.docker.network.bridge.name", net.bridge.clone()),
            (
                "com.docker.network.driver.mtu",
                o.mtu.or(self.config.mtu).unwrap_or(1500).to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Every network as the API shows it.
    pub(super) fn all_resources(&self, inner: &Inner) -> Vec<NetworkResource> {
        inner
            .state
            .networks()
            .map(|net| {
                let rec = inner.records.iter().find(|r| r.network.id == net.id);
                let mut resource = self.resource(net, rec);
                resource.containers = sandbox::endpoints_on(&inner.sandboxes, net);
                resource
            })
            .collect()
    }

    /// The name of the network `id_or_name` designates.
    async fn network_name(&self, id_or_name: &str) -> Result<String, ApiError> {
        let inner = self.inner.lock().await;
        Ok(find_network(&self.all_resources(&inner), id_or_name)?
            .name
            .clone())
    }

    /// Removes one user network: intent, firewall, bridge, record.
    async fn remove(&self, inner: &mut Inner, name: &str) -> Result<(), ApiError> {
        let mut next = inner.state.clone();
        let net = next.remove_network(name).map_err(state_error)?;
        let index = inner
            .records
            .iter()
            .position(|r| r.network.id == net.id)
            .ok_or_else(|| ApiError::predefined_network(name))?;
        let mut rec = inner.records[index].clone();
        rec.phase = Phase::Removing;
        inner
            .store
            .write(|tx| tx.put(Collection::Networks, &net.id, &rec))
            .map_err(internal)?;
        // Once the intent is recorded the removal goes through: a step that
        // fails is logged (the firewall retries at its next apply; a start
        // finishes what is left).
        if let Err(e) = inner.firewall.remove_network(&net.bridge) {
            tracing::warn!(network = name, "removing the network's rules: {e}");
        }
        if let Err(e) = inner.persist_owned() {
            tracing::warn!("{e}");
        }
        if let Err(e) = bridge::tear_down(&inner.links, &net.bridge).await {
            tracing::warn!(network = name, "{e}");
        }
        inner
            .store
            .write(|tx| tx.delete(Collection::Networks, &net.id))
            .map_err(internal)?;
        inner.records.remove(index);
        inner.state = next;
        Ok(())
    }
}

impl Inner {
    /// The firewall's view of a sandbox endpoint, in the network state `state`.
    pub(super) fn fw_endpoint(
        &self,
        state: &StateBuilder,
        ep: &EndpointRecord,
    ) -> crate::firewall::FirewallEndpoint {
        crate::firewall::FirewallEndpoint {
            network: state
                .network(&ep.endpoint.network)
                .map(|n| n.bridge.clone())
                .unwrap_or_default(),
            addrs: crate::firewall::EndpointAddrs {
                v4: ep.endpoint.v4,
                v6: ep.endpoint.v6,
            },
            bindings: ep.endpoint.bindings.clone(),
        }
    }

    /// Records, before the firewall moves to `next`, that the rules `next`
    /// plans are bridgewall's: a crash during the apply must not leave rules
    /// in the built-in chains that the next start would not know to remove.
    pub(super) fn persist_intent(&self, next: &FirewallState) -> Result<(), DaemonError> {
        let owned: Vec<(Family, OwnedRules)> = self
            .firewall
            .backends()
            .map(|(f, b)| {
                let mut owned = b.0.owned(*f);
                owned.add(&plan(next, *f));
                (*f, owned)
            })
            .collect();
        self.write_owned(&owned)
    }

    /// Records the built-in-chain rules the firewall holds now.
    pub(super) fn persist_owned(&self) -> Result<(), DaemonError> {
        let owned: Vec<(Family, OwnedRules)> = self
            .firewall
            .backends()
            .map(|(f, b)| (*f, b.0.owned(*f)))
            .collect();
        self.write_owned(&owned)
    }

    fn write_owned(&self, owned: &[(Family, OwnedRules)]) -> Result<(), DaemonError> {
        self.store.write(|tx| {
            for (family, rules) in owned {
                tx.put(Collection::Meta, &owned_key(*family), rules)?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// An error of the daemon's own, as an API error (500).
pub(super) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// Docker's status codes for a state error.
pub(super) fn state_error(e: StateError) -> ApiError {
    match &e {
        StateError::DuplicateNetwork { name } => ApiError::network_name_conflict(name),
        StateError::UnknownNetwork { network } => ApiError::network_not_found(network),
        StateError::InvalidNetwork {
            source: NetworkError::Predefined { .. },
            ..
        } => ApiError::forbidden(e.to_string()),
        StateError::ActiveEndpoints { .. }
        | StateError::Subnet { .. }
        | StateError::Conflict { .. } => ApiError::forbidden(e.to_string()),
        _ => ApiError::invalid_parameter(e.to_string()),
    }
}

/// The network spec a create request asks for, with Docker's checks on the
/// parts bridgewall does not support.
fn spec_from_request(req: &NetworkCreateRequest) -> Result<NetworkSpec, ApiError> {
    if req.config_only
        || req
            .config_from
            .as_ref()
            .is_some_and(|c| !c.network.is_empty())
    {
        return Err(ApiError::invalid_parameter(
            "config-only networks are not supported by bridgewall",
        ));
    }
    if req.ingress {
        return Err(ApiError::forbidden(
            "ingress networks are swarm networks: not supported by bridgewall",
        ));
    }
    let mut ipam = Vec::new();
    if let Some(i) = &req.ipam {
        if !i.driver.is_empty() && i.driver != "default" {
            return Err(ApiError::invalid_parameter(format!(
                "IPAM driver {:?} is not supported: bridgewall has Docker's default IPAM only",
                i.driver
            )));
        }
        for c in &i.config {
            let parsed = IpamConfig::parse(Some(&c.subnet), Some(&c.ip_range), Some(&c.gateway))
                .map_err(|e| {
                    ApiError::invalid_parameter(format!("invalid network config:\n* {e}"))
                })?;
            ipam.push(parsed);
        }
    }
    Ok(NetworkSpec {
        name: req.name.clone(),
        driver: if req.driver.is_empty() {
            "bridge".to_string()
        } else {
            req.driver.clone()
        },
        enable_ipv4: req.enable_ipv4.unwrap_or(true),
        enable_ipv6: req.enable_ipv6.unwrap_or(false),
        internal: req.internal,
        ipam,
        options: req.options.clone(),
    })
}

/// The engine's operations; the [`Engine`] implementation runs the ones
/// that change something in a task of their own.
impl Daemon {
    async fn network_create(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, ApiError> {
        let spec = spec_from_request(&req)?;
        let mut inner = self.inner.lock().await;
        if inner.state.network(&spec.name).is_some() {
            return Err(ApiError::network_name_conflict(&spec.name));
        }
        let id = random_hex(32).map_err(internal)?;
        let mut next = inner.state.clone();
        let net = next
            .add_network_with_id(&spec, id)
            .map_err(state_error)?
            .clone();
        let user_configured = next.user_configured(&net.name).unwrap_or((false, false));
        let mut rec = NetworkRecord {
            seq: 0,
            phase: Phase::Creating,
            created: SystemTime::now(),
            labels: req.labels.clone(),
            spec,
            network: net.clone(),
            user_configured,
        };
        inner
            .store
            .write(|tx| {
                rec.seq = tx.next_seq("network")?;
                tx.put(Collection::Networks, &net.id, &rec)
            })
            .map_err(internal)?;
        let setup = async {
            self.prepare_host(&mut inner, &net)
                .await
                .map_err(internal)?;
            let mut next_fw = inner.firewall.state();
            next_fw.networks.push(net.firewall_config());
            inner.persist_intent(&next_fw).map_err(internal)?;
            inner
                .firewall
                .add_network(net.firewall_config())
                .map_err(internal)?;
            inner.persist_owned().map_err(internal)
        }
        .await;
        if let Err(e) = setup {
            // Undo: the firewall rolls a failed addition back; if it was a
            // later step that failed, take the network out of it too.
            if inner
                .firewall
                .state()
                .networks
                .iter()
                .any(|n| n.if_name == net.bridge)
            {
                let _ = inner.firewall.remove_network(&net.bridge);
                let _ = inner.persist_owned();
            }
            if let Err(e) = bridge::tear_down(&inner.links, &net.bridge).await {
                tracing::warn!("{e}");
            }
            let _ = inner
                .store
                .write(|tx| tx.delete(Collection::Networks, &net.id));
            return Err(e);
        }
        rec.phase = Phase::Active;
        inner
            .store
            .write(|tx| tx.put(Collection::Networks, &net.id, &rec))
            .map_err(internal)?;
        inner.records.push(rec);
        inner.state = next;
        tracing::info!(network = %net.name, bridge = %net.bridge, "network created");
        Ok(NetworkCreateResponse {
            id: net.id,
            warning: String::new(),
        })
    }

    async fn network_list(&self, filters: &Filters) -> Result<Vec<NetworkResource>, ApiError> {
        let inner = self.inner.lock().await;
        filter_networks(self.all_resources(&inner), filters)
    }

    async fn network_inspect(
        &self,
        id_or_name: &str,
        _verbose: bool,
    ) -> Result<NetworkResource, ApiError> {
        let inner = self.inner.lock().await;
        let all = self.all_resources(&inner);
        find_network(&all, id_or_name).cloned()
    }

    async fn network_remove(&self, id_or_name: &str) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().await;
        let all = self.all_resources(&inner);
        let found = find_network(&all, id_or_name)?;
        let name = found.name.clone();
        if !inner.records.iter().any(|r| r.network.name == name) {
            return Err(ApiError::predefined_network(&name));
        }
        self.remove(&mut inner, &name).await?;
        tracing::info!(network = %name, "network removed");
        Ok(())
    }

    async fn network_prune(&self, filters: Filters) -> Result<NetworksPruneResponse, ApiError> {
        let predicate = filters.prune(SystemTime::now())?;
        let mut inner = self.inner.lock().await;
        let candidates: Vec<String> = self
            .all_resources(&inner)
            .into_iter()
            .filter(|n| inner.records.iter().any(|r| r.network.id == n.id))
            .filter(|n| predicate.matches(n))
            .map(|n| n.name)
            .collect();
        let mut deleted = Vec::new();
        for name in candidates {
            // Networks with endpoints are skipped, as Docker does.
            if self.remove(&mut inner, &name).await.is_ok() {
                deleted.push(name);
            }
        }
        Ok(NetworksPruneResponse {
            networks_deleted: deleted,
        })
    }

    async fn network_connect(
        &self,
        id_or_name: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), ApiError> {
        let name = self.network_name(id_or_name).await?;
        let ipam = req
            .endpoint_config
            .and_then(|c| c.ipam_config)
            .unwrap_or_default();
        self.sandbox_connect(
            &name,
            &req.container,
            &ipam.ipv4_address,
            &ipam.ipv6_address,
        )
        .await
    }

    async fn network_disconnect(
        &self,
        id_or_name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), ApiError> {
        let name = self.network_name(id_or_name).await?;
        self.sandbox_disconnect(&name, &req.container).await
    }
}

/// Runs a change in a task of its own: a client that goes away mid-request
/// drops the request's future, which must not cut a change in half.
async fn detached<T: Send + 'static>(
    change: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(change)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("the change failed: {e}"))))
}

#[async_trait]
impl Engine for Daemon {
    async fn create_network(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, ApiError> {
        let me = self.arc();
        detached(async move { me.network_create(req).await }).await
    }

    async fn list_networks(&self, filters: &Filters) -> Result<Vec<NetworkResource>, ApiError> {
        self.network_list(filters).await
    }

    async fn inspect_network(
        &self,
        id_or_name: &str,
        verbose: bool,
    ) -> Result<NetworkResource, ApiError> {
        self.network_inspect(id_or_name, verbose).await
    }

    async fn remove_network(&self, id_or_name: &str) -> Result<(), ApiError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.network_remove(&id).await }).await
    }

    async fn prune_networks(&self, filters: &Filters) -> Result<NetworksPruneResponse, ApiError> {
        let (me, filters) = (self.arc(), filters.clone());
        detached(async move { me.network_prune(filters).await }).await
    }

    async fn connect_network(
        &self,
        id_or_name: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), ApiError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.network_connect(&id, req).await }).await
    }

    async fn disconnect_network(
        &self,
        id_or_name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), ApiError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.network_disconnect(&id, req).await }).await
    }

    async fn create_sandbox(
        &self,
        req: SandboxCreateRequest,
    ) -> Result<SandboxCreateResponse, ApiError> {
        let me = self.arc();
        detached(async move { me.sandbox_create(req).await }).await
    }

    async fn list_sandboxes(&self, all: bool) -> Result<Vec<SandboxSummary>, ApiError> {
        self.sandbox_list(all).await
    }

    async fn inspect_sandbox(&self, id_or_name: &str) -> Result<SandboxInspect, ApiError> {
        self.sandbox_inspect(id_or_name).await
    }

    async fn remove_sandbox(&self, id_or_name: &str, force: bool) -> Result<(), ApiError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.sandbox_remove(&id, force).await }).await
    }

    async fn sandbox_logs(&self, id_or_name: &str) -> Result<String, ApiError> {
        self.sandbox_read_logs(id_or_name).await
    }

    async fn wait_sandbox(&self, id_or_name: &str) -> Result<SandboxWaitResponse, ApiError> {
        self.sandbox_wait(id_or_name).await
    }
}
