//! The daemon's link to firewalld: the bus connection, whether firewalld
//! runs in the daemon's namespace, its version and last reload, and the
//! zone calls the daemon makes (no-ops while firewalld is not in use).
//!
//! What this must not do: plan or apply rules, or know the daemon's state
//! ([`super::firewalld`] decides what to do on firewalld's events).

use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::Stream;

use crate::host::firewalld::{Firewalld, FirewalldError, FirewalldEvent, Presence};

/// firewalld's events, as the daemon's event loop takes them.
pub(super) type FirewalldEvents = Pin<Box<dyn Stream<Item = FirewalldEvent> + Send>>;

/// How long a firewalld that took its bus name may take to finish starting.
const START_WAIT: Duration = Duration::from_secs(30);

/// The daemon's link to firewalld: the bus connection (kept while firewalld
/// is stopped, to see it start), whether it is in use, and its last reload.
pub(super) struct FirewalldLink {
    client: Option<Firewalld>,
    running: AtomicBool,
    reloaded_at: Mutex<Option<SystemTime>>,
    version: Mutex<Option<String>>,
    /// Subscribed at connection, so that no event is missed before the
    /// event loop takes them.
    events: Mutex<Option<FirewalldEvents>>,
}

/// What `info` says about firewalld.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewalldStatus {
    /// firewalld runs in the daemon's namespace and is in use.
    pub running: bool,
    /// Its version, when it said.
    pub version: Option<String>,
    /// When the daemon last re-applied everything after a firewalld reload,
    /// start or stop.
    pub reloaded_at: Option<SystemTime>,
}

impl FirewalldLink {
    /// Connects to the system bus when the daemon programs a firewall
    /// (Docker leaves firewalld alone with `"iptables": false`), and
    /// subscribes to firewalld's events.
    pub(super) async fn connect(filtering: bool) -> FirewalldLink {
        let client = if filtering {
            Firewalld::connect().await
        } else {
            None
        };
        let mut events = None;
        if let Some(c) = &client {
            match c.events().await {
                Ok(stream) => events = Some(Box::pin(stream) as FirewalldEvents),
                Err(e) => tracing::warn!("cannot follow firewalld's reloads: {e}"),
            }
        }
        let link = FirewalldLink {
            client,
            running: AtomicBool::new(false),
            reloaded_at: Mutex::new(None),
            version: Mutex::new(None),
            events: Mutex::new(events),
        };
        if link.check_presence().await == Presence::Here {
            let version = link.status().version;
            tracing::info!(
                version = version.as_deref().unwrap_or("?"),
                "firewalld is running: using its docker zone"
            );
        }
        link
    }

    /// Asks whether firewalld is there and in the daemon's namespace, and
    /// notes whether it is in use and its version.
    async fn check_presence(&self) -> Presence {
        let Some(c) = &self.client else {
            return Presence::Absent;
        };
        let presence = c.presence().await;
        if presence == Presence::Elsewhere {
            tracing::info!("firewalld runs in another network namespace: not used");
        }
        let here = presence == Presence::Here;
        self.running.store(here, Ordering::SeqCst);
        if here {
            *self.version.lock().expect("not poisoned") = c.version().await;
        }
        presence
    }

    /// The client, while firewalld is in use.
    fn active(&self) -> Option<&Firewalld> {
        self.client
            .as_ref()
            .filter(|_| self.running.load(Ordering::SeqCst))
    }

    /// Whether firewalld is in use, its version and last reload.
    pub(super) fn status(&self) -> FirewalldStatus {
        FirewalldStatus {
            running: self.running.load(Ordering::SeqCst),
            version: self.version.lock().expect("not poisoned").clone(),
            reloaded_at: *self.reloaded_at.lock().expect("not poisoned"),
        }
    }

    /// firewalld's events, for the event loop (once).
    pub(super) fn take_events(&self) -> Option<FirewalldEvents> {
        self.events.lock().expect("not poisoned").take()
    }

    /// Puts `bridge` in the `docker` zone while firewalld is in use.
    pub(super) async fn join_zone(&self, bridge: &str) -> Result<(), FirewalldError> {
        match self.active() {
            Some(c) => c.add_interface(bridge).await,
            None => Ok(()),
        }
    }

    /// Takes `bridge` out of the `docker` zone while firewalld is in use; a
    /// failure is logged (the bridge is going anyway).
    pub(super) async fn leave_zone(&self, bridge: &str) {
        if let Some(c) = self.active()
            && let Err(e) = c.remove_interface(bridge).await
        {
            tracing::warn!(%bridge, "{e}");
        }
    }

    /// The zone and the policy, made when missing (firewalld reloads when
    /// it made one).
    pub(super) async fn set_up(&self) -> Result<(), FirewalldError> {
        match self.active() {
            Some(c) => c.set_up_zone_and_policy().await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// firewalld left the bus (or the bus closed).
    pub(super) fn stopped(&self) {
        self.running.store(false, Ordering::SeqCst);
    }

    /// A firewalld took the bus name: whether it is in use once its start
    /// is done (it answers calls only then), asked for up to 30 s.
    pub(super) async fn started(&self) -> bool {
        let deadline = tokio::time::Instant::now() + START_WAIT;
        loop {
            match self.check_presence().await {
                Presence::Here => return true,
                Presence::Elsewhere => return false,
                Presence::Absent => {}
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("a firewalld took its bus name but never answered");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// bridgewall finished re-applying after a firewalld event.
    pub(super) fn reloaded(&self) {
        *self.reloaded_at.lock().expect("not poisoned") = Some(SystemTime::now());
    }
}
