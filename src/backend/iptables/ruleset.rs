//! A planned ruleset: for one family, the tables, chains and rules bridgewall
//! wants, in order, with the knowledge of who owns what.
//!
//! The planner builds it by replaying Docker's operations ([`Ruleset::insert`]
//! puts a rule at the head of a chain, [`Ruleset::append`] at its end, both
//! doing nothing when the rule is already there, as Docker's helpers do), so
//! the final order is the one Docker's sequence of calls leaves behind.

use std::fmt::{self, Write as _};

use super::rule::Rule;
use crate::firewall::types::Family;

/// The iptables tables bridgewall programs, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `raw`: protections against direct access, before conntrack.
    Raw,
    /// `filter`: forwarding policy.
    Filter,
    /// `nat`: DNAT for published ports, masquerading.
    Nat,
}

impl Table {
    /// All tables in print order.
    pub const ALL: [Table; 3] = [Table::Raw, Table::Filter, Table::Nat];

    /// The table's name (`-t NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Table::Raw => "raw",
            Table::Filter => "filter",
            Table::Nat => "nat",
        }
    }

    /// The table's built-in chains, in the order `iptables-save` prints them.
    pub fn builtin_chains(self) -> &'static [&'static str] {
        match self {
            Table::Raw => &["PREROUTING", "OUTPUT"],
            Table::Filter => &["INPUT", "FORWARD", "OUTPUT"],
            Table::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        }
    }

    /// Whether `chain` is one of this table's built-in chains.
    pub fn is_builtin(self, chain: &str) -> bool {
        self.builtin_chains().contains(&chain)
    }
}

/// Who decides a chain's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A built-in chain shared with everyone: bridgewall owns only its own
    /// rules there, and leaves the rest alone.
    Shared,
    /// A chain bridgewall owns outright and may rewrite.
    Bridgewall,
    /// A chain bridgewall creates but whose content belongs to the user
    /// (`DOCKER-USER`): never flushed, never edited.
    User,
}

/// One chain and the rules bridgewall wants in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The chain's name.
    pub name: String,
    /// Who owns the chain's content.
    pub owner: Owner,
    /// For a built-in chain, the policy bridgewall sets (`DROP` for FORWARD
    /// when it enabled forwarding itself); `None` leaves the policy as it is
    /// (a fresh namespace's is `ACCEPT`).
    pub policy: Option<&'static str>,
    /// The wanted rules, in order.
    pub rules: Vec<Rule>,
    /// How many of `rules`, from the start, belong at the head of the chain;
    /// the rest belong at its end. Matters for shared chains, where other
    /// software's rules sit between the two groups.
    pub head: usize,
    /// How many of `rules`, from the start, must be the chain's very first
    /// rules whatever else is in it (the jumps to `DOCKER-USER` and
    /// `DOCKER-FORWARD` in FORWARD, Docker's `EnsureJumpRule`).
    pub pinned: usize,
}

impl Chain {
    /// The rules that belong at the head of the chain.
    pub fn head_rules(&self) -> &[Rule] {
        &self.rules[..self.head]
    }

    /// The rules that belong at the end of the chain.
    pub fn tail_rules(&self) -> &[Rule] {
        &self.rules[self.head..]
    }
}

/// The chains of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRules {
    /// Which table.
    pub table: Table,
    /// Built-in chains first (in hook order), then other chains sorted by name,
    /// as `iptables-save` lists them.
    pub chains: Vec<Chain>,
}

impl TableRules {
    /// The chain called `name`, if planned.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }
}

/// A whole planned ruleset for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    /// The family (iptables or ip6tables).
    pub family: Family,
    /// raw, filter and nat, in that order.
    pub tables: Vec<TableRules>,
}

impl Ruleset {
    /// A ruleset with the built-in chains only, all empty: what a fresh
    /// namespace has.
    pub fn empty(family: Family) -> Ruleset {
        let tables = Table::ALL
            .iter()
            .map(|&table| TableRules {
                table,
                chains: table
                    .builtin_chains()
                    .iter()
                    .map(|name| Chain {
                        name: name.to_string(),
                        owner: Owner::Shared,
                        policy: None,
                        rules: Vec::new(),
                        head: 0,
                        pinned: 0,
                    })
                    .collect(),
            })
            .collect();
        Ruleset { family, tables }
    }

    /// The chains of `table`.
    pub fn table(&self, table: Table) -> &TableRules {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .expect("every table is present")
    }

    fn table_mut(&mut self, table: Table) -> &mut TableRules {
        self.tables
            .iter_mut()
            .find(|t| t.table == table)
            .expect("every table is present")
    }

    /// Creates a non-built-in chain if it is not there yet (`iptables -N`).
    pub fn ensure_chain(&mut self, table: Table, name: &str, owner: Owner) {
        let t = self.table_mut(table);
        if t.chains.iter().any(|c| c.name == name) {
            return;
        }
        let builtins = table.builtin_chains().len();
        let pos = t.chains[builtins..]
            .iter()
            .position(|c| c.name.as_str() > name)
            .map_or(t.chains.len(), |p| p + builtins);
        t.chains.insert(
            pos,
            Chain {
                name: name.to_string(),
                owner,
                policy: None,
                rules: Vec::new(),
                head: 0,
                pinned: 0,
            },
        );
    }

    fn chain_mut(&mut self, table: Table, chain: &str) -> &mut Chain {
        self.table_mut(table)
            .chains
            .iter_mut()
            .find(|c| c.name == chain)
            .unwrap_or_else(|| panic!("chain {chain} used before it was created"))
    }

    /// Inserts `rule` at the head of `chain` unless it is already in the chain
    /// (Docker's `Rule.Insert`).
    pub fn insert(&mut self, table: Table, chain: &str, rule: Rule) {
        let c = self.chain_mut(table, chain);
        if !c.rules.contains(&rule) {
            c.rules.insert(0, rule);
            c.head += 1;
            c.pinned = 0;
        }
    }

    /// Appends `rule` to `chain` unless it is already in the chain (Docker's
    /// `Rule.Append`).
    pub fn append(&mut self, table: Table, chain: &str, rule: Rule) {
        let c = self.chain_mut(table, chain);
        if !c.rules.contains(&rule) {
            c.rules.push(rule);
        }
    }

    /// Sets the policy of built-in `chain`.
    pub fn set_policy(&mut self, table: Table, chain: &str, policy: &'static str) {
        self.chain_mut(table, chain).policy = Some(policy);
    }

    /// Moves or inserts `rule` to the very head of `chain` (Docker's
    /// `EnsureJumpRule`).
    pub fn ensure_first(&mut self, table: Table, chain: &str, rule: Rule) {
        let c = self.chain_mut(table, chain);
        if let Some(pos) = c.rules.iter().position(|r| *r == rule) {
            c.rules.remove(pos);
            if pos < c.head {
                c.head -= 1;
            }
            if pos < c.pinned {
                c.pinned -= 1;
            }
        }
        c.rules.insert(0, rule);
        c.head += 1;
        c.pinned += 1;
    }

    /// The number of rules bridgewall plans in all tables.
    pub fn rule_count(&self) -> usize {
        self.tables
            .iter()
            .flat_map(|t| &t.chains)
            .map(|c| c.rules.len())
            .sum()
    }

    /// The ruleset as `iptables-save -t raw`, `-t filter` and `-t nat` print it
    /// for a namespace holding exactly this ruleset, without the comment lines.
    pub fn to_save_text(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            out.push_str(&table_save_text(t));
        }
        out
    }
}

/// One table in `iptables-save` format.
fn table_save_text(t: &TableRules) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "*{}", t.table.name());
    for c in &t.chains {
        let policy = if t.table.is_builtin(&c.name) {
            c.policy.unwrap_or("ACCEPT")
        } else {
            "-"
        };
        let _ = writeln!(out, ":{} {} [0:0]", c.name, policy);
    }
    for c in &t.chains {
        for r in &c.rules {
            let _ = writeln!(out, "-A {} {}", c.name, r);
        }
    }
    out.push_str("COMMIT\n");
    out
}

impl fmt::Display for Ruleset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_save_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::IfName;

    #[test]
    fn insert_and_append_are_idempotent_and_ordered() {
        let mut rs = Ruleset::empty(Family::V4);
        rs.ensure_chain(Table::Filter, "DOCKER", Owner::Bridgewall);
        rs.append(
            Table::Filter,
            "DOCKER",
            Rule::jump("DROP").out_if(&IfName::new("a").unwrap()),
        );
        rs.insert(
            Table::Filter,
            "DOCKER",
            Rule::jump("ACCEPT").out_if(&IfName::new("a").unwrap()),
        );
        rs.append(
            Table::Filter,
            "DOCKER",
            Rule::jump("DROP").out_if(&IfName::new("b").unwrap()),
        );
        rs.insert(
            Table::Filter,
            "DOCKER",
            Rule::jump("ACCEPT").out_if(&IfName::new("b").unwrap()),
        );
        rs.insert(
            Table::Filter,
            "DOCKER",
            Rule::jump("ACCEPT").out_if(&IfName::new("a").unwrap()),
        );
        let c = rs.table(Table::Filter).chain("DOCKER").unwrap();
        let got: Vec<String> = c.rules.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            got,
            [
                "-o b -j ACCEPT",
                "-o a -j ACCEPT",
                "-o a -j DROP",
                "-o b -j DROP"
            ]
        );
        assert_eq!(c.head, 2);
    }

    #[test]
    fn user_chains_sort_after_builtins() {
        let mut rs = Ruleset::empty(Family::V4);
        rs.ensure_chain(Table::Filter, "DOCKER-CT", Owner::Bridgewall);
        rs.ensure_chain(Table::Filter, "DOCKER", Owner::Bridgewall);
        rs.ensure_chain(Table::Filter, "DOCKER-BRIDGE", Owner::Bridgewall);
        let names: Vec<&str> = rs
            .table(Table::Filter)
            .chains
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "INPUT",
                "FORWARD",
                "OUTPUT",
                "DOCKER",
                "DOCKER-BRIDGE",
                "DOCKER-CT"
            ]
        );
    }

    #[test]
    fn ensure_first_moves_an_existing_rule() {
        let mut rs = Ruleset::empty(Family::V4);
        rs.append(Table::Filter, "FORWARD", Rule::jump("A"));
        rs.append(Table::Filter, "FORWARD", Rule::jump("B"));
        rs.ensure_first(Table::Filter, "FORWARD", Rule::jump("B"));
        let c = rs.table(Table::Filter).chain("FORWARD").unwrap();
        assert_eq!(c.head_rules(), &[Rule::jump("B")]);
        assert_eq!(c.tail_rules(), &[Rule::jump("A")]);
        assert_eq!(c.pinned, 1);
        rs.insert(Table::Filter, "FORWARD", Rule::jump("C"));
        assert_eq!(rs.table(Table::Filter).chain("FORWARD").unwrap().pinned, 0);
    }

    #[test]
    fn empty_ruleset_prints_like_a_fresh_namespace() {
        let text = Ruleset::empty(Family::V6).to_save_text();
        assert!(text.starts_with(
            "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*filter\n"
        ));
        assert!(text.ends_with(":POSTROUTING ACCEPT [0:0]\nCOMMIT\n"));
    }
}
