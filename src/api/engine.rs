//! What the daemon implements behind the API: the [`Engine`] trait.
//!
//! Its errors are domain errors ([`EngineError`]): each has a kind, which
//! only this layer maps to an HTTP status ([`super::error`]).

use async_trait::async_trait;

use crate::firewall::Family;

use super::filters::PruneFilter;
use super::info::SystemInfo;
use super::rules::RulesResponse;
use super::sandbox::{
    SandboxCreateRequest, SandboxCreateResponse, SandboxInspect, SandboxSummary,
    SandboxWaitResponse,
};
use super::types::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkResource, NetworksPruneResponse,
};

pub use super::error::EngineError;

/// The network operations of the Engine API, implemented by the daemon.
///
/// Object-safe through [`async_trait`]: implement it with
/// `#[async_trait::async_trait] impl Engine for MyDaemon { async fn ... }`
/// and hand the server an `Arc<dyn Engine>`.
///
/// Every error is an [`EngineError`]: the client gets its kind's status and
/// its text. The server has already decoded bodies and parsed the filters
/// before calling, and filters the network list itself.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// `POST /networks/create` (answered with 201).
    async fn create_network(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, EngineError>;

    /// `GET /networks`: every network, in order (the server filters them).
    async fn list_networks(&self) -> Result<Vec<NetworkResource>, EngineError>;

    /// `GET /networks/{id}`: one network by full ID, full name or unique ID
    /// prefix. `verbose` asks for swarm
    /// details Docker adds for overlay networks.
    async fn inspect_network(
        &self,
        id_or_name: &str,
        verbose: bool,
    ) -> Result<NetworkResource, EngineError>;

    /// `DELETE /networks/{id}` (answered with 204).
    async fn remove_network(&self, id_or_name: &str) -> Result<(), EngineError>;

    /// `POST /networks/prune`: removes the unused networks `predicate`
    /// matches.
    async fn prune_networks(
        &self,
        predicate: &PruneFilter,
    ) -> Result<NetworksPruneResponse, EngineError>;

    /// `POST /networks/{id}/connect` (answered with 200, empty body).
    async fn connect_network(
        &self,
        id_or_name: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), EngineError>;

    /// `POST /networks/{id}/disconnect` (answered with 200, empty body).
    async fn disconnect_network(
        &self,
        id_or_name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), EngineError>;

    /// `POST /sandboxes/create` (answered with 201): creates a sandbox and
    /// starts its process, or attaches an existing namespace.
    async fn create_sandbox(
        &self,
        req: SandboxCreateRequest,
    ) -> Result<SandboxCreateResponse, EngineError>;

    /// `GET /sandboxes?all=1`: running sandboxes, or all with `all`.
    async fn list_sandboxes(&self, all: bool) -> Result<Vec<SandboxSummary>, EngineError>;

    /// `GET /sandboxes/{id}/json`: one sandbox by ID, name or unique ID prefix.
    async fn inspect_sandbox(&self, id_or_name: &str) -> Result<SandboxInspect, EngineError>;

    /// `DELETE /sandboxes/{id}?force=1` (answered with 204): a running
    /// sandbox needs `force` (its process is killed).
    async fn remove_sandbox(&self, id_or_name: &str, force: bool) -> Result<(), EngineError>;

    /// `GET /sandboxes/{id}/logs`: what the process wrote (stdout and stderr).
    async fn sandbox_logs(&self, id_or_name: &str) -> Result<String, EngineError>;

    /// `GET /rules`: the rules of `families` the running state plans, and
    /// how the kernel's compare with them.
    async fn rules(&self, families: Vec<Family>) -> Result<RulesResponse, EngineError>;

    /// `GET /info`: the daemon's state, firewall and neighbours (firewalld,
    /// ufw).
    async fn info(&self) -> Result<SystemInfo, EngineError>;

    /// `POST /sandboxes/{id}/wait`: waits for the process to exit.
    async fn wait_sandbox(&self, id_or_name: &str) -> Result<SandboxWaitResponse, EngineError>;
}
