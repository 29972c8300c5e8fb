//! Finding networks and sandboxes as Docker resolves names: a full ID, a
//! unique name, or a unique ID prefix.

use crate::api::types::NetworkResource;

use super::error::DaemonError;
use super::records::SandboxRecord;

/// Resolves `term` as Docker's network router does for inspect and remove:
/// a full ID first, then a unique full name, then a unique ID prefix.
/// Several matches are `network TERM is ambiguous (N matches found based on
/// name|ID prefix)` (400); none is `network TERM not found` (404).
pub fn find_network<'a>(
    networks: &'a [NetworkResource],
    term: &str,
) -> Result<&'a NetworkResource, DaemonError> {
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
                return Err(DaemonError::Invalid(format!(
                    "network {term} is ambiguous ({} matches found based on {basis})",
                    many.len()
                )));
            }
        }
    }
    Err(DaemonError::NetworkNotFound(term.to_string()))
}

/// A sandbox by ID, name or unique ID prefix.
pub(super) fn find_sandbox<'a>(
    sandboxes: &'a [SandboxRecord],
    term: &str,
) -> Result<&'a SandboxRecord, DaemonError> {
    let term = term.trim_start_matches('/');
    if let Some(s) = sandboxes.iter().find(|s| s.id == term || s.name == term) {
        return Ok(s);
    }
    let mut prefixed = sandboxes
        .iter()
        .filter(|s| !term.is_empty() && s.id.starts_with(term));
    match (prefixed.next(), prefixed.next()) {
        (Some(s), None) => Ok(s),
        _ => Err(DaemonError::NoSuchContainer(term.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(name: &str, id: &str) -> NetworkResource {
        NetworkResource {
            name: name.into(),
            id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn find_network_by_id_name_or_prefix() {
        let mut nets = vec![
            network("bridge", "0000ffff"),
            network("front", "2222bbbb"),
            network("backend", "3333cccc"),
        ];
        assert_eq!(find_network(&nets, "2222bbbb").unwrap().name, "front");
        assert_eq!(find_network(&nets, "front").unwrap().name, "front");
        assert_eq!(find_network(&nets, "33").unwrap().name, "backend");
        let err = find_network(&nets, "nosuch").unwrap_err();
        assert!(matches!(err, DaemonError::NetworkNotFound(ref n) if n == "nosuch"));
        assert_eq!(err.to_string(), "network nosuch not found");
        // A network named like another's ID prefix: the name wins.
        nets.push(network("33", "4444dddd"));
        assert_eq!(find_network(&nets, "33").unwrap().id, "4444dddd");
        nets.push(network("x", "3333eeee"));
        let err = find_network(&nets, "3333").unwrap_err();
        assert!(matches!(err, DaemonError::Invalid(_)));
        assert_eq!(
            err.to_string(),
            "network 3333 is ambiguous (2 matches found based on ID prefix)"
        );
        // A full ID wins over everything.
        nets.push(network("3333cccc", "5555"));
        assert_eq!(find_network(&nets, "3333cccc").unwrap().name, "backend");
    }
}
