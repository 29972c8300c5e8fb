//! The system side of a bridge network: the bridge device, its gateway
//! addresses, MTU and the per-bridge sysctls Docker sets.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::firewall::Family;
use crate::host::links::Links;
use crate::host::{HostError, sysctl};
use crate::model::state::ResolvedNetwork;

/// What the daemon-wide config says about bridges.
#[derive(Debug, Clone, Copy)]
pub struct BridgeSettings {
    /// Hairpin NAT (`userland-proxy: false`): 127.0.0.1 must route to the
    /// bridge (`route_localnet`).
    pub hairpin: bool,
    /// The daemon-wide MTU (`mtu`), for networks without their own.
    pub mtu: Option<u32>,
}

/// The bridge's gateway addresses, with the subnet's prefix length.
fn gateway_addresses(net: &ResolvedNetwork) -> Vec<IpNet> {
    Family::ALL
        .iter()
        .filter(|&&f| !(f == Family::V4 && net.options.inhibit_ipv4))
        .filter_map(|&f| {
            let sub = net.family(f)?;
            let gw: IpAddr = sub.gateway?;
            IpNet::new(gw, sub.subnet.prefix_len()).ok()
        })
        .collect()
}

/// Creates (or adopts) the bridge of `net` and configures it: MTU, gateway
/// addresses, IPv6 settings, the sysctls Docker sets, then brings it up.
/// Idempotent: a daemon restart runs it again on existing bridges.
pub async fn set_up(
    links: &Links,
    net: &ResolvedNetwork,
    settings: BridgeSettings,
) -> Result<(), HostError> {
    let name = net.bridge.as_str();
    let mtu = net.options.mtu.or(settings.mtu);
    links.ensure_bridge(name, mtu, None).await?;
    if net.v6.is_some() {
        sysctl::set_ipv6_disabled(name, false)?;
        sysctl::disable_accept_ra(name)?;
    }
    for addr in gateway_addresses(net) {
        links.add_address(name, addr).await?;
    }
    if settings.hairpin && net.v4.is_some() {
        sysctl::enable_route_localnet(name)?;
    }
    if !net.options.enable_icc {
        // ICC=false needs bridged traffic to go through iptables.
        for family in Family::ALL {
            if net.family(family).is_some() && sysctl::enable_bridge_nf_call(family).is_err() {
                tracing::warn!(bridge = name, %family, "cannot enable bridge-nf-call: ICC may not be enforced");
            }
        }
    }
    links.set_up(name).await
}

/// Deletes the bridge `bridge` (no error if it is already gone).
pub async fn tear_down(links: &Links, bridge: &str) -> Result<(), HostError> {
    links.delete_link(bridge).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::daemon_config::DaemonConfig;
    use crate::model::network::{IpamConfig, NetworkSpec};
    use crate::model::state::StateBuilder;

    fn resolved(options: &[(&str, &str)], v6: bool) -> ResolvedNetwork {
        let mut b = StateBuilder::new(DaemonConfig::default()).unwrap();
        let spec = NetworkSpec {
            name: "n".into(),
            driver: "bridge".into(),
            enable_ipv4: true,
            enable_ipv6: v6,
            internal: false,
            ipam: vec![
                IpamConfig::parse(Some("192.0.2.0/24"), None, None).unwrap(),
                IpamConfig::parse(Some("2001:db8::/64"), None, None).unwrap(),
            ],
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        b.add_network(&spec).unwrap().clone()
    }

    #[test]
    fn gateways_carry_the_subnet_prefix() {
        let net = resolved(&[], true);
        let addrs: Vec<String> = gateway_addresses(&net)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(addrs, ["192.0.2.1/24", "2001:db8::1/64"]);
    }

    #[test]
    fn inhibit_ipv4_keeps_the_ipv4_gateway_off_the_bridge() {
        let net = resolved(&[("com.docker.network.bridge.inhibit_ipv4", "true")], false);
        assert!(gateway_addresses(&net).is_empty());
    }
}
