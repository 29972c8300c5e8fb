//! Interface names as a validated type: every interface name that reaches a
//! firewall rule is an [`IfName`], which cannot hold anything a rule parser
//! (`iptables-restore`, `nft -f`) would read as syntax.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// Longest Linux interface name, in bytes (`IFNAMSIZ` - 1).
pub const MAX_INTERFACE_NAME_LEN: usize = 15;

/// Why a name cannot be an interface's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InterfaceNameError {
    /// The name is empty.
    #[error("interface name is empty")]
    Empty,
    /// The name is longer than [`MAX_INTERFACE_NAME_LEN`] bytes.
    #[error("interface name longer than 15 bytes")]
    TooLong,
    /// The name is `.` or `..`.
    #[error("interface name cannot be \".\" or \"..\"")]
    Dots,
    /// The name contains what the kernel refuses: `/`, `:`, whitespace (as
    /// its `isspace` sees bytes, 0xA0 included) or NUL.
    #[error("interface name cannot contain '/', ':', whitespace or NUL")]
    BadCharacter,
    /// The name is one the kernel takes but a rule must not carry: a
    /// control character, a quote, a backslash, `#` or a non-ASCII byte, or
    /// a leading `-` or `!` (read as an option or a negation).
    #[error(
        "interface name may only contain printable ASCII characters other than quotes, backslashes and '#', and cannot start with '-' or '!'"
    )]
    Unsafe,
    /// A bridge's name with `+`, which iptables reads as a wildcard.
    #[error("a bridge name cannot contain '+', which iptables reads as a wildcard")]
    Wildcard,
}

/// A network interface name: 1 to 15 printable ASCII bytes, not `.` or
/// `..`, without `/`, `:`, quotes, backslashes or `#`, not starting with `-`
/// or `!` (the kernel's rules, and nothing a rule parser reads as syntax).
/// `+`, iptables' wildcard (`eth+`), is allowed, as Docker allows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfName(String);

impl IfName {
    /// `name`, checked.
    pub fn new(name: &str) -> Result<IfName, InterfaceNameError> {
        if name.is_empty() {
            return Err(InterfaceNameError::Empty);
        }
        if name == "." || name == ".." {
            return Err(InterfaceNameError::Dots);
        }
        let kernel_refuses = |b: u8| {
            matches!(
                b,
                b'/' | b':' | b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0 | 0
            )
        };
        if name.bytes().any(kernel_refuses) {
            return Err(InterfaceNameError::BadCharacter);
        }
        let unsafe_in_rules =
            |b: u8| !b.is_ascii_graphic() || matches!(b, b'"' | b'\'' | b'\\' | b'`' | b'#');
        if name.bytes().any(unsafe_in_rules) || name.starts_with(['-', '!']) {
            return Err(InterfaceNameError::Unsafe);
        }
        // After the characters: a hostile value is told what is wrong with
        // its content first.
        if name.len() > MAX_INTERFACE_NAME_LEN {
            return Err(InterfaceNameError::TooLong);
        }
        Ok(IfName(name.to_string()))
    }

    /// `name` as a bridge's name: an [`IfName`] without `+`, which iptables
    /// reads as a wildcard (`-o br+` would match every `br…` interface).
    pub fn bridge(name: &str) -> Result<IfName, InterfaceNameError> {
        if name.contains('+') {
            return Err(InterfaceNameError::Wildcard);
        }
        IfName::new(name)
    }

    /// The loopback interface, `lo`.
    pub fn loopback() -> IfName {
        IfName("lo".to_string())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for IfName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for IfName {
    type Error = InterfaceNameError;

    fn try_from(name: String) -> Result<IfName, InterfaceNameError> {
        IfName::new(&name)
    }
}

impl From<IfName> for String {
    fn from(name: IfName) -> String {
        name.0
    }
}

impl PartialEq<str> for IfName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for IfName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_rules_and_nothing_a_rule_parser_reads() {
        assert_eq!(IfName::new("docker0").unwrap().as_str(), "docker0");
        assert!(IfName::new("123456789012345").is_ok());
        assert!(IfName::new("vxlan.1").is_ok());
        assert!(IfName::new("br-1a2b+c_d%").is_ok());
        assert!(IfName::new("eth+").is_ok());
        assert_eq!(IfName::bridge("br+"), Err(InterfaceNameError::Wildcard));
        assert!(IfName::bridge("br-1").is_ok());
        let refused = [
            ("", InterfaceNameError::Empty),
            ("1234567890123456", InterfaceNameError::TooLong),
            (".", InterfaceNameError::Dots),
            ("..", InterfaceNameError::Dots),
            ("a b", InterfaceNameError::BadCharacter),
            ("eth0\n-A", InterfaceNameError::BadCharacter),
            ("a/b", InterfaceNameError::BadCharacter),
            ("a:b", InterfaceNameError::BadCharacter),
            ("a\0b", InterfaceNameError::BadCharacter),
            // "à" is C3 A0 in UTF-8: the kernel's isspace() sees 0xA0.
            ("brà", InterfaceNameError::BadCharacter),
            ("brü", InterfaceNameError::Unsafe),
            ("a\"b", InterfaceNameError::Unsafe),
            ("a'b", InterfaceNameError::Unsafe),
            ("a\\b", InterfaceNameError::Unsafe),
            ("a\x01b", InterfaceNameError::Unsafe),
            ("a\x7fb", InterfaceNameError::Unsafe),
            ("#eth0", InterfaceNameError::Unsafe),
            ("-j", InterfaceNameError::Unsafe),
            ("!eth0", InterfaceNameError::Unsafe),
        ];
        for (name, why) in refused {
            assert_eq!(IfName::new(name), Err(why), "{name:?}");
        }
    }

    #[test]
    fn records_with_a_bad_name_do_not_decode() {
        let ok: IfName = serde_json::from_str("\"br-x\"").unwrap();
        assert_eq!(ok, "br-x");
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"br-x\"");
        assert!(serde_json::from_str::<IfName>("\"eth0 -j ACCEPT\"").is_err());
    }
}
