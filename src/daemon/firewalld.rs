//! The daemon beside firewalld, as Docker runs beside it: when firewalld
//! runs in the daemon's namespace, every bridge of the daemon's is in the
//! `docker` zone, the zone and the `docker-forwarding` policy exist, and
//! each firewalld reload, start or stop (each deletes every iptables
//! chain) is followed by re-applying everything bridgewall owns, with
//! `DOCKER-USER`'s rules put back, and by re-making the zone's membership.
//!
//! What this must not do: plan or apply rules (the firewall interface's),
//! or talk D-Bus itself ([`crate::host::firewalld`]'s).

use std::sync::Arc;

use futures_util::StreamExt;

use crate::host::firewalld::FirewalldEvent;

use super::core::Daemon;
use super::error::DaemonError;

impl Daemon {
    /// At start, before the first apply: the zone and the policy (making
    /// one reloads firewalld, which deletes every chain: the apply comes
    /// after), and a deleted DOCKER-USER restored with its rules while
    /// firewalld is in use.
    pub(super) async fn prepare_firewalld(&self) {
        let running = self.firewalld.status().running;
        self.inner.lock().await.firewall.restore_user_rules(running);
        if let Err(e) = self.firewalld.set_up().await {
            // Logged, not fatal: the next firewalld event tries again.
            tracing::error!("setting up firewalld's docker zone and policy: {e}");
        }
    }

    /// Every bridge of the daemon's in the `docker` zone (under the lock, so
    /// that a network being removed is not put back); a failure is logged
    /// and the other bridges still join.
    pub(super) async fn rejoin_zone(&self) -> bool {
        let inner = self.inner.lock().await;
        let mut all = true;
        for net in inner.state.networks() {
            if let Err(e) = self.firewalld.join_zone(&net.bridge).await {
                tracing::error!(bridge = %net.bridge, "putting the bridge in firewalld's docker zone: {e}");
                all = false;
            }
        }
        all
    }

    /// Handles firewalld's events one at a time, in a task of their own, so
    /// that a slow firewalld holds up neither signals nor the watcher.
    pub(super) fn follow_firewalld(self: &Arc<Self>) {
        let Some(mut events) = self.firewalld.take_events() else {
            return;
        };
        let daemon = self.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(event) = events.next().await {
                n += 1;
                daemon.firewalld_event(event, n).await;
            }
            tracing::warn!(
                "the D-Bus connection closed: firewalld's reloads are no longer followed"
            );
            daemon.firewalld.stopped();
            daemon.inner.lock().await.firewall.restore_user_rules(false);
        });
    }

    /// firewalld reloaded, started or stopped: each deleted every iptables
    /// chain, so everything bridgewall owns is re-applied; after a reload or
    /// a start, DOCKER-USER gets its rules back and the bridges go back in
    /// the zone. Ends with one log line carrying the event's number, a
    /// readiness signal for tests.
    async fn firewalld_event(&self, event: FirewalldEvent, n: u64) {
        let link = &self.firewalld;
        let in_use = match event {
            // Its cleanup deleted every chain; it may well start again (a
            // restart), deleting them again: restoring stays on.
            FirewalldEvent::Stopped => {
                link.stopped();
                true
            }
            FirewalldEvent::Started => {
                // It flushes while it starts, before it answers: restoring
                // is on from the moment it takes its name, so that a repair
                // by the watcher meanwhile brings DOCKER-USER's rules back.
                self.inner.lock().await.firewall.restore_user_rules(true);
                let here = link.started().await;
                if !here {
                    self.inner.lock().await.firewall.restore_user_rules(false);
                } else if let Err(e) = link.set_up().await {
                    tracing::error!(firewalld_event = n, "firewalld started: {e}");
                }
                here
            }
            FirewalldEvent::Reloaded => link.status().running,
        };
        if !in_use {
            return;
        }
        let applied = {
            let mut inner = self.inner.lock().await;
            inner.firewall.restore_user_rules(true);
            inner.in_firewall(|fw| fw.reapply())
        };
        let joined = self.rejoin_zone().await;
        match applied {
            Ok(outcome) => {
                link.reloaded();
                tracing::info!(
                    firewalld_event = n,
                    ?event,
                    changed = outcome.changed,
                    drift = outcome.drift,
                    zone = joined,
                    "firewalld rebuilt its rules: bridgewall's re-applied"
                );
            }
            Err(e) => {
                let e = DaemonError::from(e);
                tracing::error!(
                    firewalld_event = n,
                    "after firewalld {event:?}: re-applying the firewall: {e}"
                );
            }
        }
    }
}
