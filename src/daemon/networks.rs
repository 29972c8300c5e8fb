//! Networks: create, inspect, list, remove and prune, each one change (an
//! intent in the store, the host's bridge and forwarding, one firewall
//! transaction, the outcome).

use std::time::SystemTime;

use crate::api::filters::PruneFilter;
use crate::api::rules::{FamilyRules, RulesResponse};
use crate::api::types::{
    NetworkCreateRequest, NetworkCreateResponse, NetworkResource, NetworksPruneResponse,
};
use crate::firewall::{ApplyOutcome, Family};
use crate::host::sysctl;
use crate::model::network::{IpamConfig, NetworkSpec};
use crate::model::state::ResolvedNetwork;
use crate::store::Collection;

use crate::crash::crash_point;

use super::bridge;
use super::core::{Daemon, Inner, random_hex};
use super::error::{DaemonError, forbidden, internal, invalid};
use super::lookup::find_network;
use super::records::{NetworkRecord, Phase};

/// The network spec a create request asks for, with Docker's checks on the
/// parts bridgewall does not support.
pub fn spec_from_request(req: &NetworkCreateRequest) -> Result<NetworkSpec, DaemonError> {
    if req.config_only
        || req
            .config_from
            .as_ref()
            .is_some_and(|c| !c.network.is_empty())
    {
        return Err(invalid(
            "config-only networks are not supported by bridgewall",
        ));
    }
    if req.ingress {
        return Err(forbidden(
            "ingress networks are swarm networks: not supported by bridgewall",
        ));
    }
    let mut ipam = Vec::new();
    if let Some(i) = &req.ipam {
        if !i.driver.is_empty() && i.driver != "default" {
            return Err(invalid(format!(
                "IPAM driver {:?} is not supported: bridgewall has Docker's default IPAM only",
                i.driver
            )));
        }
        for c in &i.config {
            let parsed = IpamConfig::parse(Some(&c.subnet), Some(&c.ip_range), Some(&c.gateway))
                .map_err(|e| invalid(format!("invalid network config:\n* {e}")))?;
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

impl Daemon {
    /// Forwarding for the families of `net` (Docker's `setupIPForwarding`),
    /// the FORWARD DROP policy when the daemon enabled it itself, then the
    /// bridge.
    pub(super) async fn prepare_host(
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
    /// someone else): whether it changed anything, and whether it found
    /// drift.
    pub async fn reapply(&self) -> Result<ApplyOutcome, DaemonError> {
        let mut inner = self.inner.lock().await;
        Ok(inner.in_firewall(|fw| fw.reapply())?)
    }

    /// Checks the kernel's rules of the enabled families against the plan
    /// and, when they differ, re-applies: the differences found, or `None`.
    pub(super) async fn repair_drift(&self) -> Result<Option<Vec<String>>, DaemonError> {
        let mut inner = self.inner.lock().await;
        let mut differences = Vec::new();
        for family in Family::ALL {
            if !inner.firewall.state().config.enabled(family) {
                continue;
            }
            let check = inner.in_firewall(|fw| fw.check(family))?;
            differences.extend(
                check
                    .differences
                    .into_iter()
                    .map(|d| format!("{family} {d}")),
            );
        }
        if differences.is_empty() {
            return Ok(None);
        }
        inner.in_firewall(|fw| fw.reapply())?;
        Ok(Some(differences))
    }

    /// The rules of `families` the running state plans, and the kernel's
    /// differences from them (`bridgewall rules`).
    pub(super) async fn rules_report(
        &self,
        families: &[Family],
    ) -> Result<RulesResponse, DaemonError> {
        let mut inner = self.inner.lock().await;
        let mut report = RulesResponse::default();
        for &family in families {
            let rendered = inner.firewall.render(inner.firewall.state(), family);
            let check = inner.in_firewall(|fw| fw.check(family))?;
            report.families.push(FamilyRules {
                title: rendered.title,
                rules: rendered.text,
                differences: check.differences,
            });
        }
        Ok(report)
    }

    /// The name of the network `id_or_name` designates.
    pub(super) async fn network_name(&self, id_or_name: &str) -> Result<String, DaemonError> {
        let inner = self.inner.lock().await;
        self.resolve_network(&inner, id_or_name)
    }

    /// The name of the network `term` designates (name, ID or unique prefix).
    pub(super) fn resolve_network(&self, inner: &Inner, term: &str) -> Result<String, DaemonError> {
        let all = self.all_resources(inner);
        Ok(find_network(&all, term)?.name.clone())
    }

    /// Removes one user network: intent, firewall, bridge, record.
    async fn remove(&self, inner: &mut Inner, name: &str) -> Result<(), DaemonError> {
        let mut next = inner.state.clone();
        let net = next.remove_network(name).map_err(DaemonError::from)?;
        let index = inner
            .records
            .iter()
            .position(|r| r.network.id == net.id)
            .ok_or_else(|| DaemonError::PredefinedNetwork(name.to_string()))?;
        let mut rec = inner.records[index].clone();
        rec.phase = Phase::Removing;
        inner
            .store
            .write(|tx| tx.put(Collection::Networks, &net.id, &rec))
            .map_err(internal)?;
        crash_point!("network-remove:intent");
        // Once the intent is recorded the removal goes through: a step that
        // fails is logged (the firewall retries at its next apply; a start
        // finishes what is left).
        if let Err(e) = inner.in_firewall(|fw| fw.remove_network(&net.bridge)) {
            tracing::warn!(network = name, "removing the network's rules: {e}");
        }
        crash_point!("network-remove:firewall");
        self.firewalld.leave_zone(&net.bridge).await;
        if let Err(e) = bridge::tear_down(&inner.links, &net.bridge).await {
            tracing::warn!(network = name, "{e}");
        }
        crash_point!("network-remove:bridge");
        inner
            .store
            .write(|tx| tx.delete(Collection::Networks, &net.id))
            .map_err(internal)?;
        inner.records.remove(index);
        inner.state = next;
        Ok(())
    }

    pub(super) async fn network_create(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, DaemonError> {
        let spec = spec_from_request(&req)?;
        let mut inner = self.inner.lock().await;
        if inner.state.network(&spec.name).is_some() {
            return Err(DaemonError::NetworkNameConflict(spec.name.clone()));
        }
        let id = random_hex(32).map_err(internal)?;
        let mut next = inner.state.clone();
        let net = next
            .add_network_with_id(&spec, id)
            .map_err(DaemonError::from)?
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
        crash_point!("network-create:intent");
        let setup = async {
            self.prepare_host(&mut inner, &net)
                .await
                .map_err(internal)?;
            crash_point!("network-create:bridge");
            self.firewalld.join_zone(&net.bridge).await?;
            inner
                .in_firewall(|fw| fw.add_network(net.firewall_config()))
                .map_err(internal)?;
            crash_point!("network-create:firewall");
            Ok::<(), DaemonError>(())
        }
        .await;
        if let Err(e) = setup {
            // Undo: the firewall has rolled a failed addition back.
            self.firewalld.leave_zone(&net.bridge).await;
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

    pub(super) async fn network_list(&self) -> Result<Vec<NetworkResource>, DaemonError> {
        let inner = self.inner.lock().await;
        Ok(self.all_resources(&inner))
    }

    pub(super) async fn network_inspect(
        &self,
        id_or_name: &str,
        _verbose: bool,
    ) -> Result<NetworkResource, DaemonError> {
        let inner = self.inner.lock().await;
        let all = self.all_resources(&inner);
        find_network(&all, id_or_name).cloned()
    }

    pub(super) async fn network_remove(&self, id_or_name: &str) -> Result<(), DaemonError> {
        let mut inner = self.inner.lock().await;
        let all = self.all_resources(&inner);
        let found = find_network(&all, id_or_name)?;
        let name = found.name.clone();
        if !inner.records.iter().any(|r| r.network.name == name) {
            return Err(DaemonError::PredefinedNetwork(name));
        }
        self.remove(&mut inner, &name).await?;
        tracing::info!(network = %name, "network removed");
        Ok(())
    }

    pub(super) async fn network_prune(
        &self,
        predicate: &PruneFilter,
    ) -> Result<NetworksPruneResponse, DaemonError> {
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
}
