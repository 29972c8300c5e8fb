//! The store hook of the firewall interface: where it records, around each
//! transaction, what the backend owns (intent before, outcome after), and
//! where it finds that record again at the next start.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Whether a record was written before or after its apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JournalPhase {
    /// Before the apply: the backend may own what it owned and what the
    /// transaction plans.
    Intent,
    /// After the apply (successful or not): what the backend owns.
    Outcome,
}

/// One record of the journal: the last word on what a backend owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The backend that wrote it.
    pub backend: String,
    /// Before or after the apply.
    pub phase: JournalPhase,
    /// The backend's own ownership record.
    pub ownership: serde_json::Value,
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JournalError(pub Box<dyn std::error::Error + Send + Sync>);

/// Where the interface keeps its [`JournalEntry`]: the daemon's store, a
/// file per namespace for `bridgewall apply`, memory in tests.
pub trait FirewallJournal: Send + Sync {
    /// The last entry written, if any.
    fn load(&self) -> Result<Option<JournalEntry>, JournalError>;
    /// Replaces the entry.
    fn save(&mut self, entry: &JournalEntry) -> Result<(), JournalError>;
}

/// A journal in memory, shared by its clones (so a test can look at what the
/// interface wrote).
#[derive(Debug, Clone, Default)]
pub struct MemoryJournal {
    entries: Arc<Mutex<Vec<JournalEntry>>>,
}

impl MemoryJournal {
    /// Every entry written, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.entries.lock().expect("journal lock").clone()
    }
}

impl FirewallJournal for MemoryJournal {
    fn load(&self) -> Result<Option<JournalEntry>, JournalError> {
        Ok(self.entries.lock().expect("journal lock").last().cloned())
    }

    fn save(&mut self, entry: &JournalEntry) -> Result<(), JournalError> {
        self.entries
            .lock()
            .expect("journal lock")
            .push(entry.clone());
        Ok(())
    }
}
