//! The daemon behind the API: [`Engine`] for [`Daemon`]. Requests that
//! change something run detached, so that a client going away cannot cut a
//! change in half.

use async_trait::async_trait;

use crate::api::engine::{Engine, EngineError};
use crate::api::filters::PruneFilter;
use crate::api::info::SystemInfo;
use crate::api::rules::RulesResponse;
use crate::api::sandbox::{
    SandboxCreateRequest, SandboxCreateResponse, SandboxInspect, SandboxSummary,
    SandboxWaitResponse,
};
use crate::api::types::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkResource, NetworksPruneResponse,
};

use crate::firewall::Family;

use super::core::Daemon;
use super::error::{DaemonError, internal};

impl Daemon {
    async fn network_connect(
        &self,
        id_or_name: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), DaemonError> {
        let name = self.network_name(id_or_name).await?;
        let ipam = req
            .endpoint_config
            .and_then(|c| c.ipam_config)
            .unwrap_or_default();
        self.sandbox_connect(
            &name,
            &req.container,
            &ipam.ipv4_address,
            &ipam.ipv6_address,
        )
        .await
    }

    async fn network_disconnect(
        &self,
        id_or_name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), DaemonError> {
        let name = self.network_name(id_or_name).await?;
        self.sandbox_disconnect(&name, &req.container).await
    }
}

/// Runs a change in a task of its own: a client that goes away mid-request
/// drops the request's future, which must not cut a change in half.
async fn detached<T: Send + 'static>(
    change: impl Future<Output = Result<T, DaemonError>> + Send + 'static,
) -> Result<T, EngineError> {
    Ok(tokio::spawn(change)
        .await
        .unwrap_or_else(|e| Err(internal(format!("the change failed: {e}"))))?)
}

#[async_trait]
impl Engine for Daemon {
    async fn rules(&self, families: Vec<Family>) -> Result<RulesResponse, EngineError> {
        Ok(self.rules_report(&families).await?)
    }

    async fn info(&self) -> Result<SystemInfo, EngineError> {
        Ok(self.system_info().await)
    }

    async fn create_network(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, EngineError> {
        let me = self.arc();
        detached(async move { me.network_create(req).await }).await
    }

    async fn list_networks(&self) -> Result<Vec<NetworkResource>, EngineError> {
        Ok(self.network_list().await?)
    }

    async fn inspect_network(
        &self,
        id_or_name: &str,
        verbose: bool,
    ) -> Result<NetworkResource, EngineError> {
        Ok(self.network_inspect(id_or_name, verbose).await?)
    }

    async fn remove_network(&self, id_or_name: &str) -> Result<(), EngineError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.network_remove(&id).await }).await
    }

    async fn prune_networks(
        &self,
        predicate: &PruneFilter,
    ) -> Result<NetworksPruneResponse, EngineError> {
        let (me, predicate) = (self.arc(), predicate.clone());
        detached(async move { me.network_prune(&predicate).await }).await
    }

    async fn connect_network(
        &self,
        id_or_name: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), EngineError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.network_connect(&id, req).await }).await
    }

    async fn disconnect_network(
        &self,
        id_or_name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), EngineError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.network_disconnect(&id, req).await }).await
    }

    async fn create_sandbox(
        &self,
        req: SandboxCreateRequest,
    ) -> Result<SandboxCreateResponse, EngineError> {
        let me = self.arc();
        detached(async move { me.sandbox_create(req).await }).await
    }

    async fn list_sandboxes(&self, all: bool) -> Result<Vec<SandboxSummary>, EngineError> {
        Ok(self.sandbox_list(all).await?)
    }

    async fn inspect_sandbox(&self, id_or_name: &str) -> Result<SandboxInspect, EngineError> {
        Ok(self.sandbox_inspect(id_or_name).await?)
    }

    async fn remove_sandbox(&self, id_or_name: &str, force: bool) -> Result<(), EngineError> {
        let (me, id) = (self.arc(), id_or_name.to_string());
        detached(async move { me.sandbox_remove(&id, force).await }).await
    }

    async fn sandbox_logs(&self, id_or_name: &str) -> Result<String, EngineError> {
        Ok(self.sandbox_read_logs(id_or_name).await?)
    }

    async fn wait_sandbox(&self, id_or_name: &str) -> Result<SandboxWaitResponse, EngineError> {
        Ok(self.sandbox_wait(id_or_name).await?)
    }
}
