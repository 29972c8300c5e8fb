//! `bridgewall daemon`: what dockerd does for bridge networks, as a
//! standalone daemon. It keeps its desired state in an embedded store,
//! converges the system onto it (bridges, sysctls, firewall) and serves the
//! Docker-compatible API on a Unix socket.
//!
//! With `--netns NAME` the whole daemon, and everything it creates, lives in
//! that network namespace: it is entered before any other thread starts.
//!
//! Layout, each file one concern, dependencies one way (top to bottom):
//! - [`service`]: the process: namespace, socket, signals (outside events).
//! - [`requests`]: the API's [`Engine`](crate::api::engine::Engine).
//! - [`startup`]: restoring and converging at start.
//! - [`networks`], [`sandboxes`], [`connections`]: the changes.
//! - [`publishing`], [`plumbing`], [`process`], [`bridge`]: the system side
//!   of a change (firewall transactions, veths, processes, bridges).
//! - [`views`], [`lookup`]: the records as the API shows and finds them.
//! - [`core`], [`records`], [`journal`], [`error`]: state, store records,
//!   the firewall journal, errors.
//! - [`watch`]: the drift watcher, woken by nf_tables notifications and a
//!   timer in [`service`].
//! - [`firewalld`], [`firewalld_link`]: the `docker` zone and firewalld's
//!   reloads and restarts; the link to firewalld itself.
//! - [`info`]: what `info` reports (backend, firewalld, ufw).

pub mod bridge;
pub mod connections;
pub mod core;
pub mod error;
pub mod firewalld;
pub mod firewalld_link;
pub mod info;
pub mod journal;
pub mod lookup;
pub mod networks;
pub mod plumbing;
pub mod process;
pub mod publishing;
pub mod records;
pub mod requests;
pub mod sandboxes;
pub mod service;
pub mod startup;
pub mod views;
pub mod watch;

pub use core::{Daemon, DaemonPaths};
pub use error::DaemonError;
pub use service::{DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DaemonOptions, run};
