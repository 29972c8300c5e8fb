//! The iptables backend: reads the namespace's current rules with
//! `iptables-save`, works out the smallest change that brings bridgewall's
//! part of them to the plan, and applies it with a single
//! `iptables-restore --noflush --wait` per family.
//!
//! It rewrites the chains bridgewall owns, touches only bridgewall's own rules
//! in the built-in chains, creates `DOCKER-USER` when it is missing and never
//! flushes or edits it. With nothing to change it runs no restore at all.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::firewall::planner::OWNED_CHAINS;
use crate::firewall::{Family, Owner, Ruleset};

use super::BackendError;
use super::netns::CommandRunner;

/// Which iptables binaries to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// `iptables`, whichever variant the machine's alternatives select.
    #[default]
    System,
    /// `iptables-nft`.
    Nft,
    /// `iptables-legacy`.
    Legacy,
}

impl Variant {
    /// The `*-save` and `*-restore` programs for `family`.
    pub fn programs(self, family: Family) -> (String, String) {
        let base = match family {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        };
        let suffix = match self {
            Variant::System => "",
            Variant::Nft => "-nft",
            Variant::Legacy => "-legacy",
        };
        (
            format!("{base}{suffix}-save"),
            format!("{base}{suffix}-restore"),
        )
    }
}

/// The rules of one table as `iptables-save` printed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedTable {
    /// Chain names in the order printed.
    pub chains: Vec<String>,
    /// Rule specs (without `-A CHAIN`) per chain, in order.
    pub rules: HashMap<String, Vec<String>>,
}

/// Parses `iptables-save` output into tables.
pub fn parse_save(text: &str) -> HashMap<String, SavedTable> {
    let mut tables: HashMap<String, SavedTable> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            current = Some(name.to_string());
            tables.entry(name.to_string()).or_default();
        } else if let Some(decl) = line.strip_prefix(':') {
            if let (Some(t), Some(chain)) = (&current, decl.split_whitespace().next()) {
                let table = tables.entry(t.clone()).or_default();
                table.chains.push(chain.to_string());
                table.rules.entry(chain.to_string()).or_default();
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

fn is_bridgewall_target(spec: &str) -> bool {
    let target = spec
        .split(" -j ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or("");
    target == crate::firewall::planner::DOCKER_USER
        || OWNED_CHAINS.iter().any(|(_, c)| *c == target)
}

/// Works out the `iptables-restore --noflush` input that takes the current
/// rules (`current`, from `iptables-save`) to `desired`. `previous` is what
/// bridgewall applied last, if known: its rules in built-in chains are
/// bridgewall's to remove. Returns `None` when nothing needs to change.
pub fn restore_script(
    current: &HashMap<String, SavedTable>,
    desired: &Ruleset,
    previous: Option<&Ruleset>,
) -> Option<String> {
    let empty = SavedTable::default();
    let mut script = String::new();
    for tr in &desired.tables {
        let table = tr.table;
        let cur = current.get(table.name()).unwrap_or(&empty);
        let mut decls = String::new();
        let mut deletes = String::new();
        let mut body = String::new();
        let mut adds = String::new();
        let mut stale = Vec::new();

        for chain in &tr.chains {
            let cur_rules = cur.rules.get(&chain.name);
            let want: Vec<String> = chain.rules.iter().map(|r| r.to_string()).collect();
            match chain.owner {
                Owner::Bridgewall => {
                    if cur_rules != Some(&want) {
                        let _ = writeln!(decls, ":{} - [0:0]", chain.name);
                        for r in &want {
                            let _ = writeln!(body, "-A {} {}", chain.name, r);
                        }
                    }
                }
                Owner::User => {
                    if cur_rules.is_none() {
                        let _ = writeln!(decls, ":{} - [0:0]", chain.name);
                    }
                }
                Owner::Shared => {
                    let prev: Vec<String> = previous
                        .and_then(|p| p.table(table).chain(&chain.name))
                        .map(|c| c.rules.iter().map(|r| r.to_string()).collect())
                        .unwrap_or_default();
                    let cur_rules: &[String] = cur_rules.map_or(&[], |v| v.as_slice());
                    let owned = |s: &String| {
                        want.contains(s) || prev.contains(s) || is_bridgewall_target(s)
                    };
                    let head = &want[..chain.head];
                    let tail = &want[chain.head..];
                    let in_place = cur_rules.len() >= want.len()
                        && cur_rules[..head.len()] == *head
                        && cur_rules[cur_rules.len() - tail.len()..] == *tail
                        && !cur_rules[head.len()..cur_rules.len() - tail.len()]
                            .iter()
                            .any(owned);
                    if !in_place {
                        for r in cur_rules.iter().filter(|s| owned(s)) {
                            let _ = writeln!(deletes, "-D {} {}", chain.name, r);
                        }
                        for (i, r) in head.iter().enumerate() {
                            let _ = writeln!(adds, "-I {} {} {}", chain.name, i + 1, r);
                        }
                        for r in tail {
                            let _ = writeln!(adds, "-A {} {}", chain.name, r);
                        }
                    }
                }
            }
        }
        for (t, name) in OWNED_CHAINS {
            if *t == table && tr.chain(name).is_none() && cur.rules.contains_key(*name) {
                stale.push(*name);
            }
        }
        if decls.is_empty()
            && deletes.is_empty()
            && adds.is_empty()
            && body.is_empty()
            && stale.is_empty()
        {
            continue;
        }
        let _ = writeln!(script, "*{}", table.name());
        script.push_str(&decls);
        script.push_str(&deletes);
        script.push_str(&body);
        script.push_str(&adds);
        for name in &stale {
            let _ = writeln!(script, "-F {name}");
        }
        for name in &stale {
            let _ = writeln!(script, "-X {name}");
        }
        script.push_str("COMMIT\n");
    }
    (!script.is_empty()).then_some(script)
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// The restore input that was applied, or `None` when nothing changed.
    pub script: Option<String>,
}

/// Applies planned rulesets to one network namespace with iptables.
pub struct IptablesBackend {
    runner: Box<dyn CommandRunner>,
    variant: Variant,
    applied: HashMap<Family, Ruleset>,
}

impl IptablesBackend {
    /// A backend running its commands through `runner`.
    pub fn new(runner: Box<dyn CommandRunner>, variant: Variant) -> IptablesBackend {
        IptablesBackend {
            runner,
            variant,
            applied: HashMap::new(),
        }
    }

    /// Tells the backend what was applied before (e.g. by an earlier run of
    /// the daemon), so that it can remove bridgewall's stale rules from the
    /// built-in chains.
    pub fn set_previous(&mut self, ruleset: Ruleset) {
        self.applied.insert(ruleset.family, ruleset);
    }

    /// The ruleset applied last for `family`, if any.
    pub fn previous(&self, family: Family) -> Option<&Ruleset> {
        self.applied.get(&family)
    }

    /// Reads the namespace's current rules of `family`.
    pub fn save(&self, family: Family) -> Result<String, BackendError> {
        let (save, _) = self.variant.programs(family);
        self.runner.run(&save, &[], None)
    }

    /// Brings the namespace's rules of `desired.family` to `desired`, in one
    /// `iptables-restore --noflush --wait` run, or none when nothing differs.
    pub fn apply(&mut self, desired: &Ruleset) -> Result<ApplyReport, BackendError> {
        let family = desired.family;
        let current = parse_save(&self.save(family)?);
        let script = restore_script(&current, desired, self.applied.get(&family));
        if let Some(input) = &script {
            let (_, restore) = self.variant.programs(family);
            tracing::debug!(%family, "applying:\n{input}");
            self.runner
                .run(&restore, &["--noflush", "--wait"], Some(input))?;
        }
        self.applied.insert(family, desired.clone());
        Ok(ApplyReport { script })
    }
}

impl crate::firewall::Backend for IptablesBackend {
    fn apply(&mut self, ruleset: &Ruleset) -> Result<ApplyReport, BackendError> {
        IptablesBackend::apply(self, ruleset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{FirewallState, plan};

    fn saved(text: &str) -> HashMap<String, SavedTable> {
        parse_save(text)
    }

    #[test]
    fn parses_chains_and_rules() {
        let t = saved(
            "*filter\n:INPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n-A DOCKER -o br0 -j DROP\nCOMMIT\n",
        );
        let f = &t["filter"];
        assert_eq!(f.chains, ["INPUT", "DOCKER"]);
        assert_eq!(f.rules["DOCKER"], ["-o br0 -j DROP"]);
        assert!(f.rules["INPUT"].is_empty());
    }

    #[test]
    fn fresh_namespace_gets_everything_and_second_run_nothing() {
        let plan = plan(&FirewallState::default(), Family::V4);
        let script = restore_script(&HashMap::new(), &plan, None).unwrap();
        assert!(script.contains(":DOCKER-FORWARD - [0:0]\n"));
        assert!(script.contains("-I FORWARD 1 -j DOCKER-FORWARD\n"));
        let after = saved(&plan.to_save_text());
        assert_eq!(restore_script(&after, &plan, Some(&plan)), None);
    }

    #[test]
    fn user_rules_in_builtin_chains_and_docker_user_are_kept() {
        let state = FirewallState {
            daemon_level: true,
            ..FirewallState::default()
        };
        let plan = plan(&state, Family::V4);
        let mut text = plan.to_save_text();
        text = text.replace(
            "-A FORWARD -j DOCKER-FORWARD\n",
            "-A FORWARD -j DOCKER-FORWARD\n-A FORWARD -i eth9 -j ACCEPT\n-A DOCKER-USER -s 192.0.2.1/32 -j DROP\n",
        );
        let current = saved(&text);
        assert_eq!(restore_script(&current, &plan, None), None);
        // A user rule above bridgewall's jumps: the jumps move back to the top.
        let moved = text.replace(
            "-A FORWARD -j DOCKER-USER\n",
            "-A FORWARD -i eth8 -j DROP\n-A FORWARD -j DOCKER-USER\n",
        );
        let script = restore_script(&saved(&moved), &plan, None).unwrap();
        assert!(script.contains("-D FORWARD -j DOCKER-USER\n"));
        assert!(script.contains("-I FORWARD 1 -j DOCKER-USER\n-I FORWARD 2 -j DOCKER-FORWARD\n"));
        assert!(!script.contains("eth8"));
        assert!(!script.contains(":DOCKER-USER"));
    }

    #[test]
    fn disabled_family_removes_owned_chains() {
        let on = plan(&FirewallState::default(), Family::V4);
        let mut state = FirewallState::default();
        state.config = crate::firewall::FirewallConfig {
            ipv4: false,
            ..state.config
        };
        let off = plan(&state, Family::V4);
        let script = restore_script(&saved(&on.to_save_text()), &off, Some(&on)).unwrap();
        assert!(script.contains("-D FORWARD -j DOCKER-FORWARD\n"));
        assert!(script.contains("-X DOCKER-ISOLATION-STAGE-2\n"));
    }
}
