//! The iptables backend: reads the namespace's current rules with
//! `iptables-save`, works out a change that brings bridgewall's part of them
//! to the plan (whole owned chains, bridgewall's own rules in built-in
//! chains), and applies it with a single `iptables-restore --noflush --wait`
//! per family.
//!
//! It rewrites the chains bridgewall owns, touches only bridgewall's own rules
//! in the built-in chains, creates `DOCKER-USER` when it is missing and never
//! flushes or edits it. With nothing to change it runs no restore at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::firewall::planner::{DOCKER_USER, OWNED_CHAINS};
use crate::firewall::{Family, FirewallConfig, FirewallState, Owner, Ruleset, Table, plan};

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
        let base = family.iptables();
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

/// The chain a rule spec jumps or goes to (`-j X` / `-g X`), if any.
fn jump_target(spec: &str) -> Option<&str> {
    let mut words = spec.split_whitespace();
    words.by_ref().find(|w| *w == "-j" || *w == "-g")?;
    words.next()
}

fn is_bridgewall_chain(name: &str) -> bool {
    name == DOCKER_USER || OWNED_CHAINS.iter().any(|(_, c)| *c == name)
}

/// bridgewall's rules in the built-in chains as last applied, by
/// `table/chain`: the rules it may remove there even once they are no longer
/// planned. Kept by the caller between runs (the daemon's store, or a file
/// per namespace for `bridgewall apply`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedRules(BTreeMap<String, BTreeSet<String>>);

impl OwnedRules {
    /// The built-in-chain rules of `ruleset`.
    pub fn of(ruleset: &Ruleset) -> OwnedRules {
        let mut owned = OwnedRules::default();
        owned.add(ruleset);
        owned
    }

    /// Adds the built-in-chain rules of `ruleset`.
    pub fn add(&mut self, ruleset: &Ruleset) {
        for t in &ruleset.tables {
            for c in t.chains.iter().filter(|c| c.owner == Owner::Shared) {
                let set = self
                    .0
                    .entry(format!("{}/{}", t.table.name(), c.name))
                    .or_default();
                set.extend(c.rules.iter().map(|r| r.to_string()));
            }
        }
    }

    /// The jumps into bridgewall's chains that any run may have left in the
    /// built-in chains (with or without hairpin NAT, with `DOCKER-USER`):
    /// always bridgewall's, even with no history.
    pub fn base(family: Family) -> OwnedRules {
        let mut owned = OwnedRules::default();
        for hairpin in [false, true] {
            let state = FirewallState {
                config: FirewallConfig {
                    hairpin,
                    ..FirewallConfig::default()
                },
                daemon_level: true,
                ..FirewallState::default()
            };
            owned.add(&plan(&state, family));
        }
        owned
    }

    fn contains(&self, table: Table, chain: &str, spec: &str) -> bool {
        self.0
            .get(&format!("{}/{chain}", table.name()))
            .is_some_and(|s| s.contains(spec))
    }
}

/// Works out the `iptables-restore --noflush` input that takes the current
/// rules (`current`, from `iptables-save`) to `desired`. `owned` lists what
/// bridgewall applied before in the built-in chains. Returns `None` when
/// nothing needs to change.
///
/// Chains bridgewall owns are rewritten whole when their content differs. In
/// a built-in chain, bridgewall's rules are left where they are when they are
/// all there, once each and in the planned order (other software's rules may
/// sit around them, as Docker allows); otherwise they are deleted and put back,
/// the head group at the top and the rest at the end.
pub fn restore_script(
    current: &HashMap<String, SavedTable>,
    desired: &Ruleset,
    owned: &OwnedRules,
) -> Option<String> {
    let empty = SavedTable::default();
    let base = OwnedRules::base(desired.family);
    let mut script = String::new();
    for tr in &desired.tables {
        let table = tr.table;
        let cur = current.get(table.name()).unwrap_or(&empty);
        let mut decls = String::new();
        let mut deletes = String::new();
        let mut body = String::new();
        let mut adds = String::new();
        // Rules that stay after this transaction outside bridgewall's chains:
        // an owned chain they still jump to cannot be deleted.
        let mut remaining: Vec<&str> = Vec::new();

        for chain in &tr.chains {
            let cur_rules: &[String] = cur.rules.get(&chain.name).map_or(&[], |v| v.as_slice());
            let want: Vec<String> = chain.rules.iter().map(|r| r.to_string()).collect();
            match chain.owner {
                Owner::Bridgewall => {
                    if cur.rules.get(&chain.name) != Some(&want) {
                        let _ = writeln!(decls, ":{} - [0:0]", chain.name);
                        for r in &want {
                            let _ = writeln!(body, "-A {} {}", chain.name, r);
                        }
                    }
                }
                Owner::User => {
                    // `-N` fails, instead of flushing, if the user creates the
                    // chain between our save and this restore.
                    if !cur.rules.contains_key(&chain.name) {
                        let _ = writeln!(decls, "-N {}", chain.name);
                    }
                    remaining.extend(cur_rules.iter().map(String::as_str));
                }
                Owner::Shared => {
                    if let Some(policy) = chain.policy
                        && cur.policies.get(&chain.name).map(String::as_str) != Some(policy)
                    {
                        let _ = writeln!(decls, ":{} {policy} [0:0]", chain.name);
                    }
                    let is_ours = |s: &str| {
                        want.iter().any(|w| w == s)
                            || owned.contains(table, &chain.name, s)
                            || base.contains(table, &chain.name, s)
                    };
                    let ours: Vec<&String> = cur_rules.iter().filter(|s| is_ours(s)).collect();
                    let in_place = ours.len() == want.len()
                        && ours.iter().zip(&want).all(|(a, b)| *a == b)
                        && cur_rules.get(..chain.pinned) == want.get(..chain.pinned);
                    remaining.extend(cur_rules.iter().filter(|s| !is_ours(s)).map(String::as_str));
                    if !in_place {
                        for r in ours {
                            let _ = writeln!(deletes, "-D {} {}", chain.name, r);
                        }
                        for (i, r) in chain.head_rules().iter().enumerate() {
                            let _ = writeln!(adds, "-I {} {} {}", chain.name, i + 1, r);
                        }
                        for r in chain.tail_rules() {
                            let _ = writeln!(adds, "-A {} {}", chain.name, r);
                        }
                    }
                }
            }
        }
        // Chains bridgewall owns that the plan no longer has (a family was
        // switched off): emptied, and deleted unless something else still
        // jumps to them.
        let stale: Vec<&str> = OWNED_CHAINS
            .iter()
            .filter(|(t, name)| {
                *t == table && tr.chain(name).is_none() && cur.rules.contains_key(*name)
            })
            .map(|(_, name)| *name)
            .collect();
        for (name, rules) in &cur.rules {
            if !table.is_builtin(name) && !is_bridgewall_chain(name) {
                remaining.extend(rules.iter().map(String::as_str));
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
            if remaining.iter().any(|r| jump_target(r) == Some(name)) {
                tracing::warn!(
                    chain = name,
                    "not deleting chain: other rules still jump to it"
                );
            } else {
                let _ = writeln!(script, "-X {name}");
            }
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
    owned: HashMap<Family, OwnedRules>,
}

impl IptablesBackend {
    /// A backend running its commands through `runner`.
    pub fn new(runner: Box<dyn CommandRunner>, variant: Variant) -> IptablesBackend {
        IptablesBackend {
            runner,
            variant,
            owned: HashMap::new(),
        }
    }

    /// Tells the backend which built-in-chain rules of `family` it applied
    /// before (e.g. in an earlier run), so that it can remove them.
    pub fn set_owned(&mut self, family: Family, owned: OwnedRules) {
        self.owned.insert(family, owned);
    }

    /// The built-in-chain rules of `family` bridgewall may own now: to be
    /// kept by the caller for the next run.
    pub fn owned(&self, family: Family) -> OwnedRules {
        self.owned.get(&family).cloned().unwrap_or_default()
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
        let owned = self.owned.entry(family).or_default();
        let script = restore_script(&current, desired, owned);
        if let Some(input) = &script {
            let (_, restore) = self.variant.programs(family);
            tracing::debug!(%family, "applying:\n{input}");
            if let Err(e) = self
                .runner
                .run(&restore, &["--noflush", "--wait"], Some(input))
            {
                // Some tables may have been committed (iptables-legacy commits
                // table by table): the planned rules may be in place too.
                owned.add(desired);
                return Err(e);
            }
        }
        *owned = OwnedRules::of(desired);
        Ok(ApplyReport { script })
    }
}

impl crate::firewall::Backend for IptablesBackend {
    type Error = BackendError;

    fn apply(&mut self, ruleset: &Ruleset) -> Result<bool, BackendError> {
        IptablesBackend::apply(self, ruleset).map(|r| r.script.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(text: &str) -> HashMap<String, SavedTable> {
        parse_save(text)
    }

    fn none() -> OwnedRules {
        OwnedRules::default()
    }

    #[test]
    fn parses_chains_and_rules() {
        let t = saved(
            "*filter\n:INPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n-A DOCKER -o br0 -j DROP\nCOMMIT\n",
        );
        let f = &t["filter"];
        assert_eq!(f.rules["DOCKER"], ["-o br0 -j DROP"]);
        assert!(f.rules["INPUT"].is_empty());
        assert_eq!(f.rules.len(), 2);
        assert_eq!(f.policies["INPUT"], "ACCEPT");
        assert!(!f.policies.contains_key("DOCKER"));
    }

    #[test]
    fn jump_targets_are_read_from_the_words() {
        assert_eq!(jump_target("-j DOCKER-FORWARD"), Some("DOCKER-FORWARD"));
        assert_eq!(jump_target("-i eth0 -g DOCKER"), Some("DOCKER"));
        assert_eq!(jump_target("-m comment --comment x"), None);
    }

    #[test]
    fn fresh_namespace_gets_everything_and_second_run_nothing() {
        let plan = plan(&FirewallState::default(), Family::V4);
        let script = restore_script(&HashMap::new(), &plan, &none()).unwrap();
        assert!(script.contains(":DOCKER-FORWARD - [0:0]\n"));
        assert!(script.contains("-I FORWARD 1 -j DOCKER-FORWARD\n"));
        let after = saved(&plan.to_save_text());
        assert_eq!(restore_script(&after, &plan, &none()), None);
    }

    #[test]
    fn user_rules_in_builtin_chains_and_docker_user_are_kept() {
        let state = FirewallState {
            daemon_level: true,
            ..FirewallState::default()
        };
        let plan = plan(&state, Family::V4);
        let fresh = restore_script(&HashMap::new(), &plan, &none()).unwrap();
        assert!(
            fresh.contains("-N DOCKER-USER\n"),
            "created with -N, never declared"
        );
        let mut text = plan.to_save_text();
        text = text.replace(
            "-A FORWARD -j DOCKER-FORWARD\n",
            "-A FORWARD -j DOCKER-FORWARD\n-A FORWARD -i eth9 -j ACCEPT\n-A DOCKER-USER -s 192.0.2.1/32 -j DROP\n",
        );
        let current = saved(&text);
        assert_eq!(restore_script(&current, &plan, &none()), None);
        // A user rule above bridgewall's jumps: the jumps move back to the top.
        let moved = text.replace(
            "-A FORWARD -j DOCKER-USER\n",
            "-A FORWARD -i eth8 -j DROP\n-A FORWARD -j DOCKER-USER\n",
        );
        let script = restore_script(&saved(&moved), &plan, &none()).unwrap();
        assert!(script.contains("-D FORWARD -j DOCKER-USER\n"));
        assert!(script.contains("-I FORWARD 1 -j DOCKER-USER\n-I FORWARD 2 -j DOCKER-FORWARD\n"));
        assert!(!script.contains("eth8"));
        assert!(!script.contains("DOCKER-USER - "));
    }

    #[test]
    fn foreign_rules_around_ours_in_builtin_chains_cause_no_change() {
        let plan = plan(&FirewallState::default(), Family::V4);
        let text = plan.to_save_text().replace(
            "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n",
            "-A PREROUTING -i eth7 -j ACCEPT\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n-A PREROUTING -i eth6 -j ACCEPT\n",
        );
        assert_eq!(restore_script(&saved(&text), &plan, &none()), None);
    }

    #[test]
    fn disabled_family_removes_owned_chains_even_without_history() {
        let on = plan(&FirewallState::default(), Family::V4);
        let state = FirewallState {
            config: FirewallConfig {
                ipv4: false,
                ..FirewallConfig::default()
            },
            ..FirewallState::default()
        };
        let off = plan(&state, Family::V4);
        let script = restore_script(&saved(&on.to_save_text()), &off, &none()).unwrap();
        assert!(script.contains("-D FORWARD -j DOCKER-FORWARD\n"));
        assert!(script.contains("-D PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"));
        assert!(script.contains("-F DOCKER-CT\n"));
        assert!(script.contains("-X DOCKER-ISOLATION-STAGE-2\n"));
        // A user rule still jumping to one of them: emptied, not deleted.
        let text = on.to_save_text().replace(
            "COMMIT\n*nat",
            "-A INPUT -i eth5 -j DOCKER-CT\nCOMMIT\n*nat",
        );
        let script = restore_script(&saved(&text), &off, &none()).unwrap();
        assert!(script.contains("-F DOCKER-CT\n"));
        assert!(!script.contains("-X DOCKER-CT\n"));
        assert!(script.contains("-X DOCKER-BRIDGE\n"));
    }

    #[test]
    fn forward_policy_is_set_only_when_planned() {
        let plan_accept = plan(&FirewallState::default(), Family::V4);
        let dropping = FirewallState {
            drop_forward: vec![Family::V4],
            ..FirewallState::default()
        };
        let plan_drop = plan(&dropping, Family::V4);
        assert!(plan_drop.to_save_text().contains(":FORWARD DROP [0:0]\n"));
        let current = saved(&plan_accept.to_save_text());
        let script = restore_script(&current, &plan_drop, &none()).unwrap();
        assert_eq!(script, "*filter\n:FORWARD DROP [0:0]\nCOMMIT\n");
        // A policy bridgewall does not plan is left alone, whatever it is.
        let user_drop = saved(&plan_drop.to_save_text());
        assert_eq!(restore_script(&user_drop, &plan_accept, &none()), None);
    }

    #[test]
    fn rules_applied_before_are_removed_from_builtin_chains() {
        let mut state = FirewallState::default();
        state.networks.push(crate::firewall::NetworkConfig {
            if_name: "br0".into(),
            internal: false,
            icc: true,
            masquerade: true,
            trusted_host_interfaces: vec![],
            v4: Some(crate::firewall::FamilyConfig {
                prefix: "192.0.2.0/24".parse().unwrap(),
                host_ip: None,
                gateway_mode: crate::firewall::GatewayMode::Nat,
            }),
            v6: None,
        });
        let with = plan(&state, Family::V4);
        let without = plan(&FirewallState::default(), Family::V4);
        let current = saved(&with.to_save_text());
        let masq = "-D POSTROUTING -s 192.0.2.0/24 ! -o br0 -j MASQUERADE\n";
        let forgetful = restore_script(&current, &without, &none()).unwrap();
        assert!(!forgetful.contains(masq), "not known to be ours");
        let script = restore_script(&current, &without, &OwnedRules::of(&with)).unwrap();
        assert!(script.contains(masq));
    }
}
