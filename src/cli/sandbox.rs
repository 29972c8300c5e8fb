//! `bridgewall run`, `create`, `exec`, `ps`, `rm`, `port`, `inspect` and
//! `logs`: the docker CLI's container commands, for sandboxes, as a client
//! of the daemon's API. Flags and output follow the docker CLI where the two
//! overlap; `exec` enters the sandbox's namespace itself, in this process.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::api::client::{Client, ClientError, percent_encode};
use crate::api::sandbox::{
    PortBindingResource, SandboxCreateRequest, SandboxCreateResponse, SandboxInspect,
    SandboxSummary, SandboxWaitResponse,
};
use crate::error::ErrorKind;

/// The sandbox commands, at the top level as docker's container commands are.
#[derive(Debug, PartialEq, Subcommand)]
pub enum SandboxCommand {
    /// Create a sandbox and run a command in it.
    ///
    /// Without -d, waits for the command to exit, then prints its output
    /// (stdout and stderr, merged) and exits with its exit code. The output
    /// is not streamed while the command runs, stdin is not attached, and
    /// signals are not forwarded to the command.
    Run(RunArgs),
    /// Attach an existing network namespace as a sandbox (no process), and
    /// print its ID.
    Create(CreateArgs),
    /// Run a command in a sandbox's network namespace.
    ///
    /// The command runs here, as a child of bridgewall, with this terminal's
    /// stdin, stdout and stderr; bridgewall exits with its exit code.
    /// Entering a namespace needs CAP_SYS_ADMIN (root).
    Exec(ExecArgs),
    /// List sandboxes.
    Ps {
        /// Show all sandboxes (default shows just running).
        #[arg(short, long)]
        all: bool,
        /// Only display sandbox IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Don't truncate output.
        #[arg(long)]
        no_trunc: bool,
    },
    /// Remove one or more sandboxes.
    Rm {
        /// Force the removal of a running sandbox (kills its process).
        #[arg(short, long)]
        force: bool,
        /// Sandboxes (names or IDs).
        #[arg(required = true, value_name = "SANDBOX")]
        sandboxes: Vec<String>,
    },
    /// List port mappings or a specific mapping for the sandbox.
    Port {
        /// The sandbox (name or ID).
        sandbox: String,
        /// Only this port (`80`, `53/udp`).
        #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
        port: Option<String>,
    },
    /// Display detailed information on one or more sandboxes.
    Inspect {
        /// Sandboxes (names or IDs).
        #[arg(required = true, value_name = "SANDBOX")]
        sandboxes: Vec<String>,
    },
    /// Fetch the output of a sandbox's command.
    Logs {
        /// The sandbox (name or ID).
        sandbox: String,
    },
}

/// The networking flags `run` and `create` share.
#[derive(Debug, Default, PartialEq, Args)]
pub struct NetArgs {
    /// Assign a name to the sandbox.
    #[arg(long)]
    name: Option<String>,
    /// Connect the sandbox to a network (default: the default bridge).
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// IPv4 address (e.g., 172.30.100.104).
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33).
    #[arg(long)]
    ip6: Option<String>,
    /// Publish a sandbox's port(s) to the host.
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long, value_name = "PORT")]
    expose: Vec<String>,
}

impl NetArgs {
    /// The create request these flags describe, without command or namespace.
    fn into_request(self) -> SandboxCreateRequest {
        SandboxCreateRequest {
            name: self.name.unwrap_or_default(),
            network: self.network.unwrap_or_default(),
            ip: self.ip.unwrap_or_default(),
            ip6: self.ip6.unwrap_or_default(),
            publish: self.publish,
            publish_all: self.publish_all,
            expose: self.expose,
            ..SandboxCreateRequest::default()
        }
    }
}

/// `bridgewall run [OPTIONS] [--] COMMAND [ARG...]`.
#[derive(Debug, PartialEq, Args)]
pub struct RunArgs {
    /// Run the sandbox in background and print its ID.
    #[arg(short, long)]
    detach: bool,
    /// Automatically remove the sandbox when its command exits (without -d,
    /// bridgewall removes it once it has printed the output).
    #[arg(long)]
    rm: bool,
    #[command(flatten)]
    net: NetArgs,
    /// The command to run, and its arguments (options end at the command).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

/// `bridgewall create --netns PATH [OPTIONS]`.
#[derive(Debug, PartialEq, Args)]
pub struct CreateArgs {
    /// The network namespace file to attach (`/run/netns/NAME`,
    /// `/proc/PID/ns/net`); a relative path is taken from here.
    #[arg(long, value_name = "PATH")]
    netns: PathBuf,
    #[command(flatten)]
    net: NetArgs,
}

/// `bridgewall exec SANDBOX [--] COMMAND [ARG...]`.
#[derive(Debug, PartialEq, Args)]
pub struct ExecArgs {
    /// The sandbox (name or ID).
    sandbox: String,
    /// The command to run, and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

/// Runs one sandbox command against the daemon. `Err` is a message for
/// stderr and exit status 1; `Ok` carries the status of commands that have
/// their own (`run`, `exec`), having printed what they had to.
pub async fn run(client: &Client, cmd: SandboxCommand) -> Result<ExitCode, String> {
    match cmd {
        SandboxCommand::Run(args) => Ok(run_sandbox(client, args).await),
        SandboxCommand::Create(args) => create_sandbox(client, args).await,
        SandboxCommand::Exec(args) => exec(client, args).await,
        SandboxCommand::Ps {
            all,
            quiet,
            no_trunc,
        } => {
            let path = if all {
                "/sandboxes?all=1"
            } else {
                "/sandboxes"
            };
            let sandboxes: Vec<SandboxSummary> = client.get(path).await.map_err(daemon_error)?;
            let text = if quiet {
                sandboxes
                    .iter()
                    .map(|s| format!("{}\n", short_id(&s.id, no_trunc)))
                    .collect()
            } else {
                ps_table(&sandboxes, SystemTime::now(), no_trunc)
            };
            print_stdout(&text)
        }
        SandboxCommand::Rm { force, sandboxes } => remove(client, &sandboxes, force).await,
        SandboxCommand::Port { sandbox, port } => {
            let inspect = inspect_one(client, &sandbox).await?;
            let lines = port_lines(&inspect.network_settings.ports, port.as_deref(), &sandbox)?;
            if lines.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            print_stdout(&format!("{}\n", lines.join("\n")))
        }
        SandboxCommand::Inspect { sandboxes } => {
            let mut found = Vec::new();
            let mut errors = Vec::new();
            for name in &sandboxes {
                match inspect_one(client, name).await {
                    Ok(sandbox) => found.push(sandbox),
                    Err(e) => errors.push(e),
                }
            }
            print_stdout(&indented_json(&found))?;
            if errors.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(errors.join("\n"))
            }
        }
        SandboxCommand::Logs { sandbox } => {
            let logs = client
                .get_text(&format!("/sandboxes/{}/logs", percent_encode(&sandbox)))
                .await
                .map_err(daemon_error)?;
            print_stdout(&logs)
        }
    }
}

fn daemon_error(e: ClientError) -> String {
    e.to_string()
}

/// Writes `text` to stdout as it is (no newline added).
fn print_stdout(text: &str) -> Result<ExitCode, String> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing the output: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// The daemon's warnings, on stderr as the docker CLI prints them.
fn print_warnings(created: &SandboxCreateResponse) {
    for warning in &created.warnings {
        eprintln!("WARNING: {warning}");
    }
}

/// The process exit status for a sandbox's exit code: its low 8 bits, as
/// the docker CLI's `os.Exit(code)` gives.
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(code.to_le_bytes()[0])
}

/// The exit status of a command `exec` ran: its code, or 128 + the signal
/// that killed it, as shells report it.
fn exit_status_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => exit_code(code),
        (None, Some(signal)) => exit_code(128 + signal),
        (None, None) => ExitCode::FAILURE,
    }
}

/// `bridgewall run`: the message and exit status for a sandbox that could
/// not be created, as `docker run` words and chooses them: 127 when the
/// command was not found, 126 when it could not be executed, else 125.
/// Unlike docker's, the match ignores case (Rust's `io::Error` says
/// `No such file or directory`).
fn run_failure(error: &str) -> (String, u8) {
    let message = format!(
        "bridgewall: {}.\nSee 'bridgewall run --help'.",
        error.trim_end_matches('.')
    );
    let reason = error
        .strip_prefix("Error response from daemon: ")
        .unwrap_or(error)
        .to_lowercase();
    let status = if reason.contains("executable file not found")
        || reason.contains("no such file or directory")
    {
        127
    } else if reason.contains("permission denied") || reason.contains("is a directory") {
        126
    } else {
        125
    };
    (message, status)
}

/// `bridgewall run`.
async fn run_sandbox(client: &Client, args: RunArgs) -> ExitCode {
    let mut req = args.net.into_request();
    req.cmd = args.command;
    // Without -d the output is read once the command has exited, so the
    // sandbox must outlive it: this client removes it after reading.
    req.auto_remove = args.rm && args.detach;
    let created: SandboxCreateResponse = match client.post("/sandboxes/create", &req).await {
        Ok(created) => created,
        Err(e) => {
            let (message, status) = run_failure(&e.to_string());
            eprintln!("{message}");
            return ExitCode::from(status);
        }
    };
    print_warnings(&created);
    if args.detach {
        println!("{}", created.id);
        return ExitCode::SUCCESS;
    }
    let path = format!("/sandboxes/{}", percent_encode(&created.id));
    let waited = client
        .post_empty::<SandboxWaitResponse>(&format!("{path}/wait"))
        .await;
    let status = match waited {
        Ok(waited) => waited.status_code,
        Err(e) => {
            eprintln!("error waiting for sandbox: {e}");
            return ExitCode::from(125);
        }
    };
    let logs = client.get_text(&format!("{path}/logs")).await;
    let removed = if args.rm {
        client.delete(&format!("{path}?force=1")).await
    } else {
        Ok(())
    };
    let printed = logs
        .map_err(daemon_error)
        .and_then(|logs| print_stdout(&logs));
    match printed.and(removed.map_err(daemon_error)) {
        Ok(_) => exit_code(status),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `bridgewall create`.
async fn create_sandbox(client: &Client, args: CreateArgs) -> Result<ExitCode, String> {
    let netns = std::path::absolute(&args.netns)
        .map_err(|e| format!("bridgewall: {}: {e}", args.netns.display()))?;
    let mut req = args.net.into_request();
    req.netns = netns.to_string_lossy().into_owned();
    let created: SandboxCreateResponse = client
        .post("/sandboxes/create", &req)
        .await
        .map_err(daemon_error)?;
    print_warnings(&created);
    print_stdout(&format!("{}\n", created.id))
}

async fn inspect_one(client: &Client, sandbox: &str) -> Result<SandboxInspect, String> {
    client
        .get(&format!("/sandboxes/{}/json", percent_encode(sandbox)))
        .await
        .map_err(daemon_error)
}

/// `bridgewall exec`: runs the command with `setns(CLONE_NEWNET)` between
/// fork and exec, into the namespace the daemon reports as the sandbox's.
async fn exec(client: &Client, args: ExecArgs) -> Result<ExitCode, String> {
    let sandbox = inspect_one(client, &args.sandbox).await?;
    let key = sandbox.network_settings.sandbox_key;
    if key.is_empty() {
        return Err(format!(
            "Error: sandbox {} has no network namespace",
            args.sandbox
        ));
    }
    let netns = File::open(&key).map_err(|e| {
        format!(
            "Error: cannot open the network namespace of sandbox {} ({key}): {e}",
            args.sandbox
        )
    })?;
    let (program, program_args) = args.command.split_first().expect("clap requires a command");
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(program_args);
    crate::host::netns::exec_in(cmd.as_std_mut(), netns);
    match cmd.status().await {
        Ok(status) => Ok(exit_status_code(status)),
        Err(e) => {
            let hint = if e.kind() == io::ErrorKind::PermissionDenied
                && !nix::unistd::Uid::effective().is_root()
            {
                " (entering a network namespace needs CAP_SYS_ADMIN)"
            } else {
                ""
            };
            eprintln!("bridgewall: running {program:?} in {key}: {e}{hint}");
            // As shells: 127 for a command not found, 126 for one that
            // could not be run.
            let status = if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            Ok(ExitCode::from(status))
        }
    }
}

/// `bridgewall rm`, as `docker rm`: each sandbox removed is printed as
/// given; the errors come after, together, and make the status 1. With
/// `--force`, a sandbox that does not exist is reported but is no error.
async fn remove(client: &Client, sandboxes: &[String], force: bool) -> Result<ExitCode, String> {
    let mut errors = Vec::new();
    for name in sandboxes {
        let id = name.trim_matches('/');
        if id.is_empty() {
            errors.push("sandbox name cannot be empty".to_string());
            continue;
        }
        let query = if force { "?force=1" } else { "" };
        match client
            .delete(&format!("/sandboxes/{}{query}", percent_encode(id)))
            .await
        {
            Ok(()) => println!("{name}"),
            Err(
                e @ ClientError::Daemon {
                    kind: ErrorKind::NotFound,
                    ..
                },
            ) if force => eprintln!("{e}"),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(errors.join("\n"))
    }
}

/// A sandbox ID as `docker ps` shows it: 12 digits unless `no_trunc`.
fn short_id(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        id.get(..12).unwrap_or(id)
    }
}

/// go-units' `HumanDuration`, which `docker ps` uses for CREATED.
fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let seconds = secs as u64;
    let minutes = (secs / 60.0) as u64;
    let hours = (secs / 3600.0 + 0.5) as u64;
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (secs / 3600.0) as u64 / 24 / 365)
    }
}

/// CREATED as `docker ps` shows it: from the creation time's whole second
/// to `now`, plus ` ago`.
fn running_for(created: SystemTime, now: SystemTime) -> String {
    let created_secs = created
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let elapsed = now
        .duration_since(UNIX_EPOCH + Duration::from_secs(created_secs))
        .unwrap_or_default();
    format!("{} ago", human_duration(elapsed))
}

/// The docker CLI's `Ellipsis`: at most `max` characters, the last one `…`
/// when cut (every character counted as one column).
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Go's `strconv.Quote`: double quotes, Go's escapes for `"`, `\` and
/// control characters.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Lays out rows as the docker CLI's tabwriter (minimum width 10, padding
/// 3): every column but the last padded to its widest cell plus 3.
fn tabwriter(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns.saturating_sub(1))
        .map(|i| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count() + 3)
                .fold(10, usize::max)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match widths.get(i) {
                Some(&width) if i + 1 < row.len() => {
                    out.push_str(&format!("{cell:<width$}"));
                }
                _ => out.push_str(cell),
            }
        }
        out.push('\n');
    }
    out
}

/// `docker ps`'s default table, without its IMAGE column.
fn ps_table(sandboxes: &[SandboxSummary], now: SystemTime, no_trunc: bool) -> String {
    let header = [
        "CONTAINER ID",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    rows.extend(sandboxes.iter().map(|s| {
        let command = if no_trunc {
            s.command.clone()
        } else {
            ellipsis(&s.command, 20)
        };
        vec![
            short_id(&s.id, no_trunc).to_string(),
            go_quote(&command),
            running_for(s.created, now),
            s.status.clone(),
            s.ports.clone(),
            s.name.trim_start_matches('/').to_string(),
        ]
    }));
    tabwriter(&rows)
}

/// The natural order of `fvbommel/sortorder` (`NaturalLess`), which
/// `docker port` sorts its lines by: digit runs compare as numbers (fewer
/// leading zeros first on a tie) and before other bytes.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        let skip_zeros = |s: &[u8], mut k: usize| {
            while k < s.len() && s[k] == b'0' {
                k += 1;
            }
            k
        };
        let skip_digits = |s: &[u8], mut k: usize| {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            k
        };
        let (nz_a, nz_b) = (skip_zeros(a, i), skip_zeros(b, j));
        (i, j) = (skip_digits(a, nz_a), skip_digits(b, nz_b));
        let ordering = (i - nz_a)
            .cmp(&(j - nz_b))
            .then_with(|| a[nz_a..i].cmp(&b[nz_b..j]))
            .then_with(|| nz_a.cmp(&nz_b));
        if ordering.is_ne() {
            return ordering;
        }
    }
    a.len().cmp(&b.len())
}

/// Go's `net.JoinHostPort`: an address with a colon goes in brackets.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's `strconv.ParseUint(s, 10, 16)`, for its error message.
fn parse_port_number(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse().map_err(|_| {
        format!(
            "strconv.ParseUint: parsing {}: value out of range",
            go_quote(s)
        )
    })
}

/// What `docker port SANDBOX [PRIVATE_PORT[/PROTO]]` prints, one entry a
/// line, in its order: for one port, its bindings (`0.0.0.0:8080`); for
/// all, `80/tcp -> 0.0.0.0:8080` for each binding. A routed binding (no
/// host port) shows as `0.0.0.0:`, as Docker's `net.JoinHostPort` makes it.
fn port_lines(
    ports: &BTreeMap<String, Vec<PortBindingResource>>,
    only: Option<&str>,
    sandbox: &str,
) -> Result<Vec<String>, String> {
    let mut lines: Vec<String> = match only {
        Some(spec) => {
            let (port, proto) = spec.split_once('/').unwrap_or((spec, ""));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            parse_port_number(port).map_err(|e| format!("Error: invalid port ({port}): {e}"))?;
            let bindings = ports
                .get(&format!("{port}/{proto}"))
                .filter(|bindings| !bindings.is_empty())
                .ok_or_else(|| format!("Error: No public port '{spec}' published for {sandbox}"))?;
            bindings
                .iter()
                .map(|b| join_host_port(&b.host_ip, &b.host_port))
                .collect()
        }
        None => ports
            .iter()
            .flat_map(|(from, bindings)| {
                bindings
                    .iter()
                    .map(move |b| format!("{from} -> {}", join_host_port(&b.host_ip, &b.host_port)))
            })
            .collect(),
    };
    lines.sort_by(|a, b| natural_cmp(a, b));
    Ok(lines)
}

/// JSON indented by four spaces, as `docker inspect` prints it, with a
/// final newline.
fn indented_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("API types always serialise");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: SandboxCommand,
    }

    fn parse(args: &[&str]) -> SandboxCommand {
        let mut argv = vec!["bridgewall"];
        argv.extend(args);
        T::try_parse_from(argv).unwrap().cmd
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn run_options_end_at_the_command() {
        let SandboxCommand::Run(run) = parse(&[
            "run",
            "-d",
            "--rm",
            "--name",
            "web",
            "--network",
            "n1",
            "--ip",
            "192.0.2.5",
            "--ip6",
            "2001:db8::5",
            "-p",
            "8080:80",
            "-p",
            "53:53/udp",
            "-P",
            "--expose",
            "9000",
            "nc",
            "-l",
            "-p",
            "80",
        ]) else {
            panic!("not run")
        };
        assert!(run.detach && run.rm);
        // `-p 80` after the command is the command's.
        assert_eq!(run.command, strings(&["nc", "-l", "-p", "80"]));
        let req = run.net.into_request();
        assert_eq!(
            req,
            SandboxCreateRequest {
                name: "web".into(),
                network: "n1".into(),
                ip: "192.0.2.5".into(),
                ip6: "2001:db8::5".into(),
                publish: strings(&["8080:80", "53:53/udp"]),
                publish_all: true,
                expose: strings(&["9000"]),
                ..Default::default()
            }
        );
        let SandboxCommand::Run(run) = parse(&["run", "--net=n2", "--", "sh", "-c", "exit 3"])
        else {
            panic!("not run")
        };
        assert!(!run.detach && !run.rm);
        assert_eq!(run.net.network.as_deref(), Some("n2"));
        assert_eq!(run.command, strings(&["sh", "-c", "exit 3"]));
        // A command is required.
        assert!(T::try_parse_from(["bridgewall", "run", "-d"]).is_err());
    }

    #[test]
    fn create_exec_and_the_rest_parse() {
        assert_eq!(
            parse(&[
                "create",
                "--netns",
                "/run/netns/x",
                "--name",
                "x",
                "-p",
                "80"
            ]),
            SandboxCommand::Create(CreateArgs {
                netns: "/run/netns/x".into(),
                net: NetArgs {
                    name: Some("x".into()),
                    publish: strings(&["80"]),
                    ..Default::default()
                },
            })
        );
        assert!(T::try_parse_from(["bridgewall", "create", "--name", "x"]).is_err());
        assert_eq!(
            parse(&["exec", "web", "ip", "-o", "addr"]),
            SandboxCommand::Exec(ExecArgs {
                sandbox: "web".into(),
                command: strings(&["ip", "-o", "addr"]),
            })
        );
        assert_eq!(
            parse(&["exec", "web", "--", "ss", "-lnt"]),
            SandboxCommand::Exec(ExecArgs {
                sandbox: "web".into(),
                command: strings(&["ss", "-lnt"]),
            })
        );
        assert_eq!(
            parse(&["ps", "-aq", "--no-trunc"]),
            SandboxCommand::Ps {
                all: true,
                quiet: true,
                no_trunc: true
            }
        );
        assert_eq!(
            parse(&["rm", "-f", "a", "b"]),
            SandboxCommand::Rm {
                force: true,
                sandboxes: strings(&["a", "b"])
            }
        );
        assert!(T::try_parse_from(["bridgewall", "rm"]).is_err());
        assert_eq!(
            parse(&["port", "web", "53/udp"]),
            SandboxCommand::Port {
                sandbox: "web".into(),
                port: Some("53/udp".into())
            }
        );
        assert!(T::try_parse_from(["bridgewall", "port", "a", "80", "81"]).is_err());
    }

    #[test]
    fn run_failures_get_dockers_exit_status() {
        let (message, status) = run_failure("Error response from daemon: network n9 not found");
        assert_eq!(
            message,
            "bridgewall: Error response from daemon: network n9 not found.\n\
             See 'bridgewall run --help'."
        );
        assert_eq!(status, 125);
        let not_found =
            "Error response from daemon: exec: \"nope\": executable file not found in $PATH.";
        assert_eq!(run_failure(not_found).1, 127);
        assert!(run_failure(not_found).0.contains("$PATH.\nSee"));
        assert_eq!(
            run_failure("Error response from daemon: /etc: permission denied").1,
            126
        );
        let rust_io = "Error response from daemon: failed to start \"x\": \
                       No such file or directory (os error 2)";
        assert_eq!(run_failure(rust_io).1, 127);
    }

    #[test]
    fn exit_codes_keep_the_low_byte() {
        assert_eq!(exit_code(0), ExitCode::SUCCESS);
        assert_eq!(exit_code(3), ExitCode::from(3));
        assert_eq!(exit_code(256 + 7), ExitCode::from(7));
        assert_eq!(exit_code(-1), ExitCode::from(255));
        assert_eq!(
            exit_status_code(ExitStatus::from_raw(9)),
            ExitCode::from(137)
        );
        assert_eq!(
            exit_status_code(ExitStatus::from_raw(2 << 8)),
            ExitCode::from(2)
        );
    }

    #[test]
    fn durations_read_as_docker_ps_reads_them() {
        let d = |secs: u64| human_duration(Duration::from_secs(secs));
        assert_eq!(
            human_duration(Duration::from_millis(999)),
            "Less than a second"
        );
        assert_eq!(d(1), "1 second");
        assert_eq!(d(59), "59 seconds");
        assert_eq!(d(60), "About a minute");
        assert_eq!(d(119), "About a minute");
        assert_eq!(d(120), "2 minutes");
        assert_eq!(d(3599), "59 minutes");
        assert_eq!(d(3600), "About an hour");
        assert_eq!(d(5399), "About an hour");
        assert_eq!(d(5400), "2 hours");
        assert_eq!(d(47 * 3600), "47 hours");
        assert_eq!(d(48 * 3600), "2 days");
        assert_eq!(d(14 * 86400), "2 weeks");
        assert_eq!(d(60 * 86400), "2 months");
        assert_eq!(d(730 * 86400), "2 years");
        let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_900);
        // From the creation's whole second: 0.2s later is already 1 second.
        assert_eq!(
            running_for(t0, t0 + Duration::from_millis(200)),
            "1 second ago"
        );
        assert_eq!(
            running_for(t0 + Duration::from_secs(5), t0),
            "Less than a second ago"
        );
    }

    #[test]
    fn commands_are_cut_and_quoted_as_go_does() {
        assert_eq!(ellipsis("sleep 1000", 20), "sleep 1000");
        assert_eq!(ellipsis("01234567890123456789", 20), "01234567890123456789");
        assert_eq!(
            ellipsis("012345678901234567890", 20),
            "0123456789012345678…"
        );
        assert_eq!(go_quote("sh -c \"echo\\n\""), r#""sh -c \"echo\\n\"""#);
        assert_eq!(
            go_quote("a\tb\u{1b}\u{7f}\u{85}é"),
            r#""a\tb\x1b\x7f\u0085é""#
        );
    }

    fn summary(id: &str, name: &str, command: &str, status: &str, ports: &str) -> SandboxSummary {
        SandboxSummary {
            id: id.into(),
            name: name.into(),
            command: command.into(),
            created: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            state: "running".into(),
            status: status.into(),
            ports: ports.into(),
            networks: "bridge".into(),
        }
    }

    #[test]
    fn ps_lays_out_dockers_table() {
        let id = "0123456789abcdef".repeat(4);
        let sandboxes = [
            summary(
                &id,
                "/web",
                "python3 -m http.server 80",
                "Up 2 minutes",
                "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp",
            ),
            summary(&"f".repeat(64), "ns1", "", "Up", ""),
        ];
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 150);
        let table = ps_table(&sandboxes, now, false);
        // Every column but the last padded to its widest cell + 3; the
        // empty PORTS cell too.
        let expected = format!(
            "CONTAINER ID   COMMAND                  CREATED         STATUS         \
             PORTS                                     NAMES\n\
             0123456789ab   \"python3 -m http.ser…\"   2 minutes ago   Up 2 minutes   \
             0.0.0.0:8080->80/tcp, [::]:8080->80/tcp   web\n\
             ffffffffffff   \"\"                       2 minutes ago   Up             \
             {:42}ns1\n",
            ""
        );
        assert_eq!(table, expected);
        let wide = ps_table(&sandboxes[..1], now, true);
        let row = wide.lines().nth(1).unwrap();
        assert!(
            row.starts_with(&format!("{id}   \"python3 -m http.server 80\"   ")),
            "{row}"
        );
        assert_eq!(short_id(&id, false), "0123456789ab");
        assert_eq!(short_id("abc", false), "abc");
    }

    #[test]
    fn tabwriter_pads_to_ten_at_least() {
        let rows = vec![
            strings(&["a", "b", "c"]),
            strings(&["abcdefghijk", "", "d"]),
        ];
        assert_eq!(
            tabwriter(&rows),
            "a             b         c\nabcdefghijk             d\n"
        );
        assert_eq!(tabwriter(&[]), "");
    }

    #[test]
    fn natural_order_is_sortorders() {
        fn sorted<'a>(items: &[&'a str]) -> Vec<&'a str> {
            let mut v = items.to_vec();
            v.sort_by(|a, b| natural_cmp(a, b));
            v
        }
        assert_eq!(
            sorted(&["[::]:5678", "0.0.0.0:5678"]),
            ["0.0.0.0:5678", "[::]:5678"]
        );
        assert_eq!(
            sorted(&["443/tcp -> x", "80/tcp -> x", "8080/tcp -> x"]),
            ["80/tcp -> x", "443/tcp -> x", "8080/tcp -> x"]
        );
        assert_eq!(sorted(&["a02", "a2", "a1", "a"]), ["a", "a1", "a2", "a02"]);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }

    fn binding(ip: &str, port: &str) -> PortBindingResource {
        PortBindingResource {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn port_prints_dockers_lines() {
        let ports = BTreeMap::from([
            (
                "80/tcp".to_string(),
                vec![binding("::", "8080"), binding("0.0.0.0", "8080")],
            ),
            ("443/tcp".to_string(), vec![binding("::", "")]),
            ("53/udp".to_string(), vec![binding("127.0.0.1", "5353")]),
            ("9000/tcp".to_string(), vec![]),
        ]);
        assert_eq!(
            port_lines(&ports, None, "web").unwrap(),
            [
                "53/udp -> 127.0.0.1:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080",
                "443/tcp -> [::]:",
            ]
        );
        assert_eq!(
            port_lines(&ports, Some("80"), "web").unwrap(),
            ["0.0.0.0:8080", "[::]:8080"]
        );
        assert_eq!(
            port_lines(&ports, Some("53/udp"), "web").unwrap(),
            ["127.0.0.1:5353"]
        );
        assert_eq!(
            port_lines(&ports, Some("53"), "web").unwrap_err(),
            "Error: No public port '53' published for web"
        );
        assert_eq!(
            port_lines(&ports, Some("9000/tcp"), "web").unwrap_err(),
            "Error: No public port '9000/tcp' published for web"
        );
        assert_eq!(
            port_lines(&ports, Some("http"), "web").unwrap_err(),
            "Error: invalid port (http): strconv.ParseUint: parsing \"http\": invalid syntax"
        );
        assert_eq!(
            port_lines(&ports, Some("70000/udp"), "web").unwrap_err(),
            "Error: invalid port (70000): strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert!(
            port_lines(&BTreeMap::new(), None, "web")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn inspect_is_indented_by_four_spaces() {
        let json = indented_json(&[serde_json::json!({"Id": "x", "Cmd": []})]);
        assert_eq!(
            json,
            "[\n    {\n        \"Cmd\": [],\n        \"Id\": \"x\"\n    }\n]\n"
        );
        assert_eq!(indented_json::<[u8; 0]>(&[]), "[]\n");
    }
}
