//! The firewall interface's journal in the daemon's store: one record in the
//! `meta` collection, written around every transaction.

use crate::firewall::{FirewallJournal, JournalEntry, JournalError, JournalPhase};
use crate::store::{Collection, Store};

const KEY: &str = "firewall-journal";

/// The journal over the store.
pub(super) struct StoreJournal {
    store: Store,
}

impl StoreJournal {
    pub(super) fn new(store: Store) -> StoreJournal {
        StoreJournal { store }
    }
}

fn failed(e: crate::store::StoreError) -> JournalError {
    JournalError(Box::new(e))
}

impl FirewallJournal for StoreJournal {
    fn load(&self) -> Result<Option<JournalEntry>, JournalError> {
        if let Some(entry) = self.store.get(Collection::Meta, KEY).map_err(failed)? {
            return Ok(Some(entry));
        }
        // Stores of earlier versions kept the iptables backend's ownership
        // per family under their own keys.
        let mut ownership = serde_json::Map::new();
        for (family, key) in [("V4", "owned-rules/ipv4"), ("V6", "owned-rules/ipv6")] {
            if let Some(rules) = self
                .store
                .get::<serde_json::Value>(Collection::Meta, key)
                .map_err(failed)?
            {
                ownership.insert(family.to_string(), rules);
            }
        }
        Ok((!ownership.is_empty()).then(|| JournalEntry {
            backend: "iptables".into(),
            phase: JournalPhase::Outcome,
            ownership: serde_json::Value::Object(ownership),
        }))
    }

    fn save(&mut self, entry: &JournalEntry) -> Result<(), JournalError> {
        self.store
            .write(|tx| tx.put(Collection::Meta, KEY, entry))
            .map_err(failed)
    }
}
