//! Kernel parameters under `/proc/sys`, for the calling thread's network
//! namespace, and the ones Docker's bridge driver sets.
//!
//! **Which namespace.** The kernel resolves `/proc/sys/net/...` against the
//! network namespace of the *thread* that looks the path up
//! (`current->nsproxy->net_ns`), not of the process, and an open descriptor
//! keeps the namespace it was opened in. So plain `/proc/sys/net` paths are
//! right from any thread, including one inside [`super::netns::in_netns`];
//! no `/proc/thread-self` detour is needed. (That detour is needed for
//! `/proc/net`, a link to `/proc/self/net`, which follows the process's main
//! thread.) The tests check both facts.
//!
//! **`bridge-nf-call-ip*tables`.** Since Linux 5.3 the `br_netfilter`
//! sysctls are per network namespace: they appear under `/proc/sys/net/bridge`
//! in every namespace (defaulting to 1) once the module is loaded or built
//! in, and writing them in one namespace leaves the others alone. Older
//! kernels register them in the initial namespace only, where they are
//! global. Either way they exist in a non-initial namespace only when they
//! are that namespace's own, so [`enable_bridge_nf_call`] writes them only
//! outside the initial namespace ([`in_initial_netns`]) and never in it.
//!
//! Writers return whether they changed the value: Docker sets the filter
//! `FORWARD` policy to `DROP` only when it enabled forwarding itself.

use std::io;
use std::path::PathBuf;

use super::HostError;
use crate::firewall::types::Family;

/// The file of the sysctl `key` (its components, e.g.
/// `["net", "ipv4", "conf", "br0", "route_localnet"]`), checked: components
/// are non-empty file names (interface names may contain dots, so keys are
/// not written dotted).
fn sysctl_path(op: &'static str, key: &[&str]) -> Result<PathBuf, HostError> {
    let bad = key.is_empty()
        || key
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == ".." || c.contains(['/', '\0']));
    if bad {
        return Err(HostError::new(
            op,
            key.join("."),
            io::Error::new(io::ErrorKind::InvalidInput, "invalid sysctl key"),
        ));
    }
    let mut path = PathBuf::from("/proc/sys");
    path.extend(key);
    Ok(path)
}

/// Reads the sysctl `key` in the calling thread's namespace, trimmed.
pub fn read(key: &[&str]) -> Result<String, HostError> {
    const OP: &str = "read sysctl";
    let path = sysctl_path(OP, key)?;
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| HostError::new(OP, key.join("."), e))
}

/// Sets the sysctl `key` to `value` in the calling thread's namespace,
/// unless it already has that value (compared word by word, so `"1 2"`
/// matches the kernel's `"1\t2"`). Returns whether it wrote.
pub fn write(key: &[&str], value: &str) -> Result<bool, HostError> {
    const OP: &str = "write sysctl";
    let current = read(key)?;
    if current.split_whitespace().eq(value.split_whitespace()) {
        return Ok(false);
    }
    let path = sysctl_path(OP, key)?;
    std::fs::write(&path, format!("{value}\n"))
        .map_err(|e| HostError::new(OP, format!("{}={value}", key.join(".")), e))?;
    Ok(true)
}

/// Enables forwarding for `family`, as Docker does when it creates a bridge
/// network: `net.ipv4.ip_forward`, or `net.ipv6.conf.default.forwarding`
/// then `net.ipv6.conf.all.forwarding` (`all` alone would set `default` too,
/// but `default` may be off while `all` is on). Returns whether anything
/// changed.
pub fn enable_forwarding(family: Family) -> Result<bool, HostError> {
    match family {
        Family::V4 => write(&["net", "ipv4", "ip_forward"], "1"),
        Family::V6 => {
            let default = write(&["net", "ipv6", "conf", "default", "forwarding"], "1")?;
            let all = write(&["net", "ipv6", "conf", "all", "forwarding"], "1")?;
            Ok(default || all)
        }
    }
}

/// Enables `net.ipv4.conf.<bridge>.route_localnet`, which Docker sets on a
/// bridge when the userland proxy is off so that DNAT from 127.0.0.1 to a
/// container works. Returns whether it changed.
pub fn enable_route_localnet(bridge: &str) -> Result<bool, HostError> {
    write(&["net", "ipv4", "conf", bridge, "route_localnet"], "1")
}

/// Whether the calling thread is in the initial network namespace (the
/// kernel's `init_net`, the host's own).
///
/// The kernel registers some `net.core` sysctls in that namespace only:
/// `fb_tunnels_only_for_init_net`, `devconf_inherit_init_net`,
/// `netdev_max_backlog`... Any of them being visible means the initial
/// namespace. (Comparing with `/proc/1/ns/net` would need ptrace access to
/// PID 1, which root may lack, and would mistake a container's namespace
/// for the host's.) Were a later kernel to move one of them into every
/// namespace, this would answer `true` too often, never too rarely.
pub fn in_initial_netns() -> bool {
    [
        "fb_tunnels_only_for_init_net",
        "devconf_inherit_init_net",
        "netdev_max_backlog",
    ]
    .iter()
    .any(|name| exists(&["net", "core", name]))
}

/// Enables `net.bridge.bridge-nf-call-iptables` (IPv4) or
/// `bridge-nf-call-ip6tables` (IPv6), so bridged traffic crosses the
/// family's filter rules, as Docker does for networks that need it.
///
/// Returns `Ok(None)` when the sysctl does not exist here (`br_netfilter`
/// not loaded, or a kernel older than 5.3 outside the initial namespace),
/// else whether it changed. Refused, without writing, in the initial
/// network namespace (see the module documentation).
pub fn enable_bridge_nf_call(family: Family) -> Result<Option<bool>, HostError> {
    let name = match family {
        Family::V4 => "bridge-nf-call-iptables",
        Family::V6 => "bridge-nf-call-ip6tables",
    };
    let key = ["net", "bridge", name];
    if in_initial_netns() {
        return Err(HostError::new(
            "write sysctl",
            key.join("."),
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                "refused in the initial network namespace",
            ),
        ));
    }
    if !exists(&key) {
        return Ok(None);
    }
    write(&key, "1").map(Some)
}

/// Sets `net.ipv6.conf.<ifname>.disable_ipv6`. Docker disables IPv6 on a
/// sandbox interface that has no IPv6 address, and enables it on one that
/// has. When IPv6 is unavailable (no such sysctl), disabling is a no-op
/// (`Ok(false)`) while enabling is an error. Returns whether it changed.
pub fn set_ipv6_disabled(ifname: &str, disabled: bool) -> Result<bool, HostError> {
    let key = ["net", "ipv6", "conf", ifname, "disable_ipv6"];
    if disabled && !exists(&key) {
        return Ok(false);
    }
    write(&key, if disabled { "1" } else { "0" })
}

/// Sets `net.ipv6.conf.<ifname>.accept_ra` to 0, as Docker does for a
/// bridge it creates (no router advertisements accepted on it). A no-op
/// (`Ok(false)`) when IPv6 is unavailable there. Returns whether it changed.
pub fn disable_accept_ra(ifname: &str) -> Result<bool, HostError> {
    let key = ["net", "ipv6", "conf", ifname, "accept_ra"];
    if !exists(&key) {
        return Ok(false);
    }
    write(&key, "0")
}

/// `net.ipv4.ip_local_port_range`: the first and last ephemeral port, from
/// which host ports are allocated when none is given.
pub fn ip_local_port_range() -> Result<(u16, u16), HostError> {
    let key = ["net", "ipv4", "ip_local_port_range"];
    let text = read(&key)?;
    let invalid = || {
        HostError::new(
            "read sysctl",
            key.join("."),
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a port range: {text:?}"),
            ),
        )
    };
    let mut ports = text.split_whitespace().map(str::parse::<u16>);
    match (ports.next(), ports.next(), ports.next()) {
        (Some(Ok(lo)), Some(Ok(hi)), None) if lo <= hi => Ok((lo, hi)),
        _ => Err(invalid()),
    }
}

/// Whether the sysctl `key` exists in the calling thread's namespace (false
/// for an invalid key).
pub fn exists(key: &[&str]) -> bool {
    sysctl_path("read sysctl", key).is_ok_and(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::netns::in_netns;
    use crate::host::test_support::{TestNs, test_requires_root};

    #[test]
    fn keys_are_checked() {
        for key in [&[][..], &["net", ""], &["net", ".."], &["net", "a/b"]] {
            let e = read(key).expect_err("bad key");
            assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput, "{key:?}");
        }
        let e = read(&["net", "ipv4", "no_such_sysctl"]).expect_err("missing");
        assert_eq!(
            e.to_string().split(':').next(),
            Some("read sysctl net.ipv4.no_such_sysctl")
        );
        assert!(!exists(&["net", "ipv4", "no_such_sysctl"]));
        assert!(exists(&["net", "ipv4", "ip_forward"]));
    }

    #[test]
    fn reads_the_port_range() {
        let (lo, hi) = ip_local_port_range().expect("port range");
        assert!(0 < lo && lo <= hi, "{lo}-{hi}");
    }

    #[test]
    fn writes_apply_to_the_thread_namespace_only() {
        if !test_requires_root() {
            return;
        }
        let ns = TestNs::new();
        let outside = read(&["net", "ipv4", "ip_local_port_range"]).expect("read");
        let changed = in_netns(&ns.path, || {
            let first = write(&["net", "ipv4", "ip_local_port_range"], "40000 40999");
            let second = write(&["net", "ipv4", "ip_local_port_range"], "40000 40999");
            (first, second, ip_local_port_range())
        })
        .expect("in_netns");
        assert!(changed.0.expect("first write"), "first write changes");
        assert!(!changed.1.expect("second write"), "second write is a no-op");
        assert_eq!(changed.2.expect("range"), (40000, 40999));
        // Our own thread's namespace is untouched.
        assert_eq!(
            read(&["net", "ipv4", "ip_local_port_range"]).expect("read"),
            outside
        );
        // /proc/net follows the process's main thread, /proc/thread-self/net
        // the thread: a namespace with only `lo` shows just it there.
        let (thread_dev, self_dev) = in_netns(&ns.path, || {
            (
                std::fs::read_to_string("/proc/thread-self/net/dev").expect("thread-self"),
                std::fs::read_to_string("/proc/self/net/dev").expect("self"),
            )
        })
        .expect("in_netns");
        let names = |text: &str| -> Vec<String> {
            text.lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|n| n.trim().to_string())
                .collect()
        };
        assert_eq!(names(&thread_dev), ["lo"], "{thread_dev}");
        assert_eq!(
            names(&self_dev),
            names(&std::fs::read_to_string("/proc/self/net/dev").expect("own")),
            "/proc/self/net follows the main thread"
        );
    }

    #[test]
    fn docker_settings_in_a_namespace() {
        if !test_requires_root() {
            return;
        }
        let ns = TestNs::new();
        in_netns(&ns.path, || {
            assert_eq!(read(&["net", "ipv4", "ip_forward"]).expect("read"), "0");
            assert!(enable_forwarding(Family::V4).expect("v4"));
            assert!(!enable_forwarding(Family::V4).expect("v4 again"));
            assert_eq!(read(&["net", "ipv4", "ip_forward"]).expect("read"), "1");

            assert!(enable_forwarding(Family::V6).expect("v6"));
            assert!(!enable_forwarding(Family::V6).expect("v6 again"));
            for which in ["all", "default"] {
                let key = ["net", "ipv6", "conf", which, "forwarding"];
                assert_eq!(read(&key).expect("read"), "1", "{which}");
            }

            assert!(enable_route_localnet("lo").expect("route_localnet"));
            assert!(!enable_route_localnet("lo").expect("again"));

            assert!(set_ipv6_disabled("lo", true).expect("disable"));
            assert_eq!(
                read(&["net", "ipv6", "conf", "lo", "disable_ipv6"]).expect("read"),
                "1"
            );
            assert!(set_ipv6_disabled("lo", false).expect("enable"));
            assert!(!set_ipv6_disabled("lo", false).expect("enable again"));
            assert!(!set_ipv6_disabled("nosuchif0", true).expect("absent: no-op"));
            assert!(set_ipv6_disabled("nosuchif0", false).is_err());

            assert!(!disable_accept_ra("nosuchif0").expect("absent: no-op"));
            let ra = ["net", "ipv6", "conf", "lo", "accept_ra"];
            write(&ra, "1").expect("accept_ra=1");
            assert!(disable_accept_ra("lo").expect("accept_ra"));
            assert_eq!(read(&ra).expect("read"), "0");
        })
        .expect("in_netns");
    }

    #[test]
    fn bridge_nf_call_is_per_namespace_and_never_written_in_the_initial_one() {
        if !test_requires_root() {
            return;
        }
        let key = ["net", "bridge", "bridge-nf-call-iptables"];
        let ns = TestNs::new();
        let outside = exists(&key).then(|| read(&key).expect("read outside"));
        let present = in_netns(&ns.path, || {
            assert!(!in_initial_netns());
            let present = exists(&key);
            if present {
                write(&key, "0").expect("set 0 in the test namespace");
            }
            present
        })
        .expect("in_netns");
        if present {
            // 0 in the test namespace is not seen in ours (a real check
            // where ours is 1, the default).
            assert_eq!(exists(&key).then(|| read(&key).expect("read")), outside);
            let (enabled, again, value) = in_netns(&ns.path, || {
                (
                    enable_bridge_nf_call(Family::V4).expect("enable"),
                    enable_bridge_nf_call(Family::V4).expect("enable again"),
                    read(&key).expect("read"),
                )
            })
            .expect("in_netns");
            assert_eq!(enabled, Some(true));
            assert_eq!(again, Some(false));
            assert_eq!(value, "1");
        } else {
            eprintln!("br_netfilter sysctls not in namespaces here: nothing to write");
        }
        if in_initial_netns() {
            let e = enable_bridge_nf_call(Family::V6).expect_err("refused");
            assert_eq!(e.source.kind(), io::ErrorKind::PermissionDenied);
        }
    }
}
