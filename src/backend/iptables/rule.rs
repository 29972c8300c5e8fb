//! One iptables rule, built from typed parts and printed exactly as
//! `iptables-save` prints it.
//!
//! `iptables-save` prints a rule's parts in a fixed order whatever order they
//! were given in: source, destination, input and output interface, protocol,
//! matches, then the target. [`Rule`] keeps the parts in slots and prints them
//! in that order, so a planned rule compares equal, as text, to the kernel's.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::firewall::names::IfName;
use crate::firewall::types::{Family, Protocol};

/// A rule's matches and target, without its chain (`-A CHAIN` is added by the
/// ruleset when printing).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Rule {
    src: Option<(bool, String)>,
    dst: Option<(bool, String)>,
    in_if: Option<(bool, String)>,
    out_if: Option<(bool, String)>,
    proto: Option<String>,
    matches: Vec<String>,
    target: String,
}

/// An address as iptables prints it: a host address gets its full prefix.
fn host(addr: IpAddr) -> String {
    IpNet::from(addr).to_string()
}

impl Rule {
    /// A rule with no matches that jumps to `target` (e.g. `ACCEPT`, `DOCKER`).
    pub fn jump(target: impl Into<String>) -> Rule {
        Rule {
            target: target.into(),
            ..Rule::default()
        }
    }

    /// `-s NET`.
    pub fn src_net(mut self, net: IpNet) -> Rule {
        self.src = Some((false, net.to_string()));
        self
    }

    /// `! -s NET`.
    pub fn not_src_net(mut self, net: IpNet) -> Rule {
        self.src = Some((true, net.to_string()));
        self
    }

    /// `-s ADDR/32` (or `/128`).
    pub fn src_addr(mut self, addr: IpAddr) -> Rule {
        self.src = Some((false, host(addr)));
        self
    }

    /// `! -s` with a literal network such as `fe80::/10`.
    pub fn not_src(mut self, net: &str) -> Rule {
        self.src = Some((true, net.to_string()));
        self
    }

    /// `-d NET`.
    pub fn dst_net(mut self, net: IpNet) -> Rule {
        self.dst = Some((false, net.to_string()));
        self
    }

    /// `! -d NET`.
    pub fn not_dst_net(mut self, net: IpNet) -> Rule {
        self.dst = Some((true, net.to_string()));
        self
    }

    /// `! -d` with a literal network such as `127.0.0.0/8`.
    pub fn not_dst(mut self, net: &str) -> Rule {
        self.dst = Some((true, net.to_string()));
        self
    }

    /// `-d ADDR/32` (or `/128`).
    pub fn dst_addr(mut self, addr: IpAddr) -> Rule {
        self.dst = Some((false, host(addr)));
        self
    }

    /// `-i IF`.
    pub fn in_if(mut self, name: &IfName) -> Rule {
        self.in_if = Some((false, name.to_string()));
        self
    }

    /// `! -i IF`.
    pub fn not_in_if(mut self, name: &IfName) -> Rule {
        self.in_if = Some((true, name.to_string()));
        self
    }

    /// `-o IF`.
    pub fn out_if(mut self, name: &IfName) -> Rule {
        self.out_if = Some((false, name.to_string()));
        self
    }

    /// `! -o IF`.
    pub fn not_out_if(mut self, name: &IfName) -> Rule {
        self.out_if = Some((true, name.to_string()));
        self
    }

    /// `-p icmp` (IPv4) or `-p ipv6-icmp` (IPv6, which ip6tables prints for `icmpv6`).
    pub fn icmp(mut self, family: Family) -> Rule {
        self.proto = Some(
            match family {
                Family::V4 => "icmp",
                Family::V6 => "ipv6-icmp",
            }
            .to_string(),
        );
        self
    }

    /// `-p PROTO -m PROTO --dport PORT`.
    pub fn dport(mut self, proto: Protocol, port: u16) -> Rule {
        self.proto = Some(proto.as_str().to_string());
        self.matches.push(format!("-m {proto} --dport {port}"));
        self
    }

    /// `-m conntrack --ctstate RELATED,ESTABLISHED`.
    pub fn related_established(mut self) -> Rule {
        self.matches
            .push("-m conntrack --ctstate RELATED,ESTABLISHED".to_string());
        self
    }

    /// A fixed match written into the planner (never a client's text),
    /// e.g. `-m conntrack --ctstate DNAT`.
    pub fn with_match(mut self, spec: &'static str) -> Rule {
        self.matches.push(spec.to_string());
        self
    }

    /// `-m addrtype --dst-type LOCAL`.
    pub fn dst_type_local(mut self) -> Rule {
        self.matches
            .push("-m addrtype --dst-type LOCAL".to_string());
        self
    }

    /// `-m addrtype --src-type LOCAL`.
    pub fn src_type_local(mut self) -> Rule {
        self.matches
            .push("-m addrtype --src-type LOCAL".to_string());
        self
    }
}

fn part(f: &mut fmt::Formatter<'_>, flag: &str, slot: &Option<(bool, String)>) -> fmt::Result {
    match slot {
        Some((true, v)) => write!(f, "! {flag} {v} "),
        Some((false, v)) => write!(f, "{flag} {v} "),
        None => Ok(()),
    }
}

impl fmt::Display for Rule {
    /// Prints the rule's spec in `iptables-save` order, e.g.
    /// `-d 192.168.0.2/32 ! -i br0 -o br0 -p tcp -m tcp --dport 80 -j ACCEPT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        part(f, "-s", &self.src)?;
        part(f, "-d", &self.dst)?;
        part(f, "-i", &self.in_if)?;
        part(f, "-o", &self.out_if)?;
        if let Some(p) = &self.proto {
            write!(f, "-p {p} ")?;
        }
        for m in &self.matches {
            write!(f, "{m} ")?;
        }
        write!(f, "-j {}", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::IfName;

    #[test]
    fn prints_parts_in_iptables_save_order() {
        let r = Rule::jump("ACCEPT")
            .dport(Protocol::Tcp, 80)
            .out_if(&IfName::new("br0").unwrap())
            .not_in_if(&IfName::new("br0").unwrap())
            .dst_addr("192.168.0.2".parse().unwrap());
        assert_eq!(
            r.to_string(),
            "-d 192.168.0.2/32 ! -i br0 -o br0 -p tcp -m tcp --dport 80 -j ACCEPT"
        );
    }

    #[test]
    fn ipv6_hosts_get_128_and_icmp_is_ipv6_icmp() {
        let r = Rule::jump("ACCEPT")
            .src_addr("fd00::1".parse().unwrap())
            .icmp(Family::V6);
        assert_eq!(r.to_string(), "-s fd00::1/128 -p ipv6-icmp -j ACCEPT");
    }
}
