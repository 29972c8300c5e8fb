//! The firewall interface's journal in the daemon's store: one record in the
//! `meta` collection, written around every transaction.

use crate::firewall::{FirewallJournal, JournalEntry, JournalError, JournalPhase};
use crate::store::{Collection, Store};

const KEY: &str = "firewall-journal";

/// Where earlier versions kept the iptables backend's ownership, by family
/// (as the backend's record names them).
const OLD_KEYS: [(&str, &str); 2] = [("V4", "owned-rules/ipv4"), ("V6", "owned-rules/ipv6")];

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
        match self.store.get(Collection::Meta, KEY) {
            Ok(Some(entry)) => return Ok(Some(entry)),
            Ok(None) => {}
            // A damaged record still says the chains are bridgewall's, but
            // not which rules: the base jumps are known anyway, and the first
            // apply writes a new record.
            Err(e @ crate::store::StoreError::Record { .. }) => {
                tracing::error!(
                    "the firewall journal cannot be read, starting with no history: {e}"
                );
                return Ok(Some(JournalEntry {
                    backend: "unreadable".into(),
                    phase: JournalPhase::Outcome,
                    ownership: serde_json::Value::Null,
                }));
            }
            Err(e) => return Err(failed(e)),
        }
        // Stores of earlier versions kept the iptables backend's ownership
        // per family under keys of their own: taken over into one entry.
        let mut ownership = serde_json::Map::new();
        for (family, key) in OLD_KEYS {
            if let Some(rules) = self
                .store
                .get::<serde_json::Value>(Collection::Meta, key)
                .map_err(failed)?
            {
                ownership.insert(family.to_string(), rules);
            }
        }
        if ownership.is_empty() {
            return Ok(None);
        }
        let entry = JournalEntry {
            backend: "iptables".into(),
            phase: JournalPhase::Outcome,
            ownership: serde_json::Value::Object(ownership),
        };
        self.store
            .write(|tx| {
                tx.put(Collection::Meta, KEY, &entry)?;
                OLD_KEYS
                    .iter()
                    .try_for_each(|(_, key)| tx.delete(Collection::Meta, key))
            })
            .map_err(failed)?;
        Ok(Some(entry))
    }

    fn save(&mut self, entry: &JournalEntry) -> Result<(), JournalError> {
        self.store
            .write(|tx| tx.put(Collection::Meta, KEY, entry))
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_earlier_versions_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let journal = StoreJournal::new(store.clone());
        assert_eq!(journal.load().unwrap(), None);
        let v4 = serde_json::json!({"filter/FORWARD": ["-j DOCKER-FORWARD"]});
        store
            .write(|tx| tx.put(Collection::Meta, "owned-rules/ipv4", &v4))
            .unwrap();
        let entry = journal.load().unwrap().unwrap();
        assert_eq!(entry.backend, "iptables");
        assert_eq!(entry.ownership, serde_json::json!({ "V4": v4 }));
        let old: Option<serde_json::Value> =
            store.get(Collection::Meta, "owned-rules/ipv4").unwrap();
        assert_eq!(old, None, "the old key is gone");
        assert_eq!(journal.load().unwrap(), Some(entry));
    }

    #[test]
    fn a_damaged_record_still_counts_as_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| tx.put(Collection::Meta, KEY, &"not an entry"))
            .unwrap();
        let entry = StoreJournal::new(store).load().unwrap().unwrap();
        assert_eq!(entry.backend, "unreadable");
        assert_eq!(entry.ownership, serde_json::Value::Null);
    }
}
