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

/// What a burst of events amounts to: the last change of owner if any
/// (a restart is a stop then a start), else a reload.
fn collapse(burst: &[FirewalldEvent]) -> FirewalldEvent {
    burst
        .iter()
        .rev()
        .find(|e| **e != FirewalldEvent::Reloaded)
        .copied()
        .unwrap_or(FirewalldEvent::Reloaded)
}

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

    /// Every bridge of the daemon's in the `docker` zone. The D-Bus calls
    /// are made outside the daemon's lock (each may take seconds); a bridge
    /// whose network went meanwhile is taken out again. A failure is logged
    /// and the other bridges still join.
    pub(super) async fn rejoin_zone(&self) -> bool {
        let bridges: Vec<String> = {
            let inner = self.inner.lock().await;
            inner
                .state
                .networks()
                .map(|n| n.bridge.to_string())
                .collect()
        };
        let mut all = true;
        for bridge in &bridges {
            if let Err(e) = self.firewalld.join_zone(bridge).await {
                tracing::error!(%bridge, "putting the bridge in firewalld's docker zone: {e}");
                all = false;
            }
        }
        let gone: Vec<String> = {
            let inner = self.inner.lock().await;
            bridges
                .into_iter()
                .filter(|b| !inner.state.networks().any(|n| n.bridge.as_str() == b))
                .collect()
        };
        for bridge in gone {
            self.firewalld.leave_zone(&bridge).await;
        }
        all
    }

    /// Follows firewalld's events: one task reads them as they come (the
    /// bus must never wait on us), another handles them one burst at a
    /// time, so that a slow firewalld holds up neither signals nor the
    /// watcher, and ten reloads in a row cost one re-apply.
    pub(super) fn follow_firewalld(self: &Arc<Self>) {
        let Some(mut events) = self.firewalld.take_events() else {
            return;
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        let daemon = self.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(first) = rx.recv().await {
                let mut burst = vec![first];
                while let Ok(more) = rx.try_recv() {
                    burst.push(more);
                }
                n += 1;
                daemon.firewalld_event(collapse(&burst), n).await;
            }
            tracing::warn!(
                "the D-Bus connection closed: firewalld's reloads are no longer followed"
            );
            daemon.firewalld.stopped();
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
            // Its cleanup deleted every chain (if it was ours to use).
            FirewalldEvent::Stopped => {
                let was = link.status().running;
                link.stopped();
                was
            }
            // A start, or a reload of a firewalld not yet in use (one that
            // was still starting when the daemon asked): is it ours now?
            FirewalldEvent::Started | FirewalldEvent::Reloaded
                if event == FirewalldEvent::Started || !link.status().running =>
            {
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
            FirewalldEvent::Started | FirewalldEvent::Reloaded => true,
        };
        if !in_use {
            return;
        }
        let applied = {
            let mut inner = self.inner.lock().await;
            inner.firewall.restore_user_rules(true);
            let applied = inner.in_firewall(|fw| fw.reapply());
            // Stopped: no firewalld to delete DOCKER-USER any more until one
            // starts (which turns restoring on again first).
            if event == FirewalldEvent::Stopped {
                inner.firewall.restore_user_rules(false);
            }
            applied
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

#[cfg(test)]
mod tests {
    use super::*;
    use FirewalldEvent::*;

    #[test]
    fn a_burst_of_events_is_its_last_change_of_owner_or_a_reload() {
        assert_eq!(collapse(&[Reloaded, Reloaded, Reloaded]), Reloaded);
        assert_eq!(collapse(&[Stopped, Started, Reloaded]), Started);
        assert_eq!(collapse(&[Reloaded, Stopped]), Stopped);
    }
}
