//! The daemon's embedded ACID store (redb) in its data-root: networks,
//! sandboxes, endpoints and allocations, as JSON records by key.
//!
//! Every change the daemon makes is one write transaction, so a crash at any
//! moment leaves either the old or the new state, never half of a change.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// Networks, by ID.
    Networks,
    /// Sandboxes (the stand-in for containers), by ID.
    Sandboxes,
    /// Daemon-wide values (sequence numbers, the firewall journal).
    Meta,
    /// Records that could not be decoded, kept aside as they were, by
    /// `COLLECTION/KEY/NANOSECONDS`.
    Quarantine,
}

impl Collection {
    const ALL: [Collection; 4] = [
        Collection::Networks,
        Collection::Sandboxes,
        Collection::Meta,
        Collection::Quarantine,
    ];

    fn table(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }

    /// The collection's table name.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Networks => "networks",
            Collection::Sandboxes => "sandboxes",
            Collection::Meta => "meta",
            Collection::Quarantine => "quarantine",
        }
    }
}

/// Errors of the store, naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or used.
    #[error("state store {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: Box<redb::Error>,
    },
    /// A record could not be encoded or decoded.
    #[error("state store record {key}: {source}")]
    Record {
        /// The record's key.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// The data-root could not be created.
    #[error("cannot create data-root {path}: {source}")]
    DataRoot {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The store: one redb file, `bridgewall.redb`, in the data-root. Clones
/// share the database.
#[derive(Clone)]
pub struct Store {
    db: std::sync::Arc<Database>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in `data_root`.
    pub fn open(data_root: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_root).map_err(|e| StoreError::DataRoot {
            path: data_root.to_path_buf(),
            source: e,
        })?;
        let path = data_root.join("bridgewall.redb");
        let db = Database::create(&path).map_err(|e| db_err(&path, e))?;
        let store = Store {
            db: std::sync::Arc::new(db),
            path,
        };
        store.write(|_| Ok(()))?;
        Ok(store)
    }

    /// All records of `coll` that decode, sorted by key. A record that
    /// does not decode (written by another version, or damaged) is moved to
    /// [`Collection::Quarantine`] as it was, and logged: one bad record does
    /// not keep the others from being read.
    pub fn list<T: DeserializeOwned>(
        &self,
        coll: Collection,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        let mut bad: Vec<(String, Vec<u8>)> = Vec::new();
        {
            let txn = self.db.begin_read().map_err(|e| self.err(e))?;
            let table = txn.open_table(coll.table()).map_err(|e| self.err(e))?;
            for item in table.iter().map_err(|e| self.err(e))? {
                let (k, v) = item.map_err(|e| self.err(e))?;
                let key = k.value().to_string();
                match serde_json::from_slice(v.value()) {
                    Ok(rec) => out.push((key, rec)),
                    Err(e) => {
                        tracing::error!(
                            record = %key,
                            "quarantining a {} record that cannot be read: {e}",
                            coll.name()
                        );
                        bad.push((key, v.value().to_vec()));
                    }
                }
            }
        }
        if !bad.is_empty() {
            // Keyed by time too: a record quarantined twice keeps both.
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            self.write(|tx| {
                for (key, bytes) in &bad {
                    let kept = format!("{}/{key}/{at}", coll.name());
                    tracing::error!(record = %key, kept = %kept, "kept aside in the store's quarantine table");
                    tx.put_raw(Collection::Quarantine, &kept, bytes)?;
                    tx.delete(coll, key)?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// One record of `coll`.
    pub fn get<T: DeserializeOwned>(
        &self,
        coll: Collection,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(coll.table()).map_err(|e| self.err(e))?;
        let Some(v) = table.get(key).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| StoreError::Record {
                key: key.to_string(),
                source: e,
            })
    }

    /// Runs `f` in one write transaction, committed when `f` succeeds and
    /// discarded when it fails.
    pub fn write<R>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        for coll in Collection::ALL {
            txn.open_table(coll.table()).map_err(|e| self.err(e))?;
        }
        let mut tx = WriteTx {
            txn: &txn,
            store: self,
        };
        let r = f(&mut tx)?;
        txn.commit().map_err(|e| self.err(e))?;
        Ok(r)
    }

    fn err(&self, e: impl Into<redb::Error>) -> StoreError {
        db_err(&self.path, e)
    }
}

fn db_err(path: &Path, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db {
        path: path.to_path_buf(),
        source: Box::new(e.into()),
    }
}

/// A write transaction in progress.
pub struct WriteTx<'a> {
    txn: &'a redb::WriteTransaction,
    store: &'a Store,
}

impl WriteTx<'_> {
    /// Inserts or replaces a record.
    pub fn put<T: Serialize>(
        &mut self,
        coll: Collection,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Record {
            key: key.to_string(),
            source: e,
        })?;
        self.put_raw(coll, key, &bytes)
    }

    /// Inserts or replaces a record's bytes as they are.
    fn put_raw(&mut self, coll: Collection, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut table = self
            .txn
            .open_table(coll.table())
            .map_err(|e| self.store.err(e))?;
        table.insert(key, bytes).map_err(|e| self.store.err(e))?;
        Ok(())
    }

    /// Removes a record (no error if absent).
    pub fn delete(&mut self, coll: Collection, key: &str) -> Result<(), StoreError> {
        let mut table = self
            .txn
            .open_table(coll.table())
            .map_err(|e| self.store.err(e))?;
        table.remove(key).map_err(|e| self.store.err(e))?;
        Ok(())
    }

    /// The next value of a named counter (1, 2, ...), kept in [`Collection::Meta`].
    pub fn next_seq(&mut self, name: &str) -> Result<u64, StoreError> {
        let key = format!("seq/{name}");
        let current: u64 = {
            let table = self
                .txn
                .open_table(Collection::Meta.table())
                .map_err(|e| self.store.err(e))?;
            let v = table.get(key.as_str()).map_err(|e| self.store.err(e))?;
            match v {
                Some(v) => serde_json::from_slice(v.value()).map_err(|e| StoreError::Record {
                    key: key.clone(),
                    source: e,
                })?,
                None => 0,
            }
        };
        self.put(Collection::Meta, &key, &(current + 1))?;
        Ok(current + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_failed_transactions_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .write(|tx| {
                    tx.put(Collection::Networks, "b", &"second")?;
                    tx.put(Collection::Networks, "a", &"first")?;
                    assert_eq!(tx.next_seq("net")?, 1);
                    assert_eq!(tx.next_seq("net")?, 2);
                    Ok(())
                })
                .unwrap();
            let failed: Result<(), StoreError> = store.write(|tx| {
                tx.put(Collection::Networks, "c", &"never")?;
                tx.delete(Collection::Networks, "a")?;
                Err(StoreError::DataRoot {
                    path: "x".into(),
                    source: std::io::Error::other("abort"),
                })
            });
            assert!(failed.is_err());
        }
        let store = Store::open(dir.path()).unwrap();
        let all: Vec<(String, String)> = store.list(Collection::Networks).unwrap();
        assert_eq!(
            all,
            [
                ("a".to_string(), "first".to_string()),
                ("b".to_string(), "second".to_string())
            ]
        );
        assert_eq!(
            store.get::<String>(Collection::Networks, "c").unwrap(),
            None
        );
        assert_eq!(store.write(|tx| tx.next_seq("net")).unwrap(), 3);
        assert!(
            store
                .list::<String>(Collection::Sandboxes)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_corrupt_record_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| tx.put(Collection::Meta, "k", &"text"))
            .unwrap();
        let err = store.get::<u64>(Collection::Meta, "k").unwrap_err();
        assert!(
            err.to_string().starts_with("state store record k:"),
            "{err}"
        );
    }

    #[test]
    fn records_that_do_not_decode_are_quarantined_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| {
                tx.put(Collection::Networks, "good", &7u64)?;
                tx.put(Collection::Networks, "bad", &"not a number")
            })
            .unwrap();
        let read: Vec<(String, u64)> = store.list(Collection::Networks).unwrap();
        assert_eq!(read, [("good".to_string(), 7)]);
        let kept: Vec<(String, String)> = store.list(Collection::Quarantine).unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].0.starts_with("networks/bad/"), "{kept:?}");
        assert_eq!(kept[0].1, "not a number");
        // Moved, not copied: the next read finds only the good record.
        let again: Vec<(String, u64)> = store.list(Collection::Networks).unwrap();
        assert_eq!(again.len(), 1);
    }
}
