//! The planner: a pure function from the desired state to the ruleset of each
//! family, reproducing what Docker 28.5 programs, rule for rule and in order.
//!
//! It replays Docker's calls in a canonical order (daemon start, networks in
//! creation order, then endpoints and their ports in join order) on a
//! [`Ruleset`], using Docker's insert/append choices, so the resulting order is
//! the one Docker leaves behind. It must not touch the system.

use std::net::IpAddr;

use super::rule::Rule;
use super::ruleset::{Owner, Ruleset, Table};
use crate::firewall::names::IfName;
use crate::firewall::types::{
    Family, FamilyConfig, FirewallEndpoint, FirewallState, NetworkConfig, PortBinding,
};

/// `filter` and `nat` chain for per-port and per-network rules.
pub const DOCKER: &str = "DOCKER";
/// The chain the user owns, jumped to first from FORWARD.
pub const DOCKER_USER: &str = "DOCKER-USER";
/// Docker's rules for filter-FORWARD.
pub const DOCKER_FORWARD: &str = "DOCKER-FORWARD";
/// Jumps from DOCKER-FORWARD to DOCKER, per bridge.
pub const DOCKER_BRIDGE: &str = "DOCKER-BRIDGE";
/// Accepts related/established traffic into bridges.
pub const DOCKER_CT: &str = "DOCKER-CT";
/// First stage of isolation between networks.
pub const ISOLATION_1: &str = "DOCKER-ISOLATION-STAGE-1";
/// Second stage of isolation between networks.
pub const ISOLATION_2: &str = "DOCKER-ISOLATION-STAGE-2";

/// With `bridgewall-ufw-routes`: the forward path's check of new inbound
/// connections to published ports, between DOCKER-USER and DOCKER-FORWARD.
pub const UFW_ROUTES: &str = "BRIDGEWALL-UFW";
/// With `bridgewall-ufw-routes`: ufw's route rules, then log and drop.
pub const UFW_PUBLISHED: &str = "BRIDGEWALL-UFW-PUBLISHED";
/// The prefix of the log line for a connection ufw's route rules refuse.
pub const UFW_LOG_PREFIX: &str = "[bridgewall-ufw-block]";

/// The chain holding ufw's `route` rules for `family` (ufw's own).
pub fn ufw_forward_chain(family: Family) -> &'static str {
    match family {
        Family::V4 => "ufw-user-forward",
        Family::V6 => "ufw6-user-forward",
    }
}

/// The chains bridgewall owns with `bridgewall-ufw-routes` only.
pub const UFW_CHAINS: &[(Table, &str)] =
    &[(Table::Filter, UFW_ROUTES), (Table::Filter, UFW_PUBLISHED)];

/// Chains whose content is someone else's: created when missing, never
/// flushed or edited.
pub const USER_CHAINS: &[&str] = &[DOCKER_USER, "ufw-user-forward", "ufw6-user-forward"];

/// Every chain bridgewall may own: [`OWNED_CHAINS`] and [`UFW_CHAINS`].
pub fn all_owned_chains() -> impl Iterator<Item = &'static (Table, &'static str)> {
    OWNED_CHAINS.iter().chain(UFW_CHAINS)
}

/// Every chain bridgewall owns outright, per table (DOCKER-USER excluded: its
/// content is the user's).
pub const OWNED_CHAINS: &[(Table, &str)] = &[
    (Table::Filter, DOCKER),
    (Table::Filter, DOCKER_BRIDGE),
    (Table::Filter, DOCKER_CT),
    (Table::Filter, DOCKER_FORWARD),
    (Table::Filter, ISOLATION_1),
    (Table::Filter, ISOLATION_2),
    (Table::Nat, DOCKER),
];

/// Plans the ruleset of `family` for `state`.
pub fn plan(state: &FirewallState, family: Family) -> Ruleset {
    let mut rs = Ruleset::empty(family);
    if !state.config.enabled(family) {
        return rs;
    }
    setup_chains(&mut rs, state, family);
    for net in &state.networks {
        if let Some(fam) = net.family(family) {
            network_rules(&mut rs, state, family, net, fam);
        }
    }
    for ep in &state.endpoints {
        let Some(net) = state.networks.iter().find(|n| n.if_name == ep.network) else {
            continue;
        };
        endpoint_rules(&mut rs, state, family, net, ep);
        for b in &ep.bindings {
            if Family::of(b.container_ip) == family {
                port_rules(&mut rs, state, family, net, b);
            }
        }
    }
    rs
}

/// Plans both families, IPv4 first.
pub fn plan_all(state: &FirewallState) -> Vec<Ruleset> {
    Family::ALL.iter().map(|&f| plan(state, f)).collect()
}

/// Docker's `setupIPChains`, plus the daemon's DOCKER-USER chain.
fn setup_chains(rs: &mut Ruleset, state: &FirewallState, family: Family) {
    for (table, chain) in OWNED_CHAINS {
        rs.ensure_chain(*table, chain, Owner::Bridgewall);
    }
    rs.append(
        Table::Nat,
        "PREROUTING",
        Rule::jump(DOCKER).dst_type_local(),
    );
    let mut output = Rule::jump(DOCKER).dst_type_local();
    if !state.config.hairpin {
        output = output.not_dst(family.loopback_net());
    }
    rs.append(Table::Nat, "OUTPUT", output);

    if state.drop_forward.contains(&family) {
        rs.set_policy(Table::Filter, "FORWARD", "DROP");
    }
    rs.ensure_first(Table::Filter, "FORWARD", Rule::jump(DOCKER_FORWARD));
    for chain in [DOCKER_BRIDGE, ISOLATION_1, DOCKER_CT] {
        rs.ensure_first(Table::Filter, DOCKER_FORWARD, Rule::jump(chain));
    }
    if state.daemon_level && state.config.ufw_routes {
        ufw_chains(rs, family);
    }
    if state.daemon_level {
        rs.ensure_chain(Table::Filter, DOCKER_USER, Owner::User);
        rs.ensure_first(Table::Filter, "FORWARD", Rule::jump(DOCKER_USER));
    }
}

/// bridgewall's own (not Docker's): with `bridgewall-ufw-routes`, a new
/// connection DNAT-ed to a published port is admitted by ufw's `route`
/// rules (matched after DNAT: the container's address and port) or logged,
/// rate-limited, and dropped. Established traffic, and traffic from a
/// bridge (between containers), is left to Docker's rules.
fn ufw_chains(rs: &mut Ruleset, family: Family) {
    for (table, chain) in UFW_CHAINS {
        rs.ensure_chain(*table, chain, Owner::Bridgewall);
    }
    let ufw = ufw_forward_chain(family);
    rs.ensure_chain(Table::Filter, ufw, Owner::User);
    rs.append(
        Table::Filter,
        UFW_ROUTES,
        Rule::jump("RETURN").related_established(),
    );
    rs.append(Table::Filter, UFW_PUBLISHED, Rule::jump(ufw));
    rs.append(
        Table::Filter,
        UFW_PUBLISHED,
        Rule::jump(format!("LOG --log-prefix \"{UFW_LOG_PREFIX}\""))
            .with_match("-m limit --limit 3/min --limit-burst 10"),
    );
    rs.append(Table::Filter, UFW_PUBLISHED, Rule::jump("DROP"));
    rs.ensure_first(Table::Filter, "FORWARD", Rule::jump(UFW_ROUTES));
}

/// Per bridge, with `bridgewall-ufw-routes`: connections DNAT-ed into it
/// are checked; connections from it are not.
fn ufw_network_rules(rs: &mut Ruleset, br: &IfName) {
    rs.append(
        Table::Filter,
        UFW_ROUTES,
        Rule::jump(UFW_PUBLISHED)
            .out_if(br)
            .with_match("-m conntrack --ctstate DNAT"),
    );
    // Inserted: above the chain's tail (ufw's rules, log, drop).
    rs.insert(Table::Filter, UFW_PUBLISHED, Rule::jump("RETURN").in_if(br));
}

/// Rules made when a network is created (Docker's `setupIPTables` and `setINC`).
fn network_rules(
    rs: &mut Ruleset,
    state: &FirewallState,
    family: Family,
    net: &NetworkConfig,
    fam: &FamilyConfig,
) {
    let br = &net.if_name;
    if net.internal {
        internal_network_rules(rs, family, net, fam);
        return;
    }
    if state.daemon_level && state.config.ufw_routes {
        ufw_network_rules(rs, br);
    }
    let hairpin = state.config.hairpin;
    let nat = !fam.gateway_mode.routed();
    // SNAT to the configured host address, or MASQUERADE.
    let nat_target = match fam.host_ip {
        Some(ip) => format!("SNAT --to-source {ip}"),
        None => "MASQUERADE".to_string(),
    };

    if nat && net.masquerade {
        rs.insert(
            Table::Nat,
            "POSTROUTING",
            Rule::jump(nat_target.clone())
                .src_net(fam.prefix)
                .not_out_if(br),
        );
    }
    if net.masquerade && !hairpin {
        rs.insert(Table::Nat, DOCKER, Rule::jump("RETURN").in_if(br));
    }
    if hairpin {
        rs.insert(
            Table::Nat,
            "POSTROUTING",
            Rule::jump(nat_target).out_if(br).src_type_local(),
        );
    }
    if !net.icc {
        rs.append(
            Table::Filter,
            DOCKER_FORWARD,
            Rule::jump("DROP").in_if(br).out_if(br),
        );
    }
    if !nat {
        rs.append(
            Table::Filter,
            DOCKER,
            Rule::jump("ACCEPT").out_if(br).icmp(family),
        );
    }
    let outgoing = if net.icc {
        Rule::jump("ACCEPT").in_if(br)
    } else {
        Rule::jump("ACCEPT").in_if(br).not_out_if(br)
    };
    rs.append(Table::Filter, DOCKER_FORWARD, outgoing);

    let default_action = if fam.gateway_mode.unprotected() {
        "ACCEPT"
    } else {
        "DROP"
    };
    rs.append(
        Table::Filter,
        DOCKER,
        Rule::jump(default_action).not_in_if(br).out_if(br),
    );
    rs.append(
        Table::Filter,
        DOCKER_CT,
        Rule::jump("ACCEPT").out_if(br).related_established(),
    );
    rs.append(Table::Filter, DOCKER_BRIDGE, Rule::jump(DOCKER).out_if(br));

    // Inter-network isolation (setINC).
    if fam.gateway_mode.routed() {
        rs.insert(Table::Filter, ISOLATION_1, Rule::jump("RETURN").out_if(br));
        rs.insert(
            Table::Filter,
            ISOLATION_1,
            Rule::jump("ACCEPT").in_if(br).related_established(),
        );
    }
    rs.append(
        Table::Filter,
        ISOLATION_1,
        Rule::jump(ISOLATION_2).in_if(br).not_out_if(br),
    );
    rs.insert(Table::Filter, ISOLATION_2, Rule::jump("DROP").out_if(br));
}

/// Docker's `setupInternalNetworkRules`: no way in or out of the subnet.
fn internal_network_rules(
    rs: &mut Ruleset,
    family: Family,
    net: &NetworkConfig,
    fam: &FamilyConfig,
) {
    let br = &net.if_name;
    let (inbound, outbound) = match family {
        Family::V4 => (
            Rule::jump("DROP").in_if(br).not_dst_net(fam.prefix),
            Rule::jump("DROP").out_if(br).not_src_net(fam.prefix),
        ),
        Family::V6 => (
            Rule::jump("DROP")
                .in_if(br)
                .not_out_if(br)
                .not_dst_net(fam.prefix),
            Rule::jump("DROP")
                .not_in_if(br)
                .out_if(br)
                .not_src_net(fam.prefix),
        ),
    };
    rs.insert(Table::Filter, ISOLATION_1, inbound);
    rs.insert(Table::Filter, ISOLATION_1, outbound);
    let icc = if net.icc { "ACCEPT" } else { "DROP" };
    rs.append(
        Table::Filter,
        DOCKER_FORWARD,
        Rule::jump(icc).in_if(br).out_if(br),
    );
}

/// Docker's `filterDirectAccess`: only the bridge (and trusted interfaces) may
/// address a container directly.
fn endpoint_rules(
    rs: &mut Ruleset,
    state: &FirewallState,
    family: Family,
    net: &NetworkConfig,
    ep: &FirewallEndpoint,
) {
    let Some(fam) = net.family(family) else {
        return;
    };
    let addr: Option<IpAddr> = match family {
        Family::V4 => ep.addrs.v4.map(IpAddr::V4),
        Family::V6 => ep.addrs.v6.map(IpAddr::V6),
    };
    let Some(addr) = addr else { return };
    if net.internal
        || fam.gateway_mode.unprotected()
        || fam.gateway_mode.routed()
        || state.config.allow_direct_routing
    {
        return;
    }
    for trusted in &net.trusted_host_interfaces {
        rs.append(
            Table::Raw,
            "PREROUTING",
            Rule::jump("ACCEPT").dst_addr(addr).in_if(trusted),
        );
    }
    rs.append(
        Table::Raw,
        "PREROUTING",
        Rule::jump("DROP").dst_addr(addr).not_in_if(&net.if_name),
    );
}

/// Docker's `setPerPortIptables` for one binding whose container address is
/// of `family`.
fn port_rules(
    rs: &mut Ruleset,
    state: &FirewallState,
    family: Family,
    net: &NetworkConfig,
    b: &PortBinding,
) {
    let Some(fam) = net.family(family) else {
        return;
    };
    if net.internal {
        return;
    }
    let br = &net.if_name;
    // Remote access to ports published on IPv4 loopback is dropped before NAT
    // (moby#45610).
    if b.host_port != 0 && b.host_ip.is_loopback() && b.host_ip.is_ipv4() {
        rs.append(
            Table::Raw,
            "PREROUTING",
            Rule::jump("DROP")
                .dst_addr(b.host_ip)
                .not_in_if(&IfName::loopback())
                .dport(b.proto, b.host_port),
        );
    }
    // An IPv6 host address mapped to an IPv4 container is the userland proxy's job.
    if Family::of(b.host_ip) != family {
        return;
    }
    if b.host_port != 0 {
        let to = match b.container_ip {
            IpAddr::V4(ip) => format!("{ip}:{}", b.container_port),
            IpAddr::V6(ip) => format!("[{ip}]:{}", b.container_port),
        };
        let mut dnat =
            Rule::jump(format!("DNAT --to-destination {to}")).dport(b.proto, b.host_port);
        if !b.host_ip.is_unspecified() {
            dnat = dnat.dst_addr(b.host_ip);
        }
        if !state.config.hairpin {
            dnat = dnat.not_in_if(br);
        }
        if family == Family::V6 {
            dnat = dnat.not_src("fe80::/10");
        }
        rs.append(Table::Nat, DOCKER, dnat);
        if state.config.hairpin {
            rs.append(
                Table::Nat,
                "POSTROUTING",
                Rule::jump("MASQUERADE")
                    .src_addr(b.container_ip)
                    .dst_addr(b.container_ip)
                    .dport(b.proto, b.container_port),
            );
        }
    }
    if !fam.gateway_mode.unprotected() {
        rs.insert(
            Table::Filter,
            DOCKER,
            Rule::jump("ACCEPT")
                .dst_addr(b.container_ip)
                .not_in_if(br)
                .out_if(br)
                .dport(b.proto, b.container_port),
        );
    }
}
