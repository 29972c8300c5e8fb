//! `bridgewall network ...`: the docker CLI's network commands, as a client
//! of the daemon's API.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use crate::api::client::{Client, percent_encode};
use crate::api::filters::Filters;
use crate::api::types::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkResource,
    NetworksPruneResponse,
};

/// `bridgewall network` subcommands.
#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Filter output based on conditions provided (`name=...`, `driver=...`, ...).
        #[arg(short, long = "filter", value_name = "FILTER")]
        filters: Vec<String>,
        /// Do not truncate the output.
        #[arg(long)]
        no_trunc: bool,
    },
    /// Display detailed information on one or more networks.
    Inspect {
        /// Networks (names or IDs).
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        /// Networks (names or IDs).
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove all unused networks.
    Prune {
        /// Do not prompt for confirmation (bridgewall never prompts).
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (`until=...`, `label=...`).
        #[arg(long = "filter", value_name = "FILTER")]
        filters: Vec<String>,
    },
    /// Connect a sandbox to a network.
    Connect {
        /// IPv4 address (e.g., 172.30.100.104).
        #[arg(long)]
        ip: Option<String>,
        /// IPv6 address (e.g., 2001:db8::33).
        #[arg(long)]
        ip6: Option<String>,
        /// The network (name or ID).
        network: String,
        /// The sandbox (name or ID).
        sandbox: String,
    },
    /// Disconnect a sandbox from a network.
    Disconnect {
        /// Force the sandbox to disconnect from a network.
        #[arg(short, long)]
        force: bool,
        /// The network (name or ID).
        network: String,
        /// The sandbox (name or ID).
        sandbox: String,
    },
}

/// `network create` flags, as the docker CLI has them.
#[derive(Args)]
pub struct CreateArgs {
    /// Driver to manage the network.
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long)]
    subnet: Vec<String>,
    /// IPv4 or IPv6 gateway for the master subnet.
    #[arg(long)]
    gateway: Vec<String>,
    /// Allocate container IP from a sub-range.
    #[arg(long = "ip-range")]
    ip_range: Vec<String>,
    /// Enable or disable IPv4 address assignment.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    ipv4: Option<bool>,
    /// Enable or disable IPv6 address assignment.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    ipv6: Option<bool>,
    /// Restrict external access to the network.
    #[arg(long)]
    internal: bool,
    /// Set driver specific options (`key=value`).
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    opts: Vec<String>,
    /// Set metadata on a network (`key=value`).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// The network's name.
    name: String,
}

fn key_values(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect()
}

fn filters(items: &[String]) -> Result<Filters, String> {
    let mut f = Filters::new();
    for item in items {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter (expected name=value): {item}"))?;
        f.add(k, v);
    }
    Ok(f)
}

/// The docker CLI's pairing of `--subnet`, `--gateway` and `--ip-range`:
/// each gateway and range goes with the subnet that contains it.
fn ipam_configs(args: &CreateArgs) -> Result<Vec<IpamConfig>, String> {
    if args.subnet.is_empty() && (!args.gateway.is_empty() || !args.ip_range.is_empty()) {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut configs: Vec<IpamConfig> = args
        .subnet
        .iter()
        .map(|s| IpamConfig {
            subnet: s.clone(),
            ..IpamConfig::default()
        })
        .collect();
    let contains = |subnet: &str, addr: &str| -> bool {
        let (Ok(net), Ok(ip)) = (
            subnet.parse::<ipnet::IpNet>(),
            addr.parse::<std::net::IpAddr>(),
        ) else {
            return false;
        };
        net.contains(&ip)
    };
    for gw in &args.gateway {
        let c = configs
            .iter_mut()
            .find(|c| c.gateway.is_empty() && contains(&c.subnet, gw))
            .ok_or_else(|| format!("no matching subnet for gateway {gw}"))?;
        c.gateway = gw.clone();
    }
    for range in &args.ip_range {
        let first = range.split('/').next().unwrap_or_default();
        let c = configs
            .iter_mut()
            .find(|c| c.ip_range.is_empty() && contains(&c.subnet, first))
            .ok_or_else(|| format!("no matching subnet for range {range}"))?;
        c.ip_range = range.clone();
    }
    Ok(configs)
}

/// The body of `network connect`: as the docker CLI's, the endpoint config
/// always there, with the static addresses given (if any).
fn connect_request(
    sandbox: String,
    ip: Option<String>,
    ip6: Option<String>,
) -> NetworkConnectRequest {
    NetworkConnectRequest {
        container: sandbox,
        endpoint_config: Some(EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: ip.unwrap_or_default(),
                ipv6_address: ip6.unwrap_or_default(),
                link_local_ips: Vec::new(),
            }),
            ..EndpointSettings::default()
        }),
    }
}

fn daemon_error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs one `network` subcommand against the daemon.
pub async fn run(client: &Client, cmd: NetworkCommand) -> Result<(), String> {
    match cmd {
        NetworkCommand::Create(args) => {
            let req = NetworkCreateRequest {
                name: args.name.clone(),
                driver: args.driver.clone(),
                enable_ipv4: args.ipv4,
                enable_ipv6: args.ipv6,
                internal: args.internal,
                ipam: Some(Ipam {
                    driver: "default".into(),
                    options: BTreeMap::new(),
                    config: ipam_configs(&args)?,
                }),
                options: key_values(&args.opts),
                labels: key_values(&args.labels),
                ..NetworkCreateRequest::default()
            };
            let resp: NetworkCreateResponse = client
                .post("/networks/create", &req)
                .await
                .map_err(daemon_error)?;
            println!("{}", resp.id);
        }
        NetworkCommand::Ls {
            quiet,
            filters: f,
            no_trunc,
        } => {
            let f = filters(&f)?;
            let path = match f.to_query() {
                q if q.is_empty() => "/networks".to_string(),
                q => format!("/networks?{q}"),
            };
            let mut nets: Vec<NetworkResource> = client.get(&path).await.map_err(daemon_error)?;
            nets.sort_by(|a, b| a.name.cmp(&b.name));
            let id = |n: &NetworkResource| {
                if no_trunc {
                    n.id.clone()
                } else {
                    n.id.chars().take(12).collect()
                }
            };
            if quiet {
                for n in &nets {
                    println!("{}", id(n));
                }
            } else {
                let width = if no_trunc { 64 } else { 12 };
                println!(
                    "{:<width$}   {:<20}{:<10}SCOPE",
                    "NETWORK ID", "NAME", "DRIVER"
                );
                for n in &nets {
                    println!(
                        "{:<width$}   {:<20}{:<10}{}",
                        id(n),
                        n.name,
                        n.driver,
                        n.scope
                    );
                }
            }
        }
        NetworkCommand::Inspect { networks } => {
            let mut found = Vec::new();
            let mut failed = None;
            for n in &networks {
                match client
                    .get::<serde_json::Value>(&format!("/networks/{n}"))
                    .await
                {
                    Ok(v) => found.push(v),
                    Err(e) => failed = Some(e.to_string()),
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&found).expect("JSON values always serialise")
            );
            if let Some(e) = failed {
                return Err(e);
            }
        }
        NetworkCommand::Rm { networks } => {
            let mut failed = None;
            for n in &networks {
                match client.delete(&format!("/networks/{n}")).await {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{e}");
                        failed = Some(String::new());
                    }
                }
            }
            if failed.is_some() {
                return Err("exit status 1".into());
            }
        }
        NetworkCommand::Prune {
            force: _,
            filters: f,
        } => {
            let f = filters(&f)?;
            let path = match f.to_query() {
                q if q.is_empty() => "/networks/prune".to_string(),
                q => format!("/networks/prune?{q}"),
            };
            let resp: NetworksPruneResponse =
                client.post_empty(&path).await.map_err(daemon_error)?;
            if !resp.networks_deleted.is_empty() {
                println!("Deleted Networks:");
                for n in resp.networks_deleted {
                    println!("{n}");
                }
            }
        }
        NetworkCommand::Connect {
            ip,
            ip6,
            network,
            sandbox,
        } => {
            let path = format!("/networks/{}/connect", percent_encode(&network));
            client
                .post::<_, ()>(&path, &connect_request(sandbox, ip, ip6))
                .await
                .map_err(daemon_error)?;
        }
        NetworkCommand::Disconnect {
            force,
            network,
            sandbox,
        } => {
            let path = format!("/networks/{}/disconnect", percent_encode(&network));
            let req = NetworkDisconnectRequest {
                container: sandbox,
                force,
            };
            client
                .post::<_, ()>(&path, &req)
                .await
                .map_err(daemon_error)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: NetworkCommand,
    }

    fn create(args: &[&str]) -> CreateArgs {
        let mut argv = vec!["t", "create"];
        argv.extend(args);
        match T::parse_from(argv).cmd {
            NetworkCommand::Create(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn gateways_and_ranges_pair_with_their_subnet() {
        let a = create(&[
            "--subnet",
            "192.0.2.0/24",
            "--subnet",
            "2001:db8::/64",
            "--gateway",
            "2001:db8::1",
            "--gateway",
            "192.0.2.254",
            "--ip-range",
            "192.0.2.128/25",
            "n",
        ]);
        let c = ipam_configs(&a).unwrap();
        assert_eq!(c[0].gateway, "192.0.2.254");
        assert_eq!(c[0].ip_range, "192.0.2.128/25");
        assert_eq!(c[1].gateway, "2001:db8::1");
        assert_eq!(a.ipv6, None);
    }

    #[test]
    fn a_gateway_outside_every_subnet_is_refused() {
        let a = create(&["--subnet", "192.0.2.0/24", "--gateway", "198.51.100.1", "n"]);
        assert_eq!(
            ipam_configs(&a).unwrap_err(),
            "no matching subnet for gateway 198.51.100.1"
        );
        let a = create(&["--gateway", "198.51.100.1", "--ipv6", "n"]);
        assert_eq!(a.ipv6, Some(true));
        assert_eq!(
            ipam_configs(&a).unwrap_err(),
            "every ip-range or gateway must have a corresponding subnet"
        );
    }

    #[test]
    fn connect_and_disconnect_parse_as_dockers() {
        let cmd = T::parse_from([
            "t",
            "connect",
            "--ip",
            "192.0.2.5",
            "--ip6",
            "2001:db8::5",
            "n1",
            "web",
        ])
        .cmd;
        let NetworkCommand::Connect {
            ip,
            ip6,
            network,
            sandbox,
        } = cmd
        else {
            panic!("not connect")
        };
        assert_eq!(network, "n1");
        let req = connect_request(sandbox, ip, ip6);
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({
                "Container": "web",
                "EndpointConfig": {
                    "IPAMConfig": {"IPv4Address": "192.0.2.5", "IPv6Address": "2001:db8::5"},
                    "Links": [], "Aliases": [], "MacAddress": "", "DriverOpts": {},
                    "GwPriority": 0, "DNSNames": []
                }
            })
        );
        let bare = connect_request("web".into(), None, None);
        let ipam = bare.endpoint_config.unwrap().ipam_config.unwrap();
        assert_eq!(ipam, EndpointIpamConfig::default());
        assert!(matches!(
            T::parse_from(["t", "disconnect", "-f", "n1", "web"]).cmd,
            NetworkCommand::Disconnect { force: true, ref network, ref sandbox }
                if network == "n1" && sandbox == "web"
        ));
        assert!(T::try_parse_from(["t", "connect", "n1"]).is_err());
    }
}
