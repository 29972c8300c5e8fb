//! The `iptables-restore --noflush` script that takes the kernel's rules to
//! a plan: owned chains rewritten whole, bridgewall's own rules in built-in
//! chains only, `DOCKER-USER` created when missing and never touched.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::owned::OwnedRules;
use super::planner::{DOCKER_USER, USER_CHAINS, all_owned_chains};
use super::ruleset::{Owner, Ruleset, Table};
use super::save::SavedTable;

/// The chain a rule spec jumps or goes to (`-j X` / `-g X`), if any.
fn jump_target(spec: &str) -> Option<&str> {
    let mut words = spec.split_whitespace();
    words.by_ref().find(|w| *w == "-j" || *w == "-g")?;
    words.next()
}

fn is_bridgewall_chain(name: &str) -> bool {
    name == DOCKER_USER || all_owned_chains().any(|(_, c)| *c == name)
}

/// A line of a restore script that `iptables-restore` could read as more
/// than the rule it was rendered from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to apply a rule with unsafe text: {line:?}")]
pub struct UnsafeLine {
    /// The line.
    pub line: String,
}

/// Defence in depth, whatever the types upstream guarantee: every line of
/// `script` must be one of the restore commands bridgewall writes (a table,
/// a chain declaration, `-N`/`-F`/`-X`, `-A`/`-I`/`-D` of a rule, `COMMIT`),
/// made of printable ASCII words separated by single spaces, with no quote,
/// backslash or backtick (nothing `iptables-save` prints in the rules
/// bridgewall plans), so that no value can end a rule, start another or open
/// a quoted string.
pub fn check_script(script: &str) -> Result<(), UnsafeLine> {
    let owned = |chain: &str| all_owned_chains().any(|(_, c)| *c == chain);
    let declarable = |chain: &str| owned(chain) || Table::ALL.iter().any(|t| t.is_builtin(chain));
    // Each command with the chains it may name: `-N` only creates the
    // user's chain, `-F`/`-X` only touch chains bridgewall owns.
    let known = |line: &str| {
        let mut words = line.split(' ');
        match (words.next(), words.next()) {
            (Some("-A" | "-I" | "-D"), Some(_)) => true,
            (Some("-N"), Some(chain)) => USER_CHAINS.contains(&chain),
            (Some("-F" | "-X"), Some(chain)) => owned(chain),
            (Some(decl), Some(_)) if decl.starts_with(':') => declarable(&decl[1..]),
            (Some("COMMIT" | "*raw" | "*filter" | "*nat"), None) => true,
            _ => false,
        }
    };
    if script.is_empty() {
        return Ok(());
    }
    let body = script.strip_suffix('\n').unwrap_or(script);
    for line in body.split('\n') {
        if !is_clean_line(line) || !known(line) {
            return Err(UnsafeLine {
                line: line.to_string(),
            });
        }
    }
    if !script.is_empty() && !script.ends_with("COMMIT\n") {
        return Err(UnsafeLine {
            line: script.lines().last().unwrap_or_default().to_string(),
        });
    }
    Ok(())
}

/// The `iptables-restore` section that puts the user's `DOCKER-USER`
/// rules back, as `iptables-save` printed them before the chain was
/// deleted: appended to a script that re-creates the chain. Each rule is
/// the kernel's text, not a client's, and must be one line.
pub fn user_rules_section(rules: &[String]) -> Result<String, UnsafeLine> {
    let mut section = String::from("*filter\n");
    for rule in rules {
        if rule.is_empty() || rule.chars().any(|c| c.is_control()) {
            return Err(UnsafeLine { line: rule.clone() });
        }
        let _ = writeln!(section, "-A {DOCKER_USER} {rule}");
    }
    section.push_str("COMMIT\n");
    Ok(section)
}

/// Whether `line` is printable ASCII words separated by single spaces, with
/// no quote, backslash or backtick; the one exception is a log prefix,
/// which `iptables-save` always quotes: `--log-prefix "WORD"`, the word
/// made of letters, digits and `[]:_-` only.
pub fn is_clean_line(line: &str) -> bool {
    let unsafe_char = |c: char| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '\\' | '`');
    let quoted_prefix = |word: &str| {
        word.strip_prefix('"')
            .and_then(|w| w.strip_suffix('"'))
            .is_some_and(|w| {
                !w.is_empty()
                    && w.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '[' | ']' | ':' | '_' | '-')
                    })
            })
    };
    let mut previous = "";
    line.split(' ').all(|word| {
        let clean = !word.is_empty()
            && (!word.chars().any(unsafe_char)
                || (previous == "--log-prefix" && quoted_prefix(word)));
        previous = word;
        clean
    })
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
                    let split = owned.split_builtin(&base, table, chain, &want, cur_rules);
                    remaining.extend(split.theirs.iter().map(|s| s.as_str()));
                    if !split.in_place {
                        for r in split.ours {
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
        let stale: Vec<&str> = all_owned_chains()
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
        // Flushed if they hold rules; deleted unless something else still
        // jumps to them. An empty chain that must stay needs nothing, so that
        // a settled state needs no restore at all.
        let stale_ops: Vec<(&str, bool, bool)> = stale
            .iter()
            .map(|name| {
                let flush = cur.rules.get(*name).is_some_and(|r| !r.is_empty());
                let delete = !remaining.iter().any(|r| jump_target(r) == Some(name));
                if !delete {
                    tracing::warn!(
                        chain = name,
                        "not deleting chain: other rules still jump to it"
                    );
                }
                (*name, flush, delete)
            })
            .filter(|(_, flush, delete)| *flush || *delete)
            .collect();
        if decls.is_empty()
            && deletes.is_empty()
            && adds.is_empty()
            && body.is_empty()
            && stale_ops.is_empty()
        {
            continue;
        }
        let _ = writeln!(script, "*{}", table.name());
        script.push_str(&decls);
        script.push_str(&deletes);
        script.push_str(&body);
        script.push_str(&adds);
        for (name, flush, _) in &stale_ops {
            if *flush {
                let _ = writeln!(script, "-F {name}");
            }
        }
        for (name, _, delete) in &stale_ops {
            if *delete {
                let _ = writeln!(script, "-X {name}");
            }
        }
        script.push_str("COMMIT\n");
    }
    (!script.is_empty()).then_some(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::iptables::planner::plan;
    use crate::backend::iptables::save::parse_save;
    use crate::firewall::{Family, FirewallConfig, FirewallState};

    fn saved(text: &str) -> HashMap<String, SavedTable> {
        parse_save(text)
    }

    fn none() -> OwnedRules {
        OwnedRules::default()
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

    fn ufw_state(bridges: &[&str]) -> FirewallState {
        use crate::firewall::{FamilyConfig, GatewayMode, IfName, NetworkConfig};
        FirewallState {
            daemon_level: true,
            config: FirewallConfig {
                ufw_routes: true,
                ..FirewallConfig::default()
            },
            networks: bridges
                .iter()
                .enumerate()
                .map(|(i, b)| NetworkConfig {
                    if_name: IfName::new(b).unwrap(),
                    internal: false,
                    icc: true,
                    masquerade: true,
                    trusted_host_interfaces: vec![],
                    v4: Some(FamilyConfig {
                        prefix: format!("172.{}.0.0/16", 17 + i).parse().unwrap(),
                        host_ip: None,
                        gateway_mode: GatewayMode::Nat,
                    }),
                    v6: None,
                })
                .collect(),
            ..FirewallState::default()
        }
    }

    #[test]
    fn ufw_routes_check_dnat_ed_connections_between_docker_user_and_docker_forward() {
        let p = plan(&ufw_state(&["docker0", "br-1"]), Family::V4);
        let text = p.to_save_text();
        assert!(
            text.contains("-A FORWARD -j DOCKER-USER\n-A FORWARD -j BRIDGEWALL-UFW\n-A FORWARD -j DOCKER-FORWARD\n"),
            "{text}"
        );
        assert!(text.contains(":ufw-user-forward - [0:0]\n"), "{text}");
        let chain = |name: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.strip_prefix(&format!("-A {name} ")))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            chain("BRIDGEWALL-UFW"),
            [
                "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
                "-o docker0 -m conntrack --ctstate DNAT -j BRIDGEWALL-UFW-PUBLISHED",
                "-o br-1 -m conntrack --ctstate DNAT -j BRIDGEWALL-UFW-PUBLISHED",
            ]
        );
        // Every bridge's own traffic returns before ufw's rules, log, drop.
        assert_eq!(
            chain("BRIDGEWALL-UFW-PUBLISHED"),
            [
                "-i br-1 -j RETURN",
                "-i docker0 -j RETURN",
                "-j ufw-user-forward",
                "-m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix \"[bridgewall-ufw-block]\"",
                "-j DROP",
            ]
        );
        let v6 = plan(&ufw_state(&["docker0"]), Family::V6).to_save_text();
        assert!(
            v6.contains("-A BRIDGEWALL-UFW-PUBLISHED -j ufw6-user-forward\n"),
            "{v6}"
        );
        // A fresh namespace: the script creates ufw's chain, never flushes
        // it, and passes the defence-in-depth check.
        let script = restore_script(&HashMap::new(), &p, &none()).unwrap();
        assert!(script.contains("-N ufw-user-forward\n"), "{script}");
        assert!(!script.contains(":ufw-user-forward"), "{script}");
        assert_eq!(check_script(&script), Ok(()));
        // Switched off: bridgewall's ufw chains go, ufw's stays.
        let off = plan(
            &FirewallState {
                daemon_level: true,
                ..FirewallState::default()
            },
            Family::V4,
        );
        let script = restore_script(&saved(&text), &off, &OwnedRules::of(&p)).unwrap();
        assert!(
            script.contains("-D FORWARD -j BRIDGEWALL-UFW\n"),
            "{script}"
        );
        assert!(
            script.contains("-X BRIDGEWALL-UFW\n")
                && script.contains("-X BRIDGEWALL-UFW-PUBLISHED\n"),
            "{script}"
        );
        assert!(!script.contains("-X ufw-user-forward"), "{script}");
    }

    #[test]
    fn only_a_plain_quoted_log_prefix_passes_the_line_check() {
        assert!(is_clean_line(
            "-A X -j LOG --log-prefix \"[bridgewall-ufw-block]\""
        ));
        for bad in [
            "-A X -j LOG --log-prefix \"a b\"",
            "-A X -j LOG --log-prefix \"a\"b\"",
            "-A X -j LOG --log-prefix \"\"",
            "-A X -m comment --comment \"x\" -j ACCEPT",
            "-A X -j LOG --log-prefix \"a\\\"",
        ] {
            assert!(!is_clean_line(bad), "{bad}");
        }
    }

    #[test]
    fn lost_user_rules_are_one_line_each_or_refused() {
        let section =
            user_rules_section(&["-s 192.0.2.1/32 -m comment --comment \"x y\" -j DROP".into()])
                .unwrap();
        assert_eq!(
            section,
            "*filter\n-A DOCKER-USER -s 192.0.2.1/32 -m comment --comment \"x y\" -j DROP\nCOMMIT\n"
        );
        assert!(user_rules_section(&["-j DROP\nCOMMIT".into()]).is_err());
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
        // Chains with rules are flushed, empty ones only deleted.
        assert!(script.contains("-F DOCKER-FORWARD\n"));
        assert!(!script.contains("-F DOCKER-CT\n"));
        assert!(script.contains("-X DOCKER-CT\n"));
        assert!(script.contains("-X DOCKER-ISOLATION-STAGE-2\n"));
        // A user rule still jumping to one of them: emptied, not deleted.
        let text = on.to_save_text().replace(
            "COMMIT\n*nat",
            "-A INPUT -i eth5 -j DOCKER-FORWARD\nCOMMIT\n*nat",
        );
        let script = restore_script(&saved(&text), &off, &none()).unwrap();
        assert!(script.contains("-F DOCKER-FORWARD\n"));
        assert!(!script.contains("-X DOCKER-FORWARD\n"));
        assert!(script.contains("-X DOCKER-BRIDGE\n"));
        // Once emptied, a chain that must stay needs no restore again.
        let settled = saved(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-FORWARD - [0:0]\n-A INPUT -i eth5 -j DOCKER-FORWARD\nCOMMIT\n",
        );
        assert_eq!(restore_script(&settled, &off, &none()), None);
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
            if_name: crate::firewall::IfName::new("br0").unwrap(),
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

    #[test]
    fn scripts_with_unsafe_text_are_refused() {
        let plan = plan(&FirewallState::default(), Family::V4);
        let script = restore_script(&HashMap::new(), &plan, &none()).unwrap();
        assert_eq!(check_script(&script), Ok(()));
        for bad in [
            "-A DOCKER -i eth0 -j ACCEPT\n-I INPUT 1 -s 6.6.6.6 -j ACCEPT\n#\nCOMMIT\n",
            "*filter\n-A DOCKER -i \"eth0\" -j ACCEPT\nCOMMIT\n",
            "*filter\n-A DOCKER -i eth0  -j ACCEPT\nCOMMIT\n",
            "*filter\n-A DOCKER -i eth0\t-j ACCEPT\nCOMMIT\n",
            "*filter\n-A DOCKER -i br\u{fc} -j ACCEPT\nCOMMIT\n",
            "*filter\n-A DOCKER -i eth0\r -j ACCEPT\nCOMMIT\n",
            "*filter\n-A DOCKER -j ACCEPT\n",
            "*filter\n-F INPUT\nCOMMIT\n",
            "*filter\n-X INPUT\nCOMMIT\n",
            "*filter\n-N SOMETHING\nCOMMIT\n",
            "*filter\n:MINE - [0:0]\nCOMMIT\n",
            "*mangle\nCOMMIT\n",
        ] {
            assert!(check_script(bad).is_err(), "{bad:?}");
        }
    }
}
