//! The kernel's nf_tables change notifications, heard in the calling
//! thread's network namespace: a netlink socket (`NETLINK_NETFILTER`)
//! subscribed to the `NFNLGRP_NFTABLES` group receives a message for every
//! table, chain, rule and set that anyone adds or deletes (iptables-nft,
//! nft, firewalld).
//!
//! Nothing is parsed: a message only says "look again", and the firewall
//! interface's check says what changed. A receive buffer overrun (`ENOBUFS`)
//! means messages were lost, which is a change too.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, socket,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The nf_tables multicast group (`NFNLGRP_NFTABLES` in
/// `linux/netfilter/nfnetlink.h`).
const NFNLGRP_NFTABLES: u32 = 7;

/// A netlink socket of the calling thread's namespace, subscribed to the
/// nf_tables group.
fn open_socket() -> io::Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::NetlinkNetFilter,
    )?;
    bind(
        fd.as_raw_fd(),
        &NetlinkAddr::new(0, 1 << (NFNLGRP_NFTABLES - 1)),
    )?;
    Ok(fd)
}

/// A subscription to nf_tables changes.
pub struct NftablesEvents {
    fd: AsyncFd<OwnedFd>,
    buf: Vec<u8>,
}

impl NftablesEvents {
    /// Subscribes, in the namespace of the calling thread (which must be in
    /// a tokio runtime).
    pub fn subscribe() -> io::Result<NftablesEvents> {
        NftablesEvents::listen(open_socket()?)
    }

    fn listen(fd: OwnedFd) -> io::Result<NftablesEvents> {
        // SAFETY: the AsyncFd owns the descriptor, which stays open and the
        // same until it is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(NftablesEvents {
            fd,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Waits until something changed, then takes every message already
    /// queued (a burst is one change to look at).
    pub async fn changed(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut got = false;
            loop {
                match recv(
                    guard.get_inner().as_fd().as_raw_fd(),
                    &mut self.buf,
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(_) => got = true,
                    Err(nix::errno::Errno::ENOBUFS) => got = true,
                    Err(nix::errno::Errno::EAGAIN) => {
                        guard.clear_ready();
                        break;
                    }
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            if got {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::netns::{CommandRunner, Netns, NetnsRunner, in_netns};
    use crate::host::test_support::{TestNs, test_requires_root};

    /// A chain made with iptables-nft in a namespace of the test's is heard
    /// by a subscription made in that namespace.
    #[tokio::test(flavor = "current_thread")]
    async fn a_chain_made_by_iptables_nft_is_heard() {
        if !test_requires_root() {
            return;
        }
        let ns = TestNs::new();
        let socket = in_netns(&ns.path, open_socket).unwrap().unwrap();
        let mut events = NftablesEvents::listen(socket).unwrap();
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(100), events.changed());
        assert!(quiet.await.is_err(), "nothing happens in a new namespace");
        NetnsRunner::new(Netns::Path(ns.path.clone()))
            .run("iptables-nft", &["-N", "BWT-EVENT"], None)
            .unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), events.changed())
            .await
            .expect("heard within 5 s")
            .unwrap();
    }
}
