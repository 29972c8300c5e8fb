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

/// When the same drift keeps coming back right after each repair: counts
/// the quick returns and says how long to wait before the next check,
/// growing to [`MAX_BACKOFF`].
#[derive(Debug, Default)]
struct Backoff {
    last_repair: Option<Instant>,
    /// What the last repair found.
    last_differences: Vec<String>,
    quick_returns: u32,
    /// The wait imposed after the last repair (zero: none).
    delay: Duration,
}

impl Backoff {
    /// A repair of `differences` at `now`, with checks every `every`: how
    /// long to wait before the next check, when backing off. A return
    /// counts as quick when it comes within [`AT_ONCE`] (or three periods)
    /// of the previous repair, the wait imposed in between not counted.
    fn repaired(
        &mut self,
        now: Instant,
        every: Duration,
        differences: Vec<String>,
    ) -> Option<Duration> {
        let window = AT_ONCE.max(every * 3) + self.delay;
        let soon = self
            .last_repair
            .is_some_and(|t| now.duration_since(t) <= window);
        if soon && differences == self.last_differences {
            self.quick_returns += 1;
        } else {
            self.quick_returns = 0;
        }
        self.last_repair = Some(now);
        self.last_differences = differences;
        self.delay = if self.quick_returns >= 3 {
            let base = every.max(Duration::from_millis(500));
            (base * 2u32.saturating_pow(self.quick_returns - 2)).min(MAX_BACKOFF)
        } else {
            Duration::ZERO
        };
        (!self.delay.is_zero()).then_some(self.delay)
    }
}

/// The drift watcher's clock and memory.
pub(super) struct DriftWatch {
    every: Duration,
    next: Instant,
    /// Whether notifications are heard (the timer is then a safety net).
    listening: bool,
    backoff: Backoff,
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
            backoff: Backoff::default(),
            backing_off_until: None,
        })
    }

    /// Subscribes to the kernel's notifications when the backend's rules
    /// are announced; the timer alone otherwise (or when the subscription
    /// fails, which is logged). The first check comes at once: a change
    /// made before the subscription is not missed.
    pub(super) fn subscribe(&mut self, announced: bool) -> Option<NftablesEvents> {
        let events = if !announced {
            tracing::info!(every = ?self.every, "watching the rules for drift on a timer (the kernel does not announce iptables-legacy changes)");
            None
        } else {
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
        };
        self.next = Instant::now() + SETTLE;
        events
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
        if let Some(delay) = self.backoff.repaired(now, self.every, differences) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_drift_returning_at_once_backs_off_up_to_a_minute_and_new_drift_does_not() {
        let every = Duration::from_millis(500);
        let same = || vec!["ipv4 filter + -A FORWARD -j DOCKER-FORWARD".to_string()];
        let mut b = Backoff::default();
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..12 {
            // The fight: the drift is back as soon as the watcher looks.
            let delay = b.repaired(now, every, same());
            delays.push(delay);
            now += delay.unwrap_or(Duration::from_millis(30));
        }
        let seconds: Vec<u64> = delays
            .iter()
            .map(|d| d.map_or(0, |d| d.as_secs()))
            .collect();
        assert_eq!(seconds, [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // Other drift, or the same after a quiet while, starts over.
        assert_eq!(b.repaired(now, every, vec!["other".into()]), None);
        assert_eq!(
            b.repaired(now + Duration::from_secs(100), every, vec!["other".into()]),
            None
        );
    }
}
