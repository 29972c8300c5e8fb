//! The `bridgewall` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use bridgewall::firewall::Family;
use bridgewall::preview;

/// Docker's bridge-network firewall, standalone.
#[derive(Parser)]
#[command(name = "bridgewall", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum FamilyArg {
    Ipv4,
    Ipv6,
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("BRIDGEWALL_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan {
            config,
            family,
            compose_file,
        } => {
            let families: &[Family] = match family {
                None => &Family::ALL,
                Some(FamilyArg::Ipv4) => &[Family::V4],
                Some(FamilyArg::Ipv6) => &[Family::V6],
            };
            preview::plan_compose(&compose_file, config.as_deref(), families)
                .map(|rs| print!("{}", preview::render(&rs)))
        }
        Command::Apply {
            config,
            netns,
            compose_file,
        } => preview::apply_compose(&compose_file, config.as_deref(), &netns).map(|n| {
            eprintln!("applied to {netns}: {n} of 2 families changed");
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bridgewall: {e}");
            ExitCode::FAILURE
        }
    }
}
