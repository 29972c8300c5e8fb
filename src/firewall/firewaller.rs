//! The narrow firewall interface, in the spirit of Docker's `Firewaller`:
//! networks, endpoints and port bindings come and go, and every change is
//! applied as one transaction per family through a [`Backend`].
//!
//! [`Firewall`] keeps the desired [`FirewallState`] and re-plans it whole on
//! each change; the backend turns the difference into one atomic update.

use super::planner::plan;
use super::ruleset::Ruleset;
use super::types::{
    EndpointAddrs, Family, FirewallConfig, FirewallEndpoint, FirewallState, NetworkConfig,
    PortBinding,
};

/// Something that can bring a namespace's rules of one family to a plan.
pub trait Backend {
    /// Why applying failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies `ruleset` (one transaction, or none when nothing differs);
    /// returns whether anything changed.
    fn apply(&mut self, ruleset: &Ruleset) -> Result<bool, Self::Error>;
}

/// Errors of the firewall interface.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A network with this bridge is already known.
    #[error("network with bridge {0} already exists")]
    DuplicateNetwork(String),
    /// No network uses this bridge.
    #[error("no network with bridge {0}")]
    UnknownNetwork(String),
    /// An endpoint with this ID is already known.
    #[error("endpoint {0} already exists")]
    DuplicateEndpoint(String),
    /// No endpoint has this ID.
    #[error("no endpoint {0}")]
    UnknownEndpoint(String),
    /// A network still has endpoints.
    #[error("network with bridge {0} has active endpoints")]
    NetworkInUse(String),
    /// Applying failed; the desired state was rolled back to what it was.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// The operations of the firewall layer.
pub trait Firewaller {
    /// A network was created.
    fn add_network(&mut self, net: NetworkConfig) -> Result<(), FirewallError>;
    /// A network (with no endpoints left) was removed.
    fn remove_network(&mut self, if_name: &str) -> Result<(), FirewallError>;
    /// An endpoint joined the network with bridge `network`, publishing
    /// `bindings` (one transaction for both: a container start is one change).
    fn add_endpoint(
        &mut self,
        id: &str,
        network: &str,
        addrs: EndpointAddrs,
        bindings: &[PortBinding],
    ) -> Result<(), FirewallError>;
    /// An endpoint left its network (its port bindings go with it).
    fn remove_endpoint(&mut self, id: &str) -> Result<(), FirewallError>;
    /// Port bindings were published through an endpoint.
    fn add_ports(&mut self, id: &str, bindings: &[PortBinding]) -> Result<(), FirewallError>;
    /// Port bindings of an endpoint were withdrawn.
    fn remove_ports(&mut self, id: &str, bindings: &[PortBinding]) -> Result<(), FirewallError>;
    /// Re-applies the whole state (after a firewall reload or a flush).
    fn reapply(&mut self) -> Result<(), FirewallError>;
}

/// A [`Firewaller`] over a backend per family.
pub struct Firewall<B: Backend> {
    config: FirewallConfig,
    daemon_level: bool,
    drop_forward: Vec<Family>,
    networks: Vec<NetworkConfig>,
    endpoints: Vec<(String, FirewallEndpoint)>,
    backends: Vec<(Family, B)>,
}

impl<B: Backend> Firewall<B> {
    /// A firewall with no networks, applying through `backends` (one per
    /// family). Nothing is applied until [`Firewaller::reapply`] or a change.
    pub fn new(config: FirewallConfig, daemon_level: bool, backends: Vec<(Family, B)>) -> Self {
        Firewall {
            config,
            daemon_level,
            drop_forward: Vec::new(),
            networks: Vec::new(),
            endpoints: Vec::new(),
            backends,
        }
    }

    /// The desired state as it stands.
    pub fn state(&self) -> FirewallState {
        FirewallState {
            config: self.config.clone(),
            daemon_level: self.daemon_level,
            networks: self.networks.clone(),
            endpoints: self.endpoints.iter().map(|(_, e)| e.clone()).collect(),
            drop_forward: self.drop_forward.clone(),
        }
    }

    /// Replaces the desired networks and endpoints without applying (a
    /// daemon restoring its state); [`Firewaller::reapply`] applies them.
    pub fn load(
        &mut self,
        networks: Vec<NetworkConfig>,
        endpoints: Vec<(String, FirewallEndpoint)>,
    ) {
        self.networks = networks;
        self.endpoints = endpoints;
    }

    /// The backends, with their families.
    pub fn backends(&self) -> impl Iterator<Item = &(Family, B)> {
        self.backends.iter()
    }

    /// Sets the FORWARD policy of `family` to DROP from the next apply on
    /// (the daemon enabled forwarding itself). It is never set back.
    pub fn drop_forward(&mut self, family: Family) {
        if !self.drop_forward.contains(&family) {
            self.drop_forward.push(family);
        }
    }

    fn apply(&mut self) -> Result<(), FirewallError> {
        let state = self.state();
        for (family, backend) in &mut self.backends {
            backend
                .apply(&plan(&state, *family))
                .map_err(|e| FirewallError::Backend(Box::new(e)))?;
        }
        Ok(())
    }

    /// Makes a change, applies it, and undoes it in memory if applying fails.
    fn change(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), FirewallError>,
    ) -> Result<(), FirewallError> {
        let (networks, endpoints) = (self.networks.clone(), self.endpoints.clone());
        f(self)?;
        if let Err(e) = self.apply() {
            self.networks = networks;
            self.endpoints = endpoints;
            // Best effort: bring the kernel back to the previous state.
            let _ = self.apply();
            return Err(e);
        }
        Ok(())
    }

    /// Makes a removal and applies it. If applying fails the removal stays
    /// in the desired state (what is removed must not come back), and the
    /// next apply retries it.
    fn remove(&mut self, f: impl FnOnce(&mut Self)) -> Result<(), FirewallError> {
        f(self);
        self.apply()
    }

    fn endpoint_mut(&mut self, id: &str) -> Result<&mut FirewallEndpoint, FirewallError> {
        self.endpoints
            .iter_mut()
            .find(|(i, _)| i == id)
            .map(|(_, e)| e)
            .ok_or_else(|| FirewallError::UnknownEndpoint(id.to_string()))
    }
}

impl<B: Backend> Firewaller for Firewall<B> {
    fn add_network(&mut self, net: NetworkConfig) -> Result<(), FirewallError> {
        if self.networks.iter().any(|n| n.if_name == net.if_name) {
            return Err(FirewallError::DuplicateNetwork(net.if_name));
        }
        self.change(|fw| {
            fw.networks.push(net);
            Ok(())
        })
    }

    fn remove_network(&mut self, if_name: &str) -> Result<(), FirewallError> {
        let pos = self
            .networks
            .iter()
            .position(|n| n.if_name == if_name)
            .ok_or_else(|| FirewallError::UnknownNetwork(if_name.to_string()))?;
        if self.endpoints.iter().any(|(_, e)| e.network == if_name) {
            return Err(FirewallError::NetworkInUse(if_name.to_string()));
        }
        self.remove(|fw| {
            fw.networks.remove(pos);
        })
    }

    fn add_endpoint(
        &mut self,
        id: &str,
        network: &str,
        addrs: EndpointAddrs,
        bindings: &[PortBinding],
    ) -> Result<(), FirewallError> {
        if !self.networks.iter().any(|n| n.if_name == network) {
            return Err(FirewallError::UnknownNetwork(network.to_string()));
        }
        if self.endpoints.iter().any(|(i, _)| i == id) {
            return Err(FirewallError::DuplicateEndpoint(id.to_string()));
        }
        self.change(|fw| {
            fw.endpoints.push((
                id.to_string(),
                FirewallEndpoint {
                    network: network.to_string(),
                    addrs,
                    bindings: bindings.to_vec(),
                },
            ));
            Ok(())
        })
    }

    fn remove_endpoint(&mut self, id: &str) -> Result<(), FirewallError> {
        let pos = self
            .endpoints
            .iter()
            .position(|(i, _)| i == id)
            .ok_or_else(|| FirewallError::UnknownEndpoint(id.to_string()))?;
        self.remove(|fw| {
            fw.endpoints.remove(pos);
        })
    }

    fn add_ports(&mut self, id: &str, bindings: &[PortBinding]) -> Result<(), FirewallError> {
        self.endpoint_mut(id)?;
        self.change(|fw| {
            let ep = fw.endpoint_mut(id)?;
            for b in bindings {
                if !ep.bindings.contains(b) {
                    ep.bindings.push(*b);
                }
            }
            Ok(())
        })
    }

    fn remove_ports(&mut self, id: &str, bindings: &[PortBinding]) -> Result<(), FirewallError> {
        self.endpoint_mut(id)?;
        self.remove(|fw| {
            if let Ok(ep) = fw.endpoint_mut(id) {
                ep.bindings.retain(|b| !bindings.contains(b));
            }
        })
    }

    fn reapply(&mut self) -> Result<(), FirewallError> {
        self.apply()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::types::{FamilyConfig, GatewayMode, Protocol};

    /// Records the text of every ruleset it is asked to apply; fails on demand.
    #[derive(Default)]
    struct Recorder {
        applied: Vec<String>,
        fail: bool,
    }

    impl Backend for Recorder {
        type Error = std::io::Error;

        fn apply(&mut self, ruleset: &Ruleset) -> Result<bool, std::io::Error> {
            if self.fail {
                return Err(std::io::Error::other("iptables-restore: line 3 failed"));
            }
            self.applied.push(ruleset.to_save_text());
            Ok(true)
        }
    }

    fn net(name: &str) -> NetworkConfig {
        NetworkConfig {
            if_name: name.into(),
            internal: false,
            icc: true,
            masquerade: true,
            trusted_host_interfaces: vec![],
            v4: Some(FamilyConfig {
                prefix: "192.0.2.0/24".parse().unwrap(),
                host_ip: None,
                gateway_mode: GatewayMode::Nat,
            }),
            v6: None,
        }
    }

    fn fw() -> Firewall<Recorder> {
        Firewall::new(
            FirewallConfig::default(),
            true,
            vec![
                (Family::V4, Recorder::default()),
                (Family::V6, Recorder::default()),
            ],
        )
    }

    #[test]
    fn each_change_is_applied_once_per_family() {
        let mut f = fw();
        f.add_network(net("br0")).unwrap();
        let addrs = EndpointAddrs {
            v4: Some("192.0.2.2".parse().unwrap()),
            v6: None,
        };
        f.add_endpoint("ep1", "br0", addrs, &[]).unwrap();
        let b = PortBinding {
            proto: Protocol::Tcp,
            container_ip: "192.0.2.2".parse().unwrap(),
            container_port: 80,
            host_ip: "0.0.0.0".parse().unwrap(),
            host_port: 8080,
        };
        f.add_ports("ep1", &[b]).unwrap();
        assert_eq!(f.backends[0].1.applied.len(), 3);
        assert_eq!(f.backends[1].1.applied.len(), 3);
        assert!(f.backends[0].1.applied[2].contains("--dport 8080 -j DNAT"));
        f.remove_ports("ep1", &[b]).unwrap();
        assert!(!f.backends[0].1.applied[3].contains("DNAT"));
        assert!(matches!(
            f.remove_network("br0"),
            Err(FirewallError::NetworkInUse(_))
        ));
        f.remove_endpoint("ep1").unwrap();
        f.remove_network("br0").unwrap();
        assert!(!f.backends[0].1.applied[5].contains("br0"));
    }

    #[test]
    fn bad_calls_are_rejected_without_applying() {
        let mut f = fw();
        f.add_network(net("br0")).unwrap();
        assert!(matches!(
            f.add_network(net("br0")),
            Err(FirewallError::DuplicateNetwork(_))
        ));
        let none = EndpointAddrs { v4: None, v6: None };
        assert!(matches!(
            f.add_endpoint("e", "nope", none, &[]),
            Err(FirewallError::UnknownNetwork(_))
        ));
        assert!(matches!(
            f.remove_endpoint("e"),
            Err(FirewallError::UnknownEndpoint(_))
        ));
        assert_eq!(f.backends[0].1.applied.len(), 1);
    }

    #[test]
    fn a_failed_apply_rolls_an_addition_back_but_not_a_removal() {
        let mut f = fw();
        f.backends[0].1.fail = true;
        assert!(f.add_network(net("br0")).is_err());
        assert!(f.state().networks.is_empty());
        f.backends[0].1.fail = false;
        f.add_network(net("br0")).unwrap();
        f.backends[0].1.fail = true;
        assert!(f.remove_network("br0").is_err());
        assert!(f.state().networks.is_empty(), "a removal is not undone");
    }
}
