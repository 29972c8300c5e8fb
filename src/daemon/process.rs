//! A sandbox's process: started inside its namespace in a process group of
//! its own (so that it outlives a daemon crash), watched until it exits,
//! identified by its start time so that a reused PID is never taken for it.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::host::netns;

use super::core::Daemon;
use super::records::SandboxRecord;

/// The process's start time (field 22 of `/proc/PID/stat`), if it runs.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a sandbox's namespace, and process if it has one, still live.
pub(super) fn alive(rec: &SandboxRecord) -> bool {
    netns::netns_exists(&rec.netns)
        && match rec.pid {
            Some((pid, start)) => process_start_time(pid) == Some(start),
            None => rec.cmd.is_empty(),
        }
}

/// Kills a sandbox's process group, if its process still runs, and, in a
/// namespace bridgewall made, every process left in it (a crash between
/// starting the process and recording it leaves one unknown).
pub(super) fn kill_process(rec: &SandboxRecord) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;
    if let Some((pid, start)) = rec.pid
        && process_start_time(pid) == Some(start)
    {
        // Its own process group: everything it started goes too.
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    if rec.owns_netns {
        for pid in netns::processes_in(&rec.netns) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Spawns `cmd` inside the namespace `netns_path`, in a process group of its
/// own (so that it outlives a daemon crash), writing to `log`.
pub(super) fn spawn_in(
    netns_path: &Path,
    cmd: &[String],
    log: &Path,
) -> Result<tokio::process::Child, String> {
    let ns = File::open(netns_path).map_err(|e| format!("open {}: {e}", netns_path.display()))?;
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("open {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new(&cmd[0]);
    command
        .args(&cmd[1..])
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    netns::exec_in(command.as_std_mut(), ns);
    // SAFETY: only setrlimit(2), async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(crate::host::limits::restore_open_files_in_child);
    }
    command
        .spawn()
        .map_err(|e| format!("failed to start {:?}: {e}", cmd[0]))
}

impl Daemon {
    /// Waits for a process this daemon started, then stops its sandbox.
    pub(super) fn watch_child(self: &Arc<Self>, id: String, mut child: tokio::process::Child) {
        let daemon = Arc::clone(self);
        tokio::spawn(async move {
            let code = match child.wait().await {
                Ok(status) => status.code().unwrap_or_else(|| {
                    128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
                }),
                Err(_) => -1,
            };
            daemon.on_exit(&id, code).await;
        });
    }

    /// Polls a process started by an earlier run of the daemon (it is no
    /// longer our child), then stops its sandbox.
    pub(super) fn watch_adopted(self: &Arc<Self>, id: String, pid: u32, start: u64) {
        let daemon = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while process_start_time(pid) == Some(start) {
                tick.tick().await;
            }
            // Not our child: its exit code is unknown.
            daemon.on_exit(&id, -1).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_identify_this_process() {
        let me = std::process::id();
        assert!(process_start_time(me).is_some());
        assert_eq!(process_start_time(u32::MAX), None);
    }
}
