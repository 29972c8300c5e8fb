//! Self-healing: the kernel's rules are checked against the plan (through
//! the firewall interface) when the kernel announces a change (nf_tables
//! notifications, under iptables-nft) and on a timer (the only way under
//! iptables-legacy, a safety net otherwise); what something else changed
//! is repaired, and when the same drift comes back at once the watcher
//! backs off and says so rather than fight in a loop.

use std::time::Duration;

use tokio::time::Instant;

use crate::host::nf_events::NftablesEvents;

use super::core::Daemon;

/// The longest wait between checks while backing off.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// With notifications, the timer is only a safety net.
const SAFETY_NET: Duration = Duration::from_secs(30);
/// A burst of notifications (one `iptables-restore`, an `nft -f`) settles
/// for this long before the check.
const SETTLE: Duration = Duration::from_millis(20);
/// Drift back within this long of a repair "returns at once".
const AT_ONCE: Duration = Duration::from_secs(2);

/// The drift watcher's clock and memory.
pub(super) struct DriftWatch {
    every: Duration,
    next: Instant,
    /// Whether notifications are heard (the timer is then a safety net).
    listening: bool,
    last_repair: Option<Instant>,
    /// What the last repair found.
    last_differences: Vec<String>,
    quick_returns: u32,
    /// Until when notifications are ignored, backing off.
    backing_off_until: Option<Instant>,
}

impl DriftWatch {
    /// A watcher checking `every` so often; `None` or zero: switched off.
    pub(super) fn new(every: Option<Duration>) -> Option<DriftWatch> {
        let every = every.filter(|d| !d.is_zero())?;
        Some(DriftWatch {
            every,
            next: Instant::now() + every,
            listening: false,
            last_repair: None,
            last_differences: Vec::new(),
            quick_returns: 0,
            backing_off_until: None,
        })
    }

    /// Subscribes to the kernel's notifications when the backend's rules
    /// are announced; the timer alone otherwise (or when the subscription
    /// fails, which is logged).
    pub(super) fn subscribe(&mut self, announced: bool) -> Option<NftablesEvents> {
        if !announced {
            tracing::info!(every = ?self.every, "watching the rules for drift on a timer (the kernel does not announce iptables-legacy changes)");
            return None;
        }
        match NftablesEvents::subscribe() {
            Ok(events) => {
                self.listen(true);
                tracing::info!("watching the rules for drift through nf_tables notifications");
                Some(events)
            }
            Err(e) => {
                tracing::warn!(every = ?self.every, "cannot hear nf_tables notifications, checking on a timer: {e}");
                None
            }
        }
    }

    /// Notifications are heard, or no longer.
    pub(super) fn listen(&mut self, on: bool) {
        self.listening = on;
        self.next = Instant::now() + self.period();
    }

    fn period(&self) -> Duration {
        if self.listening {
            SAFETY_NET.max(self.every)
        } else {
            self.every
        }
    }

    /// When the next check is due.
    pub(super) fn next(&self) -> Instant {
        self.next
    }

    /// The kernel announced a change: a check soon, unless backing off.
    pub(super) fn heard(&mut self) {
        let now = Instant::now();
        if self.backing_off_until.is_some_and(|t| now < t) {
            return;
        }
        self.next = self.next.min(now + SETTLE);
    }

    /// One check, and a repair when the kernel drifted.
    pub(super) async fn check(&mut self, daemon: &Daemon) {
        let now = Instant::now();
        self.next = now + self.period();
        self.backing_off_until = None;
        let differences = match daemon.repair_drift().await {
            Ok(Some(d)) => d,
            // In sync (after a repair, its own notifications bring a check
            // here): the count of quick returns is the repairs' business.
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("checking the firewall for drift: {e}");
                return;
            }
        };
        let shown: Vec<&str> = differences.iter().take(5).map(String::as_str).collect();
        tracing::warn!(
            differences = differences.len(),
            first = %shown.join("; "),
            "rules bridgewall owns were changed by something else: repaired"
        );
        // The same drift back right after a repair: someone is fighting
        // the rules; check less often rather than fight in a loop.
        let soon = self
            .last_repair
            .is_some_and(|t| now.duration_since(t) <= AT_ONCE.max(self.every * 3));
        if soon && differences == self.last_differences {
            self.quick_returns += 1;
        } else {
            self.quick_returns = 0;
        }
        self.last_repair = Some(now);
        self.last_differences = differences;
        if self.quick_returns >= 3 {
            let base = self.every.max(Duration::from_millis(500));
            let delay = (base * 2u32.saturating_pow(self.quick_returns - 2)).min(MAX_BACKOFF);
            tracing::warn!(
                ?delay,
                "the same drift returns at once: checking less often (does another program rewrite these rules?)"
            );
            self.next = now + delay;
            self.backing_off_until = Some(self.next);
        }
    }
}

impl Daemon {
    /// Whether the kernel announces changes to the firewall backend's rules.
    pub(super) async fn rules_announced(&self) -> bool {
        self.inner.lock().await.firewall.announces_changes()
    }
}
