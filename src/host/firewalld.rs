//! firewalld over D-Bus, as Docker uses it: the `docker` zone (target
//! ACCEPT) that bridges join at runtime, the `docker-forwarding` policy
//! (ingress ANY, egress `docker`, target ACCEPT), and the events that mean
//! firewalld has rebuilt its rules: its `Reloaded` signal and a new owner of
//! its bus name (a restart).
//!
//! The bus is the system bus, found as every D-Bus client finds it
//! (`DBUS_SYSTEM_BUS_ADDRESS`, else `/run/dbus/system_bus_socket`). A bus
//! socket is a file, which network namespaces do not separate: a firewalld
//! counts only when its process is in the caller's network namespace (a
//! daemon run with `--netns` must never touch the host's firewalld). Every
//! call has a deadline, so a firewalld that hangs cannot stall the daemon,
//! and none may start a firewalld through D-Bus activation.
//!
//! What this must not do: plan or read iptables rules (that is the
//! firewall backend's), or decide when to call (the daemon's).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use zbus::proxy::MethodFlags;
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::{Connection, Proxy};

use super::netns;

/// firewalld's well-known bus name (and its main interface).
pub const BUS_NAME: &str = "org.fedoraproject.FirewallD1";
/// The zone bridges join, as Docker names it.
pub const ZONE: &str = "docker";
/// The policy that lets traffic from anywhere reach the zone, as Docker
/// names it.
pub const POLICY: &str = "docker-forwarding";

const PATH: &str = "/org/fedoraproject/FirewallD1";
const CONFIG_PATH: &str = "/org/fedoraproject/FirewallD1/config";
const ZONE_IFACE: &str = "org.fedoraproject.FirewallD1.zone";
const CONFIG_IFACE: &str = "org.fedoraproject.FirewallD1.config";
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A failed exchange with firewalld or its bus.
#[derive(Debug, thiserror::Error)]
pub enum FirewalldError {
    /// The bus could not be reached or the call could not be made.
    #[error("firewalld over D-Bus: {what}: {source}")]
    Bus {
        /// The call, e.g. `zone.addInterface docker br-1234`.
        what: String,
        /// zbus's error.
        source: Box<zbus::Error>,
    },
    /// firewalld answered with an error, e.g. `NAME_CONFLICT: ...`.
    #[error("firewalld: {what}: {message}")]
    Refused {
        /// The call.
        what: String,
        /// firewalld's message, which starts with its error code.
        message: String,
        /// The D-Bus error name.
        name: String,
    },
    /// No answer in time.
    #[error("firewalld: {what}: no answer within {CALL_TIMEOUT:?}")]
    Timeout {
        /// The call.
        what: String,
    },
}

impl FirewalldError {
    /// firewalld's error code (`NAME_CONFLICT`, `ZONE_ALREADY_SET`, ...),
    /// the first word of its message.
    pub fn code(&self) -> Option<&str> {
        match self {
            FirewalldError::Refused { message, .. } => {
                message.split([':', ' ']).next().filter(|c| !c.is_empty())
            }
            _ => None,
        }
    }

    /// Whether the method does not exist (an old firewalld).
    pub fn unknown_method(&self) -> bool {
        matches!(self, FirewalldError::Refused { name, .. }
            if name == "org.freedesktop.DBus.Error.UnknownMethod")
    }
}

/// Something firewalld did that wipes or rebuilds its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirewalldEvent {
    /// `firewall-cmd --reload` or the like: the `Reloaded` signal.
    Reloaded,
    /// A new firewalld owns the bus name: it (re)started.
    Started,
    /// firewalld left the bus.
    Stopped,
}

/// Whether firewalld is there for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Nobody owns firewalld's bus name, or it does not answer.
    Absent,
    /// A firewalld answers, from another network namespace (the host's,
    /// for a daemon run with `--netns`): not the caller's to use.
    Elsewhere,
    /// A firewalld of the caller's network namespace answers.
    Here,
}

/// A connection to the system bus, through which firewalld is reached when
/// it runs.
#[derive(Clone)]
pub struct Firewalld {
    conn: Connection,
}

fn bus(what: &str) -> impl FnOnce(zbus::Error) -> FirewalldError + '_ {
    move |source| match source {
        zbus::Error::MethodError(name, message, _) => FirewalldError::Refused {
            what: what.to_string(),
            message: message.unwrap_or_default(),
            name: name.to_string(),
        },
        source => FirewalldError::Bus {
            what: what.to_string(),
            source: Box::new(source),
        },
    }
}

impl Firewalld {
    /// Connects to the system bus; `None` when there is none to reach (no
    /// firewalld can run then).
    pub async fn connect() -> Option<Firewalld> {
        match tokio::time::timeout(CALL_TIMEOUT, Connection::system()).await {
            Ok(Ok(conn)) => Some(Firewalld { conn }),
            Ok(Err(e)) => {
                tracing::debug!("no D-Bus system bus, so no firewalld: {e}");
                None
            }
            Err(_) => {
                tracing::warn!("the D-Bus system bus did not answer: firewalld is not used");
                None
            }
        }
    }

    async fn proxy(
        &self,
        path: &'static str,
        iface: &'static str,
    ) -> Result<Proxy<'_>, FirewalldError> {
        zbus::proxy::Builder::new(&self.conn)
            .destination(BUS_NAME)
            .and_then(|b| b.path(path))
            .and_then(|b| b.interface(iface))
            .map(|b| b.cache_properties(zbus::proxy::CacheProperties::No))
            .map_err(bus("proxy"))?
            .build()
            .await
            .map_err(bus("proxy"))
    }

    async fn call<B, R>(
        &self,
        path: &'static str,
        iface: &'static str,
        method: &'static str,
        body: &B,
        what: String,
    ) -> Result<R, FirewalldError>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
    {
        let proxy = self.proxy(path, iface).await?;
        let call = proxy.call_with_flags(method, MethodFlags::NoAutoStart.into(), body);
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(Some(r))) => Ok(r),
            // Only a call flagged "no reply expected" has no reply.
            Ok(Ok(None)) => Err(FirewalldError::Refused {
                what,
                message: "no reply".into(),
                name: String::new(),
            }),
            Ok(Err(e)) => Err(bus(&what)(e)),
            Err(_) => Err(FirewalldError::Timeout { what }),
        }
    }

    /// Whether firewalld runs, answers (Docker asks `getDefaultZone`) and
    /// is in the caller's network namespace. Its name's owner is looked up
    /// first, so that the question never starts a firewalld.
    pub async fn presence(&self) -> Presence {
        let owner_pid = async {
            let dbus = zbus::fdo::DBusProxy::new(&self.conn).await.ok()?;
            let name = zbus::names::BusName::try_from(BUS_NAME).ok()?;
            if !dbus.name_has_owner(name.clone()).await.ok()? {
                return None;
            }
            dbus.get_connection_unix_process_id(name).await.ok()
        };
        let Some(pid) = tokio::time::timeout(CALL_TIMEOUT, owner_pid)
            .await
            .ok()
            .flatten()
        else {
            return Presence::Absent;
        };
        let answers = self
            .call::<_, String>(
                PATH,
                BUS_NAME,
                "getDefaultZone",
                &(),
                "getDefaultZone".into(),
            )
            .await
            .is_ok();
        if !answers {
            return Presence::Absent;
        }
        let theirs = netns::namespace_file_id(Path::new(&format!("/proc/{pid}/ns/net")));
        let ours = netns::namespace_file_id(Path::new("/proc/self/ns/net"));
        match (theirs, ours) {
            (Ok(a), Ok(b)) if a == b => Presence::Here,
            _ => Presence::Elsewhere,
        }
    }

    /// firewalld's version, when it says.
    pub async fn version(&self) -> Option<String> {
        let proxy = self.proxy(PATH, BUS_NAME).await.ok()?;
        tokio::time::timeout(CALL_TIMEOUT, proxy.get_property::<String>("version"))
            .await
            .ok()?
            .ok()
    }

    /// Makes the `docker` zone and the `docker-forwarding` policy in
    /// firewalld's permanent configuration when they are missing, and
    /// reloads firewalld when it made either, as Docker does. A firewalld
    /// too old for policies, or one that has the policy already, is not an
    /// error (logged). Returns whether it reloaded.
    pub async fn set_up_zone_and_policy(&self) -> Result<bool, FirewalldError> {
        let zones: Vec<String> = self
            .call(PATH, ZONE_IFACE, "getZones", &(), "zone.getZones".into())
            .await?;
        let mut reload = false;
        if zones.iter().any(|z| z == ZONE) {
            tracing::info!("firewalld: the {ZONE} zone exists");
        } else {
            let settings: HashMap<&str, Value<'_>> = HashMap::from([
                ("version", Value::from("1.0")),
                ("short", Value::from(ZONE)),
                (
                    "description",
                    Value::from("zone for docker bridge network interfaces"),
                ),
                ("target", Value::from("ACCEPT")),
            ]);
            let added: Result<OwnedObjectPath, _> = self
                .call(
                    CONFIG_PATH,
                    CONFIG_IFACE,
                    "addZone2",
                    &(ZONE, settings),
                    format!("config.addZone2 {ZONE}"),
                )
                .await;
            match added {
                Ok(_) => tracing::info!("firewalld: created the {ZONE} zone"),
                // In the permanent configuration, not yet loaded: the
                // reload loads it.
                Err(e) if e.code() == Some("NAME_CONFLICT") => {
                    tracing::info!(
                        "firewalld: the {ZONE} zone exists but is not loaded: reloading"
                    );
                }
                Err(e) => return Err(e),
            }
            reload = true;
        }
        let policy: HashMap<&str, Value<'_>> = HashMap::from([
            ("version", Value::from("1.0")),
            (
                "description",
                Value::from("allow forwarding to the docker zone"),
            ),
            ("ingress_zones", Value::from(vec!["ANY"])),
            ("egress_zones", Value::from(vec![ZONE])),
            ("target", Value::from("ACCEPT")),
        ]);
        let added: Result<OwnedObjectPath, _> = self
            .call(
                CONFIG_PATH,
                CONFIG_IFACE,
                "addPolicy",
                &(POLICY, policy),
                format!("config.addPolicy {POLICY}"),
            )
            .await;
        match added {
            Ok(_) => {
                tracing::info!("firewalld: created the {POLICY} policy");
                reload = true;
            }
            Err(e) if e.code() == Some("NAME_CONFLICT") => {
                tracing::info!("firewalld: the {POLICY} policy exists");
            }
            Err(e) if e.unknown_method() => {
                tracing::warn!("firewalld has no policies (older than 0.9): {POLICY} not created");
            }
            // Docker logs this and goes on.
            Err(e) => tracing::warn!("firewalld: failed to add policy {POLICY}: {e}"),
        }
        if reload {
            let _: () = self
                .call(PATH, BUS_NAME, "reload", &(), "reload".into())
                .await?;
        }
        Ok(reload)
    }

    /// The interfaces in the `docker` zone (runtime).
    pub async fn zone_interfaces(&self) -> Result<Vec<String>, FirewalldError> {
        self.call(
            PATH,
            ZONE_IFACE,
            "getInterfaces",
            &(ZONE,),
            format!("zone.getInterfaces {ZONE}"),
        )
        .await
    }

    /// Puts `if_name` in the `docker` zone (runtime), unless it is there.
    pub async fn add_interface(&self, if_name: &str) -> Result<(), FirewalldError> {
        if self.zone_interfaces().await?.iter().any(|i| i == if_name) {
            return Ok(());
        }
        let _: String = self
            .call(
                PATH,
                ZONE_IFACE,
                "addInterface",
                &(ZONE, if_name),
                format!("zone.addInterface {ZONE} {if_name}"),
            )
            .await?;
        Ok(())
    }

    /// Takes `if_name` out of the `docker` zone (runtime), if it is there.
    pub async fn remove_interface(&self, if_name: &str) -> Result<(), FirewalldError> {
        if !self.zone_interfaces().await?.iter().any(|i| i == if_name) {
            return Ok(());
        }
        let _: String = self
            .call(
                PATH,
                ZONE_IFACE,
                "removeInterface",
                &(ZONE, if_name),
                format!("zone.removeInterface {ZONE} {if_name}"),
            )
            .await?;
        Ok(())
    }

    /// firewalld's reloads, starts and stops, as they happen.
    pub async fn events(
        &self,
    ) -> Result<impl Stream<Item = FirewalldEvent> + Send + 'static + use<>, FirewalldError> {
        let dbus = zbus::fdo::DBusProxy::new(&self.conn)
            .await
            .map_err(bus("org.freedesktop.DBus"))?;
        let owners = dbus
            .receive_name_owner_changed_with_args(&[(0, BUS_NAME)])
            .await
            .map_err(bus("NameOwnerChanged"))?
            .filter_map(|signal| async move {
                let args = signal.args().ok()?;
                Some(if args.new_owner().is_some() {
                    FirewalldEvent::Started
                } else {
                    FirewalldEvent::Stopped
                })
            });
        // Only from firewalld: the bus matches a well-known sender against
        // the name's current owner, so nobody else can fake a reload.
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender(BUS_NAME)
            .and_then(|b| b.path(PATH))
            .and_then(|b| b.interface(BUS_NAME))
            .and_then(|b| b.member("Reloaded"))
            .map_err(bus("match Reloaded"))?
            .build();
        let reloads = zbus::MessageStream::for_match_rule(rule, &self.conn, Some(16))
            .await
            .map_err(bus("Reloaded"))?
            .filter_map(|m| async move { m.ok().map(|_| FirewalldEvent::Reloaded) });
        Ok(futures_util::stream::select(owners, reloads))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewalld_error_codes_are_the_first_word() {
        let e = FirewalldError::Refused {
            what: "config.addPolicy docker-forwarding".into(),
            message: "NAME_CONFLICT: new_policy(): 'docker-forwarding'".into(),
            name: "org.fedoraproject.FirewallD1.Exception".into(),
        };
        assert_eq!(e.code(), Some("NAME_CONFLICT"));
        assert!(!e.unknown_method());
        assert_eq!(
            e.to_string(),
            "firewalld: config.addPolicy docker-forwarding: NAME_CONFLICT: new_policy(): 'docker-forwarding'"
        );
        let old = FirewalldError::Refused {
            what: "x".into(),
            message: "No such method".into(),
            name: "org.freedesktop.DBus.Error.UnknownMethod".into(),
        };
        assert!(old.unknown_method());
    }
}
