//! A backend that programs nothing and records every transaction it is
//! handed, for tests of the interface and of its callers (no root needed).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::backend::{
    ApplyOutcome, BackendError, FirewallBackend, RenderedRules, RulesCheck, Transaction,
};
use super::change::Change;
use super::types::{Family, FirewallState};

/// One transaction as the stub saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// What it was for.
    pub change: Change,
    /// The bridges of the networks in the new state, in order.
    pub networks: Vec<String>,
    /// The endpoints in the new state, as `bridge address[,address]`.
    pub endpoints: Vec<String>,
    /// The port bindings in the new state, as
    /// `proto host_ip:host_port->container_ip:container_port`.
    pub bindings: Vec<String>,
}

#[derive(Debug, Default)]
struct Shared {
    log: Vec<Recorded>,
    failures: usize,
}

/// The test's side of a [`RecordingBackend`]: what it recorded, and
/// failures to inject.
#[derive(Debug, Clone, Default)]
pub struct Recording(Arc<Mutex<Shared>>);

impl Recording {
    /// Every transaction applied (failed ones included), oldest first.
    pub fn transactions(&self) -> Vec<Recorded> {
        self.0.lock().expect("stub lock").log.clone()
    }

    /// Makes the next `n` applies fail.
    pub fn fail_next(&self, n: usize) {
        self.0.lock().expect("stub lock").failures = n;
    }
}

/// The recording stub backend.
#[derive(Debug, Default)]
pub struct RecordingBackend {
    shared: Recording,
    /// The bridges whose rules it "programmed": its ownership record.
    owned: BTreeSet<String>,
}

impl RecordingBackend {
    /// A stub, and the handle to read what it records.
    pub fn new() -> (RecordingBackend, Recording) {
        let shared = Recording::default();
        (
            RecordingBackend {
                shared: shared.clone(),
                owned: BTreeSet::new(),
            },
            shared,
        )
    }
}

fn bridges(state: &FirewallState) -> impl Iterator<Item = String> + '_ {
    state.networks.iter().map(|n| n.if_name.to_string())
}

/// A one-line description of each endpoint and binding of `state`.
fn describe(state: &FirewallState) -> (Vec<String>, Vec<String>) {
    let endpoints = state
        .endpoints
        .iter()
        .map(|e| {
            let addrs: Vec<String> = [
                e.addrs.v4.map(|a| a.to_string()),
                e.addrs.v6.map(|a| a.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!("{} {}", e.network, addrs.join(","))
        })
        .collect();
    let bindings = state
        .endpoints
        .iter()
        .flat_map(|e| &e.bindings)
        .map(|b| {
            let addr = |ip: std::net::IpAddr, port: u16| match ip {
                std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
                std::net::IpAddr::V4(a) => format!("{a}:{port}"),
            };
            format!(
                "{} {}->{}",
                b.proto,
                addr(b.host_ip, b.host_port),
                addr(b.container_ip, b.container_port)
            )
        })
        .collect();
    (endpoints, bindings)
}

impl FirewallBackend for RecordingBackend {
    fn name(&self) -> &'static str {
        "stub"
    }

    fn render(&self, state: &FirewallState, family: Family) -> RenderedRules {
        let (endpoints, bindings) = describe(state);
        let mut text = String::new();
        for line in bridges(state).chain(endpoints).chain(bindings) {
            text.push_str(&line);
            text.push('\n');
        }
        RenderedRules {
            title: format!("{family} (stub)"),
            text,
        }
    }

    fn adopt(&mut self, record: serde_json::Value) -> Result<(), BackendError> {
        self.owned = serde_json::from_value(record).map_err(|e| BackendError {
            backend: "stub",
            source: Box::new(e),
        })?;
        Ok(())
    }

    fn ownership(&self) -> serde_json::Value {
        serde_json::json!(self.owned)
    }

    fn ownership_after(&self, next: &FirewallState) -> serde_json::Value {
        let mut owned = self.owned.clone();
        owned.extend(bridges(next));
        serde_json::json!(owned)
    }

    fn check(&self, _: &FirewallState, family: Family) -> Result<RulesCheck, BackendError> {
        Ok(RulesCheck {
            title: format!("{family} (stub)"),
            differences: Vec::new(),
        })
    }

    fn existing_chains(&self) -> Vec<String> {
        self.owned.iter().cloned().collect()
    }

    fn apply(&mut self, txn: &Transaction<'_>) -> Result<ApplyOutcome, BackendError> {
        let (endpoints, bindings) = describe(txn.next);
        let mut shared = self.shared.0.lock().expect("stub lock");
        shared.log.push(Recorded {
            change: txn.change.clone(),
            networks: bridges(txn.next).collect(),
            endpoints,
            bindings,
        });
        if shared.failures > 0 {
            shared.failures -= 1;
            return Err(BackendError {
                backend: "stub",
                source: "injected failure".into(),
            });
        }
        let changed = txn.previous != txn.next;
        self.owned = bridges(txn.next).collect();
        Ok(ApplyOutcome {
            changed,
            drift: false,
        })
    }
}
