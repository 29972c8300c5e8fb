//! Running the daemon as a service: the namespace it lives in, the API
//! socket, and the one place where outside events arrive: signals,
//! firewalld's reloads and restarts, nf_tables notifications and the drift
//! watcher's timer.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};

use crate::api::engine::Engine;
use crate::api::server::{bind_unix_socket, give_socket_to_group, serve};
use crate::api::{DEFAULT_SOCKET_GROUP, DEFAULT_SOCKET_MODE};
use crate::backend::check_supported;
use crate::host::netns::{self, NetnsId};
use crate::model::daemon_config::DaemonConfig;
use crate::store::Store;

use super::core::{Daemon, DaemonPaths};
use super::error::DaemonError;
use super::watch::DriftWatch;

/// Default data-root: the store lives here.
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/bridgewall";
/// Default exec-root: runtime files (sandbox namespaces, ...).
pub const DEFAULT_EXEC_ROOT: &str = "/run/bridgewall";

/// How the daemon is started (`bridgewall daemon` flags).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// daemon.json; Docker's defaults without it.
    pub config_file: Option<PathBuf>,
    /// Where the store lives.
    pub data_root: PathBuf,
    /// Where runtime files live.
    pub exec_root: PathBuf,
    /// The API socket.
    pub socket: PathBuf,
    /// The network namespace to run in (created when missing).
    pub netns: Option<String>,
    /// Take over DOCKER* chains that no record says are bridgewall's.
    pub adopt_chains: bool,
    /// How often the drift watcher checks the rules; `None`: never.
    pub watch_interval: Option<std::time::Duration>,
}

/// The config, refused when it asks for a firewall backend bridgewall does
/// not have.
fn load_config(opts: &DaemonOptions) -> Result<DaemonConfig, DaemonError> {
    let config = DaemonConfig::load_or_default(opts.config_file.as_deref())?;
    check_supported(config.firewall_backend)?;
    Ok(config)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(opts: DaemonOptions) -> Result<(), DaemonError> {
    // The namespace the daemon was started in is the host's, as far as it
    // can tell: it is never attached as a sandbox's.
    let started_in = netns::namespace_file_id(std::path::Path::new("/proc/self/ns/net"))?;
    // setns moves only the calling thread, and threads started later inherit
    // its namespace: enter it before the runtime starts any thread.
    if let Some(name) = &opts.netns {
        let path = netns::named_netns_path(name)?;
        if !netns::netns_exists(&path) {
            netns::create_netns(&path)?;
        }
        netns::enter_netns(&path)?;
        tracing::info!(netns = %name, "running in network namespace");
    }
    let config = load_config(&opts)?;
    match crate::host::limits::raise_open_files() {
        Ok(limit) => tracing::debug!(limit, "open files"),
        Err(e) => tracing::warn!("cannot raise the limit on open files: {e}"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Io {
            what: "start the runtime".into(),
            source: e,
        })?;
    runtime.block_on(serve_until_stopped(opts, config, started_in))
}

async fn serve_until_stopped(
    opts: DaemonOptions,
    config: DaemonConfig,
    started_in: NetnsId,
) -> Result<(), DaemonError> {
    let io = |what: String| move |e: std::io::Error| DaemonError::Io { what, source: e };
    std::fs::create_dir_all(&opts.exec_root)
        .map_err(io(format!("create exec-root {}", opts.exec_root.display())))?;
    let store = Store::open(&opts.data_root)?;
    let paths = DaemonPaths {
        data_root: opts.data_root.clone(),
        exec_root: opts.exec_root.clone(),
        started_in,
    };
    let daemon = Daemon::start(config, paths, store, opts.adopt_chains).await?;
    let listener = bind_unix_socket(&opts.socket, DEFAULT_SOCKET_MODE)
        .map_err(io(format!("listen on {}", opts.socket.display())))?;
    if give_socket_to_group(&opts.socket, DEFAULT_SOCKET_GROUP)
        .map_err(io(format!("give {} to its group", opts.socket.display())))?
    {
        tracing::info!(
            group = DEFAULT_SOCKET_GROUP,
            "API socket given to its group"
        );
    }
    let mut term = signal(SignalKind::terminate()).map_err(io("SIGTERM handler".into()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(io("SIGINT handler".into()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(io("SIGHUP handler".into()))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let engine: Arc<dyn Engine> = daemon.clone();
    let server = tokio::spawn(serve(listener, engine, async {
        let _ = stop_rx.await;
    }));
    tracing::info!(socket = %opts.socket.display(), "API listening");
    let mut reloads: u64 = 0;
    let mut watch = DriftWatch::new(opts.watch_interval);
    let mut nft_events = match watch.as_mut() {
        Some(w) => w.subscribe(daemon.rules_announced().await),
        None => None,
    };
    daemon.follow_firewalld();
    let far = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365);
    loop {
        let next_check = watch.as_ref().map_or(far, DriftWatch::next);
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                reloads += 1;
                reload(&opts, &daemon, reloads).await;
            }
            heard = async { nft_events.as_mut().expect("guarded").changed().await }, if nft_events.is_some() => {
                if let Some(w) = watch.as_mut() {
                    match heard {
                        Ok(()) => w.heard(),
                        Err(e) => {
                            tracing::warn!("nf_tables notifications failed, checking on a timer: {e}");
                            w.listen(false);
                            nft_events = None;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(next_check), if watch.is_some() => {
                if let Some(w) = watch.as_mut() {
                    w.check(&daemon).await;
                }
            }
        }
    }
    tracing::info!("stopping");
    let _ = stop_tx.send(());
    // Graceful shutdown waits for open requests; a `wait` on a sandbox can
    // last as long as its process: give them a moment, then stop anyway.
    if tokio::time::timeout(std::time::Duration::from_secs(3), server)
        .await
        .is_err()
    {
        tracing::info!("requests still open: closing them");
    }
    let _ = std::fs::remove_file(&opts.socket);
    Ok(())
}

/// SIGHUP: the config file is read and checked again (Docker reloads none of
/// the bridge-networking keys live: a change is reported and takes effect at
/// the next start), and the firewall is re-applied, repairing rules someone
/// flushed.
/// Each reload ends with one log line carrying its number (`reload=N`):
/// `firewall re-applied`, or the error; a readiness signal for whoever sent
/// the signal.
async fn reload(opts: &DaemonOptions, daemon: &Daemon, n: u64) {
    match load_config(opts) {
        Ok(new) if &new != daemon.config() => {
            tracing::warn!(
                "daemon config changed: bridge networking settings take effect at the next start"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::error!("reload: {e}"),
    }
    match daemon.reapply().await {
        Ok(outcome) => tracing::info!(
            reload = n,
            changed = outcome.changed,
            drift = outcome.drift,
            "firewall re-applied"
        ),
        Err(e) => tracing::error!(reload = n, "reload: re-applying the firewall: {e}"),
    }
}
