//! Running the firewall tools inside a given network namespace.
//!
//! Commands are started directly inside the target namespace (`setns` between
//! fork and exec), so applying a ruleset is exactly one process, with no
//! `ip netns exec` or `nsenter` wrapper.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::BackendError;

/// Runs a program with arguments and optional standard input, returning its
/// standard output. Tests wrap it to count or inspect invocations.
pub trait CommandRunner: Send + Sync {
    /// Runs `program` with `args`, feeding `stdin` if given.
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, BackendError>;
}

/// The input line a restore error (`iptables-restore: line 11 failed`) is
/// about.
fn failed_line<'a>(stderr: &str, input: &'a str) -> Option<&'a str> {
    let rest = &stderr[stderr.find("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: usize = digits.parse().ok()?;
    input.lines().nth(n.checked_sub(1)?)
}

/// Where commands run: a network namespace file, or the caller's own
/// namespace (for a daemon that has itself entered the namespace it manages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Netns {
    /// The namespace of the calling process.
    Current,
    /// A namespace file, e.g. `/run/netns/NAME` or `/proc/PID/ns/net`.
    Path(PathBuf),
}

impl Netns {
    /// The namespace `ip netns` knows as `name` (`/run/netns/NAME`); the
    /// name must be a plain file name.
    pub fn named(name: &str) -> Result<Netns, crate::host::HostError> {
        crate::host::netns::named_netns_path(name).map(Netns::Path)
    }
}

/// Runs commands inside a [`Netns`].
#[derive(Debug, Clone)]
pub struct NetnsRunner {
    netns: Netns,
}

impl NetnsRunner {
    /// A runner for `netns`.
    pub fn new(netns: Netns) -> NetnsRunner {
        NetnsRunner { netns }
    }
}

impl CommandRunner for NetnsRunner {
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, BackendError> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Opened before fork: the child only calls setns, which is safe
        // between fork and exec.
        let ns_file = match &self.netns {
            Netns::Current => None,
            Netns::Path(p) => Some(File::open(p).map_err(|e| BackendError::Netns {
                path: p.clone(),
                source: e,
            })?),
        };
        if let Some(f) = ns_file {
            crate::host::netns::exec_in(&mut cmd, f);
        }
        let describe = || format!("{program} {}", args.join(" "));
        let mut child = cmd.spawn().map_err(|e| BackendError::Spawn {
            command: describe(),
            source: e,
        })?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            pipe.write_all(input.as_bytes())
                .map_err(|e| BackendError::Spawn {
                    command: describe(),
                    source: e,
                })?;
        }
        let out = child.wait_with_output().map_err(|e| BackendError::Spawn {
            command: describe(),
            source: e,
        })?;
        if !out.status.success() {
            let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if let Some(line) = stdin.and_then(|input| failed_line(&stderr, input)) {
                stderr.push_str(&format!(" (the line: {line})"));
            }
            return Err(BackendError::Failed {
                command: describe(),
                status: out.status.to_string(),
                stderr,
                input: stdin.map(str::to_string),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_errors_point_at_their_input_line() {
        let input = "*filter\n-X DOCKER\nCOMMIT\n";
        assert_eq!(
            failed_line("iptables-restore: line 2 failed: busy", input),
            Some("-X DOCKER")
        );
        assert_eq!(failed_line("line 9 failed", input), None);
        assert_eq!(failed_line("no line here", input), None);
    }
}
