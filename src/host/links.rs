//! Links, addresses and routes over rtnetlink, in one network namespace.
//!
//! A [`Links`] holds a netlink socket and the tokio task that drives it. A
//! netlink socket stays bound to the namespace it was created in, so
//! [`Links::in_netns`] opens it from a thread inside the target namespace
//! and then drives it from the caller's runtime; [`Links::current`] uses
//! the calling thread's namespace (the daemon's own, after
//! [`super::netns::enter_netns`]).
//!
//! Behaviour follows Docker's bridge driver:
//! - bridges get an explicit MAC address ([`random_mac`] when none is
//!   given, as Docker does), so the bridge's address does not follow its
//!   ports as they come and go;
//! - sandbox interfaces get a random `02:42:xx:xx:xx:xx` MAC address:
//!   Docker 28 dropped the MAC derived from the IPv4 address (moby#48808,
//!   "container interfaces on a bridge network always have a randomly
//!   generated MAC address"), and so does this crate;
//! - IPv6 addresses are added with `IFA_F_NODAD`, usable at once instead of
//!   after duplicate address detection (Docker does so for a container's
//!   address; bridgewall also for the bridge's gateway address, which
//!   Docker leaves to DAD but which no other host can claim on a bridge
//!   that bridgewall has just created);
//! - an IPv6 sandbox interface has IPv6 enabled, an IPv4-only one disabled.
//!
//! All operations are idempotent where that makes sense: adding an address
//! or a route that is there, deleting a link that is not, succeed.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use nix::libc;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteScope, RouteType, RouteVia,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

use super::{HostError, netns, sysctl};

/// The errno of a netlink error answer, if it is one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

/// A [`HostError`] from an rtnetlink error, keeping the kernel's errno.
fn nl_err(op: &'static str, object: impl Into<String>, e: rtnetlink::Error) -> HostError {
    let source = match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io(),
        other => io::Error::other(other.to_string()),
    };
    HostError::new(op, object, source)
}

/// The error of an operation on a link that does not exist.
fn no_such_link(op: &'static str, object: impl Into<String>) -> HostError {
    HostError::new(op, object, io::Error::from_raw_os_error(libc::ENODEV))
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

/// A random MAC address the way Docker 28 makes one for bridges and
/// container interfaces (`netutils.GenerateRandomMAC`): locally
/// administered, unicast, `02:42:` then four random bytes.
pub fn random_mac() -> Result<[u8; 6], HostError> {
    let mut mac = [0x02, 0x42, 0, 0, 0, 0];
    getrandom::fill(&mut mac[2..])
        .map_err(|e| HostError::new("generate MAC address", "02:42:*", io::Error::other(e)))?;
    Ok(mac)
}

/// A route of the main table, as [`Links::routes`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination network (`0.0.0.0/0` or `::/0` for a default route).
    pub destination: IpNet,
    /// The next hop, when the destination is not on-link.
    pub gateway: Option<IpAddr>,
    /// The output interface's name.
    pub dev: Option<String>,
}

/// Links, addresses and routes of one network namespace, over one netlink
/// socket. Needs a tokio runtime (it spawns the task that drives the
/// socket, which ends when the `Links` is dropped).
#[derive(Debug)]
pub struct Links {
    handle: Handle,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Links {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// The tokio runtime of the caller, or an error naming what needed it.
fn runtime(object: &str) -> Result<tokio::runtime::Handle, HostError> {
    tokio::runtime::Handle::try_current().map_err(|e| {
        HostError::new(
            "open netlink socket",
            object,
            io::Error::other(e.to_string()),
        )
    })
}

impl Links {
    /// Links of the calling thread's network namespace. Must be called
    /// within a tokio runtime.
    pub fn current() -> Result<Links, HostError> {
        const OBJECT: &str = "in the current netns";
        let rt = runtime(OBJECT)?;
        let (connection, handle, _) = rtnetlink::new_connection()
            .map_err(|e| HostError::new("open netlink socket", OBJECT, e))?;
        Ok(Links {
            handle,
            connection: rt.spawn(connection),
        })
    }

    /// Links of the network namespace at `path`: the socket is opened from
    /// a short-lived thread inside it (blocking the caller for that long)
    /// and driven on the caller's tokio runtime, which it must be called
    /// within.
    pub fn in_netns(path: &Path) -> Result<Links, HostError> {
        let object = format!("in netns {}", path.display());
        let rt = runtime(&object)?;
        let (connection, handle, _) = netns::in_netns(path, || {
            let _entered = rt.enter();
            rtnetlink::new_connection()
        })?
        .map_err(|e| HostError::new("open netlink socket", object, e))?;
        Ok(Links {
            handle,
            connection: rt.spawn(connection),
        })
    }

    /// The link called `name`, if there is one.
    async fn link_message(&self, name: &str) -> Result<Option<LinkMessage>, rtnetlink::Error> {
        let mut answers = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match answers.try_next().await {
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
            other => other,
        }
    }

    /// The index of the link `name`, or an error for `op` when it is absent.
    async fn index(&self, op: &'static str, name: &str) -> Result<u32, HostError> {
        match self.link_message(name).await {
            Ok(Some(link)) => Ok(link.header.index),
            Ok(None) => Err(no_such_link(op, name)),
            Err(e) => Err(nl_err(op, name, e)),
        }
    }

    /// The interface index of the link `name`, or `None` if it is absent.
    pub async fn link_index(&self, name: &str) -> Result<Option<u32>, HostError> {
        self.link_message(name)
            .await
            .map(|l| l.map(|l| l.header.index))
            .map_err(|e| nl_err("find link", name, e))
    }

    /// Sends an `RTM_SETLINK` for the link `name`, built by `build` from
    /// its index.
    async fn set_link(
        &self,
        op: &'static str,
        name: &str,
        build: impl FnOnce(u32) -> LinkMessage,
    ) -> Result<(), HostError> {
        let index = self.index(op, name).await?;
        self.handle
            .link()
            .set(build(index))
            .execute()
            .await
            .map_err(|e| nl_err(op, name, e))
    }

    /// Makes sure a bridge called `name` exists and returns its index.
    ///
    /// A missing bridge is created down (the daemon brings it up with
    /// [`Links::set_up`] once configured, as Docker does), with `mtu` if
    /// given and the MAC address `mac`, or a [`random_mac`]. An existing
    /// bridge is left as it is (like Docker, which configures only the
    /// bridges it creates); an existing link of another kind is an error.
    pub async fn ensure_bridge(
        &self,
        name: &str,
        mtu: Option<u32>,
        mac: Option<[u8; 6]>,
    ) -> Result<u32, HostError> {
        const OP: &str = "create bridge";
        let existing = self
            .link_message(name)
            .await
            .map_err(|e| nl_err(OP, name, e))?;
        let link = match existing {
            Some(link) => link,
            None => {
                let mac = match mac {
                    Some(mac) => mac,
                    None => random_mac()?,
                };
                let mut bridge = LinkMessageBuilder::<LinkBridge>::new(name).address(mac.to_vec());
                if let Some(mtu) = mtu {
                    bridge = bridge.mtu(mtu);
                }
                match self.handle.link().add(bridge.build()).execute().await {
                    // EEXIST: created meanwhile by someone else; checked below.
                    Err(e) if errno(&e) != Some(libc::EEXIST) => {
                        return Err(nl_err(OP, name, e));
                    }
                    _ => {}
                }
                self.link_message(name)
                    .await
                    .map_err(|e| nl_err(OP, name, e))?
                    .ok_or_else(|| no_such_link(OP, name))?
            }
        };
        if !is_bridge(&link) {
            return Err(HostError::new(
                OP,
                name,
                io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a bridge"),
            ));
        }
        Ok(link.header.index)
    }

    /// Deletes the link `name`; succeeds when it is absent. Deleting one end
    /// of a veth pair deletes both.
    pub async fn delete_link(&self, name: &str) -> Result<(), HostError> {
        const OP: &str = "delete link";
        let Some(index) = self.link_index(name).await? else {
            return Ok(());
        };
        match self.handle.link().del(index).execute().await {
            Err(e) if errno(&e) != Some(libc::ENODEV) => Err(nl_err(OP, name, e)),
            _ => Ok(()),
        }
    }

    /// Sets the link `name` administratively up.
    pub async fn set_up(&self, name: &str) -> Result<(), HostError> {
        self.set_link("set link up", name, |i| {
            LinkUnspec::new_with_index(i).up().build()
        })
        .await
    }

    /// Sets the MTU of the link `name`.
    pub async fn set_mtu(&self, name: &str, mtu: u32) -> Result<(), HostError> {
        self.set_link("set mtu of", name, |i| {
            LinkUnspec::new_with_index(i).mtu(mtu).build()
        })
        .await
    }

    /// Sets the MAC address of the link `name`.
    pub async fn set_mac(&self, name: &str, mac: [u8; 6]) -> Result<(), HostError> {
        self.set_link("set mac address of", name, |i| {
            LinkUnspec::new_with_index(i).address(mac.to_vec()).build()
        })
        .await
        .map_err(|e| HostError {
            object: format!("{name} to {}", format_mac(mac)),
            ..e
        })
    }

    /// Renames the link `name` to `new_name`. The link must be down (a veth
    /// end just created or moved to another namespace is).
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<(), HostError> {
        self.set_link("rename link", name, |i| {
            LinkUnspec::new_with_index(i)
                .name(new_name.to_string())
                .build()
        })
        .await
    }

    /// Attaches the link `name` to the bridge `bridge`.
    pub async fn set_master(&self, name: &str, bridge: &str) -> Result<(), HostError> {
        const OP: &str = "attach link to bridge";
        let bridge_index = self.index(OP, bridge).await?;
        self.set_link(OP, name, |i| {
            LinkUnspec::new_with_index(i)
                .controller(bridge_index)
                .build()
        })
        .await
    }

    /// Sets hairpin mode on the bridge port `name`: frames may go back out
    /// of the port they came in. Docker enables it on a container's host
    /// veth when the userland proxy is disabled, so a container can reach
    /// itself through its published port.
    pub async fn set_hairpin(&self, name: &str, on: bool) -> Result<(), HostError> {
        const OP: &str = "set hairpin mode of";
        let index = self.index(OP, name).await?;
        let port = LinkBridgePort::new(index).hairpin(on).build();
        self.handle
            .link()
            .set_port(port)
            .execute()
            .await
            .map_err(|e| nl_err(OP, name, e))
    }

    /// Moves the link `name` to the network namespace of `netns_file` (an
    /// open namespace file, e.g. `/run/netns/NAME`). The link goes down on
    /// the way and keeps its name.
    pub async fn move_to_netns(&self, name: &str, netns_file: &File) -> Result<(), HostError> {
        let fd = netns_file.as_raw_fd();
        self.set_link("move link to netns", name, |i| {
            LinkUnspec::new_with_index(i).setns_by_fd(fd).build()
        })
        .await
    }

    /// The names of the links whose name starts with `prefix`, sorted.
    pub async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<String>, HostError> {
        let mut names: Vec<String> = self
            .all_links("list links", prefix)
            .await?
            .into_values()
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every link's name, by index.
    async fn all_links(
        &self,
        op: &'static str,
        object: &str,
    ) -> Result<HashMap<u32, String>, HostError> {
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_err(op, object, e))?;
        Ok(links
            .iter()
            .filter_map(|l| link_name(l).map(|n| (l.header.index, n.to_string())))
            .collect())
    }

    /// Creates a veth pair, `host_if` and its peer `peer_if`, both with
    /// `mtu` if given. Both ends are created down, in this namespace; an
    /// existing name is an error (`File exists`).
    pub async fn create_veth(
        &self,
        host_if: &str,
        peer_if: &str,
        mtu: Option<u32>,
    ) -> Result<(), HostError> {
        let mut host = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(host_if.to_string());
        let mut peer = LinkUnspec::new_with_name(peer_if);
        if let Some(mtu) = mtu {
            host = host.mtu(mtu);
            peer = peer.mtu(mtu);
        }
        let message = host
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|e| nl_err("create veth", format!("{host_if} (peer {peer_if})"), e))
    }

    /// Adds `addr` (address and prefix length) to the link `name`; succeeds
    /// if it is there already. IPv6 addresses are added with `IFA_F_NODAD`.
    pub async fn add_address(&self, name: &str, addr: IpNet) -> Result<(), HostError> {
        const OP: &str = "add address";
        let object = || format!("{addr} to {name}");
        let index = self.index(OP, name).await.map_err(|e| HostError {
            object: object(),
            ..e
        })?;
        let mut request = self
            .handle
            .address()
            .add(index, addr.addr(), addr.prefix_len());
        if addr.addr().is_ipv6() {
            let message = request.message_mut();
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await {
            Err(e) if errno(&e) != Some(libc::EEXIST) => Err(nl_err(OP, object(), e)),
            _ => Ok(()),
        }
    }

    /// The address messages of the link `name`.
    async fn address_messages(
        &self,
        op: &'static str,
        name: &str,
    ) -> Result<Vec<AddressMessage>, HostError> {
        let index = self.index(op, name).await?;
        let messages: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_err(op, name, e))?;
        Ok(messages
            .into_iter()
            .filter(|m| m.header.index == index)
            .collect())
    }

    /// The addresses of the link `name` (IPv4 then IPv6, including
    /// link-local addresses the kernel assigned), with their prefix length.
    pub async fn addresses(&self, name: &str) -> Result<Vec<IpNet>, HostError> {
        Ok(self
            .address_messages("list addresses of", name)
            .await?
            .iter()
            .filter_map(address_of)
            .collect())
    }

    /// Removes every address of the link `name`, like `ip address flush`.
    pub async fn flush_addresses(&self, name: &str) -> Result<(), HostError> {
        const OP: &str = "flush addresses of";
        for message in self.address_messages(OP, name).await? {
            match self.handle.address().del(message).execute().await {
                // Gone already (a secondary address goes with its primary).
                Err(e) if errno(&e) != Some(libc::EADDRNOTAVAIL) => {
                    return Err(nl_err(OP, name, e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds a route to `dest` (host bits ignored) through the link `dev`,
    /// via `gateway` if given (else on-link, scope link): a default route is
    /// `0.0.0.0/0` or `::/0` via the bridge's gateway address. Succeeds if a
    /// route to `dest` is already in the main table (which it leaves as is).
    pub async fn add_route(
        &self,
        dest: IpNet,
        gateway: Option<IpAddr>,
        dev: &str,
    ) -> Result<(), HostError> {
        const OP: &str = "add route";
        let object = match gateway {
            Some(gw) => format!("{} via {gw} dev {dev}", dest.trunc()),
            None => format!("{} dev {dev}", dest.trunc()),
        };
        // The builder's error type is not exported: keep its message.
        let invalid = |e: &dyn std::fmt::Display| {
            HostError::new(
                OP,
                object.clone(),
                io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
            )
        };
        let index = self.index(OP, dev).await.map_err(|e| HostError {
            object: object.clone(),
            ..e
        })?;
        let dest = dest.trunc();
        let route = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(dest.addr(), dest.prefix_len())
            .map_err(|e| invalid(&e))?
            .output_interface(index);
        let route = match gateway {
            Some(gw) => route.gateway(gw).map_err(|e| invalid(&e))?,
            None => route.scope(RouteScope::Link),
        };
        match self.handle.route().add(route.build()).execute().await {
            Err(e) if errno(&e) != Some(libc::EEXIST) => Err(nl_err(OP, object, e)),
            _ => Ok(()),
        }
    }

    /// The unicast routes of the main table, IPv4 then IPv6.
    pub async fn routes(&self) -> Result<Vec<Route>, HostError> {
        const OP: &str = "list routes";
        let names = self.all_links(OP, "of the main table").await?;
        let mut routes = Vec::new();
        for query in [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ] {
            let messages: Vec<RouteMessage> = self
                .handle
                .route()
                .get(query)
                .execute()
                .try_collect()
                .await
                .map_err(|e| nl_err(OP, "of the main table", e))?;
            routes.extend(
                messages
                    .iter()
                    .filter(|m| {
                        table_of(m) == u32::from(RouteHeader::RT_TABLE_MAIN)
                            && m.header.kind == RouteType::Unicast
                    })
                    .filter_map(|m| route_of(m, &names)),
            );
        }
        Ok(routes)
    }
}

/// Configures a sandbox's end of a veth pair, already moved into the
/// sandbox's namespace (`netns`) as `peer_if`, the way Docker configures a
/// container's interface: renamed to `name` (`eth0`...), given `mac`, IPv6
/// enabled on it if and only if `addrs` has an IPv6 address, `addrs` added
/// (IPv6 without DAD), `lo` and the interface brought up, and default routes
/// added via the gateways given.
///
/// Docker brings the host end up before this (when it creates the
/// endpoint); either order works.
pub async fn configure_sandbox_interface(
    netns: &Path,
    peer_if: &str,
    name: &str,
    addrs: &[IpNet],
    gateways: (Option<Ipv4Addr>, Option<Ipv6Addr>),
    mac: [u8; 6],
) -> Result<(), HostError> {
    let links = Links::in_netns(netns)?;
    if peer_if != name {
        links.rename(peer_if, name).await?;
    }
    links.set_mac(name, mac).await?;
    let has_ipv6 = addrs.iter().any(|a| matches!(a, IpNet::V6(_)));
    netns::in_netns(netns, || sysctl::set_ipv6_disabled(name, !has_ipv6))??;
    for addr in addrs {
        links.add_address(name, *addr).await?;
    }
    links.set_up("lo").await?;
    links.set_up(name).await?;
    if let Some(gw) = gateways.0 {
        links
            .add_route(IpNet::V4(Ipv4Net::default()), Some(gw.into()), name)
            .await?;
    }
    if let Some(gw) = gateways.1 {
        links
            .add_route(IpNet::V6(Ipv6Net::default()), Some(gw.into()), name)
            .await?;
    }
    Ok(())
}

/// A link's name.
fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// Whether a link is a bridge.
fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge))),
        _ => false,
    })
}

/// The address and prefix of an address message: `IFA_LOCAL` (the
/// interface's own address for IPv4, where `IFA_ADDRESS` is the peer's on
/// point-to-point links), else `IFA_ADDRESS`.
fn address_of(message: &AddressMessage) -> Option<IpNet> {
    let find = |local: bool| {
        message.attributes.iter().find_map(|a| match a {
            AddressAttribute::Local(ip) if local => Some(*ip),
            AddressAttribute::Address(ip) if !local => Some(*ip),
            _ => None,
        })
    };
    let ip = find(true).or_else(|| find(false))?;
    IpNet::new(ip, message.header.prefix_len).ok()
}

/// A route's table: `RTA_TABLE` when present, else the header's.
fn table_of(route: &RouteMessage) -> u32 {
    route
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(route.header.table))
}

/// A route message as a [`Route`], naming its interface from `names`.
fn route_of(route: &RouteMessage, names: &HashMap<u32, String>) -> Option<Route> {
    let ip = |a: &RouteAddress| match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    };
    let mut destination = None;
    let mut gateway = None;
    let mut dev = None;
    for attribute in &route.attributes {
        match attribute {
            RouteAttribute::Destination(a) => destination = ip(a),
            RouteAttribute::Gateway(a) => gateway = ip(a),
            RouteAttribute::Via(RouteVia::Inet6(v6)) => gateway = Some(IpAddr::V6(*v6)),
            RouteAttribute::Oif(index) => dev = names.get(index).cloned(),
            _ => {}
        }
    }
    let destination = destination.or(match route.header.address_family {
        rtnetlink::packet_route::AddressFamily::Inet => Some(Ipv4Addr::UNSPECIFIED.into()),
        rtnetlink::packet_route::AddressFamily::Inet6 => Some(Ipv6Addr::UNSPECIFIED.into()),
        _ => None,
    })?;
    Some(Route {
        destination: IpNet::new(destination, route.header.destination_prefix_length).ok()?,
        gateway,
        dev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::test_support::{TestNs, test_requires_root};
    use rtnetlink::packet_route::link::{InfoBridgePort, InfoPortData, LinkFlags};
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    const BRIDGE_MAC: [u8; 6] = [0x02, 0x42, 0xc0, 0x00, 0x02, 0x01];

    async fn link(links: &Links, name: &str) -> LinkMessage {
        links
            .link_message(name)
            .await
            .expect("get link")
            .unwrap_or_else(|| panic!("no link {name}"))
    }

    fn mtu(link: &LinkMessage) -> Option<u32> {
        link.attributes.iter().find_map(|a| match a {
            LinkAttribute::Mtu(m) => Some(*m),
            _ => None,
        })
    }

    fn mac(link: &LinkMessage) -> Option<Vec<u8>> {
        link.attributes.iter().find_map(|a| match a {
            LinkAttribute::Address(m) => Some(m.clone()),
            _ => None,
        })
    }

    fn hairpin(link: &LinkMessage) -> Option<bool> {
        link.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                    port.iter().find_map(|p| match p {
                        InfoBridgePort::HairpinMode(on) => Some(*on),
                        _ => None,
                    })
                }
                _ => None,
            }),
            _ => None,
        })
    }

    fn controller(link: &LinkMessage) -> Option<u32> {
        link.attributes.iter().find_map(|a| match a {
            LinkAttribute::Controller(i) => Some(*i),
            _ => None,
        })
    }

    fn net(s: &str) -> IpNet {
        s.parse().expect("network")
    }

    #[test]
    fn macs_are_docker_style() {
        let a = random_mac().expect("mac");
        let b = random_mac().expect("mac");
        assert_eq!(a[..2], [0x02, 0x42]);
        assert_ne!(a, b, "four random bytes twice alike");
        assert_eq!(format_mac(BRIDGE_MAC), "02:42:c0:00:02:01");
    }

    #[test]
    fn needs_a_runtime() {
        let e = Links::current().expect_err("no runtime");
        assert_eq!(e.op, "open netlink socket");
    }

    #[tokio::test]
    async fn bridge_with_addresses_and_mtu() {
        if !test_requires_root() {
            return;
        }
        let ns = TestNs::new();
        let links = Links::in_netns(&ns.path).expect("links");
        assert_eq!(links.link_index("br-test").await.expect("lookup"), None);

        let index = links
            .ensure_bridge("br-test", Some(1400), Some(BRIDGE_MAC))
            .await
            .expect("create");
        let again = links
            .ensure_bridge("br-test", Some(9000), None)
            .await
            .expect("existing bridge");
        assert_eq!(index, again);
        assert_eq!(
            links.link_index("br-test").await.expect("lookup"),
            Some(index)
        );
        let br = link(&links, "br-test").await;
        assert_eq!(mtu(&br), Some(1400), "an existing bridge is left as is");
        assert_eq!(mac(&br), Some(BRIDGE_MAC.to_vec()));
        assert!(!br.header.flags.contains(LinkFlags::Up), "created down");

        // A bridge is only made in the namespace it was asked for.
        let ours = Links::current().expect("links here");
        assert_eq!(ours.link_index("br-test").await.expect("lookup"), None);

        links.set_mtu("br-test", 1450).await.expect("mtu");
        links.set_up("br-test").await.expect("up");
        let br = link(&links, "br-test").await;
        assert_eq!(mtu(&br), Some(1450));
        assert!(br.header.flags.contains(LinkFlags::Up));

        for _ in 0..2 {
            links
                .add_address("br-test", net("192.0.2.1/24"))
                .await
                .expect("v4");
            links
                .add_address("br-test", net("2001:db8::1/64"))
                .await
                .expect("v6");
        }
        let addrs = links.addresses("br-test").await.expect("addresses");
        assert!(addrs.contains(&net("192.0.2.1/24")), "{addrs:?}");
        assert!(addrs.contains(&net("2001:db8::1/64")), "{addrs:?}");
        assert_eq!(addrs.iter().filter(|a| a.addr().is_ipv4()).count(), 1);
        let v6 = links
            .address_messages("list", "br-test")
            .await
            .expect("messages")
            .into_iter()
            .find(|m| address_of(m) == Some(net("2001:db8::1/64")))
            .expect("v6 message");
        assert!(v6.header.flags.contains(AddressHeaderFlags::Nodad));
        assert!(!v6.header.flags.contains(AddressHeaderFlags::Tentative));

        links.flush_addresses("br-test").await.expect("flush");
        assert_eq!(links.addresses("br-test").await.expect("addresses"), []);

        // Not a bridge: a veth end.
        links.create_veth("bwv0", "bwv1", None).await.expect("veth");
        let e = links
            .create_veth("bwv0", "bwv2", None)
            .await
            .expect_err("exists");
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        let e = links
            .ensure_bridge("bwv0", None, None)
            .await
            .expect_err("not a bridge");
        assert_eq!(
            e.to_string(),
            "create bridge bwv0: exists and is not a bridge"
        );
        assert_eq!(
            links.links_with_prefix("bwv").await.expect("list"),
            ["bwv0", "bwv1"]
        );

        let e = links
            .set_mac("nosuch0", BRIDGE_MAC)
            .await
            .expect_err("absent");
        assert_eq!(
            e.to_string(),
            "set mac address of nosuch0 to 02:42:c0:00:02:01: No such device (os error 19)"
        );
        let e = links
            .add_route(net("198.51.100.7/24"), None, "nosuch0")
            .await
            .expect_err("absent");
        assert_eq!(
            e.to_string(),
            "add route 198.51.100.0/24 dev nosuch0: No such device (os error 19)"
        );
        let e = links.set_up("nosuch0").await.expect_err("absent");
        assert_eq!(
            e.to_string(),
            "set link up nosuch0: No such device (os error 19)"
        );

        links.delete_link("bwv0").await.expect("delete veth");
        assert_eq!(
            links.links_with_prefix("bwv").await.expect("list"),
            [] as [&str; 0]
        );
        links.delete_link("br-test").await.expect("delete bridge");
        links.delete_link("br-test").await.expect("delete absent");
        assert_eq!(links.link_index("br-test").await.expect("lookup"), None);
    }

    /// Connects from the namespace `from` to `to` with a bounded timeout and
    /// exchanges a byte with `listener`.
    fn tcp_exchange(from: &Path, listener: &TcpListener, to: SocketAddr) {
        let mut client = netns::in_netns(from, || {
            TcpStream::connect_timeout(&to, Duration::from_secs(5))
        })
        .expect("in_netns")
        .unwrap_or_else(|e| panic!("connect to {to}: {e}"));
        // The handshake is done, so accept returns at once.
        let (mut server, peer) = listener.accept().expect("accept");
        assert_ne!(peer.ip(), to.ip());
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        server.write_all(b"x").expect("write");
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).expect("read");
        assert_eq!(&byte, b"x");
    }

    #[tokio::test]
    async fn sandboxes_on_a_bridge_reach_the_gateway() {
        if !test_requires_root() {
            return;
        }
        let host = TestNs::new();
        let sandbox = TestNs::new();
        let v4_only = TestNs::new();
        let links = Links::in_netns(&host.path).expect("links");

        links
            .ensure_bridge("br-sb", Some(1400), None)
            .await
            .expect("bridge");
        links
            .add_address("br-sb", net("192.0.2.1/24"))
            .await
            .expect("v4");
        links
            .add_address("br-sb", net("2001:db8::1/64"))
            .await
            .expect("v6");
        links.set_up("br-sb").await.expect("up");

        let sandbox_mac = random_mac().expect("mac");
        for (ns, host_if, peer_if, addrs, gateways) in [
            (
                &sandbox,
                "veth-a",
                "veth-a-p",
                vec![net("192.0.2.2/24"), net("2001:db8::2/64")],
                (
                    Some(Ipv4Addr::new(192, 0, 2, 1)),
                    Some("2001:db8::1".parse().expect("v6")),
                ),
            ),
            (
                &v4_only,
                "veth-b",
                "veth-b-p",
                vec![net("192.0.2.3/24")],
                (Some(Ipv4Addr::new(192, 0, 2, 1)), None),
            ),
        ] {
            links
                .create_veth(host_if, peer_if, Some(1400))
                .await
                .expect("veth");
            links.set_master(host_if, "br-sb").await.expect("master");
            links.set_hairpin(host_if, true).await.expect("hairpin");
            let file = File::open(&ns.path).expect("open netns");
            links.move_to_netns(peer_if, &file).await.expect("move");
            assert_eq!(links.link_index(peer_if).await.expect("lookup"), None);
            links.set_up(host_if).await.expect("host end up");
            configure_sandbox_interface(&ns.path, peer_if, "eth0", &addrs, gateways, sandbox_mac)
                .await
                .expect("configure sandbox");
        }
        let port = link(&links, "veth-a").await;
        assert_eq!(hairpin(&port), Some(true));
        assert_eq!(
            controller(&port),
            links.link_index("br-sb").await.expect("lookup")
        );

        let inside = Links::in_netns(&sandbox.path).expect("sandbox links");
        let eth0 = link(&inside, "eth0").await;
        assert_eq!(mac(&eth0), Some(sandbox_mac.to_vec()));
        assert_eq!(mtu(&eth0), Some(1400));
        assert!(eth0.header.flags.contains(LinkFlags::Up));
        assert!(
            link(&inside, "lo")
                .await
                .header
                .flags
                .contains(LinkFlags::Up)
        );
        assert_eq!(inside.link_index("veth-a-p").await.expect("lookup"), None);
        let routes = inside.routes().await.expect("routes");
        for (dest, gw) in [("0.0.0.0/0", "192.0.2.1"), ("::/0", "2001:db8::1")] {
            let default = Route {
                destination: net(dest),
                gateway: Some(gw.parse().expect("gateway")),
                dev: Some("eth0".into()),
            };
            assert!(routes.contains(&default), "{default:?} not in {routes:?}");
        }
        // Adding it again changes nothing.
        inside
            .add_route(
                net("0.0.0.0/0"),
                Some("192.0.2.1".parse().expect("gw")),
                "eth0",
            )
            .await
            .expect("again");
        assert_eq!(inside.routes().await.expect("routes"), routes);
        let ipv6_disabled = |ns: &Path| {
            netns::in_netns(ns, || {
                sysctl::read(&["net", "ipv6", "conf", "eth0", "disable_ipv6"])
            })
            .expect("in_netns")
            .expect("read")
        };
        assert_eq!(ipv6_disabled(&sandbox.path), "0");
        assert_eq!(ipv6_disabled(&v4_only.path), "1");
        let v4_only_addrs = Links::in_netns(&v4_only.path)
            .expect("links")
            .addresses("eth0")
            .await
            .expect("addresses");
        assert_eq!(v4_only_addrs, [net("192.0.2.3/24")]);

        // TCP from each sandbox to listeners on the bridge's addresses.
        for gateway in ["192.0.2.1:0", "[2001:db8::1]:0"] {
            let listener = netns::in_netns(&host.path, || {
                TcpListener::bind(gateway.parse::<SocketAddr>().expect("addr"))
            })
            .expect("in_netns")
            .expect("bind");
            let to = listener.local_addr().expect("addr");
            tcp_exchange(&sandbox.path, &listener, to);
            if to.is_ipv4() {
                tcp_exchange(&v4_only.path, &listener, to);
            }
        }
        // And from the host namespace to a sandbox.
        let listener = netns::in_netns(&sandbox.path, || TcpListener::bind("192.0.2.2:0"))
            .expect("in_netns")
            .expect("bind");
        let to = listener.local_addr().expect("addr");
        tcp_exchange(&host.path, &listener, to);

        drop((inside, links));
        let paths = [&host, &sandbox, &v4_only].map(|ns| ns.path.clone());
        drop((host, sandbox, v4_only));
        for path in paths {
            assert!(
                !netns::netns_exists(&path),
                "{} left behind",
                path.display()
            );
        }
    }
}
