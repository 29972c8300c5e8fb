//! `bridgewall info`: the running daemon's firewall backend, firewalld and
//! ufw, and its warnings.

use crate::api::client::Client;
use crate::api::info::SystemInfo;

/// Prints what `GET /info` says.
pub async fn run(client: &Client) -> Result<(), String> {
    let info: SystemInfo = client.get("/info").await.map_err(|e| e.to_string())?;
    print!("{}", render(&info));
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The report, one `Name: value` per line, as `docker info` prints.
fn render(info: &SystemInfo) -> String {
    let b = &info.bridgewall;
    let mut out = format!(
        "Server Version: {}\nContainers: {}\n Running: {}\n Stopped: {}\nFirewall Backend: {}\n Rules: {}\n",
        info.server_version,
        info.containers,
        info.containers_running,
        info.containers_stopped,
        if info.firewall_backend.driver.is_empty() {
            "none (\"iptables\": false)"
        } else {
            &info.firewall_backend.driver
        },
        b.firewall,
    );
    out.push_str(&format!("firewalld: {}\n", yes_no(b.firewalld.running)));
    if !b.firewalld.version.is_empty() {
        out.push_str(&format!(" Version: {}\n", b.firewalld.version));
    }
    if !b.firewalld.reloaded_at.is_empty() {
        out.push_str(&format!(" Reloaded At: {}\n", b.firewalld.reloaded_at));
    }
    out.push_str(&format!(
        "ufw: {}\n Published ports obey ufw route rules: {}\n",
        if b.ufw.active { "active" } else { "not active" },
        yes_no(b.ufw.routes)
    ));
    out.push_str(&format!("Docker Root Dir: {}\n", info.docker_root_dir));
    for w in &info.warnings {
        out.push_str(&format!("WARNING: {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::info::{FirewallInfo, UfwInfo};

    #[test]
    fn the_report_names_backend_firewalld_ufw_and_warnings() {
        let mut info = SystemInfo {
            server_version: "0.1.0".into(),
            firewall_backend: FirewallInfo {
                driver: "iptables+firewalld".into(),
                info: vec![],
            },
            warnings: vec!["ufw is active".into()],
            ..SystemInfo::default()
        };
        info.bridgewall.firewall = "iptables (nf_tables)".into();
        info.bridgewall.firewalld.running = true;
        info.bridgewall.firewalld.reloaded_at = "2026-12-01T17:00:00Z".into();
        info.bridgewall.ufw = UfwInfo {
            active: true,
            routes: false,
        };
        let text = render(&info);
        assert!(
            text.contains("Firewall Backend: iptables+firewalld\n Rules: iptables (nf_tables)\n"),
            "{text}"
        );
        assert!(
            text.contains("firewalld: yes\n Reloaded At: 2026-12-01T17:00:00Z\n"),
            "{text}"
        );
        assert!(
            text.contains("ufw: active\n Published ports obey ufw route rules: no\n"),
            "{text}"
        );
        assert!(text.ends_with("WARNING: ufw is active\n"), "{text}");
    }
}
