//! The `bridgewall` command line: `plan`/`apply` work on Compose files
//! directly; `daemon` runs the daemon; the other commands (`network ...`,
//! and `run`, `create`, `exec`, `ps`, `rm`, `port`, `inspect`, `logs` for
//! sandboxes) are clients of the daemon's API, with the docker CLI's flags
//! where the two overlap.

mod family;
mod info;
mod network;
mod rules;
mod sandbox;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::api::HOST_ENV;
use crate::api::client::{Client, resolve_socket};
use crate::daemon::{self, DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DaemonOptions};
use crate::preview;

use family::FamilyArg;

/// Docker's bridge-network firewall, standalone.
#[derive(Parser)]
#[command(name = "bridgewall", version, about)]
pub struct Cli {
    /// The daemon socket to connect to, or (for `daemon`) to listen on
    /// (`unix:///run/bridgewall.sock` by default; also `BRIDGEWALL_HOST`).
    #[arg(short = 'H', long = "host", global = true, value_name = "unix://PATH")]
    host: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the iptables rules Docker would program for a Compose file.
    Plan {
        /// The daemon config (daemon.json); Docker's defaults without it.
        #[arg(long, value_name = "daemon.json")]
        config: Option<PathBuf>,
        /// Print only this family (default: IPv4 then IPv6).
        #[arg(long)]
        family: Option<FamilyArg>,
        /// The Compose file.
        compose_file: PathBuf,
    },
    /// Apply a Compose file's rules to an existing network namespace.
    Apply {
        /// The daemon config (daemon.json); Docker's defaults without it.
        #[arg(long, value_name = "daemon.json")]
        config: Option<PathBuf>,
        /// The network namespace (as named by `ip netns`) to program.
        #[arg(long, value_name = "NAME")]
        netns: String,
        /// The Compose file.
        compose_file: PathBuf,
    },
    /// Run the daemon.
    Daemon {
        /// The daemon config (daemon.json); Docker's defaults without it.
        #[arg(long, value_name = "daemon.json")]
        config: Option<PathBuf>,
        /// Where the daemon keeps its state.
        #[arg(long, default_value = DEFAULT_DATA_ROOT)]
        data_root: PathBuf,
        /// Where the daemon keeps runtime files.
        #[arg(long, default_value = DEFAULT_EXEC_ROOT)]
        exec_root: PathBuf,
        /// Run the daemon, and all it creates, in this network namespace
        /// (created when missing).
        #[arg(long, value_name = "NAME")]
        netns: Option<String>,
        /// Take over DOCKER* chains found in the namespace that no record
        /// says are bridgewall's (a lost store; never beside a dockerd).
        #[arg(long)]
        adopt_chains: bool,
        /// How often to check the rules against the plan and repair what
        /// something else changed, in milliseconds (0: never).
        #[arg(long, value_name = "MS", default_value_t = 500)]
        watch_interval_ms: u64,
    },
    /// Manage networks.
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// The running daemon's firewall rules: as planned, and checked against
    /// the kernel.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// The running daemon's firewall backend, firewalld and ufw, and what
    /// the user should know about them.
    Info,
    #[command(flatten)]
    Sandbox(sandbox::SandboxCommand),
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => status,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command: its exit status, or a message for stderr and status 1.
fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Plan {
            config,
            family,
            compose_file,
        } => {
            let families = FamilyArg::select(family);
            let text = preview::plan_compose(&compose_file, config.as_deref(), families)
                .map_err(|e| format!("bridgewall: {e}"))?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Apply {
            config,
            netns,
            compose_file,
        } => {
            let changed = preview::apply_compose(&compose_file, config.as_deref(), &netns)
                .map_err(|e| format!("bridgewall: {e}"))?;
            if changed {
                eprintln!("applied to {netns}: rules changed");
            } else {
                eprintln!("applied to {netns}: already in place, nothing changed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Daemon {
            config,
            data_root,
            exec_root,
            netns,
            adopt_chains,
            watch_interval_ms,
        } => {
            let socket = socket(cli.host.as_deref())?;
            daemon::run(DaemonOptions {
                config_file: config,
                data_root,
                exec_root,
                socket,
                netns,
                adopt_chains,
                watch_interval: Some(std::time::Duration::from_millis(watch_interval_ms)),
            })
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| format!("bridgewall daemon: {e}"))
        }
        Command::Network(cmd) => {
            let client = Client::new(socket(cli.host.as_deref())?);
            block_on(network::run(&client, cmd)).map(|()| ExitCode::SUCCESS)
        }
        Command::Rules(cmd) => {
            let client = Client::new(socket(cli.host.as_deref())?);
            block_on(rules::run(&client, cmd))
        }
        Command::Info => {
            let client = Client::new(socket(cli.host.as_deref())?);
            block_on(info::run(&client)).map(|()| ExitCode::SUCCESS)
        }
        Command::Sandbox(cmd) => {
            let client = Client::new(socket(cli.host.as_deref())?);
            block_on(sandbox::run(&client, cmd))
        }
    }
}

fn socket(flag: Option<&str>) -> Result<PathBuf, String> {
    let env = std::env::var(HOST_ENV).ok();
    resolve_socket(flag, env.as_deref()).map_err(|e| e.to_string())
}

/// Runs a client command on a small single-threaded runtime.
fn block_on<T>(f: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("bridgewall: {e}"))?
        .block_on(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_commands_sit_at_the_top_level() {
        let cli = Cli::try_parse_from(["bridgewall", "-H", "unix:///x.sock", "ps", "-a"]).unwrap();
        assert_eq!(cli.host.as_deref(), Some("unix:///x.sock"));
        assert!(matches!(
            cli.command,
            Command::Sandbox(sandbox::SandboxCommand::Ps { all: true, .. })
        ));
        let cli = Cli::try_parse_from(["bridgewall", "run", "echo", "-H", "x"]).unwrap();
        // After the command, `-H` is the command's.
        assert_eq!(cli.host, None);
    }
}
