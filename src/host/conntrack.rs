//! Conntrack entries: those of removed endpoints are deleted, as Docker
//! does, so that old flows do not keep using removed mappings.

use std::net::IpAddr;

use super::netns::{CommandRunner, Netns, NetnsRunner};

/// Deletes, in the calling thread's namespace, the conntrack entries whose
/// original destination or reply source is one of `addrs` (the `conntrack`
/// tool; a failure or no match is not an error).
pub fn flush_addresses(addrs: &[IpAddr]) {
    let runner = NetnsRunner::new(Netns::Current);
    for addr in addrs {
        let a = addr.to_string();
        let family = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
        for flag in ["--orig-dst", "--reply-src"] {
            // Exit status 1 means no entry matched.
            let _ = runner.run("conntrack", &["-D", "-f", family, flag, &a], None);
        }
    }
}
