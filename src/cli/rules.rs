//! `bridgewall rules ...`: the running daemon's firewall, as planned and as
//! the kernel holds it.

use std::process::ExitCode;

use clap::Subcommand;

use crate::api::client::Client;
use crate::api::rules::RulesResponse;

use super::family::FamilyArg;

/// `bridgewall rules` subcommands.
#[derive(Debug, PartialEq, Subcommand)]
pub enum RulesCommand {
    /// Print the rules the running state plans.
    Show {
        /// Only this family (default: IPv4 then IPv6).
        #[arg(long)]
        family: Option<FamilyArg>,
    },
    /// Compare the kernel's rules with the plan: prints the differences and
    /// exits with 1 when there are any.
    Check {
        /// Only this family (default: IPv4 then IPv6).
        #[arg(long)]
        family: Option<FamilyArg>,
    },
}

/// Runs a `rules` command against the daemon.
pub async fn run(client: &Client, cmd: RulesCommand) -> Result<ExitCode, String> {
    let (family, check) = match cmd {
        RulesCommand::Show { family } => (family, false),
        RulesCommand::Check { family } => (family, true),
    };
    let query = match family {
        None => String::new(),
        Some(FamilyArg::Ipv4) => "?family=ipv4".into(),
        Some(FamilyArg::Ipv6) => "?family=ipv6".into(),
    };
    let report: RulesResponse = client
        .get(&format!("/rules{query}"))
        .await
        .map_err(|e| e.to_string())?;
    if !check {
        for f in &report.families {
            print!("# bridgewall rules: {}\n{}", f.title, f.rules);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut differ = false;
    for f in &report.families {
        if f.differences.is_empty() {
            println!("{}: in sync with the plan", f.title);
        } else {
            differ = true;
            println!(
                "{}: {} differences from the plan",
                f.title,
                f.differences.len()
            );
            for d in &f.differences {
                println!("  {d}");
            }
        }
    }
    Ok(if differ {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
