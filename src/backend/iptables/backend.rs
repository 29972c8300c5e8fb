//! The iptables backend: renders the firewall state with Docker 28.5's
//! layout (the planner), reads the namespace's current rules with
//! `iptables-save`, and applies the difference with a single
//! `iptables-restore --noflush --wait` per family, or none when nothing
//! differs.
//!
//! It rewrites the chains bridgewall owns, touches only bridgewall's own rules
//! in the built-in chains, creates `DOCKER-USER` when it is missing and never
//! flushes or edits it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::firewall::{
    ApplyOutcome, BackendError, Family, FirewallBackend, FirewallState, RenderedRules, RulesCheck,
    Transaction,
};
use crate::host::netns::{CommandError, CommandRunner};

use super::diff::diff;
use super::owned::OwnedRules;
use super::planner::{DOCKER_USER, all_owned_chains, plan};
use super::restore::{check_script, is_clean_line, restore_script, user_rules_section};
use super::ruleset::Ruleset;
use super::save::{SavedTable, parse_save};

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

/// Programs one network namespace with iptables and ip6tables.
pub struct IptablesBackend {
    runner: Box<dyn CommandRunner>,
    variant: Variant,
    families: Vec<Family>,
    /// Per family, the built-in-chain rules bridgewall may own.
    owned: HashMap<Family, OwnedRules>,
    /// Per family, the ruleset last applied successfully: what the kernel
    /// should still hold, to tell drift from change.
    last: HashMap<Family, Ruleset>,
    /// Per family, the user's `DOCKER-USER` rules as last read: put back
    /// when the chain itself was deleted (a firewalld reload with its
    /// iptables backend, `nft flush ruleset`), never otherwise.
    user_rules: Mutex<HashMap<Family, Vec<String>>>,
    /// Whether a deleted `DOCKER-USER` gets its rules back (while a host
    /// firewall that deletes every chain on reload, firewalld, is in use).
    restore_user_rules: bool,
}

impl IptablesBackend {
    /// A backend for both families, running its commands through `runner`.
    pub fn new(runner: Box<dyn CommandRunner>, variant: Variant) -> IptablesBackend {
        IptablesBackend {
            runner,
            variant,
            families: Family::ALL.to_vec(),
            owned: HashMap::new(),
            last: HashMap::new(),
            user_rules: Mutex::new(HashMap::new()),
            restore_user_rules: false,
        }
    }

    /// The same backend, programming `family` only (the other family's
    /// rules are neither read nor written).
    pub fn only(mut self, family: Family) -> IptablesBackend {
        self.families = vec![family];
        self
    }

    /// The iptables variant it runs.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// Whether the binaries it runs are iptables-nft (which program the
    /// kernel through nf_tables): asked of `iptables -V` for the system's
    /// variant.
    fn is_nft(&self) -> Option<bool> {
        match self.variant {
            Variant::Nft => Some(true),
            Variant::Legacy => Some(false),
            Variant::System => {
                let family = *self.families.first()?;
                let out = self.runner.run(family.iptables(), &["-V"], None).ok()?;
                Some(out.contains("nf_tables"))
            }
        }
    }

    /// Reads the namespace's current rules of `family`.
    pub fn save(&self, family: Family) -> Result<String, CommandError> {
        let (save, _) = self.variant.programs(family);
        self.runner.run(&save, &[], None)
    }

    /// Remembers the user's `DOCKER-USER` rules of `current` (saying so
    /// when they changed since last read, which tests wait for); when the
    /// chain is gone, the rules last seen in it.
    fn user_rules_to_restore(
        &self,
        family: Family,
        current: &HashMap<String, SavedTable>,
    ) -> Option<Vec<String>> {
        let mut seen = self.user_rules.lock().expect("not poisoned");
        match current.get("filter").and_then(|t| t.rules.get(DOCKER_USER)) {
            Some(rules) => {
                if let Some(before) = seen.insert(family, rules.clone())
                    && before != *rules
                {
                    tracing::info!(%family, rules = rules.len(), "{DOCKER_USER} now holds the user's new rules");
                }
                None
            }
            None => seen.get(&family).filter(|r| !r.is_empty()).cloned(),
        }
    }

    /// Brings the rules of `desired.family` to `desired`; returns whether it
    /// changed anything and whether the kernel had drifted first.
    fn apply_family(&mut self, desired: Ruleset) -> Result<ApplyOutcome, BackendError> {
        let family = desired.family;
        let current = parse_save(&self.save(family).map_err(failure)?);
        let lost_user_rules = self.user_rules_to_restore(family, &current);
        let owned = self.owned.entry(family).or_default();
        let script = restore_script(&current, &desired, owned);
        // Drift is measured against what this run applied; before its
        // first apply (a start, a reboot) there is nothing to drift from.
        let drift = match self.last.get(&family) {
            Some(last) if *last == desired => script.is_some(),
            Some(last) => restore_script(&current, last, owned).is_some(),
            None => false,
        };
        if let Some(input) = &script {
            check_script(input).map_err(failure)?;
            let (_, restore) = self.variant.programs(family);
            let run = |input: &str| {
                tracing::debug!(%family, "applying:\n{input}");
                self.runner
                    .run(&restore, &["--noflush", "--wait"], Some(input))
            };
            if let Err(e) = run(input) {
                // Some tables may have been committed (iptables-legacy commits
                // table by table): the planned rules may be in place too.
                owned.add(&desired);
                self.last.remove(&family);
                return Err(failure(e));
            }
            // DOCKER-USER was deleted and has just been re-created empty.
            // Its rules come back only when a host firewall deleted it (a
            // firewalld reload flushes every chain); otherwise whoever
            // deleted it meant to, and its rules are only logged. They go
            // in a transaction of their own: if they no longer load (a
            // chain they jump to is gone too), bridgewall's rules stand.
            let recreated = input.contains(&format!("-N {DOCKER_USER}\n"));
            if let Some(rules) = lost_user_rules.filter(|_| recreated) {
                if self.restore_user_rules {
                    match user_rules_section(&rules).map(|section| run(&section)) {
                        Ok(Ok(_)) => {
                            tracing::warn!(%family, rules = rules.len(), "{DOCKER_USER} was deleted (by the host firewall): re-created with the rules it had")
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(%family, "{DOCKER_USER} was deleted and its rules cannot be put back ({e}): re-created empty")
                        }
                        Err(e) => {
                            tracing::warn!(%family, "{DOCKER_USER} was deleted; not putting back its rules: {e}")
                        }
                    }
                } else {
                    tracing::warn!(%family, rules = %rules.join(" | "), "{DOCKER_USER} was deleted by something else: re-created empty; the rules it had are listed here");
                }
            }
        }
        *owned = OwnedRules::of(&desired);
        self.last.insert(family, desired);
        Ok(ApplyOutcome {
            changed: script.is_some(),
            drift,
        })
    }
}

fn failure(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
    BackendError {
        backend: "iptables",
        source: Box::new(e),
    }
}

impl FirewallBackend for IptablesBackend {
    fn name(&self) -> &'static str {
        "iptables"
    }

    fn render(&self, state: &FirewallState, family: Family) -> RenderedRules {
        RenderedRules {
            title: format!("{family} ({}-save)", family.iptables()),
            text: plan(state, family).to_save_text(),
        }
    }

    fn adopt(&mut self, record: serde_json::Value) -> Result<(), BackendError> {
        let mut owned: HashMap<Family, OwnedRules> =
            serde_json::from_value(record).map_err(failure)?;
        // A rule recorded by an earlier version with text this one would not
        // send (an interface name it now refuses) cannot be deleted through a
        // restore script: it is forgotten, with a warning, rather than make
        // every apply fail.
        for rules in owned.values_mut() {
            rules.retain(|rule| {
                let clean = is_clean_line(rule);
                if !clean {
                    tracing::warn!(%rule, "forgetting a recorded rule this version would not write");
                }
                clean
            });
        }
        self.owned = owned;
        Ok(())
    }

    fn ownership(&self) -> serde_json::Value {
        serde_json::to_value(&self.owned).expect("rule sets always serialise")
    }

    fn ownership_after(&self, next: &FirewallState) -> serde_json::Value {
        let mut owned = self.owned.clone();
        for &family in &self.families {
            owned.entry(family).or_default().add(&plan(next, family));
        }
        serde_json::to_value(&owned).expect("rule sets always serialise")
    }

    fn check(&self, state: &FirewallState, family: Family) -> Result<RulesCheck, BackendError> {
        let title = format!("{family} ({}-save)", family.iptables());
        let text = match self.save(family) {
            Ok(text) => text,
            Err(_) if !state.config.enabled(family) => {
                return Ok(RulesCheck {
                    title,
                    differences: Vec::new(),
                });
            }
            Err(e) => return Err(failure(e)),
        };
        let owned = self.owned.get(&family).cloned().unwrap_or_default();
        let current = parse_save(&text);
        self.user_rules_to_restore(family, &current);
        Ok(RulesCheck {
            title,
            differences: diff(&current, &plan(state, family), &owned),
        })
    }

    fn existing_chains(&self) -> Vec<String> {
        let mut found = Vec::new();
        for &family in &self.families {
            // A family whose tools do not work has nothing of anyone's.
            let Ok(text) = self.save(family) else {
                continue;
            };
            for (table, chains) in parse_save(&text) {
                for chain in chains.rules.keys() {
                    let ours = all_owned_chains().any(|(t, c)| t.name() == table && c == chain);
                    if ours {
                        found.push(format!("{family} {table} {chain}"));
                    }
                }
            }
        }
        found.sort();
        found
    }

    fn has_chain(&self, family: Family, table: &str, chain: &str) -> bool {
        self.families.contains(&family)
            && self.save(family).is_ok_and(|text| {
                parse_save(&text)
                    .get(table)
                    .is_some_and(|t| t.rules.contains_key(chain))
            })
    }

    fn describe(&self) -> String {
        match self.is_nft() {
            Some(true) => "iptables (nf_tables)".to_string(),
            Some(false) => "iptables (legacy)".to_string(),
            None => "iptables".to_string(),
        }
    }

    fn announces_changes(&self) -> bool {
        self.is_nft() == Some(true)
    }

    fn restore_user_rules(&mut self, on: bool) {
        self.restore_user_rules = on;
    }

    fn apply(&mut self, txn: &Transaction<'_>) -> Result<ApplyOutcome, BackendError> {
        let mut outcome = ApplyOutcome::default();
        for family in self.families.clone() {
            // A family switched off (`"ip6tables": false`) only has its old
            // rules cleaned up where its tools work: it needs neither its
            // binaries nor kernel support. Past reading, errors are errors.
            if !txn.next.config.enabled(family)
                && let Err(e) = self.save(family)
            {
                tracing::debug!(%family, "disabled, and its rules cannot be read: {e}");
                continue;
            }
            let one = self.apply_family(plan(txn.next, family))?;
            outcome.changed |= one.changed;
            outcome.drift |= one.drift;
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::netns::{Netns, NetnsRunner};

    fn backend() -> IptablesBackend {
        IptablesBackend::new(Box::new(NetnsRunner::new(Netns::Current)), Variant::System)
    }

    #[test]
    fn the_ownership_record_round_trips_and_grows_before_an_apply() {
        let b = backend();
        let state = FirewallState {
            daemon_level: true,
            ..FirewallState::default()
        };
        let intent = b.ownership_after(&state);
        assert!(intent["V4"]["filter/FORWARD"].is_array(), "{intent}");
        let mut other = backend();
        other.adopt(intent.clone()).unwrap();
        assert_eq!(other.ownership(), intent);
        assert!(other.adopt(serde_json::json!(["not", "a map"])).is_err());
    }

    #[test]
    fn one_family_only() {
        let b = backend().only(Family::V6);
        let intent = b.ownership_after(&FirewallState::default());
        assert!(intent.get("V4").is_none() && intent.get("V6").is_some());
        let r = b.render(&FirewallState::default(), Family::V6);
        assert_eq!(r.title, "ipv6 (ip6tables-save)");
        assert!(r.text.starts_with("*raw\n"));
    }

    /// A runner with no ip6tables at all, counting what it was asked to run.
    struct NoIp6tables(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl CommandRunner for NoIp6tables {
        fn run(&self, program: &str, _: &[&str], _: Option<&str>) -> Result<String, CommandError> {
            self.0.lock().unwrap().push(program.to_string());
            if program.starts_with("ip6tables") {
                return Err(CommandError::Spawn {
                    command: program.to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            Ok(String::new())
        }
    }

    #[test]
    fn a_disabled_family_needs_no_binary() {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut b = IptablesBackend::new(Box::new(NoIp6tables(calls.clone())), Variant::System);
        let mut next = FirewallState::default();
        next.config.ipv6 = false;
        let reapply = crate::firewall::Change::Reapply;
        let previous = FirewallState::default();
        let txn = Transaction {
            change: &reapply,
            previous: &previous,
            next: &next,
        };
        assert!(b.apply(&txn).unwrap().changed, "IPv4 applied");
        assert!(
            calls
                .lock()
                .unwrap()
                .iter()
                .any(|c| c == "iptables-restore")
        );
        // With IPv6 on, the missing binary is an error.
        let mut b2 = IptablesBackend::new(Box::new(NoIp6tables(calls)), Variant::System);
        let on = FirewallState::default();
        let txn = Transaction {
            change: &reapply,
            previous: &on,
            next: &on,
        };
        assert!(b2.apply(&txn).is_err());
    }

    /// A kernel in memory: `*-save` prints `text`, `*-restore` records its
    /// input and fails while `fail_with_user_rules` and the input has them.
    #[derive(Clone, Default)]
    struct FakeKernel {
        text: std::sync::Arc<std::sync::Mutex<String>>,
        restored: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        fail_with_user_rules: bool,
    }

    impl CommandRunner for FakeKernel {
        fn run(
            &self,
            program: &str,
            _: &[&str],
            stdin: Option<&str>,
        ) -> Result<String, CommandError> {
            if program.ends_with("-save") {
                return Ok(if program.starts_with("ip6") {
                    String::new()
                } else {
                    self.text.lock().unwrap().clone()
                });
            }
            let input = stdin.unwrap_or_default().to_string();
            let refuse = self.fail_with_user_rules && input.contains("-A DOCKER-USER");
            self.restored.lock().unwrap().push(input);
            if refuse {
                return Err(CommandError::Spawn {
                    command: program.to_string(),
                    source: std::io::Error::other("chain MISSING does not exist"),
                });
            }
            Ok(String::new())
        }
    }

    fn daemon_state() -> FirewallState {
        let mut state = FirewallState {
            daemon_level: true,
            ..FirewallState::default()
        };
        state.config.ipv6 = false;
        state
    }

    fn apply(b: &mut IptablesBackend, state: &FirewallState) {
        let reapply = crate::firewall::Change::Reapply;
        b.apply(&Transaction {
            change: &reapply,
            previous: state,
            next: state,
        })
        .unwrap();
    }

    #[test]
    fn a_docker_user_deleted_by_the_host_firewall_gets_back_its_rules_in_a_second_transaction() {
        let kernel = FakeKernel::default();
        let mut b =
            IptablesBackend::new(Box::new(kernel.clone()), Variant::System).only(Family::V4);
        b.restore_user_rules(true);
        let state = daemon_state();
        let planned = plan(&state, Family::V4).to_save_text();
        let user = "-A DOCKER-USER -s 192.0.2.0/24 -m comment --comment \"lan only\" -j DROP\n";
        *kernel.text.lock().unwrap() = planned.replace(
            "-A FORWARD -j DOCKER-USER\n",
            &format!("-A FORWARD -j DOCKER-USER\n{user}"),
        );
        apply(&mut b, &state);
        assert!(kernel.restored.lock().unwrap().is_empty(), "in place");
        // The chain deleted (a firewalld reload): bridgewall's rules, then
        // the user's in a transaction of their own.
        *kernel.text.lock().unwrap() = String::new();
        apply(&mut b, &state);
        let tries = std::mem::take(&mut *kernel.restored.lock().unwrap());
        assert_eq!(tries.len(), 2, "{tries:?}");
        assert!(tries[0].contains("-N DOCKER-USER\n") && !tries[0].contains("-A DOCKER-USER"));
        assert_eq!(tries[1], format!("*filter\n{user}COMMIT\n"));
        // Emptied by the user (or `iptables -F`): nothing of theirs is put back.
        *kernel.text.lock().unwrap() = planned.clone();
        apply(&mut b, &state);
        *kernel.text.lock().unwrap() = String::new();
        apply(&mut b, &state);
        let tries = std::mem::take(&mut *kernel.restored.lock().unwrap());
        assert_eq!(tries.len(), 1, "{tries:?}");
        assert!(!tries[0].contains("-A DOCKER-USER"));
    }

    #[test]
    fn without_a_host_firewall_a_deleted_docker_user_comes_back_empty() {
        let kernel = FakeKernel::default();
        let mut b =
            IptablesBackend::new(Box::new(kernel.clone()), Variant::System).only(Family::V4);
        let state = daemon_state();
        let planned = plan(&state, Family::V4).to_save_text();
        *kernel.text.lock().unwrap() = planned.replace(
            "-A FORWARD -j DOCKER-USER\n",
            "-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j DROP\n",
        );
        apply(&mut b, &state);
        *kernel.text.lock().unwrap() = String::new();
        apply(&mut b, &state);
        let tries = kernel.restored.lock().unwrap().clone();
        assert_eq!(tries.len(), 1, "{tries:?}");
        assert!(tries[0].contains("-N DOCKER-USER\n") && !tries[0].contains("-A DOCKER-USER"));
    }

    #[test]
    fn user_rules_that_no_longer_load_do_not_undo_the_repair() {
        let kernel = FakeKernel {
            fail_with_user_rules: true,
            ..FakeKernel::default()
        };
        let mut b =
            IptablesBackend::new(Box::new(kernel.clone()), Variant::System).only(Family::V4);
        b.restore_user_rules(true);
        let state = daemon_state();
        let planned = plan(&state, Family::V4).to_save_text();
        *kernel.text.lock().unwrap() = planned.replace(
            "-A FORWARD -j DOCKER-USER\n",
            "-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j MISSING\n",
        );
        apply(&mut b, &state);
        *kernel.text.lock().unwrap() = String::new();
        apply(&mut b, &state);
        let tries = kernel.restored.lock().unwrap().clone();
        assert_eq!(
            tries.len(),
            2,
            "bridgewall's rules, then the user's (refused)"
        );
        assert!(tries[0].contains("-N DOCKER-USER") && !tries[0].contains("-A DOCKER-USER"));
        assert!(tries[1].contains("-A DOCKER-USER -j MISSING"));
    }
}
