//! bridgewall's HTTP API on a Unix socket: the network endpoints of Docker
//! Engine API 1.51 (Docker 28.5), so that the `docker` CLI can manage
//! bridgewall's networks, plus bridgewall's own client.
//!
//! - [`types`], [`sandbox`], [`rules`], [`info`]: the JSON bodies, with Docker's
//!   field names where Docker has them.
//! - [`engine`]: the [`engine::Engine`] trait the daemon implements.
//! - [`error`]: [`error::ApiError`], and domain error kinds → HTTP statuses.
//! - [`filters`]: Docker's filter semantics; [`go_time`]: Go's time formats.
//! - [`server`]: the routes, served over a Unix socket.
//! - [`client`]: a client for that socket.
//!
//! API boundary: the only layer that knows HTTP; it holds no state.

pub mod client;
pub mod engine;
pub mod error;
pub mod filters;
pub mod go_time;
pub mod info;
pub mod rules;
pub mod sandbox;
pub mod server;
pub mod types;

/// The Engine API version served (Docker 28.5's).
pub const API_VERSION: &str = "1.51";

/// The lowest Engine API version accepted (Docker 28's default minimum).
pub const MIN_API_VERSION: &str = "1.24";

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/bridgewall.sock";

/// The socket's default permissions, as Docker's: owner and group.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;

/// The group the socket is given to when it exists (Docker's is `docker`).
pub const DEFAULT_SOCKET_GROUP: &str = "bridgewall";

/// The environment variable naming the daemon's socket, as `unix://PATH`
/// (bridgewall's `DOCKER_HOST`).
pub const HOST_ENV: &str = "BRIDGEWALL_HOST";
