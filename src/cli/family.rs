//! The `--family` argument of the commands that take one.

use clap::ValueEnum;

use crate::firewall::Family;

/// An IP family, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl FamilyArg {
    /// The families an optional `--family` selects: one, or both.
    pub fn select(arg: Option<FamilyArg>) -> &'static [Family] {
        match arg {
            None => &Family::ALL,
            Some(FamilyArg::Ipv4) => &[Family::V4],
            Some(FamilyArg::Ipv6) => &[Family::V6],
        }
    }
}
