//! The firewall layer, backend-neutral: the desired state's types, the
//! interface that owns every transaction ([`Firewall`]), what a backend must
//! do ([`FirewallBackend`]), the journal it records ownership in, and a
//! recording stub backend for tests.
//!
//! API boundary: nothing here knows a rule syntax, a kernel interface,
//! daemon.json or HTTP. Backends live in [`crate::backend`].

pub mod backend;
pub mod change;
pub mod error;
pub mod interface;
pub mod journal;
pub mod names;
pub mod stub;
pub mod types;

pub use backend::{
    ApplyOutcome, BackendError, FirewallBackend, RenderedRules, RulesCheck, Transaction,
};
pub use change::Change;
pub use error::FirewallError;
pub use interface::Firewall;
pub use journal::{FirewallJournal, JournalEntry, JournalError, JournalPhase, MemoryJournal};
pub use names::{IfName, InterfaceNameError, MAX_INTERFACE_NAME_LEN};
pub use stub::{Recorded, Recording, RecordingBackend};
pub use types::*;
