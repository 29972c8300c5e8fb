//! The `-p` / `--publish` grammar:
//! `[ip:][hostPort[-end]:]containerPort[-end][/tcp|udp|sctp]`.
//!
//! This reproduces what `docker run -p` does with its argument in Docker 28.5:
//! the CLI hands it to go-connections' `nat.ParsePortSpec` (v0.6.0), whose
//! checks, order of checks and error messages are kept here. Compose's long
//! syntax (`target`/`published`/`host_ip`/`protocol`) goes to the daemon
//! unparsed; [`PortSpec::from_long`] validates it the way the daemon does.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::firewall::types::Protocol;

/// A malformed port spec, with Docker's message for it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PortSpecError {
    /// Nothing before the `/proto` (or nothing at all) in the container part.
    #[error("no port specified: {spec}<empty>")]
    NoPortSpecified {
        /// The whole spec, as given.
        spec: String,
    },
    /// A protocol other than tcp, udp or sctp (lowercased, as Docker prints it).
    #[error("invalid proto: {0}")]
    InvalidProto(String),
    /// A host address starting with `[` that is not of the form `[addr]`.
    #[error("invalid IP address {ip}: address {ip}:: {reason}")]
    MalformedBracketedIp {
        /// The host-address part of the spec, brackets included.
        ip: String,
        /// Go's `net.SplitHostPort` complaint about it.
        reason: &'static str,
    },
    /// A host address that is not an IPv4 or IPv6 address.
    #[error("invalid IP address: {0}")]
    InvalidIp(String),
    /// A container port (or range) that is not a port number (or range).
    #[error("invalid containerPort: {0}")]
    InvalidContainerPort(String),
    /// A host port (or range) that is not a port number (or range).
    #[error("invalid hostPort: {0}")]
    InvalidHostPort(String),
    /// A container port range whose size differs from the host port range's.
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    MismatchedRanges {
        /// The container port range, as given.
        container: String,
        /// The host port range, as given.
        host: String,
    },
    /// A Compose `published` value that is not a port or a port range (the
    /// daemon's message, as Compose passes the value on unparsed).
    #[error("invalid port specification: {0:?}")]
    InvalidPortSpecification(String),
}

/// A parsed `-p` spec: one or more container ports published on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortSpec {
    /// The host address to publish on; `None` means the network's default
    /// binding address (`0.0.0.0` unless configured otherwise).
    /// IPv4-mapped IPv6 addresses are stored as IPv4, as Docker treats them.
    pub host_ip: Option<IpAddr>,
    /// The host port range as given (`Some((p, p))` for a single port);
    /// `None` when no host port was given. A zero start means "ephemeral".
    pub host_ports: Option<(u16, u16)>,
    /// The container port range (`(p, p)` for a single port).
    pub container_ports: (u16, u16),
    /// The transport protocol (tcp when not given).
    pub proto: Protocol,
}

/// One container port to publish.
///
/// `host_port_start..=host_port_end` is the acceptable host port range:
/// `(0, 0)` means an ephemeral port, `(p, p)` exactly port `p`, and a wider
/// range means any free port in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    /// The transport protocol.
    pub proto: Protocol,
    /// The container port.
    pub container_port: u16,
    /// The host address; `None` means the network's default binding address.
    pub host_ip: Option<IpAddr>,
    /// First acceptable host port (0 for ephemeral).
    pub host_port_start: u16,
    /// Last acceptable host port (0 for ephemeral).
    pub host_port_end: u16,
}

impl PortSpec {
    /// Parses a `-p` spec exactly as `docker run -p` does.
    ///
    /// # Errors
    ///
    /// A [`PortSpecError`] with Docker's message for the first problem found,
    /// checking in Docker's order: missing port, protocol, host address,
    /// container port, host port, range sizes.
    ///
    /// ```
    /// use bridgewall::model::port_spec::PortSpec;
    /// let spec = PortSpec::parse("127.0.0.1:8080:80/udp").unwrap();
    /// assert_eq!(spec.host_ports, Some((8080, 8080)));
    /// assert_eq!(spec.to_string(), "127.0.0.1:8080:80/udp");
    /// ```
    pub fn parse(spec: &str) -> Result<PortSpec, PortSpecError> {
        let (raw_ip, raw_host_port, container_part) = split_parts(spec);

        // Split "port/proto" at the first slash; an empty port means no port.
        let (raw_container_port, raw_proto) = container_part
            .split_once('/')
            .unwrap_or((container_part, ""));
        if raw_container_port.is_empty() {
            return Err(PortSpecError::NoPortSpecified {
                spec: spec.to_string(),
            });
        }
        let proto = if raw_proto.is_empty() {
            Protocol::Tcp
        } else {
            parse_proto(raw_proto)?
        };

        let host_ip = parse_host_ip(raw_ip)?;

        let container_ports = parse_port_range(raw_container_port)
            .ok_or_else(|| PortSpecError::InvalidContainerPort(raw_container_port.to_string()))?;
        reject_port_zero(container_ports.0, proto)?;

        let host_ports = if raw_host_port.is_empty() {
            None
        } else {
            let host_ports = parse_port_range(raw_host_port)
                .ok_or_else(|| PortSpecError::InvalidHostPort(raw_host_port.to_string()))?;
            let (start, end) = container_ports;
            // A host range alongside a single container port is the range to
            // pick a free port from; alongside a container range, it must
            // have the same size.
            if end - start != host_ports.1 - host_ports.0 && end != start {
                return Err(PortSpecError::MismatchedRanges {
                    container: raw_container_port.to_string(),
                    host: raw_host_port.to_string(),
                });
            }
            Some(host_ports)
        };

        Ok(PortSpec {
            host_ip,
            host_ports,
            container_ports,
            proto,
        })
    }

    /// Builds a spec from Compose's long syntax (`target`, `published`,
    /// `host_ip`, `protocol`). `published` is a port or a range
    /// (`"8080-8090"`); `None` or empty means an ephemeral port.
    ///
    /// # Errors
    ///
    /// [`PortSpecError::InvalidProto`], [`PortSpecError::InvalidIp`] (or
    /// [`PortSpecError::MalformedBracketedIp`]), or
    /// [`PortSpecError::InvalidPortSpecification`] for `published`.
    pub fn from_long(
        target: u16,
        published: Option<&str>,
        host_ip: Option<&str>,
        protocol: Option<&str>,
    ) -> Result<PortSpec, PortSpecError> {
        let proto = match protocol {
            None | Some("") => Protocol::Tcp,
            Some(p) => parse_proto(p)?,
        };
        let host_ip = parse_host_ip(host_ip.unwrap_or(""))?;
        reject_port_zero(target, proto)?;
        let host_ports = match published {
            None | Some("") => None,
            Some(p) => Some(
                parse_port_range(p)
                    .ok_or_else(|| PortSpecError::InvalidPortSpecification(p.to_string()))?,
            ),
        };
        Ok(PortSpec {
            host_ip,
            host_ports,
            container_ports: (target, target),
            proto,
        })
    }

    /// One mapping per container port: ranges of equal size map 1:1, a
    /// single container port keeps the whole host range to pick from, and no
    /// host port (or port 0) means an ephemeral one.
    #[must_use]
    pub fn mappings(&self) -> Vec<PortMapping> {
        let (start, end) = self.container_ports;
        (start..=end)
            .map(|container_port| {
                let offset = container_port - start;
                let (host_port_start, host_port_end) = match self.host_ports {
                    None => (0, 0),
                    Some(range) if start == end => range,
                    Some((host_start, _)) => (host_start + offset, host_start + offset),
                };
                PortMapping {
                    proto: self.proto,
                    container_port,
                    host_ip: self.host_ip,
                    host_port_start,
                    host_port_end,
                }
            })
            .collect()
    }
}

impl FromStr for PortSpec {
    type Err = PortSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PortSpec::parse(s)
    }
}

/// Writes the spec in the `-p` syntax, in a form [`PortSpec::parse`] reads
/// back: `[ip:][hostPort[-end]:]containerPort[-end]/proto`, IPv6 bracketed.
impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn range(f: &mut fmt::Formatter<'_>, (start, end): (u16, u16)) -> fmt::Result {
            if start == end {
                write!(f, "{start}")
            } else {
                write!(f, "{start}-{end}")
            }
        }
        match self.host_ip {
            Some(IpAddr::V4(ip)) => write!(f, "{ip}:")?,
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            None => {}
        }
        if let Some(host_ports) = self.host_ports {
            range(f, host_ports)?;
            f.write_str(":")?;
        } else if self.host_ip.is_some() {
            f.write_str(":")?;
        }
        range(f, self.container_ports)?;
        write!(f, "/{}", self.proto)
    }
}

/// Serialized as its `-p` string.
impl Serialize for PortSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Deserialized from a `-p` string, with Docker's error when malformed.
impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spec = String::deserialize(deserializer)?;
        PortSpec::parse(&spec).map_err(serde::de::Error::custom)
    }
}

/// Splits `ip:hostPort:containerPort` at its last two colons, so that an
/// unbracketed IPv6 address keeps its own colons (`::1:80:80`).
fn split_parts(spec: &str) -> (&str, &str, &str) {
    let mut parts = spec.rsplitn(3, ':');
    let container = parts.next().unwrap_or("");
    match (parts.next(), parts.next()) {
        (None, _) => ("", "", container),
        (Some(host_port), None) => ("", host_port, container),
        (Some(host_port), Some(ip)) => (ip, host_port, container),
    }
}

/// Parses a protocol name, case-insensitively.
fn parse_proto(raw: &str) -> Result<Protocol, PortSpecError> {
    let lower = raw.to_lowercase();
    match lower.as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        _ => Err(PortSpecError::InvalidProto(lower)),
    }
}

/// Parses the host-address part: empty, an address, or a bracketed address.
/// Brackets are checked as Go's `net.SplitHostPort(ip + ":")` does; empty
/// brackets mean no address, as they do for Docker.
fn parse_host_ip(raw: &str) -> Result<Option<IpAddr>, PortSpecError> {
    let ip = if raw.starts_with('[') {
        strip_brackets(raw).map_err(|reason| PortSpecError::MalformedBracketedIp {
            ip: raw.to_string(),
            reason,
        })?
    } else {
        raw
    };
    if ip.is_empty() {
        return Ok(None);
    }
    ip.parse::<IpAddr>()
        .map(|addr| Some(addr.to_canonical()))
        .map_err(|_| PortSpecError::InvalidIp(ip.to_string()))
}

/// The address inside `[...]`, or Go's `SplitHostPort` complaint about
/// `raw + ":"`.
fn strip_brackets(raw: &str) -> Result<&str, &'static str> {
    let close = raw.find(']').ok_or("missing ']' in address")?;
    // In `raw + ":"`, the closing bracket must be followed by that last colon.
    match raw.as_bytes().get(close + 1) {
        None => {}
        Some(b':') => return Err("too many colons in address"),
        Some(_) => return Err("missing port in address"),
    }
    if raw[1..].contains('[') {
        return Err("unexpected '[' in address");
    }
    Ok(&raw[1..close])
}

/// Parses `port` or `start-end` as go-connections does: split at the first
/// dash, `start-start` is a single port, and the end may not precede the start.
fn parse_port_range(raw: &str) -> Option<(u16, u16)> {
    let (raw_start, raw_end) = match raw.split_once('-') {
        Some((start, end)) => (start, Some(end)),
        None => (raw, None),
    };
    let start = parse_port_number(raw_start)?;
    match raw_end {
        None => Some((start, start)),
        Some(raw_end) if raw_end == raw_start => Some((start, start)),
        Some(raw_end) => {
            let end = parse_port_number(raw_end)?;
            (end >= start).then_some((start, end))
        }
    }
}

/// Container port 0 cannot be published: the daemon refuses it with
/// `invalid port specification: "0/tcp"`.
fn reject_port_zero(port: u16, proto: Protocol) -> Result<(), PortSpecError> {
    if port == 0 {
        return Err(PortSpecError::InvalidPortSpecification(format!(
            "0/{proto}"
        )));
    }
    Ok(())
}

/// Parses a port number as Go's `strconv.ParseInt(s, 10, 0)` followed by a
/// 0–65535 check: an optional sign, then decimal digits (leading zeros allowed).
fn parse_port_number(raw: &str) -> Option<u16> {
    let (negative, digits) = match raw.as_bytes().first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: u32 = 0;
    for digit in digits.bytes() {
        value = value * 10 + u32::from(digit - b'0');
        if value > u32::from(u16::MAX) {
            return None;
        }
    }
    if negative && value != 0 {
        return None;
    }
    u16::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn err(spec: &str) -> String {
        match PortSpec::parse(spec) {
            Ok(parsed) => panic!("{spec} should be rejected, got {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn mapping(container_port: u16, host_ip: Option<IpAddr>, range: (u16, u16)) -> PortMapping {
        PortMapping {
            proto: Protocol::Tcp,
            container_port,
            host_ip,
            host_port_start: range.0,
            host_port_end: range.1,
        }
    }

    /// An IPv4 host address, as `PortSpec::host_ip` holds it.
    fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    // Well-formed specs.

    #[test]
    fn container_port_only_is_ephemeral_tcp() {
        let spec = PortSpec::parse("80").unwrap();
        assert_eq!(
            spec,
            PortSpec {
                host_ip: None,
                host_ports: None,
                container_ports: (80, 80),
                proto: Protocol::Tcp,
            }
        );
        assert_eq!(spec.mappings(), vec![mapping(80, None, (0, 0))]);
    }

    #[test]
    fn host_and_container_port() {
        let spec = PortSpec::parse("8080:80").unwrap();
        assert_eq!(spec.host_ports, Some((8080, 8080)));
        assert_eq!(spec.mappings(), vec![mapping(80, None, (8080, 8080))]);
    }

    #[test]
    fn ip_host_and_container_port() {
        let spec = PortSpec::parse("127.0.0.1:8080:80").unwrap();
        assert_eq!(spec.host_ip, v4(127, 0, 0, 1));
        assert_eq!(
            spec.mappings(),
            vec![mapping(80, v4(127, 0, 0, 1), (8080, 8080))]
        );
    }

    #[test]
    fn ip_without_host_port_is_ephemeral() {
        let spec = PortSpec::parse("127.0.0.1::80").unwrap();
        assert_eq!(spec.host_ip, v4(127, 0, 0, 1));
        assert_eq!(spec.host_ports, None);
        assert_eq!(spec.mappings(), vec![mapping(80, v4(127, 0, 0, 1), (0, 0))]);
    }

    #[test]
    fn empty_host_port_without_ip() {
        let spec = PortSpec::parse(":80").unwrap();
        assert_eq!((spec.host_ip, spec.host_ports), (None, None));
    }

    #[test]
    fn bracketed_ipv6_with_host_port() {
        let spec = PortSpec::parse("[::1]:8080:80").unwrap();
        assert_eq!(spec.host_ip, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(spec.host_ports, Some((8080, 8080)));
    }

    #[test]
    fn bracketed_ipv6_any_is_ephemeral() {
        let spec = PortSpec::parse("[::]::80").unwrap();
        assert_eq!(spec.host_ip, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(
            spec.mappings(),
            vec![mapping(80, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), (0, 0))]
        );
    }

    #[test]
    fn unbracketed_ipv6_keeps_its_colons() {
        let spec = PortSpec::parse("::1:80:80").unwrap();
        assert_eq!(spec.host_ip, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(spec.host_ports, Some((80, 80)));
        let any = PortSpec::parse("::::80").unwrap();
        assert_eq!(any.host_ip, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(any.host_ports, None);
        let doc = PortSpec::parse("2001:4860:0:2001::68::333").unwrap();
        assert_eq!(doc.host_ip, Some("2001:4860:0:2001::68".parse().unwrap()));
        assert_eq!(doc.container_ports, (333, 333));
    }

    #[test]
    fn empty_brackets_mean_no_address() {
        let spec = PortSpec::parse("[]:8080:80").unwrap();
        assert_eq!(spec.host_ip, None);
    }

    #[test]
    fn ipv4_mapped_host_address_is_ipv4() {
        let spec = PortSpec::parse("[::ffff:127.0.0.1]:8080:80").unwrap();
        assert_eq!(spec.host_ip, v4(127, 0, 0, 1));
    }

    #[test]
    fn protocols_are_case_insensitive() {
        assert_eq!(PortSpec::parse("53/udp").unwrap().proto, Protocol::Udp);
        assert_eq!(PortSpec::parse("53/UDP").unwrap().proto, Protocol::Udp);
        assert_eq!(PortSpec::parse("9/sctp").unwrap().proto, Protocol::Sctp);
        assert_eq!(PortSpec::parse("80/").unwrap().proto, Protocol::Tcp);
    }

    #[test]
    fn equal_ranges_map_one_to_one() {
        let spec = PortSpec::parse("8000-8002:80-82/udp").unwrap();
        let got: Vec<(u16, u16, u16)> = spec
            .mappings()
            .iter()
            .map(|m| (m.container_port, m.host_port_start, m.host_port_end))
            .collect();
        assert_eq!(
            got,
            vec![(80, 8000, 8000), (81, 8001, 8001), (82, 8002, 8002)]
        );
        assert!(spec.mappings().iter().all(|m| m.proto == Protocol::Udp));
    }

    #[test]
    fn host_range_for_one_container_port_is_kept_whole() {
        let spec = PortSpec::parse("8080-8090:80").unwrap();
        assert_eq!(spec.mappings(), vec![mapping(80, None, (8080, 8090))]);
    }

    #[test]
    fn container_range_alone_is_ephemeral() {
        let spec = PortSpec::parse("80-82").unwrap();
        assert_eq!(
            spec.mappings(),
            vec![
                mapping(80, None, (0, 0)),
                mapping(81, None, (0, 0)),
                mapping(82, None, (0, 0)),
            ]
        );
    }

    #[test]
    fn host_port_zero_is_ephemeral() {
        let spec = PortSpec::parse("0:80").unwrap();
        assert_eq!(spec.host_ports, Some((0, 0)));
        assert_eq!(spec.mappings(), vec![mapping(80, None, (0, 0))]);
    }

    #[test]
    fn numbers_parse_as_go_parseint() {
        // Leading zeros, a plus sign, and "start-start" are all accepted.
        assert_eq!(PortSpec::parse("0080").unwrap().container_ports, (80, 80));
        assert_eq!(PortSpec::parse("+80").unwrap().container_ports, (80, 80));
        assert_eq!(PortSpec::parse("80-80").unwrap().container_ports, (80, 80));
        assert_eq!(
            PortSpec::parse("65535").unwrap().container_ports,
            (65535, 65535)
        );
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            "80/tcp",
            "8080:80/tcp",
            "127.0.0.1::80/udp",
            "[::1]:8080-8090:80/sctp",
            "[::]::80-82/tcp",
            "8000-8002:80-82/tcp",
        ] {
            let parsed = PortSpec::parse(spec).unwrap();
            assert_eq!(parsed.to_string(), spec);
            assert_eq!(parsed.to_string().parse::<PortSpec>().unwrap(), parsed);
        }
    }

    #[test]
    fn serde_uses_the_spec_string() {
        let spec: PortSpec = serde_json::from_str("\"127.0.0.1:8080:80\"").unwrap();
        assert_eq!(spec.host_ip, v4(127, 0, 0, 1));
        assert_eq!(
            serde_json::to_string(&spec).unwrap(),
            "\"127.0.0.1:8080:80/tcp\""
        );
        let bad = serde_json::from_str::<PortSpec>("\"80/icmp\"").unwrap_err();
        assert!(bad.to_string().contains("invalid proto: icmp"), "{bad}");
    }

    #[test]
    fn from_long_syntax() {
        let spec = PortSpec::from_long(80, Some("8080-8090"), Some("::1"), Some("UDP")).unwrap();
        assert_eq!(spec.to_string(), "[::1]:8080-8090:80/udp");
        assert_eq!(
            spec.mappings()[0],
            PortMapping {
                proto: Protocol::Udp,
                container_port: 80,
                host_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                host_port_start: 8080,
                host_port_end: 8090,
            }
        );
        let bare = PortSpec::from_long(443, None, None, None).unwrap();
        assert_eq!(bare.to_string(), "443/tcp");
        assert_eq!(
            PortSpec::from_long(443, Some(""), Some(""), Some("")).unwrap(),
            bare
        );
    }

    #[test]
    fn from_long_errors() {
        let e = |r: Result<PortSpec, PortSpecError>| r.unwrap_err().to_string();
        assert_eq!(
            e(PortSpec::from_long(80, Some("http"), None, None)),
            "invalid port specification: \"http\""
        );
        assert_eq!(
            e(PortSpec::from_long(80, Some("90-80"), None, None)),
            "invalid port specification: \"90-80\""
        );
        assert_eq!(
            e(PortSpec::from_long(80, None, Some("localhost"), None)),
            "invalid IP address: localhost"
        );
        assert_eq!(
            e(PortSpec::from_long(80, None, None, Some("icmp"))),
            "invalid proto: icmp"
        );
    }

    // Malformed specs, each with Docker's exact message.

    #[test]
    fn rejects_empty_spec() {
        assert_eq!(err(""), "no port specified: <empty>");
    }

    #[test]
    fn rejects_missing_container_port() {
        assert_eq!(err("8080:"), "no port specified: 8080:<empty>");
    }

    #[test]
    fn rejects_protocol_without_port() {
        assert_eq!(err("8080:/udp"), "no port specified: 8080:/udp<empty>");
    }

    #[test]
    fn rejects_unknown_protocol() {
        assert_eq!(err("80/icmp"), "invalid proto: icmp");
    }

    #[test]
    fn rejects_unknown_protocol_lowercased() {
        assert_eq!(err("80/UDP/x"), "invalid proto: udp/x");
    }

    #[test]
    fn protocol_is_checked_before_the_address() {
        assert_eq!(err("localhost:80:80/icmp"), "invalid proto: icmp");
    }

    #[test]
    fn rejects_hostname() {
        assert_eq!(err("localhost:8080:80"), "invalid IP address: localhost");
    }

    #[test]
    fn rejects_ipv4_with_leading_zero() {
        assert_eq!(err("01.2.3.4:8080:80"), "invalid IP address: 01.2.3.4");
    }

    #[test]
    fn rejects_bad_address_inside_brackets() {
        assert_eq!(err("[::1::2]:8080:80"), "invalid IP address: ::1::2");
    }

    #[test]
    fn rejects_zone_in_brackets() {
        assert_eq!(
            err("[fe80::1%eth0]:8080:80"),
            "invalid IP address: fe80::1%eth0"
        );
    }

    #[test]
    fn rejects_unclosed_bracket() {
        assert_eq!(
            err("[::1:8080:80"),
            "invalid IP address [::1: address [::1:: missing ']' in address"
        );
    }

    #[test]
    fn rejects_text_after_bracket() {
        assert_eq!(
            err("[::1]x:8080:80"),
            "invalid IP address [::1]x: address [::1]x:: missing port in address"
        );
    }

    #[test]
    fn rejects_extra_colon_after_bracket() {
        assert_eq!(
            err("[::1]::8080:80"),
            "invalid IP address [::1]:: address [::1]::: too many colons in address"
        );
    }

    #[test]
    fn rejects_nested_bracket() {
        assert_eq!(
            err("[[::1]:8080:80"),
            "invalid IP address [[::1]: address [[::1]:: unexpected '[' in address"
        );
    }

    #[test]
    fn rejects_non_numeric_container_port() {
        assert_eq!(err("8080:http"), "invalid containerPort: http");
    }

    #[test]
    fn rejects_container_port_out_of_range() {
        assert_eq!(err("65536"), "invalid containerPort: 65536");
    }

    #[test]
    fn rejects_negative_container_port() {
        assert_eq!(err("-1"), "invalid containerPort: -1");
    }

    #[test]
    fn rejects_reversed_container_range() {
        assert_eq!(err("90-80"), "invalid containerPort: 90-80");
    }

    #[test]
    fn rejects_open_container_range() {
        assert_eq!(err("80-/udp"), "invalid containerPort: 80-");
    }

    #[test]
    fn rejects_triple_range() {
        assert_eq!(err("80-90-100"), "invalid containerPort: 80-90-100");
    }

    #[test]
    fn rejects_bare_ip() {
        assert_eq!(err("192.168.1.100"), "invalid containerPort: 192.168.1.100");
    }

    #[test]
    fn rejects_non_numeric_host_port() {
        assert_eq!(err("http:80"), "invalid hostPort: http");
    }

    #[test]
    fn rejects_negative_ports_with_ip() {
        assert_eq!(err("192.168.1.100:-1:-1"), "invalid containerPort: -1");
        assert_eq!(err("192.168.1.100:-1:1"), "invalid hostPort: -1");
    }

    #[test]
    fn rejects_host_port_out_of_range() {
        assert_eq!(err("127.0.0.1:70000:80"), "invalid hostPort: 70000");
    }

    #[test]
    fn rejects_reversed_host_range() {
        assert_eq!(err("8090-8080:80"), "invalid hostPort: 8090-8080");
    }

    #[test]
    fn rejects_container_range_with_single_host_port() {
        assert_eq!(
            err("8080:80-90"),
            "invalid ranges specified for container and host Ports: 80-90 and 8080"
        );
    }

    #[test]
    fn rejects_mismatched_range_sizes() {
        assert_eq!(
            err("8000-8005:80-90/udp"),
            "invalid ranges specified for container and host Ports: 80-90 and 8000-8005"
        );
    }

    #[test]
    fn rejects_container_range_with_host_port_zero() {
        assert_eq!(
            err("0.0.0.0:0:80-81"),
            "invalid ranges specified for container and host Ports: 80-81 and 0"
        );
    }

    #[test]
    fn container_port_zero_is_refused() {
        assert_eq!(
            PortSpec::parse("8080:0").unwrap_err().to_string(),
            "invalid port specification: \"0/tcp\""
        );
        assert_eq!(
            PortSpec::from_long(0, Some("8080"), None, Some("udp"))
                .unwrap_err()
                .to_string(),
            "invalid port specification: \"0/udp\""
        );
    }
}
