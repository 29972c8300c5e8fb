//! The daemon's limit on open files. Each published port holds a socket per
//! host address (two for `0.0.0.0`: IPv4 and IPv6), and every proxied
//! connection two more and its pipes: the usual soft limit of 1,024 would
//! stop at a few hundred ports. The daemon raises its limit as dockerd runs
//! with `LimitNOFILE=infinity`: to the kernel's `fs.nr_open` when it may
//! (root, at most 1,048,576), else its soft limit to the hard one; the
//! processes it starts (sandboxes, iptables, ...) get the limit it was
//! started with.

use std::sync::OnceLock;

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The most the daemon asks for (dockerd's `LimitNOFILE=infinity` is
/// `fs.nr_open`, 1,048,576 by default).
const MOST: u64 = 1 << 20;

/// The soft and hard limits the daemon was started with.
static STARTED_WITH: OnceLock<(u64, u64)> = OnceLock::new();

/// Raises the limit on open files as far as allowed; the limit now.
pub fn raise_open_files() -> nix::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let _ = STARTED_WITH.set((soft, hard));
    // systemd sets fs.nr_open near 2^30: a million is plenty.
    let most = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(hard)
        .min(MOST);
    if most > hard && setrlimit(Resource::RLIMIT_NOFILE, most, most).is_ok() {
        return Ok(most);
    }
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard)
}

/// For a child between fork and exec: puts back the limit the daemon was
/// started with (setrlimit(2) is async-signal-safe).
pub fn restore_open_files_in_child() -> std::io::Result<()> {
    if let Some(&(soft, hard)) = STARTED_WITH.get() {
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise_open_files().unwrap();
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (limit, limit));
    }
}
