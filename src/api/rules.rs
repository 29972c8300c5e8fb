//! bridgewall's own API for the firewall: the rules the running state
//! plans, and how the kernel's compare with them (`bridgewall rules`).

use serde::{Deserialize, Serialize};

/// Answer to `GET /rules?family=ipv4|ipv6` (both without `family`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RulesResponse {
    /// One entry per family, IPv4 first.
    pub families: Vec<FamilyRules>,
}

/// One family's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FamilyRules {
    /// What the rules are, e.g. `ipv4 (iptables-save)`.
    pub title: String,
    /// The planned rules, in the backend's syntax.
    pub rules: String,
    /// Where the kernel differs from them (`+` missing, `-` not planned,
    /// `~` out of place); empty when it agrees.
    pub differences: Vec<String>,
}
