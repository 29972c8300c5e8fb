//! A running sandbox joins one more network, or leaves one
//! (`docker network connect` / `disconnect`).

use crate::host::links;
use crate::model::binding::release_bindings;
use crate::model::state::Attachment;
use crate::store::Collection;

use crate::crash::crash_point;

use super::core::{Daemon, random_hex};
use super::error::{DaemonError, conflict, forbidden, internal};
use super::lookup::find_sandbox;
use super::publishing::stop_proxies;
use super::records::{EndpointRecord, SandboxPhase, SandboxRecord};
use super::sandboxes::{flush_conntrack, static_addrs};

impl Daemon {
    /// `POST /networks/{id}/connect`: a running sandbox joins one more
    /// network. Its port bindings and default routes stay where they are.
    pub(super) async fn sandbox_connect(
        &self,
        network: &str,
        term: &str,
        ip: &str,
        ip6: &str,
    ) -> Result<(), DaemonError> {
        let mut attachment = Attachment::new(network);
        (attachment.ipv4_address, attachment.ipv6_address) = static_addrs(ip, ip6)?;
        let mut inner = self.inner.lock().await;
        let mut rec = find_sandbox(&inner.sandboxes, term)?.clone();
        if rec.phase != SandboxPhase::Running {
            return Err(conflict(format!("container {} is not running", rec.name)));
        }
        if rec.endpoints.iter().any(|e| e.endpoint.network == network) {
            return Err(forbidden(format!(
                "endpoint with name {} already exists in network {network}",
                rec.name
            )));
        }
        let mut next = inner.state.clone();
        next.add_container_with(&rec.id, &[attachment], &[], &mut inner.ports)
            .map_err(DaemonError::from)?;
        let endpoint = next
            .container_endpoints(&rec.id)
            .into_iter()
            .find(|e| e.network == network)
            .cloned()
            .expect("just connected");
        let ep = EndpointRecord {
            id: random_hex(32).map_err(internal)?,
            endpoint,
            host_if: format!("veth{}", &random_hex(4).map_err(internal)?[..7]),
            if_name: (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !rec.endpoints.iter().any(|e| &e.if_name == n))
                .expect("a free interface name"),
            mac: links::random_mac().map_err(internal)?,
            leaving: false,
            // Until its rules are in: a crash before that undoes it.
            joining: true,
        };
        let joining = SandboxRecord {
            endpoints: vec![ep.clone()],
            ..rec.clone()
        };
        // Recorded first, as joining: after a crash the next start undoes it.
        let before = rec.clone();
        rec.endpoints.push(ep.clone());
        inner
            .store
            .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))
            .map_err(internal)?;
        crash_point!("connect:intent");
        let result = async {
            self.plumb(&inner, &next, &joining)
                .await
                .map_err(internal)?;
            crash_point!("connect:plumb");
            let endpoints = joining.firewall_endpoints(&next);
            inner
                .in_firewall(|fw| fw.add_endpoints(endpoints))
                .map_err(internal)?;
            crash_point!("connect:firewall");
            Ok::<(), DaemonError>(())
        }
        .await;
        let result = result.and_then(|()| {
            let last = rec.endpoints.last_mut().expect("just added");
            last.joining = false;
            inner
                .store
                .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))
                .map_err(internal)
        });
        if let Err(e) = result {
            if inner.firewall.has_endpoint(&ep.id) {
                let ids = [ep.id.clone()];
                let _ = inner.in_firewall(|fw| fw.remove_endpoints(&ids));
            }
            let _ = inner.links.delete_link(&ep.host_if).await;
            let _ = inner
                .store
                .write(|tx| tx.put(Collection::Sandboxes, &before.id, &before));
            return Err(e);
        }
        inner.state = next;
        inner.replace_sandbox(rec);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`: a sandbox leaves one network, with
    /// the port bindings published through that endpoint.
    pub(super) async fn sandbox_disconnect(
        &self,
        network: &str,
        term: &str,
    ) -> Result<(), DaemonError> {
        let mut inner = self.inner.lock().await;
        let mut rec = find_sandbox(&inner.sandboxes, term)?.clone();
        let Some(pos) = rec
            .endpoints
            .iter()
            .position(|e| e.endpoint.network == network)
        else {
            return Err(forbidden(format!(
                "container {} is not connected to network {network}",
                rec.name
            )));
        };
        // The intent first (a crash from here on is finished at the next
        // start); then the endpoint goes, each step best effort; then the
        // record without it.
        let mut leaving = rec.clone();
        leaving.endpoints[pos].leaving = true;
        inner
            .store
            .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &leaving))
            .map_err(internal)?;
        crash_point!("disconnect:intent");
        let ep = rec.endpoints.remove(pos);
        if rec.phase == SandboxPhase::Running {
            stop_proxies(&mut inner, &rec.id, &ep.endpoint.bindings).await;
            let ids = [ep.id.clone()];
            if let Err(e) = inner.in_firewall(|fw| fw.remove_endpoints(&ids)) {
                tracing::warn!(sandbox = %rec.name, "removing the endpoint's rules: {e}");
            }
            crash_point!("disconnect:firewall");
            flush_conntrack(std::slice::from_ref(&ep));
            if let Err(e) = inner.links.delete_link(&ep.host_if).await {
                tracing::warn!("{e}");
            }
            crash_point!("disconnect:link");
            if let Some(gone) = inner.state.remove_endpoint(&rec.id, network) {
                release_bindings(&gone.bindings, &mut inner.ports);
            }
        }
        // Memory first: the endpoint is gone whether or not the record can
        // be written (a start would finish it from the intent).
        let written = inner
            .store
            .write(|tx| tx.put(Collection::Sandboxes, &rec.id, &rec))
            .map_err(internal);
        inner.replace_sandbox(rec);
        written?;
        Ok(())
    }
}
