//! Docker's filter semantics for networks, as pure functions over
//! [`NetworkResource`]s: the `filters` query parameter ([`Filters`]), list
//! filtering ([`filter_networks`]) and the prune predicate ([`PruneFilter`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use regex::Regex;
use serde::{Serialize, Serializer};

use super::client::percent_encode;
use super::error::ApiError;
use super::go_time::parse_until;
use super::types::NetworkResource;

/// The filter keys `GET /networks` accepts (Docker's
/// `network.ValidateFilters`).
pub const NETWORK_LIST_FILTERS: &[&str] =
    &["dangling", "driver", "id", "label", "name", "scope", "type"];

/// The filter keys `POST /networks/prune` accepts.
pub const NETWORK_PRUNE_FILTERS: &[&str] = &["label", "label!", "until"];

/// Docker's filter arguments (Go: `filters.Args`): each key has a set of
/// values. Sent as the `filters` query parameter, JSON either as
/// `{"name":{"foo":true}}` or in the older `{"name":["foo"]}` form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl Filters {
    /// No filters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the `filters` query parameter as Docker's `filters.FromJSON`
    /// does: empty means none, and anything but the two JSON forms is
    /// `invalid filter` (400).
    pub fn from_json(text: &str) -> Result<Self, ApiError> {
        if text.is_empty() {
            return Ok(Self::new());
        }
        type MapForm = Option<BTreeMap<String, BTreeMap<String, bool>>>;
        type ListForm = Option<BTreeMap<String, Vec<String>>>;
        let fields = if let Ok(map) = serde_json::from_str::<MapForm>(text) {
            map.unwrap_or_default()
                .into_iter()
                .map(|(key, values)| (key, values.into_keys().collect()))
                .collect()
        } else if let Ok(list) = serde_json::from_str::<ListForm>(text) {
            list.unwrap_or_default()
                .into_iter()
                .map(|(key, values)| (key, values.into_iter().collect()))
                .collect()
        } else {
            return Err(ApiError::invalid_parameter("invalid filter"));
        };
        Ok(Filters { fields })
    }

    /// The map form, `{"key":{"value":true}}`, as the docker CLI sends it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("string maps always encode")
    }

    /// `filters=<to_json, percent-encoded>` for a URL, or `""` when empty.
    pub fn to_query(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        format!("filters={}", percent_encode(&self.to_json()))
    }

    /// Adds `value` to `key`'s set.
    pub fn add(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.fields
            .entry(key.into())
            .or_default()
            .insert(value.into());
        self
    }

    /// `key`'s values, in sorted order.
    pub fn get(&self, key: &str) -> impl Iterator<Item = &str> {
        self.fields
            .get(key)
            .into_iter()
            .flat_map(|values| values.iter().map(String::as_str))
    }

    /// Whether `key` was given at all.
    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// Whether no key was given.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Refuses keys outside `accepted`: `invalid filter 'KEY'` (400), as
    /// Docker's `Args.Validate`.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), ApiError> {
        match self
            .fields
            .keys()
            .find(|key| !accepted.contains(&key.as_str()))
        {
            Some(key) => Err(ApiError::invalid_parameter(format!(
                "invalid filter '{key}'"
            ))),
            None => Ok(()),
        }
    }

    /// The prune predicate these filters describe, with `until` resolved
    /// against `now`. Refuses keys outside [`NETWORK_PRUNE_FILTERS`], more
    /// than one `until`, and an `until` that is neither a Go duration, an
    /// RFC 3339 date (or a prefix of one) nor a Unix timestamp.
    pub fn prune(&self, now: SystemTime) -> Result<PruneFilter, ApiError> {
        self.validate(NETWORK_PRUNE_FILTERS)?;
        let until = match self.fields.get("until") {
            None => None,
            Some(values) if values.len() > 1 => {
                return Err(ApiError::invalid_parameter(
                    "more than one until filter specified",
                ));
            }
            Some(values) => {
                let value = values.iter().next().map_or("", String::as_str);
                Some(parse_until(value, now).map_err(ApiError::invalid_parameter)?)
            }
        };
        Ok(PruneFilter {
            until,
            label: self.fields.get("label").cloned().unwrap_or_default(),
            not_label: self.fields.get("label!").cloned().unwrap_or_default(),
        })
    }

    /// Go's `Args.ExactMatch`: true when `key` has no values or one equals
    /// `source`.
    fn exact_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            Some(values) if !values.is_empty() => values.contains(source),
            _ => true,
        }
    }
}

impl Serialize for Filters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, BTreeMap<&str, bool>> = self
            .fields
            .iter()
            .map(|(key, values)| {
                (
                    key.as_str(),
                    values.iter().map(|value| (value.as_str(), true)).collect(),
                )
            })
            .collect();
        map.serialize(serializer)
    }
}

/// Go's `Args.MatchKVList` over `values`: every `k` or `k=v` must be among
/// `labels`; true when there are no values.
fn match_kv_list(values: &BTreeSet<String>, labels: &BTreeMap<String, String>) -> bool {
    if values.is_empty() {
        return true;
    }
    if labels.is_empty() {
        return false;
    }
    values.iter().all(|value| match value.split_once('=') {
        Some((key, wanted)) => labels.get(key).is_some_and(|v| v == wanted),
        None => labels.contains_key(value.as_str()),
    })
}

/// Go's `Args.Match` for one key: a value equal to the source, or a value
/// that, as a regular expression, matches somewhere in it (values that are
/// not valid expressions only match exactly). A plain word thus matches as
/// a substring.
struct PatternMatch<'a> {
    filters: &'a Filters,
    key: &'a str,
    patterns: Vec<Regex>,
}

impl<'a> PatternMatch<'a> {
    fn new(filters: &'a Filters, key: &'a str) -> Self {
        let patterns = filters
            .get(key)
            .filter_map(|value| Regex::new(value).ok())
            .collect();
        PatternMatch {
            filters,
            key,
            patterns,
        }
    }

    fn matches(&self, source: &str) -> bool {
        !self.filters.contains(self.key)
            || self.filters.exact_match(self.key, source)
            || self.patterns.iter().any(|re| re.is_match(source))
    }
}

/// Whether `name` is one of the networks the daemon predefines (`bridge`,
/// `host`, `none`, and the `default` and `container:<id>` network modes),
/// which cannot be removed and count as `type=builtin`.
pub fn is_predefined_network(name: &str) -> bool {
    matches!(name, "bridge" | "host" | "none" | "default") || name.starts_with("container:")
}

/// Docker's network list filtering (`daemon/network.FilterNetworks`),
/// keeping the input order:
/// - `driver`, `scope`: exact;
/// - `name`, `id`: exact, or regular-expression search (so a plain word
///   matches a substring, `^abc` a prefix);
/// - `label`: `key` or `key=value`, all given must match;
/// - `dangling`: `true`/`1` keeps unused custom networks, `false`/`0` the
///   others (one value only);
/// - `type`: `builtin` or `custom` (several values: the union).
///
/// Keys are not checked here; see [`Filters::validate`].
pub fn filter_networks(
    networks: Vec<NetworkResource>,
    filters: &Filters,
) -> Result<Vec<NetworkResource>, ApiError> {
    if filters.is_empty() {
        return Ok(networks);
    }
    let name = PatternMatch::new(filters, "name");
    let id = PatternMatch::new(filters, "id");
    let no_labels = BTreeSet::new();
    let labels = filters.fields.get("label").unwrap_or(&no_labels);
    let mut kept: Vec<NetworkResource> = networks
        .into_iter()
        .filter(|nw| {
            filters.exact_match("driver", &nw.driver)
                && name.matches(&nw.name)
                && id.matches(&nw.id)
                && match_kv_list(labels, &nw.labels)
                && filters.exact_match("scope", &nw.scope)
        })
        .collect();

    if let Some(values) = filters.fields.get("dangling").filter(|v| !v.is_empty()) {
        if values.len() > 1 {
            return Err(ApiError::invalid_parameter(
                r#"got more than one value for filter key "dangling""#,
            ));
        }
        let dangling_only = match values.iter().next().map(String::as_str) {
            Some("1" | "true") => true,
            Some("0" | "false") => false,
            _ => {
                return Err(ApiError::invalid_parameter(
                    r#"invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")"#,
                ));
            }
        };
        kept.retain(|nw| {
            let in_use = is_predefined_network(&nw.name) || !nw.containers.is_empty();
            in_use != dangling_only
        });
    }

    if filters.contains("type") {
        let mut by_type = Vec::new();
        for value in filters.get("type") {
            let builtin = match value {
                "builtin" => true,
                "custom" => false,
                // Docker returns a plain error here, hence a 500.
                _ => {
                    return Err(ApiError::internal(format!(
                        "invalid filter: 'type'='{value}'"
                    )));
                }
            };
            by_type.extend(
                kept.iter()
                    .filter(|nw| is_predefined_network(&nw.name) == builtin)
                    .cloned(),
            );
        }
        kept = by_type;
    }
    Ok(kept)
}

/// Which networks `POST /networks/prune` removes (Docker's
/// `localNetworksPrune`), built by [`Filters::prune`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneFilter {
    until: Option<SystemTime>,
    label: BTreeSet<String>,
    not_label: BTreeSet<String>,
}

impl PruneFilter {
    /// The resolved `until` filter: networks created after it are kept.
    pub fn until(&self) -> Option<SystemTime> {
        self.until
    }

    /// Whether prune removes `nw`: not configuration-only, not created after
    /// `until`, labels matching `label` and not `label!`, not predefined, and
    /// with no endpoint.
    pub fn matches(&self, nw: &NetworkResource) -> bool {
        !nw.config_only
            && self.until.is_none_or(|until| nw.created <= until)
            && match_kv_list(&self.label, &nw.labels)
            && (self.not_label.is_empty() || !match_kv_list(&self.not_label, &nw.labels))
            && !is_predefined_network(&nw.name)
            && nw.containers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::go_time::from_unix;
    use crate::api::types::EndpointResource;

    fn network(name: &str, id: &str) -> NetworkResource {
        NetworkResource {
            name: name.into(),
            id: id.into(),
            created: from_unix(1_700_000_000, 0),
            scope: "local".into(),
            driver: "bridge".into(),
            enable_ipv4: true,
            ..Default::default()
        }
    }

    fn fixture() -> Vec<NetworkResource> {
        let mut host = network("host", "1111aaaa");
        host.driver = "host".into();
        let mut front = network("front", "2222bbbb");
        front.labels = BTreeMap::from([("env".into(), "prod".into()), ("team".into(), "".into())]);
        let mut back = network("backend", "3333cccc");
        back.labels = BTreeMap::from([("env".into(), "dev".into())]);
        back.containers
            .insert("c1".into(), EndpointResource::default());
        vec![network("bridge", "0000ffff"), host, front, back]
    }

    fn filtered(json: &str) -> Result<Vec<String>, ApiError> {
        let filters = Filters::from_json(json)?;
        filters.validate(NETWORK_LIST_FILTERS)?;
        Ok(filter_networks(fixture(), &filters)?
            .into_iter()
            .map(|nw| nw.name)
            .collect())
    }

    #[test]
    fn filters_parse_both_json_forms() {
        let map =
            Filters::from_json(r#"{"name":{"foo":true,"bar":true},"label":{"a=b":true}}"#).unwrap();
        let list = Filters::from_json(r#"{"name":["foo","bar"],"label":["a=b"]}"#).unwrap();
        assert_eq!(map, list);
        assert_eq!(map.get("name").collect::<Vec<_>>(), ["bar", "foo"]);
        assert!(map.contains("label") && !map.contains("id"));
        assert!(Filters::from_json("").unwrap().is_empty());
        assert!(Filters::from_json("null").unwrap().is_empty());
        for bad in ["{", "[1]", r#"{"name":"foo"}"#, r#"{"name":{"foo":"yes"}}"#] {
            assert_eq!(
                Filters::from_json(bad),
                Err(ApiError::invalid_parameter("invalid filter")),
                "{bad}"
            );
        }
    }

    #[test]
    fn filters_encode_as_the_cli_sends_them() {
        let mut filters = Filters::new();
        filters.add("name", "foo").add("label", "a=b");
        assert_eq!(
            filters.to_json(),
            r#"{"label":{"a=b":true},"name":{"foo":true}}"#
        );
        // Exactly the query docker CLI 28 sent for `-f name=foo -f label=a=b`.
        assert_eq!(
            filters.to_query(),
            "filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%2C%22name%22%3A%7B%22foo%22%3Atrue%7D%7D"
        );
        assert_eq!(Filters::from_json(&filters.to_json()).unwrap(), filters);
        assert_eq!(Filters::new().to_query(), "");
    }

    #[test]
    fn unknown_filter_keys_are_refused() {
        assert_eq!(
            filtered(r#"{"name":{"a":true},"colour":{"red":true}}"#),
            Err(ApiError::invalid_parameter("invalid filter 'colour'"))
        );
        let prune = Filters::from_json(r#"{"name":{"a":true}}"#).unwrap();
        assert_eq!(
            prune.prune(SystemTime::now()),
            Err(ApiError::invalid_parameter("invalid filter 'name'"))
        );
    }

    #[test]
    fn name_and_id_match_exactly_or_as_expressions() {
        assert_eq!(filtered(r#"{"name":{"front":true}}"#).unwrap(), ["front"]);
        // A plain word is a substring search: "o" is in host, front.
        assert_eq!(
            filtered(r#"{"name":{"o":true}}"#).unwrap(),
            ["host", "front"]
        );
        assert_eq!(
            filtered(r#"{"name":{"^b":true}}"#).unwrap(),
            ["bridge", "backend"]
        );
        assert_eq!(
            filtered(r#"{"name":{"front":true,"host":true}}"#).unwrap(),
            ["host", "front"]
        );
        // An invalid expression only matches exactly.
        assert!(filtered(r#"{"name":{"(":true}}"#).unwrap().is_empty());
        assert_eq!(filtered(r#"{"id":{"2222":true}}"#).unwrap(), ["front"]);
        assert_eq!(filtered(r#"{"id":{"bbbb":true}}"#).unwrap(), ["front"]);
        assert_eq!(
            filtered(r#"{"id":{"^bbbb":true}}"#).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn driver_scope_and_labels() {
        assert_eq!(filtered(r#"{"driver":{"host":true}}"#).unwrap(), ["host"]);
        assert_eq!(
            filtered(r#"{"driver":{"hos":true}}"#).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(filtered(r#"{"scope":{"local":true}}"#).unwrap().len(), 4);
        assert!(filtered(r#"{"scope":{"swarm":true}}"#).unwrap().is_empty());
        assert_eq!(
            filtered(r#"{"label":{"env":true}}"#).unwrap(),
            ["front", "backend"]
        );
        assert_eq!(
            filtered(r#"{"label":{"env=prod":true}}"#).unwrap(),
            ["front"]
        );
        assert_eq!(
            filtered(r#"{"label":{"env=prod":true,"team":true}}"#).unwrap(),
            ["front"]
        );
        assert_eq!(
            filtered(r#"{"label":{"env=dev":true,"team":true}}"#).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(filtered(r#"{"label":{"team=":true}}"#).unwrap(), ["front"]);
    }

    #[test]
    fn type_and_dangling() {
        assert_eq!(
            filtered(r#"{"type":{"custom":true}}"#).unwrap(),
            ["front", "backend"]
        );
        assert_eq!(
            filtered(r#"{"type":{"builtin":true}}"#).unwrap(),
            ["bridge", "host"]
        );
        assert_eq!(
            filtered(r#"{"type":{"builtin":true,"custom":true}}"#)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            filtered(r#"{"type":{"other":true}}"#),
            Err(ApiError::internal("invalid filter: 'type'='other'"))
        );
        // Dangling: custom and unused. Not dangling: predefined or in use.
        assert_eq!(
            filtered(r#"{"dangling":{"true":true}}"#).unwrap(),
            ["front"]
        );
        assert_eq!(filtered(r#"{"dangling":["1"]}"#).unwrap(), ["front"]);
        assert_eq!(
            filtered(r#"{"dangling":["false"]}"#).unwrap(),
            ["bridge", "host", "backend"]
        );
        assert_eq!(
            filtered(r#"{"dangling":["yes"]}"#),
            Err(ApiError::invalid_parameter(
                r#"invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")"#
            ))
        );
        assert_eq!(
            filtered(r#"{"dangling":["0","1"]}"#),
            Err(ApiError::invalid_parameter(
                r#"got more than one value for filter key "dangling""#
            ))
        );
    }

    #[test]
    fn predefined_networks() {
        for name in ["bridge", "host", "none", "default", "container:abc"] {
            assert!(is_predefined_network(name), "{name}");
        }
        for name in ["br", "bridge2", "custom"] {
            assert!(!is_predefined_network(name), "{name}");
        }
    }

    #[test]
    fn prune_keeps_predefined_used_config_only_new_and_unlabelled() {
        let now = from_unix(1_700_000_100, 0);
        let prune = |json: &str| -> Vec<String> {
            let filter = Filters::from_json(json).unwrap().prune(now).unwrap();
            let mut nets = fixture();
            let mut config_only = network("cfg", "6666");
            config_only.config_only = true;
            let mut fresh = network("fresh", "7777");
            fresh.created = from_unix(1_700_000_090, 0);
            nets.extend([config_only, fresh]);
            nets.into_iter()
                .filter(|nw| filter.matches(nw))
                .map(|nw| nw.name)
                .collect()
        };
        assert_eq!(prune(""), ["front", "fresh"]);
        // Created at 1_700_000_000: older than 60 s before now, not 120 s.
        assert_eq!(prune(r#"{"until":{"60s":true}}"#), ["front"]);
        assert_eq!(prune(r#"{"until":{"2m":true}}"#), Vec::<String>::new());
        assert_eq!(prune(r#"{"until":{"1700000000":true}}"#), ["front"]);
        assert_eq!(
            prune(r#"{"until":{"1699999999.5":true}}"#),
            Vec::<String>::new()
        );
        assert_eq!(
            prune(r#"{"until":{"2023-11-14T22:13:20Z":true}}"#),
            ["front"]
        );
        assert_eq!(
            prune(r#"{"until":{"2023-11-14T22:13:19Z":true}}"#),
            Vec::<String>::new()
        );
        assert_eq!(prune(r#"{"label":{"env=prod":true}}"#), ["front"]);
        assert_eq!(prune(r#"{"label!":{"env":true}}"#), ["fresh"]);
        assert_eq!(prune(r#"{"label!":{"env=dev":true}}"#), ["front", "fresh"]);
    }

    #[test]
    fn prune_until_errors() {
        let now = SystemTime::now();
        let err = |json: &str| Filters::from_json(json).unwrap().prune(now).unwrap_err();
        assert_eq!(
            err(r#"{"until":{"1h":true,"2h":true}}"#),
            ApiError::invalid_parameter("more than one until filter specified")
        );
        assert_eq!(
            err(r#"{"until":{"soon":true}}"#),
            ApiError::invalid_parameter(r#"failed to parse value as time or duration: "soon""#)
        );
        assert_eq!(err(r#"{"until":{"2023-13-01":true}}"#).status, 400);
    }
}
