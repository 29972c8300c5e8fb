//! Conntrack entries: those of removed endpoints are deleted, as Docker
//! does, so that old flows do not keep using removed mappings.

use std::net::IpAddr;

use super::netns::{CommandError, CommandRunner, Netns, NetnsRunner};

/// Deletes, in the calling thread's namespace, the conntrack entries whose
/// original destination or reply source is one of `addrs` (the `conntrack`
/// tool). No entry to delete is no error; a failure is logged (the change
/// goes on: old flows only keep their old path until they end).
pub fn flush_addresses(addrs: &[IpAddr]) {
    let runner = NetnsRunner::new(Netns::Current);
    for addr in addrs {
        let a = addr.to_string();
        let family = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
        for flag in ["--orig-dst", "--reply-src"] {
            match runner.run("conntrack", &["-D", "-f", family, flag, &a], None) {
                Ok(_) => {}
                // conntrack exits with 1, saying so, when no entry matched.
                Err(CommandError::Failed { status, stderr, .. })
                    if status.ends_with("exit status: 1")
                        && stderr.contains("0 flow entries have been deleted") => {}
                Err(e) => tracing::warn!(address = %a, "flushing conntrack entries: {e}"),
            }
        }
    }
}
