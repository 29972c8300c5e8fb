//! What the daemon implements behind the API ([`Engine`]), the errors it
//! answers with ([`ApiError`]), and Docker's filter semantics as pure
//! functions over [`NetworkResource`]s ([`Filters`], [`filter_networks`],
//! [`PruneFilter`], [`find_network`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use regex::Regex;
use serde::{Serialize, Serializer};

use super::sandbox::{
    SandboxCreateRequest, SandboxCreateResponse, SandboxInspect, SandboxSummary,
    SandboxWaitResponse,
};
use super::types::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkResource, NetworksPruneResponse,
};

/// The network operations of the Engine API, implemented by the daemon.
///
/// Object-safe through [`async_trait`]: implement it with
/// `#[async_trait::async_trait] impl Engine for MyDaemon { async fn ... }`
/// and hand the server an `Arc<dyn Engine>`.
///
/// Every error is an [`ApiError`]; its status and message reach the client
/// unchanged. The server has already decoded bodies and validated the
/// filters' keys (and, for prune, the `until` value) before calling.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// `POST /networks/create` (answered with 201).
    async fn create_network(
        &self,
        req: NetworkCreateRequest,
    ) -> Result<NetworkCreateResponse, ApiError>;

    /// `GET /networks`: the networks matching `filters` (keys already checked
    /// against [`NETWORK_LIST_FILTERS`]); [`filter_networks`] does the matching.
    async fn list_networks(&self, filters: &Filters) -> Result<Vec<NetworkResource>, ApiError>;

    /// `GET /networks/{id}`: one network by full ID, full name or unique ID
    /// prefix ([`find_network`] resolves it). `verbose` asks for swarm
    /// details Docker adds for overlay networks.
    async fn inspect_network(
        &self,
        id_or_name: &str,
        verbose: bool,
    ) -> Result<NetworkResource, ApiError>;

    /// `DELETE /networks/{id}` (answered with 204).
    async fn remove_network(&self, id_or_name: &str) -> Result<(), ApiError>;

    /// `POST /networks/prune`: removes the unused networks matching
    /// `filters` (keys among [`NETWORK_PRUNE_FILTERS`]); [`Filters::prune`]
    /// gives the predicate.
    async fn prune_networks(&self, filters: &Filters) -> Result<NetworksPruneResponse, ApiError>;

    /// `POST /networks/{id}/connect` (answered with 200, empty body).
    async fn connect_network(
        &self,
        id_or_name: &str,
        req: NetworkConnectRequest,
    ) -> Result<(), ApiError>;

    /// `POST /networks/{id}/disconnect` (answered with 200, empty body).
    async fn disconnect_network(
        &self,
        id_or_name: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<(), ApiError>;

    /// `POST /sandboxes/create` (answered with 201): creates a sandbox and
    /// starts its process, or attaches an existing namespace.
    async fn create_sandbox(
        &self,
        req: SandboxCreateRequest,
    ) -> Result<SandboxCreateResponse, ApiError>;

    /// `GET /sandboxes?all=1`: running sandboxes, or all with `all`.
    async fn list_sandboxes(&self, all: bool) -> Result<Vec<SandboxSummary>, ApiError>;

    /// `GET /sandboxes/{id}/json`: one sandbox by ID, name or unique ID prefix.
    async fn inspect_sandbox(&self, id_or_name: &str) -> Result<SandboxInspect, ApiError>;

    /// `DELETE /sandboxes/{id}?force=1` (answered with 204): a running
    /// sandbox needs `force` (its process is killed).
    async fn remove_sandbox(&self, id_or_name: &str, force: bool) -> Result<(), ApiError>;

    /// `GET /sandboxes/{id}/logs`: what the process wrote (stdout and stderr).
    async fn sandbox_logs(&self, id_or_name: &str) -> Result<String, ApiError>;

    /// `POST /sandboxes/{id}/wait`: waits for the process to exit.
    async fn wait_sandbox(&self, id_or_name: &str) -> Result<SandboxWaitResponse, ApiError>;
}

/// An error answered to the client: an HTTP status and the message the CLI
/// prints after `Error response from daemon: `.
///
/// The statuses are Docker's (`errdefs` → HTTP): not found 404, invalid
/// parameter 400, conflict 409, forbidden 403, anything else 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The message, sent as `{"message": ...}`.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// 400 Bad Request (Docker's "invalid parameter").
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// Docker's `network %s not found` (libnetwork `ErrNoSuchNetwork`), 404.
    pub fn network_not_found(id_or_name: &str) -> Self {
        Self::not_found(format!("network {id_or_name} not found"))
    }

    /// Docker's `network with name %s already exists` (libnetwork
    /// `NetworkNameError`), 409.
    pub fn network_name_conflict(name: &str) -> Self {
        Self::conflict(format!("network with name {name} already exists"))
    }

    /// Docker's refusal to remove `bridge`, `host` or `none`, 403.
    pub fn predefined_network(name: &str) -> Self {
        Self::forbidden(format!(
            "{name} is a pre-defined network and cannot be removed"
        ))
    }
}

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

/// Resolves `term` as Docker's network router does for inspect and remove:
/// a full ID first, then a unique full name, then a unique ID prefix.
/// Several matches are `network TERM is ambiguous (N matches found based on
/// name|ID prefix)` (400); none is `network TERM not found` (404).
pub fn find_network<'a>(
    networks: &'a [NetworkResource],
    term: &str,
) -> Result<&'a NetworkResource, ApiError> {
    if let Some(nw) = networks.iter().find(|nw| nw.id == term) {
        return Ok(nw);
    }
    let by_name: Vec<_> = networks
        .iter()
        .filter(|nw| nw.name == term && !nw.ingress)
        .collect();
    let by_prefix: Vec<_> = networks
        .iter()
        .filter(|nw| nw.id.starts_with(term))
        .collect();
    for (found, basis) in [(by_name, "name"), (by_prefix, "ID prefix")] {
        match found.as_slice() {
            [] => {}
            [one] => return Ok(one),
            many => {
                return Err(ApiError::invalid_parameter(format!(
                    "network {term} is ambiguous ({} matches found based on {basis})",
                    many.len()
                )));
            }
        }
    }
    Err(ApiError::network_not_found(term))
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

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Resolves a prune `until` value as Docker does (Go's
/// `timetypes.GetTimestamp` then `ParseTimestamps`): a Go duration before
/// `now` (truncated to the second), an RFC 3339 date or date-time (or a
/// prefix of one; without a zone, in the local zone's current offset), or
/// Unix seconds with an optional fraction.
fn parse_until(value: &str, now: SystemTime) -> Result<SystemTime, String> {
    if value != "0"
        && let Some(ago) = parse_go_duration(value)
    {
        let at = unix_nanos(now) - ago;
        return Ok(from_unix(at.div_euclid(1_000_000_000) as i64, 0));
    }
    match parse_go_date(value, now) {
        Some(at) => Ok(at),
        None if value.contains('-') => Err(format!(
            "parsing time {value:?}: not an RFC 3339 date or date-time"
        )),
        None => parse_unix_timestamp(value)
            .ok_or_else(|| format!("failed to parse value as time or duration: {value:?}")),
    }
}

/// Nanoseconds since the Unix epoch (negative before it).
fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// The time `seconds` and `nanos` after the Unix epoch.
fn from_unix(seconds: i64, nanos: u32) -> SystemTime {
    let whole = Duration::from_secs(seconds.unsigned_abs());
    let base = if seconds >= 0 {
        SystemTime::UNIX_EPOCH + whole
    } else {
        SystemTime::UNIX_EPOCH - whole
    };
    base + Duration::from_nanos(u64::from(nanos))
}

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]?` then one or more
/// decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`),
/// like `1h30m` or `-1.5h`.
fn parse_go_duration(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut nanos = whole.checked_mul(unit)?;
        // Beyond 18 digits a fraction no longer changes whole nanoseconds.
        let fraction = &fraction[..fraction.len().min(18)];
        if !fraction.is_empty() {
            let scale = 10i128.pow(fraction.len() as u32);
            nanos += fraction.parse::<i128>().ok()? * unit / scale;
        }
        total = total.checked_add(nanos)?;
        if total > i128::from(i64::MAX) {
            return None;
        }
        rest = after;
    }
    Some(if negative { -total } else { total })
}

/// How much of a date-time Go's layout for the value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePrecision {
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
}

/// The date forms of Go's `timetypes.GetTimestamp`: the layout follows from
/// the value's shape (a `.`: with fraction; a `T`: hours, minutes or
/// seconds by the number of colons; else a date), with a `Z`/`±hh:mm` zone
/// or, without one, the local zone's current offset.
fn parse_go_date(value: &str, now: SystemTime) -> Option<SystemTime> {
    let in_local = !value.contains(['z', 'Z', '+']) && value.matches('-').count() != 3;
    let (civil, offset) = if in_local {
        let now = jiff::Timestamp::try_from(now).ok()?;
        (value, jiff::tz::TimeZone::system().to_offset(now))
    } else {
        split_zone(value)?
    };
    let precision = if value.contains('.') {
        DatePrecision::Fraction
    } else if value.contains('T') {
        match civil.matches(':').count() {
            0 => DatePrecision::Hour,
            1 => DatePrecision::Minute,
            _ => DatePrecision::Second,
        }
    } else {
        DatePrecision::Day
    };
    let datetime = parse_civil(civil, precision)?;
    let at = offset.to_timestamp(datetime).ok()?;
    SystemTime::try_from(at).ok()
}

/// Splits a trailing `Z` or `±hh:mm` zone off a date or date-time.
fn split_zone(value: &str) -> Option<(&str, jiff::tz::Offset)> {
    if let Some(civil) = value.strip_suffix('Z') {
        return Some((civil, jiff::tz::Offset::UTC));
    }
    // The zone's sign comes after the date's `YYYY-MM-DD`.
    let sign_at = value.rfind(['+', '-']).filter(|&at| at >= 10)?;
    let (civil, zone) = value.split_at(sign_at);
    let (hours, minutes) = zone[1..].split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let seconds = hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60;
    let seconds = if zone.starts_with('-') {
        -seconds
    } else {
        seconds
    };
    Some((civil, jiff::tz::Offset::from_seconds(seconds).ok()?))
}

/// Parses `YYYY-MM-DD[THH[:MM[:SS[.fff]]]]`, requiring exactly `precision`.
fn parse_civil(text: &str, precision: DatePrecision) -> Option<jiff::civil::DateTime> {
    fn number(text: &str, len: usize) -> Option<(i32, &str)> {
        let digits = text.get(..len)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((digits.parse().ok()?, &text[len..]))
    }
    let (year, rest) = number(text, 4)?;
    let (month, rest) = number(rest.strip_prefix('-')?, 2)?;
    let (day, mut rest) = number(rest.strip_prefix('-')?, 2)?;
    let mut time = [0i32; 3];
    let mut nanos = 0i32;
    let mut got = DatePrecision::Day;
    if let Some(after) = rest.strip_prefix('T') {
        (time[0], rest) = number(after, 2)?;
        got = DatePrecision::Hour;
        for (field, next) in [(1, DatePrecision::Minute), (2, DatePrecision::Second)] {
            if let Some(after) = rest.strip_prefix(':') {
                (time[field], rest) = number(after, 2)?;
                got = next;
            }
        }
        if got == DatePrecision::Second
            && let Some(fraction) = rest.strip_prefix('.')
        {
            let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 || len > 9 {
                return None;
            }
            nanos = fraction[..len].parse::<i32>().ok()? * 10i32.pow(9 - len as u32);
            rest = &fraction[len..];
            got = DatePrecision::Fraction;
        }
    }
    if !rest.is_empty() || got != precision {
        return None;
    }
    jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(time[0]).ok()?,
        i8::try_from(time[1]).ok()?,
        i8::try_from(time[2]).ok()?,
        nanos,
    )
    .ok()
}

/// Unix seconds with an optional fraction (`1700000000.5`), as Go's
/// `timetypes.parseTimestamp`.
fn parse_unix_timestamp(text: &str) -> Option<SystemTime> {
    let (seconds, fraction) = match text.split_once('.') {
        Some((seconds, fraction)) => (seconds, Some(fraction)),
        None => (text, None),
    };
    let seconds: i64 = seconds.parse().ok()?;
    let nanos = match fraction {
        None => 0,
        Some(fraction) => {
            let value: u64 = fraction.parse().ok()?;
            let len = fraction.len() as i32;
            (value as f64 * 10f64.powi(9 - len)) as u32
        }
    };
    Some(from_unix(seconds, nanos.min(999_999_999)))
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn find_network_by_id_name_or_prefix() {
        let mut nets = fixture();
        assert_eq!(find_network(&nets, "2222bbbb").unwrap().name, "front");
        assert_eq!(find_network(&nets, "front").unwrap().name, "front");
        assert_eq!(find_network(&nets, "33").unwrap().name, "backend");
        assert_eq!(
            find_network(&nets, "nosuch"),
            Err(ApiError::network_not_found("nosuch"))
        );
        assert_eq!(
            find_network(&nets, "nosuch").unwrap_err().message,
            "network nosuch not found"
        );
        // A network named like another's ID prefix: the name wins.
        nets.push(network("33", "4444dddd"));
        assert_eq!(find_network(&nets, "33").unwrap().id, "4444dddd");
        nets.push(network("x", "3333eeee"));
        assert_eq!(
            find_network(&nets, "3333"),
            Err(ApiError::invalid_parameter(
                "network 3333 is ambiguous (2 matches found based on ID prefix)"
            ))
        );
        // A full ID wins over everything.
        nets.push(network("3333cccc", "5555"));
        assert_eq!(find_network(&nets, "3333cccc").unwrap().name, "backend");
    }

    #[test]
    fn error_wording_and_statuses() {
        assert_eq!(
            ApiError::network_name_conflict("n1"),
            ApiError::new(409, "network with name n1 already exists")
        );
        assert_eq!(
            ApiError::predefined_network("bridge"),
            ApiError::new(403, "bridge is a pre-defined network and cannot be removed")
        );
        assert_eq!(ApiError::not_found("x").status, 404);
        assert_eq!(ApiError::conflict("x").status, 409);
        assert_eq!(ApiError::invalid_parameter("x").status, 400);
        assert_eq!(ApiError::forbidden("x").status, 403);
        assert_eq!(ApiError::internal("x").status, 500);
        assert_eq!(ApiError::internal("boom").to_string(), "boom");
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

    #[test]
    fn go_durations() {
        let s = 1_000_000_000i128;
        assert_eq!(parse_go_duration("24h"), Some(24 * 3600 * s));
        assert_eq!(parse_go_duration("1h30m"), Some(5400 * s));
        assert_eq!(parse_go_duration("1.5h"), Some(5400 * s));
        assert_eq!(parse_go_duration(".5s"), Some(s / 2));
        assert_eq!(parse_go_duration("-2m"), Some(-120 * s));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("2us"), parse_go_duration("2µs"));
        assert_eq!(parse_go_duration("0"), Some(0));
        for bad in ["", "5", "h", "1x", ".s", "1h30", "-", "9999999999999h"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn until_values_as_docker_reads_them() {
        let now = from_unix(1_700_000_000, 700_000_000);
        let at = |value: &str| unix_nanos(parse_until(value, now).unwrap());
        let s = 1_000_000_000i128;
        // Durations count back from now, truncated to the second.
        assert_eq!(at("10s"), 1_699_999_990 * s);
        assert_eq!(at("-10s"), 1_700_000_010 * s);
        // "0" is a timestamp, not a duration.
        assert_eq!(at("0"), 0);
        assert_eq!(at("1.5"), s + s / 2);
        assert_eq!(at("2023-11-14T22:13:20.25Z"), 1_700_000_000 * s + s / 4);
        assert_eq!(at("2023-11-14T23:13:20+01:00"), 1_700_000_000 * s);
        assert_eq!(at("2023-11-14T22:13Z"), 1_699_999_980 * s);
        assert_eq!(at("2023-11-14T22Z"), 1_699_999_200 * s);
        assert_eq!(at("2023-11-14T22:13:20-00:30"), (1_700_000_000 + 1800) * s);
        assert_eq!(at("2023-11-14Z"), 1_699_920_000 * s);
        // Without a zone: the local zone's current offset.
        let offset = jiff::tz::TimeZone::system()
            .to_offset(jiff::Timestamp::try_from(now).unwrap())
            .seconds() as i128;
        assert_eq!(at("2023-11-14"), (1_699_920_000 - offset) * s);
        assert_eq!(at("2023-11-14T22:13:20"), (1_700_000_000 - offset) * s);
        for bad in [
            "2023-11-14T22:13:20.Z",
            "2023-11-14T",
            "2023-1-14",
            "2023-11-14T22:13:20Zx",
            "abc",
        ] {
            assert!(parse_until(bad, now).is_err(), "{bad}");
        }
    }
}
