//! The daemon beside firewalld, as Docker runs beside it: when firewalld
//! owns its bus name, every bridge of the daemon's is in the `docker` zone,
//! the zone and the `docker-forwarding` policy exist, and each firewalld
//! reload or restart is followed by re-applying everything bridgewall owns
//! and re-making the zone's membership.
//!
//! What this must not do: plan or apply rules (the firewall interface's),
//! or talk D-Bus itself ([`crate::host::firewalld`]'s).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use crate::host::firewalld::{Firewalld, FirewalldError, FirewalldEvent};

use super::core::Daemon;
use super::error::DaemonError;

/// The daemon's link to firewalld: the bus connection (kept while firewalld
/// is stopped, to see it start), whether it runs, and its last reload.
pub(super) struct FirewalldLink {
    client: Option<Firewalld>,
    running: AtomicBool,
    reloaded_at: Mutex<Option<SystemTime>>,
    version: Mutex<Option<String>>,
}

/// What `info` says about firewalld.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewalldStatus {
    /// firewalld owns its bus name and answers.
    pub running: bool,
    /// Its version, when it said.
    pub version: Option<String>,
    /// When the daemon last finished re-applying after a firewalld reload
    /// or restart.
    pub reloaded_at: Option<SystemTime>,
}

impl FirewalldLink {
    /// Connects to the system bus when the daemon programs a firewall
    /// (Docker leaves firewalld alone with `"iptables": false`).
    pub(super) async fn connect(filtering: bool) -> FirewalldLink {
        let client = if filtering {
            Firewalld::connect().await
        } else {
            None
        };
        let running = match &client {
            Some(c) => c.running().await,
            None => false,
        };
        let version = match (&client, running) {
            (Some(c), true) => c.version().await,
            _ => None,
        };
        if running {
            tracing::info!(
                version = version.as_deref().unwrap_or("?"),
                "firewalld is running: using its docker zone"
            );
        }
        FirewalldLink {
            client,
            running: AtomicBool::new(running),
            reloaded_at: Mutex::new(None),
            version: Mutex::new(version),
        }
    }

    /// The client, while firewalld runs.
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

    /// firewalld's events, when there is a bus to hear them on.
    pub(super) async fn events(
        &self,
    ) -> Option<impl futures_util::Stream<Item = FirewalldEvent> + Send + 'static + use<>> {
        let client = self.client.as_ref()?;
        match client.events().await {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::warn!("cannot follow firewalld's reloads: {e}");
                None
            }
        }
    }

    /// Puts `bridge` in the `docker` zone while firewalld runs.
    pub(super) async fn join_zone(&self, bridge: &str) -> Result<(), FirewalldError> {
        match self.active() {
            Some(c) => c.add_interface(bridge).await,
            None => Ok(()),
        }
    }

    /// Takes `bridge` out of the `docker` zone while firewalld runs; a
    /// failure is logged (the bridge is going anyway).
    pub(super) async fn leave_zone(&self, bridge: &str) {
        if let Some(c) = self.active()
            && let Err(e) = c.remove_interface(bridge).await
        {
            tracing::warn!(%bridge, "{e}");
        }
    }

    /// The zone and the policy, made when missing.
    async fn set_up(&self) -> Result<(), FirewalldError> {
        match self.active() {
            Some(c) => c.set_up_zone_and_policy().await.map(|_| ()),
            None => Ok(()),
        }
    }
}

impl Daemon {
    /// At start, with firewalld running: the zone and policy, and every
    /// bridge in the zone.
    pub(super) async fn join_firewalld(&self) -> Result<(), DaemonError> {
        if !self.firewalld.status().running {
            return Ok(());
        }
        self.firewalld.set_up().await?;
        self.rejoin_zone().await
    }

    /// Every bridge of the daemon's in the `docker` zone.
    async fn rejoin_zone(&self) -> Result<(), DaemonError> {
        let bridges: Vec<String> = {
            let inner = self.inner.lock().await;
            inner
                .state
                .networks()
                .map(|n| n.bridge.to_string())
                .collect()
        };
        for bridge in bridges {
            self.firewalld.join_zone(&bridge).await?;
        }
        Ok(())
    }

    /// firewalld reloaded, started or stopped. After a reload or a start
    /// its rules are new and bridgewall's may be gone: everything
    /// bridgewall owns is re-applied (DOCKER-USER restored if it was
    /// deleted) and the zone's membership re-made. Ends with one log line
    /// carrying the event's number, a readiness signal for tests.
    pub(super) async fn firewalld_event(&self, event: FirewalldEvent, n: u64) {
        let link = &self.firewalld;
        match event {
            FirewalldEvent::Stopped => {
                link.running.store(false, Ordering::SeqCst);
                tracing::warn!(firewalld_event = n, "firewalld stopped");
                return;
            }
            FirewalldEvent::Started => {
                let running = match &link.client {
                    Some(c) => c.running().await,
                    None => false,
                };
                link.running.store(running, Ordering::SeqCst);
                if !running {
                    return;
                }
                if let Some(c) = &link.client {
                    *link.version.lock().expect("not poisoned") = c.version().await;
                }
                if let Err(e) = link.set_up().await {
                    tracing::error!(firewalld_event = n, "firewalld started: {e}");
                }
            }
            FirewalldEvent::Reloaded => {}
        }
        if !link.status().running {
            return;
        }
        let applied = self.reapply().await;
        let joined = self.rejoin_zone().await;
        *link.reloaded_at.lock().expect("not poisoned") = Some(SystemTime::now());
        match (applied, joined) {
            (Ok(outcome), Ok(())) => tracing::info!(
                firewalld_event = n,
                ?event,
                changed = outcome.changed,
                drift = outcome.drift,
                "firewalld rebuilt its rules: bridgewall's re-applied, bridges back in the docker zone"
            ),
            (Err(e), _) => {
                tracing::error!(
                    firewalld_event = n,
                    "after firewalld {event:?}: re-applying the firewall: {e}"
                )
            }
            (_, Err(e)) => {
                tracing::error!(
                    firewalld_event = n,
                    "after firewalld {event:?}: the docker zone: {e}"
                )
            }
        }
    }
}
