//! Named crash points: steps of a change where a test can make the daemon
//! die as `kill -9` would, to prove that a restart converges from there.
//!
//! They exist only in builds with the `failpoints` feature (the test suite's);
//! a test arms one with `FAILPOINTS=<name>=return` in the daemon's
//! environment. Elsewhere `crash_point!` expands to nothing.

/// A step where an armed test build kills itself with SIGKILL.
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |_| {
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            unreachable!("killed at a crash point")
        });
    };
}

pub(crate) use crash_point;
