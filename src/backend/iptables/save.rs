//! `iptables-save` output, read back into tables, chains and rules.

use std::collections::HashMap;

/// One table as `iptables-save` printed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedTable {
    /// Rule specs (without `-A CHAIN`) per chain, in order; every chain of
    /// the table has an entry.
    pub rules: HashMap<String, Vec<String>>,
    /// The policies of the built-in chains.
    pub policies: HashMap<String, String>,
}

/// Parses `iptables-save` output into tables.
pub fn parse_save(text: &str) -> HashMap<String, SavedTable> {
    let mut tables: HashMap<String, SavedTable> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            current = Some(name.to_string());
            tables.entry(name.to_string()).or_default();
        } else if let (Some(decl), Some(t)) = (line.strip_prefix(':'), &current) {
            let mut words = decl.split_whitespace();
            if let (Some(chain), Some(policy)) = (words.next(), words.next()) {
                let table = tables.entry(t.clone()).or_default();
                table.rules.entry(chain.to_string()).or_default();
                if policy != "-" {
                    table.policies.insert(chain.to_string(), policy.to_string());
                }
            }
        } else if let (Some(rest), Some(t)) = (line.strip_prefix("-A "), &current)
            && let Some((chain, spec)) = rest.split_once(' ')
        {
            tables
                .entry(t.clone())
                .or_default()
                .rules
                .entry(chain.to_string())
                .or_default()
                .push(spec.to_string());
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chains_and_rules() {
        let t = parse_save(
            "*filter\n:INPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n-A DOCKER -o br0 -j DROP\nCOMMIT\n",
        );
        let f = &t["filter"];
        assert_eq!(f.rules["DOCKER"], ["-o br0 -j DROP"]);
        assert!(f.rules["INPUT"].is_empty());
        assert_eq!(f.rules.len(), 2);
        assert_eq!(f.policies["INPUT"], "ACCEPT");
        assert!(!f.policies.contains_key("DOCKER"));
    }
}
