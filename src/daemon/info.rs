//! What `info` says: the sandboxes' counts, the firewall backend, and the
//! daemon's neighbours on the host's firewall (firewalld, ufw), with the
//! warnings a user should see (published ports bypass an active ufw, as
//! the seed page explains).

use crate::api::info::{BridgewallInfo, FirewallInfo, FirewalldInfo, SystemInfo, UfwInfo};
use crate::firewall::Family;

use super::core::{Daemon, Inner};
use super::records::SandboxPhase;

/// A chain only ufw makes, per family (bridgewall makes `ufw-user-forward`
/// itself with `bridgewall-ufw-routes`).
fn ufw_chain(family: Family) -> &'static str {
    match family {
        Family::V4 => "ufw-user-input",
        Family::V6 => "ufw6-user-input",
    }
}

/// A file of `/proc`, trimmed, or empty.
fn proc_text(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_string())
        .unwrap_or_default()
}

/// What to tell the user about ufw, if anything.
fn ufw_warning(active: bool, routes: bool) -> Option<String> {
    match (active, routes) {
        (true, false) => Some(
            "ufw is active in this namespace: ports published by bridgewall bypass ufw's rules, as with Docker (set \"bridgewall-ufw-routes\": true in daemon.json to make them obey `ufw route` rules)".into(),
        ),
        (false, true) => Some(
            "\"bridgewall-ufw-routes\" is on but ufw is not active: new connections to published ports are refused until `ufw route allow` rules admit them".into(),
        ),
        _ => None,
    }
}

impl Daemon {
    /// Whether ufw's chains are in the daemon's namespace.
    fn ufw_active(&self, inner: &mut Inner) -> bool {
        let family = if self.config.iptables {
            Family::V4
        } else {
            Family::V6
        };
        inner
            .in_firewall(|fw| Ok(fw.has_chain(family, "filter", ufw_chain(family))))
            .unwrap_or(false)
    }

    /// At start: says whether published ports bypass an active ufw.
    pub(super) async fn log_ufw(&self) {
        let mut inner = self.inner.lock().await;
        let active = self.ufw_active(&mut inner);
        if let Some(warning) = ufw_warning(active, self.config.ufw_routes) {
            tracing::warn!("{warning}");
        } else if active {
            tracing::info!(
                "ufw is active: published ports obey its route rules (bridgewall-ufw-routes)"
            );
        }
    }

    /// `GET /info`'s daemon part.
    pub(super) async fn system_info(&self) -> SystemInfo {
        let mut inner = self.inner.lock().await;
        let running = inner
            .sandboxes
            .iter()
            .filter(|s| s.phase == SandboxPhase::Running)
            .count();
        let ufw_active = self.ufw_active(&mut inner);
        let firewall = inner.firewall.backend_description();
        let backend = inner.firewall.backend_name();
        let containers = inner.sandboxes.len();
        drop(inner);
        let firewalld = self.firewalld.status();
        let reloaded_at = firewalld
            .reloaded_at
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut warnings = Vec::new();
        warnings.extend(ufw_warning(ufw_active, self.config.ufw_routes));
        let filtering = self.config.iptables || self.config.ip6tables;
        SystemInfo {
            containers,
            containers_running: running,
            containers_paused: 0,
            containers_stopped: containers - running,
            docker_root_dir: self.paths.data_root.display().to_string(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            kernel_version: proc_text("/proc/sys/kernel/osrelease"),
            name: proc_text("/proc/sys/kernel/hostname"),
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            warnings,
            // Docker 28: no driver with `"iptables": false`, `+firewalld`
            // while firewalld is in use, and its last reload.
            firewall_backend: FirewallInfo {
                driver: match (filtering, firewalld.running) {
                    (false, _) => String::new(),
                    (true, false) => backend.to_string(),
                    (true, true) => format!("{backend}+firewalld"),
                },
                info: if reloaded_at.is_empty() {
                    Vec::new()
                } else {
                    vec![["ReloadedAt".to_string(), reloaded_at.clone()]]
                },
            },
            bridgewall: BridgewallInfo {
                firewall,
                firewalld: FirewalldInfo {
                    running: firewalld.running,
                    version: firewalld.version.unwrap_or_default(),
                    reloaded_at,
                },
                ufw: UfwInfo {
                    active: ufw_active,
                    routes: self.config.ufw_routes,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ufw_warnings_say_what_happens_to_published_ports() {
        assert!(ufw_warning(true, false).unwrap().contains("bypass ufw"));
        assert!(ufw_warning(false, true).unwrap().contains("refused"));
        assert_eq!(ufw_warning(true, true), None);
        assert_eq!(ufw_warning(false, false), None);
    }
}
