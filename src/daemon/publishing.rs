//! Publishing a sandbox: its endpoints and port bindings handed to the
//! firewall as one transaction, then its reserved host sockets listening or
//! handed to userland proxies; and withdrawing them again.

use crate::firewall::{PortBinding, Protocol};
use crate::model::state::StateBuilder;

use super::core::{Daemon, Inner};
use super::error::{DaemonError, internal};

use super::records::SandboxRecord;

impl Daemon {
    /// The firewall rules for a sandbox's endpoints and bindings (one
    /// transaction for them all), then its host sockets.
    pub(super) fn publish(
        &self,
        inner: &mut Inner,
        next: &StateBuilder,
        rec: &SandboxRecord,
    ) -> Result<(), DaemonError> {
        let endpoints = rec.firewall_endpoints(next);
        inner
            .in_firewall(|fw| fw.add_endpoints(endpoints))
            .map_err(internal)?;
        match self.start_listening(inner, rec).into_iter().next() {
            Some((_, e)) => Err(internal(e)),
            None => Ok(()),
        }
    }

    /// Makes a running sandbox's reserved host sockets listen, or hands
    /// them to userland proxies.
    ///
    /// Each binding on its own: one that cannot be served does not keep the
    /// others from being served. Returns the bindings that failed, and why.
    pub(super) fn start_listening(
        &self,
        inner: &mut Inner,
        rec: &SandboxRecord,
    ) -> Vec<(PortBinding, String)> {
        let mut handles = Vec::new();
        let mut failed = Vec::new();
        for b in rec.bindings().into_iter().filter(|b| b.host_port != 0) {
            let what = format!("{}:{}/{}", b.host_ip, b.host_port, b.proto);
            if self.config().userland_proxy && b.proto != Protocol::Sctp {
                let Some(socket) = inner.ports.take_socket(b.proto, b.host_ip, b.host_port) else {
                    failed.push((b, format!("{what}: no reserved socket")));
                    continue;
                };
                match inner.proxy.start(b, socket) {
                    Ok(h) => handles.push(h),
                    Err(e) => failed.push((b, format!("{what}: {e}"))),
                }
            } else if let Err(e) = inner.ports.listen(b.proto, b.host_ip, b.host_port, false) {
                failed.push((b, format!("{what}: {e}")));
            }
        }
        inner.proxies.insert(rec.id.clone(), handles);
        failed
    }
}

/// Stops the userland proxies of `sandbox` that serve one of `bindings`.
pub(super) async fn stop_proxies(inner: &mut Inner, sandbox: &str, bindings: &[PortBinding]) {
    if let Some(handles) = inner.proxies.get_mut(sandbox) {
        let (stop, keep): (Vec<_>, Vec<_>) = std::mem::take(handles)
            .into_iter()
            .partition(|h| bindings.contains(h.binding()));
        *handles = keep;
        for h in stop {
            h.stop().await;
        }
    }
}

/// Withdraws a sandbox's endpoints from the firewall (those it knows: an
/// interrupted start may have added none) in one transaction; best effort.
pub(super) fn unpublish(inner: &mut Inner, rec: &SandboxRecord) {
    let ids: Vec<String> = rec
        .endpoints
        .iter()
        .filter(|ep| inner.firewall.has_endpoint(&ep.id))
        .map(|ep| ep.id.clone())
        .collect();
    if ids.is_empty() {
        return;
    }
    if let Err(e) = inner.in_firewall(|fw| fw.remove_endpoints(&ids)) {
        tracing::warn!(sandbox = %rec.name, "removing the endpoints' rules: {e}");
    }
}
