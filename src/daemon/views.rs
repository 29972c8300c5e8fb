//! How the daemon's records look through the API: networks as
//! `NetworkResource`s, sandboxes as `docker ps` lines and `docker inspect`
//! documents. Pure functions of the records and the network state.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::api::sandbox::{
    EndpointSettingsResource, NetworkSettingsResource, PortBindingResource, SandboxInspect,
    SandboxState, SandboxSummary,
};
use crate::api::types::{
    ConfigReference, EndpointResource, Ipam, IpamConfig as ApiIpamConfig, NetworkResource,
};
use crate::firewall::{Family, PortBinding};
use crate::host::links;
use crate::model::state::{ResolvedNetwork, ResolvedSubnet, StateBuilder};

use super::core::{Daemon, Inner};
use super::records::{NetworkRecord, SandboxPhase, SandboxRecord};

impl Daemon {
    pub(super) fn resource(
        &self,
        net: &ResolvedNetwork,
        rec: Option<&NetworkRecord>,
    ) -> NetworkResource {
        let config = Family::ALL
            .iter()
            .filter_map(|&f| net.family(f))
            .map(|sub| ApiIpamConfig {
                subnet: sub.subnet.to_string(),
                ip_range: sub.ip_range.map(|r| r.to_string()).unwrap_or_default(),
                gateway: sub.gateway.map(|g| g.to_string()).unwrap_or_default(),
                ..ApiIpamConfig::default()
            })
            .collect();
        let options = match rec {
            Some(rec) => rec.spec.options.clone(),
            None => self.default_bridge_options(net),
        };
        NetworkResource {
            name: net.name.clone(),
            id: net.id.clone(),
            created: rec.map_or(self.started, |r| r.created),
            scope: "local".into(),
            driver: "bridge".into(),
            enable_ipv4: net.v4.is_some(),
            enable_ipv6: net.v6.is_some(),
            ipam: Ipam {
                driver: "default".into(),
                options: BTreeMap::new(),
                config,
            },
            internal: net.internal,
            config_from: ConfigReference::default(),
            options,
            labels: rec.map(|r| r.labels.clone()).unwrap_or_default(),
            ..NetworkResource::default()
        }
    }

    /// The options `docker network inspect bridge` shows.
    fn default_bridge_options(&self, net: &ResolvedNetwork) -> BTreeMap<String, String> {
        let o = &net.options;
        [
            (
                "com.docker.network.bridge.default_bridge",
                "true".to_string(),
            ),
            (
                "com.docker.network.bridge.enable_icc",
                o.enable_icc.to_string(),
            ),
            (
                "com.docker.network.bridge.enable_ip_masquerade",
                o.enable_ip_masquerade.to_string(),
            ),
            (
                "com.docker.network.bridge.host_binding_ipv4",
                self.config.ip.to_string(),
            ),
            ("com.docker.network.bridge.name", net.bridge.to_string()),
            (
                "com.docker.network.driver.mtu",
                o.mtu.or(self.config.mtu).unwrap_or(1500).to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Every network as the API shows it.
    pub(super) fn all_resources(&self, inner: &Inner) -> Vec<NetworkResource> {
        inner
            .state
            .networks()
            .map(|net| {
                let rec = inner.records.iter().find(|r| r.network.id == net.id);
                let mut resource = self.resource(net, rec);
                resource.containers = endpoints_on(&inner.sandboxes, net);
                resource
            })
            .collect()
    }
}

/// The running sandboxes' endpoints on `net`, as `docker network inspect`
/// shows them under `Containers` (by sandbox ID).
pub(super) fn endpoints_on(
    sandboxes: &[SandboxRecord],
    net: &ResolvedNetwork,
) -> BTreeMap<String, EndpointResource> {
    let with_prefix = |addr: Option<IpAddr>, sub: Option<&ResolvedSubnet>| match (addr, sub) {
        (Some(a), Some(s)) => format!("{a}/{}", s.subnet.prefix_len()),
        _ => String::new(),
    };
    sandboxes
        .iter()
        .filter(|s| s.phase == SandboxPhase::Running)
        .flat_map(|s| {
            s.endpoints
                .iter()
                .filter(|e| e.endpoint.network == net.name)
                .map(move |e| (s, e))
        })
        .map(|(s, e)| {
            (
                s.id.clone(),
                EndpointResource {
                    name: s.name.clone(),
                    endpoint_id: e.id.clone(),
                    mac_address: links::format_mac(e.mac),
                    ipv4_address: with_prefix(e.endpoint.v4.map(IpAddr::V4), net.v4.as_ref()),
                    ipv6_address: with_prefix(e.endpoint.v6.map(IpAddr::V6), net.v6.as_ref()),
                },
            )
        })
        .collect()
}

/// A sandbox as `GET /sandboxes` lists it.
pub(super) fn summary(s: &SandboxRecord) -> SandboxSummary {
    SandboxSummary {
        id: s.id.clone(),
        name: s.name.clone(),
        command: s.cmd.join(" "),
        created: s.created,
        state: state_name(s).to_string(),
        status: match s.phase {
            SandboxPhase::Running => "Up".to_string(),
            _ => format!("Exited ({})", s.exit_code.unwrap_or(-1)),
        },
        ports: ports_summary(&s.bindings()),
        networks: s
            .endpoints
            .iter()
            .map(|e| e.endpoint.network.clone())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// A sandbox as `GET /sandboxes/{id}/json` shows it, in the network state
/// `state`.
/// `errors`: the published ports that could not be served again, shown as
/// `State.Error`.
pub(super) fn inspect(
    s: &SandboxRecord,
    state: &StateBuilder,
    errors: &[String],
) -> SandboxInspect {
    let mut networks = BTreeMap::new();
    for ep in &s.endpoints {
        let Some(net) = state.network(&ep.endpoint.network) else {
            continue;
        };
        let gw = |f: Family| {
            net.family(f)
                .and_then(|sub| sub.gateway)
                .map(|g| g.to_string())
                .unwrap_or_default()
        };
        let settings = if s.phase == SandboxPhase::Running {
            let prefix = |sub: Option<&ResolvedSubnet>, present: bool| {
                if present {
                    sub.map_or(0, |s| s.subnet.prefix_len())
                } else {
                    0
                }
            };
            EndpointSettingsResource {
                network_id: net.id.clone(),
                endpoint_id: ep.id.clone(),
                gateway: gw(Family::V4),
                ip_address: opt(ep.endpoint.v4),
                ip_prefix_len: prefix(net.v4.as_ref(), ep.endpoint.v4.is_some()),
                ipv6_gateway: gw(Family::V6),
                global_ipv6_address: opt(ep.endpoint.v6),
                global_ipv6_prefix_len: prefix(net.v6.as_ref(), ep.endpoint.v6.is_some()),
                mac_address: links::format_mac(ep.mac),
            }
        } else {
            // An exited container keeps only the network it was on.
            EndpointSettingsResource {
                network_id: net.id.clone(),
                ..EndpointSettingsResource::default()
            }
        };
        networks.insert(ep.endpoint.network.clone(), settings);
    }
    let mut ports: BTreeMap<String, Vec<PortBindingResource>> = BTreeMap::new();
    if s.phase == SandboxPhase::Running {
        for b in s.bindings() {
            ports
                .entry(format!("{}/{}", b.container_port, b.proto))
                .or_default()
                .push(PortBindingResource {
                    host_ip: b.host_ip.to_string(),
                    host_port: if b.host_port == 0 {
                        String::new()
                    } else {
                        b.host_port.to_string()
                    },
                });
        }
    }
    SandboxInspect {
        id: s.id.clone(),
        name: format!("/{}", s.name),
        created: s.created,
        cmd: s.cmd.clone(),
        state: SandboxState {
            status: state_name(s).to_string(),
            running: s.phase == SandboxPhase::Running,
            pid: s.pid.map_or(0, |(p, _)| p),
            exit_code: s.exit_code.unwrap_or(0),
            error: errors.join("; "),
        },
        publish: s.publish.clone(),
        auto_remove: s.auto_remove,
        network_settings: NetworkSettingsResource {
            sandbox_key: if s.phase == SandboxPhase::Running {
                s.netns.display().to_string()
            } else {
                String::new()
            },
            ports,
            networks,
        },
    }
}

fn state_name(s: &SandboxRecord) -> &'static str {
    match s.phase {
        SandboxPhase::Running => "running",
        SandboxPhase::Exited => "exited",
        SandboxPhase::Creating => "created",
        SandboxPhase::Removing => "removing",
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Ports as `docker ps` shows them.
fn ports_summary(bindings: &[PortBinding]) -> String {
    bindings
        .iter()
        .map(|b| {
            let host = match b.host_ip {
                IpAddr::V6(a) if a == Ipv6Addr::UNSPECIFIED => "[::]".to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
                IpAddr::V4(a) => a.to_string(),
            };
            if b.host_port == 0 {
                format!("{}/{}", b.container_port, b.proto)
            } else {
                format!("{host}:{}->{}/{}", b.host_port, b.container_port, b.proto)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::Protocol;
    use std::net::Ipv4Addr;

    #[test]
    fn ports_are_summarised_like_docker_ps() {
        let b = |host: &str, hp: u16| PortBinding {
            proto: Protocol::Tcp,
            container_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            container_port: 80,
            host_ip: host.parse().unwrap(),
            host_port: hp,
        };
        assert_eq!(
            ports_summary(&[b("0.0.0.0", 8080), b("::", 8080), b("::", 0)]),
            "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 80/tcp"
        );
    }
}
