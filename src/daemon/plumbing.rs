//! A sandbox's endpoints on the host: veth pairs into the networks'
//! bridges, configured inside the sandbox, and their removal.

use std::fs::File;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::host::links::{self, Links};
use crate::host::{HostError, netns};
use crate::model::state::StateBuilder;

use super::core::{Daemon, Inner, random_hex};
use super::records::SandboxRecord;

impl Daemon {
    /// The veth pairs of a sandbox's endpoints, configured inside it, with
    /// default routes through its gateway endpoints.
    pub(super) async fn plumb(
        &self,
        inner: &Inner,
        next: &StateBuilder,
        rec: &SandboxRecord,
    ) -> Result<(), HostError> {
        let (gw4, gw6) = next.gateways(&rec.id);
        let ns_file = File::open(&rec.netns)
            .map_err(|e| HostError::new("open netns", rec.netns.display().to_string(), e))?;
        for ep in &rec.endpoints {
            let Some(net) = next.network(&ep.endpoint.network) else {
                continue;
            };
            let peer = format!(
                "vbw{}",
                &random_hex(4).map_err(|e| HostError::new(
                    "name veth",
                    "",
                    std::io::Error::other(e.to_string())
                ))?[..7]
            );
            let mtu = net.options.mtu.or(self.config().mtu);
            inner.links.create_veth(&ep.host_if, &peer, mtu).await?;
            inner.links.set_master(&ep.host_if, &net.bridge).await?;
            if !self.config().userland_proxy {
                inner.links.set_hairpin(&ep.host_if, true).await?;
            }
            inner.links.set_up(&ep.host_if).await?;
            inner.links.move_to_netns(&peer, &ns_file).await?;
            let mut addrs = Vec::new();
            if let (Some(a), Some(sub)) = (ep.endpoint.v4, &net.v4) {
                addrs.push(
                    IpNet::new(IpAddr::V4(a), sub.subnet.prefix_len()).expect("prefix of a subnet"),
                );
            }
            if let (Some(a), Some(sub)) = (ep.endpoint.v6, &net.v6) {
                addrs.push(
                    IpNet::new(IpAddr::V6(a), sub.subnet.prefix_len()).expect("prefix of a subnet"),
                );
            }
            let gateway4 = (gw4.as_deref() == Some(net.name.as_str()))
                .then(|| net.v4.as_ref().and_then(|s| s.gateway))
                .flatten()
                .and_then(|g| match g {
                    IpAddr::V4(g) => Some(g),
                    IpAddr::V6(_) => None,
                });
            let gateway6 = (gw6.as_deref() == Some(net.name.as_str()))
                .then(|| net.v6.as_ref().and_then(|s| s.gateway))
                .flatten()
                .and_then(|g| match g {
                    IpAddr::V6(g) => Some(g),
                    IpAddr::V4(_) => None,
                });
            links::configure_sandbox_interface(
                &rec.netns,
                &peer,
                &ep.if_name,
                &addrs,
                (gateway4, gateway6),
                ep.mac,
            )
            .await?;
        }
        Ok(())
    }
}

/// Removes what a sandbox that did not survive a daemon stop may have left:
/// host veths and the namespace bridgewall made (its rules are simply not
/// planned any more).
pub(super) async fn remove_leftovers(links: &Links, rec: &SandboxRecord) {
    for ep in &rec.endpoints {
        if let Err(e) = links.delete_link(&ep.host_if).await {
            tracing::warn!("{e}");
        }
    }
    if rec.owns_netns
        && let Err(e) = netns::delete_netns(&rec.netns)
    {
        tracing::warn!("{e}");
    }
}
