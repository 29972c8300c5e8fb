//! Self-healing: a periodic check of the kernel's rules against the plan
//! (through the firewall interface), repairing what something else changed,
//! and backing off, saying so, when the same drift comes back at once.

use std::time::Duration;

use tokio::time::Instant;

use super::core::Daemon;

/// The longest wait between checks while backing off.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The drift watcher's clock and memory.
pub(super) struct DriftWatch {
    every: Duration,
    next: Instant,
    last_repair: Option<Instant>,
    quick_returns: u32,
}

impl DriftWatch {
    /// A watcher checking `every` so often; `None` or zero: switched off.
    pub(super) fn new(every: Option<Duration>) -> Option<DriftWatch> {
        let every = every.filter(|d| !d.is_zero())?;
        Some(DriftWatch {
            every,
            next: Instant::now() + every,
            last_repair: None,
            quick_returns: 0,
        })
    }

    /// When the next check is due.
    pub(super) fn next(&self) -> Instant {
        self.next
    }

    /// One check, and a repair when the kernel drifted.
    pub(super) async fn check(&mut self, daemon: &Daemon) {
        let now = Instant::now();
        self.next = now + self.every;
        let differences = match daemon.repair_drift().await {
            Ok(Some(d)) => d,
            Ok(None) => {
                self.quick_returns = 0;
                return;
            }
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
        if self
            .last_repair
            .is_some_and(|t| now.duration_since(t) <= self.every * 3)
        {
            self.quick_returns += 1;
        } else {
            self.quick_returns = 0;
        }
        self.last_repair = Some(now);
        if self.quick_returns >= 3 {
            let delay = (self.every * 2u32.saturating_pow(self.quick_returns - 2)).min(MAX_BACKOFF);
            tracing::warn!(
                ?delay,
                "the same drift returns at once: checking less often (does another program rewrite these rules?)"
            );
            self.next = now + delay;
        }
    }
}
