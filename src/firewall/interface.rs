//! The firewall interface, in the spirit of Docker's `Firewaller`: callers
//! (the daemon, `bridgewall apply`, later the CNI front end and the drift
//! watcher) hand it desired-state changes and nothing else. It owns the whole
//! transaction: it records the intent in its journal, has the backend apply
//! the new state, records the outcome, and rolls a failed addition back.
//!
//! Architecture invariant: this is the only caller of a [`FirewallBackend`];
//! it knows no rule syntax and no kernel interface.

use super::backend::{ApplyOutcome, FirewallBackend, RenderedRules, RulesCheck, Transaction};
use super::change::Change;
use super::error::FirewallError;
use super::journal::{FirewallJournal, JournalEntry, JournalPhase};
use super::types::{Family, FirewallConfig, FirewallEndpoint, FirewallState, NetworkConfig};

/// What a transaction does when its apply fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnFailure {
    /// Back to the state before (an addition).
    RollBack,
    /// The new state stays desired; the next apply retries it.
    Keep,
}

/// The desired firewall state and the backend that programs it.
pub struct Firewall {
    /// The journal had a record of this backend's when the interface opened.
    history: bool,
    state: FirewallState,
    /// The endpoints' IDs, in the order of `state.endpoints`.
    ids: Vec<String>,
    backend: Box<dyn FirewallBackend>,
    journal: Box<dyn FirewallJournal>,
}

impl Firewall {
    /// A firewall with no networks, applying through `backend` and recording
    /// in `journal`. The backend takes back what the journal says it owned
    /// in an earlier run; nothing is applied until a change or
    /// [`Firewall::reapply`].
    pub fn open(
        config: FirewallConfig,
        daemon_level: bool,
        mut backend: Box<dyn FirewallBackend>,
        journal: Box<dyn FirewallJournal>,
    ) -> Result<Firewall, FirewallError> {
        // Any record, even one this backend cannot read, says the chains
        // found are bridgewall's own.
        let loaded = journal.load()?;
        let history = loaded.is_some();
        match loaded {
            Some(entry) if entry.backend == backend.name() => {
                if let Err(e) = backend.adopt(entry.ownership) {
                    tracing::warn!(
                        "the firewall journal cannot be read, starting with no history: {e}"
                    );
                }
            }
            Some(entry) => tracing::warn!(
                recorded = %entry.backend,
                backend = backend.name(),
                "the firewall journal is another backend's: its rules are not known to this one"
            ),
            None => {}
        }
        Ok(Firewall {
            history,
            state: FirewallState {
                config,
                daemon_level,
                ..FirewallState::default()
            },
            ids: Vec::new(),
            backend,
            journal,
        })
    }

    /// Chains of bridgewall's names in the kernel that no record says are
    /// bridgewall's: empty when the journal had a record of this backend's
    /// (they are its own), else what the backend finds (a dockerd's, most
    /// likely, or a store that was lost).
    pub fn unrecorded_chains(&self) -> Vec<String> {
        if self.history {
            Vec::new()
        } else {
            self.backend.existing_chains()
        }
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Whether the kernel holds another program's `chain` (see
    /// [`FirewallBackend::has_chain`]).
    pub fn has_chain(&self, family: Family, table: &str, chain: &str) -> bool {
        self.backend.has_chain(family, table, chain)
    }

    /// Whether a deleted user hook gets its rules back (see
    /// [`FirewallBackend::restore_user_rules`]).
    pub fn restore_user_rules(&mut self, on: bool) {
        self.backend.restore_user_rules(on);
    }

    /// What the backend programs, for `info` (e.g. `iptables (nf_tables)`).
    pub fn backend_description(&self) -> String {
        self.backend.describe()
    }

    /// Whether the kernel announces changes to the backend's rules (see
    /// [`FirewallBackend::announces_changes`]).
    pub fn announces_changes(&self) -> bool {
        self.backend.announces_changes()
    }

    /// The desired state as it stands.
    pub fn state(&self) -> &FirewallState {
        &self.state
    }

    /// The rules of `family` that the backend would program for `state`
    /// (pure: nothing is applied).
    pub fn render(&self, state: &FirewallState, family: Family) -> RenderedRules {
        self.backend.render(state, family)
    }

    /// How the kernel's rules of `family` compare with the desired state.
    pub fn check(&self, family: Family) -> Result<RulesCheck, FirewallError> {
        Ok(self.backend.check(&self.state, family)?)
    }

    /// Whether the endpoint `id` is in the desired state.
    pub fn has_endpoint(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }

    /// Sets the FORWARD policy of `family` to DROP from the next apply on
    /// (the daemon enabled forwarding itself). It is never set back.
    pub fn drop_forward(&mut self, family: Family) {
        if !self.state.drop_forward.contains(&family) {
            self.state.drop_forward.push(family);
        }
    }

    /// Replaces the desired networks and endpoints without applying (a
    /// daemon restoring its state); [`Firewall::reapply`] applies them.
    pub fn load(
        &mut self,
        networks: Vec<NetworkConfig>,
        endpoints: Vec<(String, FirewallEndpoint)>,
    ) {
        self.state.networks = networks;
        (self.ids, self.state.endpoints) = endpoints.into_iter().unzip();
    }

    /// Applies the whole state again (at start, after a firewall reload or
    /// a flush by someone else); the outcome tells whether rules had drifted.
    pub fn reapply(&mut self) -> Result<ApplyOutcome, FirewallError> {
        let next = self.state.clone();
        let ids = self.ids.clone();
        self.transact(Change::Reapply, next, ids, OnFailure::Keep)
    }

    /// Makes `state` the whole desired state (`bridgewall apply`), its
    /// endpoints named by position.
    pub fn replace(&mut self, state: FirewallState) -> Result<ApplyOutcome, FirewallError> {
        let ids = (0..state.endpoints.len())
            .map(|i| format!("endpoint-{i}"))
            .collect();
        self.transact(Change::Replace, state, ids, OnFailure::Keep)
    }

    /// A network was created.
    pub fn add_network(&mut self, net: NetworkConfig) -> Result<ApplyOutcome, FirewallError> {
        if self.network(&net.if_name).is_some() {
            return Err(FirewallError::DuplicateNetwork(net.if_name.to_string()));
        }
        let mut next = self.state.clone();
        let change = Change::AddNetwork(net.if_name.clone());
        next.networks.push(net);
        let ids = self.ids.clone();
        self.transact(change, next, ids, OnFailure::RollBack)
    }

    /// A network with no endpoints left was removed.
    pub fn remove_network(&mut self, if_name: &str) -> Result<ApplyOutcome, FirewallError> {
        let pos = self
            .network(if_name)
            .ok_or_else(|| FirewallError::UnknownNetwork(if_name.to_string()))?;
        if self.state.endpoints.iter().any(|e| e.network == if_name) {
            return Err(FirewallError::NetworkInUse(if_name.to_string()));
        }
        let mut next = self.state.clone();
        next.networks.remove(pos);
        let ids = self.ids.clone();
        self.transact(
            Change::RemoveNetwork(self.state.networks[pos].if_name.clone()),
            next,
            ids,
            OnFailure::Keep,
        )
    }

    /// Endpoints joined their networks, each with its port bindings: a
    /// sandbox's start (all its endpoints) or a connect is one transaction.
    pub fn add_endpoints(
        &mut self,
        endpoints: Vec<(String, FirewallEndpoint)>,
    ) -> Result<ApplyOutcome, FirewallError> {
        for (i, (id, ep)) in endpoints.iter().enumerate() {
            if self.network(&ep.network).is_none() {
                return Err(FirewallError::UnknownNetwork(ep.network.to_string()));
            }
            if self.ids.contains(id) || endpoints[..i].iter().any(|(other, _)| other == id) {
                return Err(FirewallError::DuplicateEndpoint(id.clone()));
            }
        }
        let mut next = self.state.clone();
        let mut ids = self.ids.clone();
        let change = Change::AddEndpoints(endpoints.iter().map(|(id, _)| id.clone()).collect());
        for (id, ep) in endpoints {
            ids.push(id);
            next.endpoints.push(ep);
        }
        self.transact(change, next, ids, OnFailure::RollBack)
    }

    /// Endpoints left their networks (their port bindings go with them).
    /// Unknown IDs are an error and nothing is removed.
    pub fn remove_endpoints(&mut self, ids: &[String]) -> Result<ApplyOutcome, FirewallError> {
        if let Some(unknown) = ids.iter().find(|id| !self.ids.contains(id)) {
            return Err(FirewallError::UnknownEndpoint(unknown.clone()));
        }
        let mut next = self.state.clone();
        let mut next_ids = Vec::new();
        next.endpoints.clear();
        for (id, ep) in self.ids.iter().zip(&self.state.endpoints) {
            if !ids.contains(id) {
                next_ids.push(id.clone());
                next.endpoints.push(ep.clone());
            }
        }
        self.transact(
            Change::RemoveEndpoints(ids.to_vec()),
            next,
            next_ids,
            OnFailure::Keep,
        )
    }

    fn network(&self, if_name: &str) -> Option<usize> {
        self.state
            .networks
            .iter()
            .position(|n| n.if_name == if_name)
    }

    fn record(
        &mut self,
        phase: JournalPhase,
        ownership: serde_json::Value,
    ) -> Result<(), FirewallError> {
        let entry = JournalEntry {
            backend: self.backend.name().to_string(),
            phase,
            ownership,
        };
        Ok(self.journal.save(&entry)?)
    }

    /// One transaction: intent recorded, `next` applied, outcome recorded.
    ///
    /// If the apply fails, an addition is rolled back (in memory and, best
    /// effort, in the kernel). Anything else stays in the desired state and
    /// the next apply retries it: what is removed must not come back, and a
    /// reapply or a whole new state has nothing to roll back to.
    fn transact(
        &mut self,
        change: Change,
        next: FirewallState,
        next_ids: Vec<String>,
        on_failure: OnFailure,
    ) -> Result<ApplyOutcome, FirewallError> {
        let intent = self.backend.ownership_after(&next);
        if let Err(e) = self.record(JournalPhase::Intent, intent) {
            // An addition fails here with nothing changed. Anything else
            // goes ahead: the ownership recorded last already covers what it
            // removes, and refusing would leave stale rules in place.
            if on_failure == OnFailure::RollBack {
                return Err(e);
            }
            tracing::warn!("{e}");
        }
        let applied = self.backend.apply(&Transaction {
            change: &change,
            previous: &self.state,
            next: &next,
        });
        let result = match applied {
            Ok(outcome) => {
                if outcome.drift {
                    tracing::warn!(
                        backend = self.backend.name(),
                        "the kernel's rules differed from those bridgewall last applied: repaired"
                    );
                }
                self.state = next;
                self.ids = next_ids;
                Ok(outcome)
            }
            Err(e) if on_failure == OnFailure::Keep => {
                self.state = next;
                self.ids = next_ids;
                Err(e.into())
            }
            Err(e) => {
                let back = self.backend.apply(&Transaction {
                    change: &Change::Reapply,
                    previous: &next,
                    next: &self.state,
                });
                if let Err(again) = back {
                    tracing::warn!("rolling the firewall back: {again}");
                }
                Err(e.into())
            }
        };
        // The intent recorded above covers what the backend owns now, so a
        // failure to record the outcome loses nothing: it is only logged.
        let ownership = self.backend.ownership();
        if let Err(e) = self.record(JournalPhase::Outcome, ownership) {
            tracing::warn!("{e}");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::journal::MemoryJournal;
    use crate::firewall::names::IfName;
    use crate::firewall::stub::{Recorded, Recording, RecordingBackend};
    use crate::firewall::types::{EndpointAddrs, FamilyConfig, GatewayMode, PortBinding, Protocol};

    fn net(bridge: &str, prefix: &str) -> NetworkConfig {
        NetworkConfig {
            if_name: IfName::new(bridge).unwrap(),
            internal: false,
            icc: true,
            masquerade: true,
            trusted_host_interfaces: vec![],
            v4: Some(FamilyConfig {
                prefix: prefix.parse().unwrap(),
                host_ip: None,
                gateway_mode: GatewayMode::Nat,
            }),
            v6: None,
        }
    }

    fn endpoint(bridge: &str, addr: &str, ports: &[(u16, u16)]) -> FirewallEndpoint {
        let ip: std::net::Ipv4Addr = addr.parse().unwrap();
        FirewallEndpoint {
            network: IfName::new(bridge).unwrap(),
            addrs: EndpointAddrs {
                v4: Some(ip),
                v6: None,
            },
            bindings: ports
                .iter()
                .map(|&(host, container)| PortBinding {
                    proto: Protocol::Tcp,
                    container_ip: ip.into(),
                    container_port: container,
                    host_ip: "0.0.0.0".parse().unwrap(),
                    host_port: host,
                })
                .collect(),
        }
    }

    /// The interface over `backend`, recording in `journal`.
    fn open(backend: RecordingBackend, journal: impl FirewallJournal + 'static) -> Firewall {
        Firewall::open(
            FirewallConfig::default(),
            true,
            Box::new(backend),
            Box::new(journal),
        )
        .unwrap()
    }

    fn firewall() -> (Firewall, Recording, MemoryJournal) {
        let (backend, recording) = RecordingBackend::new();
        let journal = MemoryJournal::default();
        (open(backend, journal.clone()), recording, journal)
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The transactions a daemon's life makes: network create, sandbox run
    /// with ports, connect, disconnect, rm, network rm, reapply.
    #[test]
    fn a_scripted_sequence_is_one_recorded_transaction_per_change() {
        let (mut fw, rec, journal) = firewall();
        fw.add_network(net("br-front", "192.0.2.0/24")).unwrap();
        fw.add_network(net("br-back", "198.51.100.0/24")).unwrap();
        // `run -p 8080:80 -p 8443:443` on front: one transaction.
        fw.add_endpoints(vec![(
            "ep1".into(),
            endpoint("br-front", "192.0.2.2", &[(8080, 80), (8443, 443)]),
        )])
        .unwrap();
        // `network connect back`.
        fw.add_endpoints(vec![(
            "ep2".into(),
            endpoint("br-back", "198.51.100.2", &[]),
        )])
        .unwrap();
        // `network disconnect back`.
        fw.remove_endpoints(&ids(&["ep2"])).unwrap();
        // `rm -f`: its remaining endpoints, with their ports.
        fw.remove_endpoints(&ids(&["ep1"])).unwrap();
        fw.remove_network("br-back").unwrap();
        let outcome = fw.reapply().unwrap();
        assert_eq!(
            outcome,
            ApplyOutcome::default(),
            "a reapply changes nothing"
        );

        let front = "br-front 192.0.2.2".to_string();
        let back = "br-back 198.51.100.2".to_string();
        let ports = vec![
            "tcp 0.0.0.0:8080->192.0.2.2:80".to_string(),
            "tcp 0.0.0.0:8443->192.0.2.2:443".to_string(),
        ];
        let both = ids(&["br-front", "br-back"]);
        let t = |change, networks: &Vec<String>, endpoints: Vec<String>, bindings: Vec<String>| {
            Recorded {
                change,
                networks: networks.clone(),
                endpoints,
                bindings,
            }
        };
        assert_eq!(
            rec.transactions(),
            vec![
                t(
                    Change::AddNetwork(IfName::new("br-front").unwrap()),
                    &ids(&["br-front"]),
                    vec![],
                    vec![]
                ),
                t(
                    Change::AddNetwork(IfName::new("br-back").unwrap()),
                    &both,
                    vec![],
                    vec![]
                ),
                t(
                    Change::AddEndpoints(ids(&["ep1"])),
                    &both,
                    vec![front.clone()],
                    ports.clone()
                ),
                t(
                    Change::AddEndpoints(ids(&["ep2"])),
                    &both,
                    vec![front.clone(), back],
                    ports.clone()
                ),
                t(
                    Change::RemoveEndpoints(ids(&["ep2"])),
                    &both,
                    vec![front],
                    ports
                ),
                t(
                    Change::RemoveEndpoints(ids(&["ep1"])),
                    &both,
                    vec![],
                    vec![]
                ),
                t(
                    Change::RemoveNetwork(IfName::new("br-back").unwrap()),
                    &ids(&["br-front"]),
                    vec![],
                    vec![]
                ),
                t(Change::Reapply, &ids(&["br-front"]), vec![], vec![]),
            ]
        );
        // Around every transaction: the intent (what may be owned once it
        // is applied), then the outcome.
        let entries = journal.entries();
        assert_eq!(entries.len(), 2 * 8);
        for (i, pair) in entries.chunks(2).enumerate() {
            assert_eq!(pair[0].phase, JournalPhase::Intent, "transaction {i}");
            assert_eq!(pair[1].phase, JournalPhase::Outcome, "transaction {i}");
            assert!(pair.iter().all(|e| e.backend == "stub"));
        }
        // Removing br-back: the intent still covers it, the outcome does not.
        assert_eq!(
            entries[12].ownership,
            serde_json::json!(["br-back", "br-front"])
        );
        assert_eq!(entries[13].ownership, serde_json::json!(["br-front"]));
    }

    #[test]
    fn bad_calls_are_refused_without_a_transaction() {
        let (mut fw, rec, journal) = firewall();
        fw.add_network(net("br0", "192.0.2.0/24")).unwrap();
        assert!(matches!(
            fw.add_network(net("br0", "192.0.2.0/24")),
            Err(FirewallError::DuplicateNetwork(_))
        ));
        assert!(matches!(
            fw.add_endpoints(vec![("e".into(), endpoint("nope", "192.0.2.2", &[]))]),
            Err(FirewallError::UnknownNetwork(_))
        ));
        let twice = vec![
            ("e".into(), endpoint("br0", "192.0.2.2", &[])),
            ("e".into(), endpoint("br0", "192.0.2.3", &[])),
        ];
        assert!(matches!(
            fw.add_endpoints(twice),
            Err(FirewallError::DuplicateEndpoint(_))
        ));
        assert!(matches!(
            fw.remove_endpoints(&ids(&["e"])),
            Err(FirewallError::UnknownEndpoint(_))
        ));
        fw.add_endpoints(vec![("e".into(), endpoint("br0", "192.0.2.2", &[]))])
            .unwrap();
        assert!(matches!(
            fw.remove_network("br0"),
            Err(FirewallError::NetworkInUse(_))
        ));
        assert!(matches!(
            fw.remove_network("br9"),
            Err(FirewallError::UnknownNetwork(_))
        ));
        assert_eq!(rec.transactions().len(), 2);
        assert_eq!(journal.entries().len(), 4);
    }

    #[test]
    fn a_failed_apply_rolls_an_addition_back_but_not_a_removal() {
        let (mut fw, rec, journal) = firewall();
        rec.fail_next(1);
        assert!(matches!(
            fw.add_network(net("br0", "192.0.2.0/24")),
            Err(FirewallError::Backend(_))
        ));
        assert!(fw.state().networks.is_empty());
        // The failed apply, then the rollback to the state before it.
        let t = rec.transactions();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].change, Change::Reapply);
        assert!(t[1].networks.is_empty());
        // The intent was recorded before the apply.
        assert_eq!(journal.entries()[0].phase, JournalPhase::Intent);
        assert_eq!(journal.entries()[0].ownership, serde_json::json!(["br0"]));

        fw.add_network(net("br0", "192.0.2.0/24")).unwrap();
        rec.fail_next(1);
        assert!(fw.remove_network("br0").is_err());
        assert!(fw.state().networks.is_empty(), "a removal is not undone");
        // The next apply retries it.
        fw.reapply().unwrap();
        assert!(rec.transactions().last().unwrap().networks.is_empty());
    }

    #[test]
    fn a_start_adopts_what_the_journal_says_the_backend_owned() {
        let (backend, _) = RecordingBackend::new();
        let mut journal = MemoryJournal::default();
        journal
            .save(&JournalEntry {
                backend: "stub".into(),
                phase: JournalPhase::Intent,
                ownership: serde_json::json!(["br-old"]),
            })
            .unwrap();
        let mut fw = open(backend, journal.clone());
        fw.reapply().unwrap();
        // The intent of the first transaction still holds the adopted bridge.
        assert_eq!(
            journal.entries()[1].ownership,
            serde_json::json!(["br-old"])
        );
        // Another backend's record is not taken for this one's.
        let (backend, _) = RecordingBackend::new();
        let mut other = MemoryJournal::default();
        other
            .save(&JournalEntry {
                backend: "nftables".into(),
                phase: JournalPhase::Outcome,
                ownership: serde_json::json!({"not": "a list"}),
            })
            .unwrap();
        open(backend, other);
    }

    /// A journal that refuses to write once told to.
    #[derive(Clone, Default)]
    struct FlakyJournal {
        inner: MemoryJournal,
        broken: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl FirewallJournal for FlakyJournal {
        fn load(&self) -> Result<Option<JournalEntry>, crate::firewall::JournalError> {
            self.inner.load()
        }

        fn save(&mut self, entry: &JournalEntry) -> Result<(), crate::firewall::JournalError> {
            if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(crate::firewall::JournalError("disk full".into()));
            }
            self.inner.save(entry)
        }
    }

    #[test]
    fn without_a_journal_an_addition_is_refused_and_a_removal_goes_ahead() {
        let (backend, rec) = RecordingBackend::new();
        let journal = FlakyJournal::default();
        let mut fw = open(backend, journal.clone());
        fw.add_network(net("br0", "192.0.2.0/24")).unwrap();
        journal
            .broken
            .store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(
            fw.add_network(net("br1", "198.51.100.0/24")),
            Err(FirewallError::Journal(_))
        ));
        assert_eq!(rec.transactions().len(), 1, "nothing applied");
        fw.remove_network("br0").unwrap();
        assert_eq!(rec.transactions().len(), 2);
        assert!(fw.state().networks.is_empty());
    }

    #[test]
    fn a_failed_replace_or_reapply_is_kept_for_the_next_apply_not_rolled_back() {
        let (mut fw, rec, _) = firewall();
        fw.add_network(net("br0", "192.0.2.0/24")).unwrap();
        rec.fail_next(1);
        let mut whole = fw.state().clone();
        whole.networks.push(net("br1", "198.51.100.0/24"));
        assert!(fw.replace(whole).is_err());
        assert_eq!(rec.transactions().len(), 2, "no rollback transaction");
        assert_eq!(fw.state().networks.len(), 2);
        rec.fail_next(1);
        assert!(fw.reapply().is_err());
        assert_eq!(rec.transactions().len(), 3, "one attempt");
        fw.reapply().unwrap();
        assert_eq!(rec.transactions()[3].networks, ids(&["br0", "br1"]));
    }
}
